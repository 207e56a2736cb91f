use std::time::Duration;

use dev_tenant::{TokenOptions, quickstart as q};
use serde_json::Value;

use crate::common::{graph_me, http, poll_until, start};

async fn kids(tenant: &dev_tenant::DevTenant) -> Vec<String> {
    let jwks: Value = http()
        .get(tenant.jwks_uri())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn rotation_with_grace_keeps_old_key_then_drops_it() {
    let tenant = start().await;
    let old_kid = tenant.current_kid();
    let old_token = tenant
        .access_token_for(
            q::ALICE_EMAIL,
            q::WEB_APP_CLIENT_ID,
            ["User.Read"],
            TokenOptions::default(),
        )
        .unwrap();
    let new_kid = tenant.rotate_keys(Duration::from_secs(3600));
    assert_ne!(old_kid, new_kid);
    assert_eq!(tenant.current_kid(), new_kid);
    assert_eq!(kids(&tenant).await, [new_kid.clone(), old_kid.clone()]);
    assert_eq!(
        graph_me(&tenant, &old_token).await.status(),
        200,
        "old key still verifies during grace"
    );
    let new_token = tenant
        .access_token_for(
            q::ALICE_EMAIL,
            q::WEB_APP_CLIENT_ID,
            ["User.Read"],
            TokenOptions::default(),
        )
        .unwrap();
    assert_eq!(crate::common::header(&new_token)["kid"], new_kid);

    // A short grace period ends by itself.
    let third = tenant.rotate_keys(Duration::from_millis(300));
    poll_until(|| {
        let tenant = &tenant;
        let new_kid = new_kid.clone();
        async move { !kids(tenant).await.contains(&new_kid) }
    })
    .await;
    let now = kids(&tenant).await;
    assert!(now.contains(&third) && now.contains(&old_kid), "{now:?}");
}

#[tokio::test]
async fn immediate_rotation_removes_the_old_key() {
    let tenant = start().await;
    let old_kid = tenant.current_kid();
    let old_token = tenant
        .access_token_for(
            q::ALICE_EMAIL,
            q::WEB_APP_CLIENT_ID,
            ["User.Read"],
            TokenOptions::default(),
        )
        .unwrap();
    let r = http()
        .post(format!("{}/_admin/rotate-keys", tenant.base_url()))
        .body(r#"{"grace_secs":0}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let new_kid = r.json::<Value>().await.unwrap()["kid"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(kids(&tenant).await, [new_kid]);
    assert!(!kids(&tenant).await.contains(&old_kid));
    assert_eq!(
        graph_me(&tenant, &old_token).await.status(),
        401,
        "tokens signed by a removed key fail"
    );
}
