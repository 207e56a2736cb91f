//! On-behalf-of refresh-token safety (issue 17): the OBO refresh token is only redeemed while
//! the incoming assertion is unexpired. MSAL Node never redeems OBO refresh tokens; MSAL.NET
//! only in its long-running OBO API (`OnBehalfOfRequest.cs`,
//! `ILongRunningWebApi.cs` in MSAL.NET).
#![cfg(feature = "reqwest")]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use dev_tenant::{Config, DevTenant, Endpoint, TokenOptions, quickstart as q};
use msal_lite::{ClientCredential, ConfidentialClient, Error, RetryPolicy, Scopes, UserAssertion};

#[tokio::test]
async fn an_expired_assertion_gets_no_downstream_token_from_the_cached_refresh_token() {
    let tenant = DevTenant::start(Config::quickstart()).await.unwrap();
    let offset = Arc::new(AtomicU64::new(0));
    let seen = offset.clone();
    let client = ConfidentialClient::builder(
        q::API_CLIENT_ID,
        tenant.authority(),
        ClientCredential::secret(q::API_CLIENT_SECRET),
    )
    .retry_policy(RetryPolicy::none())
    .clock(move || SystemTime::now() + Duration::from_secs(seen.load(Ordering::SeqCst)))
    .build()
    .unwrap();
    let assertion = UserAssertion::new(
        tenant
            .access_token_for(
                q::ALICE_EMAIL,
                q::WEB_APP_CLIENT_ID,
                [q::API_SCOPE_URI],
                TokenOptions::default().lifetime(Duration::from_secs(600)),
            )
            .unwrap(),
    );
    let scopes = Scopes::new(["User.ReadWrite"]).unwrap();
    let first = client
        .acquire_token_on_behalf_of(assertion.clone(), &scopes)
        .await
        .unwrap();
    assert_eq!(tenant.requests(Endpoint::Token), 1);

    // The downstream token has expired too (it lives about an hour), and an OBO refresh token
    // is cached: still no token and no request, because the caller's token has expired.
    let lifetime = first
        .expires_on()
        .duration_since(SystemTime::now())
        .unwrap()
        .as_secs();
    offset.store(lifetime + 60, Ordering::SeqCst);
    let e = client
        .acquire_token_on_behalf_of(assertion.clone(), &scopes)
        .await
        .unwrap_err();
    assert!(matches!(e, Error::AssertionExpired), "{e:?}");
    assert_eq!(e.to_string(), "the user assertion has expired");
    assert_eq!(tenant.requests(Endpoint::Token), 1);
}
