//! Instance discovery for an Entra-shaped host msal-lite does not know: the request MSAL sends,
//! the aliases feeding the cache (an app token is written under the cloud's preferred cache host,
//! as MSAL writes it), and when it is skipped. A closure transport plays the unknown cloud (its
//! hosts need no DNS). Each test uses its own hosts: the alias table is process-wide.

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use msal_lite::http::{HttpError, HttpRequest};
use msal_lite::{ClientCredential, ConfidentialClient, RetryPolicy};

type Seen = Arc<Mutex<Vec<HttpRequest>>>;

/// A cloud whose hosts are `login.{cloud}` and `sts.{cloud}`, preferred cache `sts.{cloud}`.
/// `discovery_status` is what `/common/discovery/instance` answers.
fn fake_cloud(seen: Seen, discovery_status: u16) -> impl msal_lite::http::HttpClient {
    move |request: HttpRequest| {
        let uri = request.uri().clone();
        let host = uri.host().unwrap_or("").to_owned();
        let cloud = host.split_once('.').map_or("", |(_, c)| c).to_owned();
        let tenant = uri.path().split('/').nth(1).unwrap_or("").to_owned();
        let (status, body) = if uri.path() == "/common/discovery/instance" {
            (
                discovery_status,
                format!(
                    r#"{{"tenant_discovery_endpoint":"https://{host}/t/v2.0/.well-known/openid-configuration","api-version":"1.1",
                    "metadata":[{{"preferred_network":"login.{cloud}","preferred_cache":"sts.{cloud}","aliases":["login.{cloud}","sts.{cloud}"]}}]}}"#
                ),
            )
        } else if uri.path().ends_with("openid-configuration") {
            (
                200,
                format!(
                    r#"{{"issuer":"https://{host}/{tenant}/v2.0","token_endpoint":"https://{host}/{tenant}/oauth2/v2.0/token"}}"#
                ),
            )
        } else {
            (
                200,
                r#"{"token_type":"Bearer","expires_in":3599,"access_token":"a.eyJ0aWQiOiJ0In0.s"}"#
                    .to_owned(),
            )
        };
        seen.lock().unwrap().push(request);
        async move {
            http::Response::builder()
                .status(status)
                .header("content-type", "application/json")
                .body(Bytes::from(body))
                .map_err(HttpError::other)
        }
    }
}

fn client(authority: &str, seen: &Seen, status: u16, discovery: bool) -> ConfidentialClient {
    ConfidentialClient::builder("my-client", authority, ClientCredential::secret("s"))
        .http_client(fake_cloud(seen.clone(), status))
        .retry_policy(RetryPolicy::none())
        .instance_discovery(discovery)
        .build()
        .unwrap()
}

fn paths(seen: &Seen) -> Vec<String> {
    seen.lock()
        .unwrap()
        .iter()
        .map(|r| r.uri().path().to_owned())
        .collect()
}

/// The `environment` of the exported app token.
async fn exported_environment(client: &ConfidentialClient) -> String {
    let json: serde_json::Value =
        serde_json::from_str(&client.export_msal_cache().await.unwrap()).unwrap();
    let tokens = json["AccessToken"].as_object().unwrap();
    // One app token, written in MSAL Node's and MSAL Python's lookup forms (cache/app.rs):
    // both entries must name the same cache host.
    let environments: std::collections::BTreeSet<&str> = tokens
        .values()
        .map(|t| t["environment"].as_str().unwrap())
        .collect();
    assert!(!tokens.is_empty() && tokens.len() <= 2, "{tokens:?}");
    assert_eq!(environments.len(), 1, "{environments:?}");
    environments.into_iter().next().unwrap().to_owned()
}

const GRAPH: &str = "https://graph.microsoft.com/.default";

#[tokio::test]
async fn discovered_aliases_decide_the_cache_host() {
    let seen = Seen::default();
    let authority = "https://login.one.example/contoso.onmicrosoft.com";
    let client = client(authority, &seen, 200, true);
    client.acquire_token_for_client([GRAPH]).await.unwrap();
    let requests = seen.lock().unwrap().clone();
    assert_eq!(
        requests[0].uri().to_string(),
        "https://login.one.example/common/discovery/instance?api-version=1.1&authorization_endpoint=https%3A%2F%2Flogin.one.example%2Fcontoso.onmicrosoft.com%2Foauth2%2Fv2.0%2Fauthorize"
    );
    assert_eq!(requests[0].method(), http::Method::GET);
    assert!(requests[0].headers().contains_key("client-request-id"));
    assert!(requests[1].uri().path().ends_with("openid-configuration"));
    assert_eq!(requests.len(), 3);
    // Written as MSAL writes it: under the cloud's preferred cache host.
    assert_eq!(exported_environment(&client).await, "sts.one.example");

    // Discovery runs with the metadata fetch, so it is cached as metadata is, and once per
    // host for all its tenants.
    client
        .acquire_token_for_client(["api://other/.default"])
        .await
        .unwrap();
    client
        .acquire_token_for_client_with(
            msal_lite::ClientCredentialsRequest::new([GRAPH]).tenant("fabrikam.onmicrosoft.com"),
        )
        .await
        .unwrap();
    assert_eq!(
        paths(&seen)
            .iter()
            .filter(|p| p.ends_with("openid-configuration"))
            .count(),
        2,
        "the other tenant's metadata was fetched"
    );
    let discoveries = paths(&seen)
        .iter()
        .filter(|p| *p == "/common/discovery/instance")
        .count();
    assert_eq!(discoveries, 1);
}

#[tokio::test]
async fn disabled_or_failing_discovery_leaves_the_host_its_own_cloud() {
    let seen = Seen::default();
    let off = client(
        "https://login.two.example/contoso.onmicrosoft.com",
        &seen,
        200,
        false,
    );
    off.acquire_token_for_client([GRAPH]).await.unwrap();
    assert!(!paths(&seen).iter().any(|p| p.contains("discovery")));
    assert_eq!(exported_environment(&off).await, "login.two.example");

    // A host that does not serve discovery: traced, and the token is still acquired.
    let seen = Seen::default();
    let failing = client(
        "https://login.three.example/contoso.onmicrosoft.com",
        &seen,
        404,
        true,
    );
    failing.acquire_token_for_client([GRAPH]).await.unwrap();
    assert_eq!(paths(&seen)[0], "/common/discovery/instance");
    assert_eq!(exported_environment(&failing).await, "login.three.example");
}

#[tokio::test]
async fn known_clouds_and_other_kinds_are_never_discovered() {
    for authority in [
        "https://login.microsoftonline.com/contoso.onmicrosoft.com",
        "https://contoso.ciamlogin.com/",
        "https://contoso.b2clogin.com/contoso.onmicrosoft.com/b2c_1_signin",
    ] {
        let seen = Seen::default();
        client(authority, &seen, 200, true)
            .acquire_token_for_client([GRAPH])
            .await
            .unwrap();
        assert!(
            !paths(&seen).iter().any(|p| p.contains("discovery")),
            "{authority}: {:?}",
            paths(&seen)
        );
    }
}
