use dev_tenant::parse;
use dev_tenant::quickstart as q;
use proptest::prelude::*;
use serde_json::Value;

use crate::common::{http, start};

#[tokio::test]
async fn malformed_token_requests_get_entra_errors() {
    let tenant = start().await;
    let cases: &[(&[u8], u16, &str)] = &[
        (b"", 400, "invalid_request"),
        (b"grant_type=", 400, "invalid_request"),
        (b"grant_type=password&client_id=x", 400, "unsupported_grant_type"),
        (b"grant_type=client_credentials&grant_type=client_credentials", 400, "invalid_request"),
        (b"grant_type=client_credentials", 400, "invalid_request"),
        (b"grant_type=authorization_code&client_id=8a1f4c2e-6b3d-4e5f-9a7b-1c2d3e4f5a6b&client_secret=dev-web-app-secret", 400, "invalid_request"),
        (b"grant_type=refresh_token&client_id=8a1f4c2e-6b3d-4e5f-9a7b-1c2d3e4f5a6b&client_secret=dev-web-app-secret", 400, "invalid_request"),
        (b"grant_type=client_credentials&client_id=5e3f7a9b-2c4d-4e6f-8a0b-1c3d5e7f9a2b&client_secret=dev-daemon-secret", 400, "invalid_request"),
        (b"grant_type=client_credentials&client_id=5e3f7a9b-2c4d-4e6f-8a0b-1c3d5e7f9a2b&client_assertion=x.y.z&client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer&scope=a/.default", 401, "invalid_client"),
        (b"grant_type=client_credentials&client_id=%ff%fe&client_secret=%zz&scope=%", 400, "unauthorized_client"),
        (b"\xff\xfe\x00\x01=\x02", 400, "invalid_request"),
        (b"grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&requested_token_use=on_behalf_of&client_id=4d2e6f8a-1b3c-4d5e-8f9a-0b1c2d3e4f5a&client_secret=dev-api-secret&assertion=%00&scope=User.Read", 400, "invalid_grant"),
        (b"grant_type=refresh_token&refresh_token=x&client_id=8a1f4c2e-6b3d-4e5f-9a7b-1c2d3e4f5a6b&client_secret=dev-web-app-secret&claims=[1]", 400, "invalid_grant"),
    ];
    for (body, status, error) in cases {
        let r = http()
            .post(tenant.token_endpoint())
            .body(body.to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.status().as_u16(),
            *status,
            "{}",
            String::from_utf8_lossy(body)
        );
        let v: Value = r.json().await.unwrap();
        assert_eq!(
            v["error"],
            *error,
            "{} -> {v}",
            String::from_utf8_lossy(body)
        );
        assert!(v["error_codes"][0].is_u64());
    }
    // Wrong method, unknown path, unknown tenant: still Entra-shaped 4xx JSON.
    let r = http().get(tenant.token_endpoint()).send().await.unwrap();
    assert_eq!(r.status(), 405);
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "invalid_request");
    let r = http()
        .get(format!("{}/nope/nothing/here", tenant.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert!(r.json::<Value>().await.unwrap()["error"].is_string());
    let r = http()
        .post(format!("{}/fabrikam/oauth2/v2.0/token", tenant.base_url()))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    // A refresh token from the token endpoint of another tenant form still works (tenant id path).
    let r = http()
        .post(format!(
            "{}/{}/oauth2/v2.0/token",
            tenant.base_url(),
            q::TENANT_ID.to_uppercase()
        ))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", q::DAEMON_CLIENT_ID),
            ("client_secret", q::DAEMON_CLIENT_SECRET),
            ("scope", "https://graph.microsoft.com/.default"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn malformed_authorize_and_pages_are_4xx() {
    let tenant = start().await;
    for query in [
        "",
        "client_id=%ff",
        "client_id=a&client_id=b",
        "%",
        "client_id=8a1f4c2e-6b3d-4e5f-9a7b-1c2d3e4f5a6b&redirect_uri=%zz",
    ] {
        let r = http()
            .get(format!("{}?{query}", tenant.authorize_endpoint()))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_client_error(), "{query}: {}", r.status());
    }
    for page in ["login", "mfa"] {
        let url = format!("{}oauth2/v2.0/{page}", tenant.authority());
        for body in [&b""[..], b"tx=", b"tx=nope&code=123456", b"\xff\xff"] {
            let r = http().post(&url).body(body.to_vec()).send().await.unwrap();
            assert_eq!(r.status(), 400, "{page}");
        }
    }
}

proptest! {
    #[test]
    fn form_parsing_never_panics(input in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = parse::parse_form(&input);
        let _ = parse::percent_decode(&input);
    }

    #[test]
    fn form_round_trips_encoded_pairs(pairs in proptest::collection::btree_map("[a-z_]{1,12}", ".{0,40}", 0..8)) {
        let encoded = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(&pairs).finish();
        let parsed = parse::parse_form(encoded.as_bytes()).unwrap();
        for (k, v) in &pairs {
            prop_assert_eq!(parsed.get(k), Some(v.as_str()));
        }
    }

    #[test]
    fn claims_and_jwt_parsing_never_panic(s in ".{0,300}") {
        let _ = parse::parse_claims(&s);
        let _ = parse::decode_jwt(&s);
        let _ = parse::parse_basic_auth(&s);
        let _ = parse::parse_query(&s);
    }

    #[test]
    fn jwt_like_input_never_panics(a in "[A-Za-z0-9_=-]{0,60}", b in "[A-Za-z0-9_=-]{0,60}", c in "[A-Za-z0-9_=-]{0,60}") {
        let _ = parse::decode_jwt(&format!("{a}.{b}.{c}"));
    }
}

/// One tenant and runtime shared by the HTTP property test (starting a tenant per case would
/// spend the time generating RSA keys).
fn shared() -> &'static (tokio::runtime::Runtime, dev_tenant::DevTenant) {
    static SHARED: std::sync::OnceLock<(tokio::runtime::Runtime, dev_tenant::DevTenant)> =
        std::sync::OnceLock::new();
    SHARED.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let tenant = rt
            .block_on(dev_tenant::DevTenant::start(
                dev_tenant::Config::quickstart(),
            ))
            .unwrap();
        (rt, tenant)
    })
}

fn param_name() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("grant_type".to_owned()),
        Just("client_id".to_owned()),
        Just("client_secret".to_owned()),
        Just("scope".to_owned()),
        Just("code".to_owned()),
        Just("code_verifier".to_owned()),
        Just("refresh_token".to_owned()),
        Just("assertion".to_owned()),
        Just("requested_token_use".to_owned()),
        Just("client_assertion".to_owned()),
        Just("client_assertion_type".to_owned()),
        Just("claims".to_owned()),
        "[a-z_%+-]{0,12}",
    ]
}

fn param_value() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("client_credentials".to_owned()),
        Just("authorization_code".to_owned()),
        Just("refresh_token".to_owned()),
        Just("urn:ietf:params:oauth:grant-type:jwt-bearer".to_owned()),
        Just("urn:ietf:params:oauth:client-assertion-type:jwt-bearer".to_owned()),
        Just("on_behalf_of".to_owned()),
        Just(q::DAEMON_CLIENT_ID.to_owned()),
        Just(q::DAEMON_CLIENT_SECRET.to_owned()),
        Just(q::API_CLIENT_ID.to_owned()),
        Just(q::API_CLIENT_SECRET.to_owned()),
        Just("https://graph.microsoft.com/.default".to_owned()),
        Just("User.Read openid offline_access".to_owned()),
        Just(r#"{"access_token":{"xms_cc":{"values":["cp1"]}}}"#.to_owned()),
        Just("eyJhbGciOiJSUzI1NiJ9.e30.c2ln".to_owned()),
        ".{0,40}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn random_token_requests_get_json_and_never_5xx(pairs in proptest::collection::vec((param_name(), param_value()), 0..8), encode in any::<bool>()) {
        let (rt, tenant) = shared();
        let body = if encode {
            url::form_urlencoded::Serializer::new(String::new()).extend_pairs(&pairs).finish()
        } else {
            pairs.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&")
        };
        let (status, json) = rt.block_on(async {
            let r = http().post(tenant.token_endpoint()).body(body.clone()).send().await.unwrap();
            let status = r.status();
            (status, r.json::<Value>().await)
        });
        prop_assert!(!status.is_server_error(), "{status} for {body}");
        let json = json.map_err(|e| TestCaseError::fail(format!("not JSON for {body}: {e}")))?;
        prop_assert!(json.get("error").is_some() || json.get("access_token").is_some(), "{json}");
        if status.is_success() {
            prop_assert!(json["access_token"].is_string());
        } else {
            prop_assert!(json["error_codes"][0].is_u64(), "{json}");
        }
    }
}
