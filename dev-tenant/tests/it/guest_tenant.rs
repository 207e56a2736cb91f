//! A second (guest) tenant: `tenant.additional_tenants` shares the home tenant's users and app
//! registrations, as a B2B guest and a multi-tenant app do in Entra. Tokens issued at `/{B}/`
//! carry `tid` = B and B's issuer, the user's guest object id there and `idp` = the home
//! tenant; `client_info` keeps the home tenant (MSAL's `home_account_id` is `uid.utid`:
//! msal-common `src/account/AccountEntity.ts`, `generateHomeAccountId`, and its tenant profiles
//! keyed by `tid` with their own `oid`, `src/account/TenantProfile.ts`).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use dev_tenant::{AdditionalTenant, Config, DevTenant, TokenOptions, quickstart as q};
use reqwest::StatusCode;
use serde_json::Value;

use crate::common::{
    Browser, Page, assert_entra_error, authorize_url, claims, field, graph_me, http, redeem,
    sign_in, start_with,
};

const GUEST: &str = q::GUEST_TENANT_ID;
const GRAPH_SCOPES: &str = "User.Read openid profile offline_access";

fn config() -> Config {
    let mut config = Config::quickstart();
    config.tenant.additional_tenants.push(AdditionalTenant::new(
        GUEST,
        Some(q::GUEST_TENANT_SUBDOMAIN.to_owned()),
    ));
    config
}

async fn token_at(tenant: &DevTenant, at: &str, form: &[(&str, &str)]) -> (StatusCode, Value) {
    let r = http()
        .post(format!("{}oauth2/v2.0/token", tenant.authority_for(at)))
        .form(form)
        .send()
        .await
        .expect("token request");
    let status = r.status();
    (status, r.json().await.expect("JSON body"))
}

fn web_app_form<'a>(grant: &'a [(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut form = vec![
        ("client_id", q::WEB_APP_CLIENT_ID),
        ("client_secret", q::WEB_APP_CLIENT_SECRET),
        ("client_info", "1"),
    ];
    form.extend_from_slice(grant);
    form
}

fn client_info(body: &Value) -> Value {
    let raw = body["client_info"].as_str().expect("client_info");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(raw).expect("base64url")).expect("json")
}

/// The claims every token issued at the guest tenant has.
fn assert_guest_token(tenant: &DevTenant, token: &str) {
    let c = claims(token);
    assert_eq!(c["tid"], GUEST, "{c}");
    assert_eq!(c["iss"], tenant.issuer_for(GUEST), "{c}");
    assert_eq!(
        c["idp"],
        format!("https://sts.windows.net/{}/", q::TENANT_ID),
        "{c}"
    );
    let guest_oid = tenant.object_id_in(q::ALICE_EMAIL, GUEST).unwrap();
    assert_eq!(c["oid"], guest_oid.as_str(), "{c}");
    assert_ne!(
        c["oid"],
        q::ALICE_OBJECT_ID,
        "a guest is its own user object"
    );
}

fn assert_home_client_info(body: &Value) {
    let ci = client_info(body);
    assert_eq!(ci["uid"], q::ALICE_OBJECT_ID, "{ci}");
    assert_eq!(ci["utid"], q::TENANT_ID, "{ci}");
}

#[tokio::test]
async fn guest_tenant_serves_discovery_and_jwks_by_id_and_name() {
    let tenant = start_with(config()).await;
    assert_eq!(tenant.additional_tenant_ids(), [GUEST]);
    let home_keys: Value = http()
        .get(tenant.jwks_uri())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for name in [GUEST, "FABRIKAM", "fabrikam.onmicrosoft.com"] {
        let doc: Value = http()
            .get(format!(
                "{}v2.0/.well-known/openid-configuration",
                tenant.authority_for(name)
            ))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(doc["issuer"], tenant.issuer_for(GUEST), "{name}: {doc}");
        for endpoint in [
            "authorization_endpoint",
            "token_endpoint",
            "jwks_uri",
            "end_session_endpoint",
        ] {
            let url = doc[endpoint].as_str().unwrap();
            assert!(
                url.starts_with(&tenant.authority_for(GUEST)),
                "{name}: {endpoint} {url}"
            );
        }
        let r = http()
            .get(doc["jwks_uri"].as_str().unwrap())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        // Entra's signing keys are common to its tenants.
        assert_eq!(r.json::<Value>().await.unwrap(), home_keys);
    }
    // The home tenant is unchanged.
    assert_eq!(tenant.issuer_for(q::TENANT_ID), tenant.issuer());
    // A tenant not configured is still unknown.
    let r = http()
        .get(format!(
            "{}v2.0/.well-known/openid-configuration",
            tenant.authority_for("0f0e0d0c-0b0a-4908-8706-050403020100")
        ))
        .send()
        .await
        .unwrap();
    let status = r.status();
    assert_entra_error(
        status,
        &r.json().await.unwrap(),
        400,
        "invalid_request",
        90002,
    );
}

#[tokio::test]
async fn sign_in_at_guest_tenant_issues_guest_tokens_with_home_client_info() {
    let tenant = start_with(config()).await;
    let mut browser = Browser::default();
    let url = authorize_url(&tenant, GRAPH_SCOPES, "s", &[]).replace(
        &tenant.authorize_endpoint(),
        &format!(
            "{}oauth2/v2.0/authorize",
            tenant.authority_for(q::GUEST_TENANT_SUBDOMAIN)
        ),
    );
    let Page::Login { action, tx, .. } = browser.get(&url).await else {
        panic!("login page expected")
    };
    assert!(
        action.starts_with(&format!("/{}/", q::GUEST_TENANT_SUBDOMAIN)),
        "{action}"
    );
    let Page::FormPost { fields, .. } = browser
        .post(
            &tenant,
            &action,
            &[
                ("tx", &tx),
                ("email", q::ALICE_EMAIL),
                ("password", q::USER_PASSWORD),
            ],
        )
        .await
    else {
        panic!("form post expected")
    };
    // The authorization response's client_info is the home account too.
    let ci: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(field(&fields, "client_info").unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(ci["utid"], q::TENANT_ID);
    let code = field(&fields, "code").unwrap();
    let (status, body) = token_at(
        &tenant,
        GUEST,
        &web_app_form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", q::WEB_APP_REDIRECT_URI),
            ("scope", GRAPH_SCOPES),
            ("code_verifier", crate::common::VERIFIER),
        ]),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let at = body["access_token"].as_str().unwrap();
    assert_guest_token(&tenant, at);
    assert_guest_token(&tenant, body["id_token"].as_str().unwrap());
    assert_home_client_info(&body);
    // Graph in the guest tenant answers for the guest object.
    let r = graph_me(&tenant, at).await;
    assert_eq!(r.status(), 200);
    let me: Value = r.json().await.unwrap();
    assert_eq!(
        me["id"],
        tenant.object_id_in(q::ALICE_EMAIL, GUEST).unwrap().as_str()
    );
    assert_eq!(me["mail"], q::ALICE_EMAIL);
}

#[tokio::test]
async fn code_is_redeemable_only_at_its_tenant() {
    let tenant = start_with(config()).await;
    let mut browser = Browser::default();
    let fields = sign_in(&tenant, &mut browser, GRAPH_SCOPES, "s", q::ALICE_EMAIL).await;
    let code = field(&fields, "code").unwrap();
    let (status, body) = token_at(
        &tenant,
        GUEST,
        &web_app_form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", q::WEB_APP_REDIRECT_URI),
            ("scope", GRAPH_SCOPES),
            ("code_verifier", crate::common::VERIFIER),
        ]),
    )
    .await;
    assert_entra_error(status, &body, 400, "invalid_grant", 70000);
}

#[tokio::test]
async fn home_refresh_token_is_redeemable_at_the_guest_tenant_and_back() {
    let tenant = start_with(config()).await;
    let mut browser = Browser::default();
    let fields = sign_in(&tenant, &mut browser, GRAPH_SCOPES, "s", q::ALICE_EMAIL).await;
    let (status, home) = redeem(&tenant, field(&fields, "code").unwrap(), GRAPH_SCOPES).await;
    assert_eq!(status, 200, "{home}");
    assert_eq!(
        claims(home["access_token"].as_str().unwrap())["tid"],
        q::TENANT_ID
    );
    let rt = home["refresh_token"].as_str().unwrap();

    let (status, guest) = token_at(
        &tenant,
        GUEST,
        &web_app_form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", rt),
            ("scope", GRAPH_SCOPES),
        ]),
    )
    .await;
    assert_eq!(status, 200, "{guest}");
    assert_guest_token(&tenant, guest["access_token"].as_str().unwrap());
    assert_guest_token(&tenant, guest["id_token"].as_str().unwrap());
    assert_home_client_info(&guest);

    // The refresh token from the guest tenant works at home again, with the home claims.
    let (status, back) = token_at(
        &tenant,
        q::TENANT_DOMAIN,
        &web_app_form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", guest["refresh_token"].as_str().unwrap()),
            ("scope", GRAPH_SCOPES),
        ]),
    )
    .await;
    assert_eq!(status, 200, "{back}");
    let at = claims(back["access_token"].as_str().unwrap());
    assert_eq!(at["tid"], q::TENANT_ID);
    assert_eq!(at["iss"], tenant.issuer());
    assert_eq!(at["oid"], q::ALICE_OBJECT_ID);
    assert!(at.get("idp").is_none(), "a member has no idp: {at}");
    assert_home_client_info(&back);
}

#[tokio::test]
async fn client_credentials_at_the_guest_tenant_use_its_service_principal() {
    let tenant = start_with(config()).await;
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", q::DAEMON_CLIENT_ID),
        ("client_secret", q::DAEMON_CLIENT_SECRET),
        ("scope", "https://graph.microsoft.com/.default"),
    ];
    let (status, guest) = token_at(&tenant, GUEST, &form).await;
    assert_eq!(status, 200, "{guest}");
    let (status, home) = token_at(&tenant, q::TENANT_ID, &form).await;
    assert_eq!(status, 200, "{home}");
    let (guest, home) = (
        claims(guest["access_token"].as_str().unwrap()),
        claims(home["access_token"].as_str().unwrap()),
    );
    assert_eq!(guest["tid"], GUEST);
    assert_eq!(guest["iss"], tenant.issuer_for(GUEST));
    assert_eq!(home["tid"], q::TENANT_ID);
    assert_ne!(
        guest["oid"], home["oid"],
        "one service principal per tenant"
    );
}

#[tokio::test]
async fn on_behalf_of_a_guest_token_at_the_guest_tenant() {
    let tenant = start_with(config()).await;
    let api_token = tenant
        .access_token_for(
            q::ALICE_EMAIL,
            q::WEB_APP_CLIENT_ID,
            [q::API_SCOPE_URI],
            TokenOptions::default().mfa(true).tenant(GUEST),
        )
        .unwrap();
    assert_guest_token(&tenant, &api_token);
    let (status, body) = token_at(
        &tenant,
        GUEST,
        &[
            ("client_id", q::API_CLIENT_ID),
            ("client_secret", q::API_CLIENT_SECRET),
            ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
            ("requested_token_use", "on_behalf_of"),
            ("assertion", &api_token),
            ("scope", "User.ReadWrite"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let graph_token = body["access_token"].as_str().unwrap();
    assert_guest_token(&tenant, graph_token);
    assert_eq!(graph_me(&tenant, graph_token).await.status(), 200);
    // The admin API mints guest tokens too.
    let r = http()
        .post(format!("{}/_admin/tokens", tenant.base_url()))
        .json(&serde_json::json!({
            "user": q::ALICE_EMAIL,
            "client_id": q::WEB_APP_CLIENT_ID,
            "scopes": ["User.Read"],
            "tenant": q::GUEST_TENANT_SUBDOMAIN,
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let minted: Value = r.json().await.unwrap();
    assert_guest_token(&tenant, minted["access_token"].as_str().unwrap());
    // An unknown tenant is refused.
    let err = tenant
        .access_token_for(
            q::ALICE_EMAIL,
            q::WEB_APP_CLIENT_ID,
            ["User.Read"],
            TokenOptions::default().tenant("nowhere"),
        )
        .unwrap_err();
    assert!(err.to_string().contains("AADSTS90002"), "{err}");
}

#[tokio::test]
async fn additional_tenants_are_validated_and_round_trip_through_toml() {
    let config = config();
    let toml = config.to_toml_string().unwrap();
    assert!(toml.contains(GUEST), "{toml}");
    let back = Config::from_toml_str(&toml).unwrap();
    assert_eq!(back.tenant.additional_tenants.len(), 1);
    assert_eq!(back.tenant.additional_tenants[0].tenant_id, GUEST);

    let bad = |extra: AdditionalTenant| {
        let mut c = Config::quickstart();
        c.tenant.additional_tenants.push(extra);
        c.validate().unwrap_err().to_string()
    };
    assert!(bad(AdditionalTenant::new("not-a-guid", None)).contains("GUID"));
    assert!(bad(AdditionalTenant::new(q::TENANT_ID, None)).contains("repeats"));
    assert!(
        bad(AdditionalTenant::new(
            GUEST,
            Some(q::TENANT_SUBDOMAIN.to_owned())
        ))
        .contains("repeats")
    );
    assert!(bad(AdditionalTenant::new(GUEST, Some("a.b".to_owned()))).contains("DNS label"));
    let mut twice = config.clone();
    twice
        .tenant
        .additional_tenants
        .push(AdditionalTenant::new(GUEST, None));
    assert!(twice.validate().is_err());
}
