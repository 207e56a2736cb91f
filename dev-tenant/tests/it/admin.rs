use dev_tenant::quickstart as q;
use serde_json::Value;

use crate::common::{Browser, http, sign_in, start};

#[tokio::test]
async fn counters_users_and_mfa_code() {
    let tenant = start().await;
    let base = tenant.base_url().to_owned();
    let r = http()
        .get(format!("{base}/_admin/mfa-code"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    http().get(tenant.jwks_uri()).send().await.unwrap();
    http().get(tenant.jwks_uri()).send().await.unwrap();
    let counts: Value = http()
        .get(format!("{base}/_admin/requests"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(counts["jwks"], 2);
    assert_eq!(counts["token"], 0);
    let user: Value = http()
        .get(format!("{base}/_admin/users/{}", q::ALICE_EMAIL))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(user["displayName"], "Alice Example");
    assert_eq!(user["id"], q::ALICE_OBJECT_ID);
    assert_eq!(
        http()
            .get(format!("{base}/_admin/users/x@y"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );

    let mut browser = Browser::default();
    sign_in(
        &tenant,
        &mut browser,
        &format!("{} openid", q::API_SCOPE_URI),
        "s",
        q::ALICE_EMAIL,
    )
    .await;
    let code: Value = http()
        .get(format!("{base}/_admin/mfa-code"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(code["code"].as_str(), tenant.last_mfa_code().as_deref());
    assert_eq!(tenant.requests(dev_tenant::Endpoint::Authorize), 1);
    // The handle's Debug shows no secrets, codes or one-time codes.
    let debug = format!("{tenant:?}");
    assert!(
        !debug.contains(&format!("\"{}\"", tenant.last_mfa_code().unwrap())),
        "{debug}"
    );
    assert!(
        !debug.contains(q::USER_PASSWORD) && !debug.contains(q::WEB_APP_CLIENT_SECRET),
        "{debug}"
    );
}
