//! Single-flight at scale, counted by a real dev tenant on an ephemeral loopback port: 1,000
//! concurrent callers on one cold cache key make exactly one token request, for client
//! credentials and for silent acquisition (a refresh-token grant once the cached token expired).
//!
//! The token endpoint is slowed for its first request, so that every caller has joined the
//! flight while the one request is in flight (a fault of the dev tenant, not a sleep here).

// The scripted browser for the dev tenant's login pages lives with msal-lite's own tests.
#[path = "../../msal-lite/tests/it/user_support/mod.rs"]
mod user_support;

use std::collections::HashSet;
use std::time::Duration;

use dev_tenant::{Config, DevTenant, Endpoint, Fault, quickstart as q};
use msal_lite::{AuthCodeRequest, ClientCredential, ConfidentialClient, TokenSource};
use user_support::{Browser, Clock};

const CALLERS: usize = 1_000;

async fn tenant() -> DevTenant {
    DevTenant::start(Config::quickstart())
        .await
        .expect("dev tenant starts")
}

fn slow_first_token_request(tenant: &DevTenant) {
    tenant.inject_fault(
        Endpoint::Token,
        Fault::latency(Duration::from_millis(300)).times(1),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousand_concurrent_client_credential_calls_make_one_token_request() {
    let tenant = tenant().await;
    let client = ConfidentialClient::builder(
        q::DAEMON_CLIENT_ID,
        tenant.authority(),
        ClientCredential::secret(q::DAEMON_CLIENT_SECRET),
    )
    .build()
    .expect("client builds");
    slow_first_token_request(&tenant);

    let tasks: Vec<_> = (0..CALLERS)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move {
                client
                    .acquire_token_for_client(["https://graph.microsoft.com/.default"])
                    .await
            })
        })
        .collect();
    let mut secrets = HashSet::new();
    for task in tasks {
        let result = task.await.expect("task").expect("token");
        secrets.insert(result.access_token().secret().to_owned());
    }
    assert_eq!(secrets.len(), 1, "every caller got the one token");
    assert_eq!(tenant.requests(Endpoint::Token), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousand_concurrent_silent_calls_on_a_cold_scope_make_one_token_request() {
    let tenant = tenant().await;
    let clock = Clock::default();
    let client = ConfidentialClient::builder(
        q::WEB_APP_CLIENT_ID,
        tenant.authority(),
        ClientCredential::secret(q::WEB_APP_CLIENT_SECRET),
    )
    .clock(clock.as_fn())
    .build()
    .expect("client builds");
    let (url, flow) = client
        .auth_code_url(AuthCodeRequest::new(["User.Read"], q::WEB_APP_REDIRECT_URI))
        .await
        .expect("sign-in url");
    let (returned, _) = Browser::default()
        .sign_in(&tenant, url.as_str(), q::ALICE_EMAIL)
        .await;
    let signed_in = client
        .acquire_token_by_code(&returned.code, &returned.state, flow)
        .await
        .expect("code redeemed");
    let account = signed_in.account().expect("an account").clone();
    let before = tenant.requests(Endpoint::Token);
    assert_eq!(before, 1, "the code redemption");

    // An hour later the cached User.Read token has expired: a cold key, served by one refresh.
    clock.advance(Duration::from_secs(3_600));
    slow_first_token_request(&tenant);
    let tasks: Vec<_> = (0..CALLERS)
        .map(|_| {
            let (client, account) = (client.clone(), account.clone());
            tokio::spawn(async move {
                client
                    .acquire_token_silent([q::GRAPH_USER_READ], &account)
                    .await
            })
        })
        .collect();
    let mut secrets = HashSet::new();
    let mut from_network = 0;
    for task in tasks {
        let result = task.await.expect("task").expect("token");
        if result.source() == TokenSource::Network {
            from_network += 1;
        }
        secrets.insert(result.access_token().secret().to_owned());
    }
    assert_eq!(secrets.len(), 1, "every caller got the one token");
    assert!(from_network >= 1, "the cold key went to the network");
    assert_eq!(tenant.requests(Endpoint::Token), before + 1);
}
