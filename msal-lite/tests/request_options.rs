//! Request options MSAL has (issue 17 item 6 part B), against a real dev tenant on an
//! ephemeral loopback port: empty claims are no claims, and a missing `expires_in` defaults.
#![cfg(feature = "reqwest")]

use std::sync::{Arc, Mutex};

use dev_tenant::{Config, DevTenant, Endpoint, TokenOptions, quickstart as q};
use msal_lite::http::{HttpClient, HttpRequest, ReqwestHttpClient};
use msal_lite::{
    ClientCredential, ClientCredentialsRequest, ConfidentialClient, OboRequest, RetryPolicy,
    TokenSource, UserAssertion,
};

const GRAPH_DEFAULT: &str = "https://graph.microsoft.com/.default";

/// Form bodies of the token requests, in order.
type Forms = Arc<Mutex<Vec<Vec<(String, String)>>>>;

/// The real transport, recording every token request's form.
fn recording(forms: Forms) -> impl HttpClient {
    let real = Arc::new(ReqwestHttpClient::new().expect("transport builds"));
    move |request: HttpRequest| {
        let real = real.clone();
        if request.uri().path().ends_with("/token") {
            forms.lock().unwrap().push(
                url::form_urlencoded::parse(request.body())
                    .into_owned()
                    .collect(),
            );
        }
        async move { real.execute(request).await }
    }
}

fn sent_claims(forms: &Forms) -> Vec<Option<String>> {
    forms
        .lock()
        .unwrap()
        .iter()
        .map(|form| {
            form.iter()
                .find(|(k, _)| k == "claims")
                .map(|(_, v)| v.clone())
        })
        .collect()
}

/// MSAL ignores empty claims (msal-common `StringUtils.isEmptyObj`): `claims="{}"`, `""` and
/// whitespace neither bypass the cache nor reach the wire. Before, msal-lite sent `{}` and
/// skipped the cache.
#[tokio::test]
async fn empty_claims_use_the_cache_and_are_not_sent() {
    let tenant = DevTenant::start(Config::quickstart()).await.unwrap();
    let forms = Forms::default();
    let daemon = ConfidentialClient::builder(
        q::DAEMON_CLIENT_ID,
        tenant.authority(),
        ClientCredential::secret(q::DAEMON_CLIENT_SECRET),
    )
    .http_client(recording(forms.clone()))
    .retry_policy(RetryPolicy::none())
    .build()
    .unwrap();
    // A miss with `{}`: one request, without a claims parameter.
    let first = daemon
        .acquire_token_for_client_with(ClientCredentialsRequest::new([GRAPH_DEFAULT]).claims("{}"))
        .await
        .unwrap();
    assert_eq!(first.source(), TokenSource::Network);
    assert_eq!(sent_claims(&forms), vec![None]);
    for empty in ["{}", " { } ", "", "  \n"] {
        let hit = daemon
            .acquire_token_for_client_with(
                ClientCredentialsRequest::new([GRAPH_DEFAULT]).claims(empty),
            )
            .await
            .unwrap();
        assert_eq!(hit.source(), TokenSource::Cache, "{empty:?}");
    }
    assert_eq!(tenant.requests(Endpoint::Token), 1);
    // Real claims still bypass the cache and are sent.
    let claims = r#"{"access_token":{"nbf":{"essential":true,"value":"1"}}}"#;
    let fresh = daemon
        .acquire_token_for_client_with(
            ClientCredentialsRequest::new([GRAPH_DEFAULT]).claims(claims),
        )
        .await
        .unwrap();
    assert_eq!(fresh.source(), TokenSource::Network);
    assert_eq!(sent_claims(&forms), vec![None, Some(claims.to_owned())]);

    // On-behalf-of too.
    let api = ConfidentialClient::builder(
        q::API_CLIENT_ID,
        tenant.authority(),
        ClientCredential::secret(q::API_CLIENT_SECRET),
    )
    .http_client(recording(forms.clone()))
    .retry_policy(RetryPolicy::none())
    .build()
    .unwrap();
    let assertion = UserAssertion::new(
        tenant
            .access_token_for(
                q::ALICE_EMAIL,
                q::WEB_APP_CLIENT_ID,
                [q::API_SCOPE_URI],
                TokenOptions::default(),
            )
            .unwrap(),
    );
    api.acquire_token_on_behalf_of(assertion.clone(), ["User.ReadWrite"])
        .await
        .unwrap();
    let hit = api
        .acquire_token_on_behalf_of_with(
            OboRequest::new(assertion, ["User.ReadWrite"]).claims("{}"),
        )
        .await
        .unwrap();
    assert_eq!(hit.source(), TokenSource::Cache);
    assert_eq!(tenant.requests(Endpoint::Token), 3);
}

/// The real transport with `expires_in` removed from every token response.
fn without_expires_in() -> impl HttpClient {
    let real = Arc::new(ReqwestHttpClient::new().expect("transport builds"));
    move |request: HttpRequest| {
        let real = real.clone();
        let token = request.uri().path().ends_with("/token");
        async move {
            let response = real.execute(request).await?;
            if !token {
                return Ok(response);
            }
            let (parts, body) = response.into_parts();
            let mut json: serde_json::Value = serde_json::from_slice(&body).expect("json");
            json.as_object_mut().expect("object").remove("expires_in");
            Ok(http::Response::from_parts(
                parts,
                bytes::Bytes::from(json.to_string()),
            ))
        }
    }
}

/// A token response without `expires_in` (RFC 6749 §5.1: RECOMMENDED) is a token valid for
/// 600 s, as MSAL Python assumes (`token_cache.py` `default_expires_in`), and cached; before,
/// the call failed with a malformed-response error although the server issued a token.
#[tokio::test]
async fn a_missing_expires_in_defaults_to_ten_minutes() {
    let tenant = DevTenant::start(Config::quickstart()).await.unwrap();
    let daemon = ConfidentialClient::builder(
        q::DAEMON_CLIENT_ID,
        tenant.authority(),
        ClientCredential::secret(q::DAEMON_CLIENT_SECRET),
    )
    .http_client(without_expires_in())
    .retry_policy(RetryPolicy::none())
    .build()
    .unwrap();
    let before = std::time::SystemTime::now();
    let token = daemon
        .acquire_token_for_client([GRAPH_DEFAULT])
        .await
        .unwrap();
    let lifetime = token.expires_on().duration_since(before).unwrap().as_secs();
    assert!((599..=601).contains(&lifetime), "{lifetime}");
    let hit = daemon
        .acquire_token_for_client([GRAPH_DEFAULT])
        .await
        .unwrap();
    assert_eq!(hit.source(), TokenSource::Cache);
    assert_eq!(tenant.requests(Endpoint::Token), 1);
}
