//! MSAL Node and MSAL Python (installed by `cargo xtask test`; env `MSAL_NODE_DIR`,
//! `MSAL_PYTHON`) against an HTTPS dev tenant: the shapes of issue 19 items 1-4 as the real
//! libraries see them. The drivers are `tests/peers/msal_{node,python}_shapes.*`; the Rust side
//! signs the user in through the pages and hands the codes over.
//!
//! The tenant runs on an ephemeral port: each peer keeps its own cache here, so MSAL Python
//! dropping the port from the cache `environment` does not matter.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use dev_tenant::{Config, DevTenant, HttpsConfig, quickstart as q};
use serde_json::{Value, json};

use crate::common::{Browser, VERIFIER, claims, field, sign_in_with};

const DRIVER_TIMEOUT: Duration = Duration::from_secs(120);
const ACRS_C1: &str = r#"{"access_token":{"acrs":{"essential":true,"value":"c1"}}}"#;

enum Peer {
    Node { node: PathBuf, dir: PathBuf },
    Python(PathBuf),
}

impl Peer {
    fn command(&self, ca: &Path) -> Command {
        let scripts = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers");
        match self {
            Self::Node { node, dir } => {
                let mut c = Command::new(node);
                c.arg(scripts.join("msal_node_shapes.mjs"))
                    .env("MSAL_NODE_DIR", dir)
                    .env("NODE_EXTRA_CA_CERTS", ca);
                c
            }
            Self::Python(python) => {
                let mut c = Command::new(python);
                // requests lets these override the `verify` the driver passes.
                c.arg(scripts.join("msal_python_shapes.py"))
                    .env_remove("REQUESTS_CA_BUNDLE")
                    .env_remove("CURL_CA_BUNDLE");
                c
            }
        }
    }
}

struct Https {
    tenant: DevTenant,
    ca: PathBuf,
    dir: PathBuf,
}

impl Drop for Https {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

async fn https_tenant(name: &str) -> Https {
    let dir = std::env::temp_dir().join(format!("dev-tenant-peers-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ca = dir.join("ca.pem");
    let mut config = Config::quickstart();
    config.server.https = Some(HttpsConfig::new(Some(ca.clone())));
    let tenant = DevTenant::start(config).await.expect("dev tenant starts");
    Https { tenant, ca, dir }
}

fn browser(h: &Https) -> Browser {
    let pem = h.tenant.ca_certificate_pem().unwrap().as_bytes();
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .tls_certs_only([reqwest::Certificate::from_pem(pem).unwrap()])
        .build()
        .unwrap();
    Browser {
        cookie: None,
        client: Some(client),
    }
}

fn code_step(fields: &[(String, String)], scopes: &[&str], claims: Option<&str>) -> Value {
    json!({
        "op": "code",
        "code": field(fields, "code").unwrap(),
        "code_verifier": VERIFIER,
        "redirect_uri": q::WEB_APP_REDIRECT_URI,
        // The nonce `common::authorize_url` sends; both peers check it in the ID token.
        "nonce": "nonce-123",
        "scopes": scopes,
        "claims": claims,
    })
}

fn silent(scopes: &[&str], claims: Option<&str>) -> Value {
    json!({"op": "silent", "scopes": scopes, "claims": claims})
}

fn capolids(policy: &str) -> String {
    format!(r#"{{"access_token":{{"capolids":{{"essential":true,"values":["{policy}"]}}}}}}"#)
}

/// The whole scenario, for one peer: sign in without MFA, meet the API's policy and the auth
/// context silently (refused in Entra's shape), step up interactively, and read the tokens.
async fn scenario(peer: Peer) {
    let h = https_tenant(match peer {
        Peer::Node { .. } => "node",
        Peer::Python(_) => "python",
    })
    .await;
    let mut b = browser(&h);
    let oidc = "openid profile offline_access";
    let first = sign_in_with(
        &h.tenant,
        &mut b,
        &format!("User.Read {oidc}"),
        "s1",
        q::ALICE_EMAIL,
        &[],
    )
    .await;
    // Signed in already: the auth-context claims request shows only the MFA page.
    let stepped_up = sign_in_with(
        &h.tenant,
        &mut b,
        &format!("User.Read {oidc}"),
        "s2",
        q::ALICE_EMAIL,
        &[("claims", ACRS_C1)],
    )
    .await;
    let steps = json!([
        code_step(&first, &["User.Read"], None),
        silent(&[q::API_SCOPE_URI], None),
        silent(&["User.Read", q::API_SCOPE_URI], None),
        silent(&["User.Read"], Some(ACRS_C1)),
        code_step(&stepped_up, &["User.Read"], Some(ACRS_C1)),
    ]);
    let authority = h.tenant.authority().trim_end_matches('/').to_owned();
    let request = json!({
        "authority": authority,
        "client_id": q::WEB_APP_CLIENT_ID,
        "client_secret": q::WEB_APP_CLIENT_SECRET,
        "ca": h.ca.to_string_lossy(),
        "steps": steps,
    })
    .to_string();
    let command = peer.command(&h.ca);
    let stdout = tokio::task::spawn_blocking(move || {
        test_support::run_driver(command, &request, DRIVER_TIMEOUT)
    })
    .await
    .unwrap();
    let out: Vec<Value> = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("the driver printed no JSON ({e}): {stdout}"));
    assert_eq!(out.len(), 5, "{out:?}");

    // Item 1: a v2.0 access token has no `amr`.
    let at = claims(
        out[0]["access_token"]
            .as_str()
            .unwrap_or_else(|| panic!("{}", out[0])),
    );
    assert_eq!(at["ver"], "2.0");
    assert!(at.get("amr").is_none(), "{at}");
    assert!(at.get("acrs").is_none(), "{at}");

    // Items 3 and 4: the API's policy refuses a silent request, alone or second in the set,
    // in Entra's current shape, and the library sees a step-up.
    for (i, refusal) in out[1..=2].iter().enumerate() {
        assert_refusal(&peer, refusal, q::MFA_POLICY_ID, i + 1);
    }
    // Item 2: the auth context's policy, silently.
    assert_refusal(&peer, &out[3], q::AUTH_CONTEXT_POLICY_ID, 3);
    // Item 2: after the MFA step-up, the token carries the satisfied auth context.
    let at = claims(
        out[4]["access_token"]
            .as_str()
            .unwrap_or_else(|| panic!("{}", out[4])),
    );
    assert_eq!(at["acrs"], json!(["c1"]), "{at}");
    assert!(at.get("amr").is_none(), "{at}");
}

fn assert_refusal(peer: &Peer, r: &Value, policy: &str, step: usize) {
    assert_eq!(r["error"], "invalid_grant", "step {step}: {r}");
    assert_eq!(r["suberror"], "basic_action", "step {step}: {r}");
    assert_eq!(r["claims"], capolids(policy), "step {step}: {r}");
    match peer {
        Peer::Node { .. } => assert_eq!(r["interaction_required"], true, "step {step}: {r}"),
        Peer::Python(_) => assert_eq!(r["error_codes"], json!([50076]), "step {step}: {r}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn msal_node_sees_entra_shapes() {
    let Some((dir, node)) = test_support::msal_node_or_skip() else {
        return;
    };
    scenario(Peer::Node { node, dir }).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn msal_python_sees_entra_shapes() {
    let Some(python) = test_support::msal_python_or_skip() else {
        return;
    };
    scenario(Peer::Python(python)).await;
}
