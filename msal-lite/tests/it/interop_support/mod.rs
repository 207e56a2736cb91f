//! Round trips of whole cache documents between msal-lite and the real MSAL Python / MSAL Node
//! (installed by `cargo xtask test`, found through `test-support`), against an HTTPS dev tenant.
//!
//! The peers are driven by the scripts in `tests/interop/` as subprocesses: one JSON request on
//! stdin, one JSON result on stdout, with a timeout.

#![allow(dead_code, reason = "each test binary uses a different subset")]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use dev_tenant::{Config, DevTenant, HttpsConfig, quickstart as q};
use msal_lite::http::ReqwestHttpClient;
use msal_lite::persistence::MemoryStore;
use msal_lite::{AuthCodeRequest, ClientCredential, ConfidentialClient, TokenSource};
use serde_json::{Value, json};

use crate::user_support::Browser;

/// How long one driver run may take (a cold Python or Node start plus a few HTTPS calls take
/// about a second).
const DRIVER_TIMEOUT: Duration = Duration::from_secs(120);

/// A real MSAL library and how to run its driver script.
#[derive(Debug)]
pub(crate) enum Peer {
    /// MSAL Python: the venv's python.
    Python(PathBuf),
    /// MSAL Node: the `node` program and the project directory holding `@azure/msal-node`.
    Node { node: PathBuf, dir: PathBuf },
}

impl Peer {
    /// MSAL Python, or `None` (the test returns) when it is not installed.
    pub(crate) fn python() -> Option<Self> {
        test_support::msal_python_or_skip().map(Self::Python)
    }

    /// MSAL Node, or `None` (the test returns) when it is not installed.
    pub(crate) fn node() -> Option<Self> {
        test_support::msal_node_or_skip().map(|(dir, node)| Self::Node { node, dir })
    }

    fn command(&self, ca: &Path) -> Command {
        let scripts = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop");
        match self {
            Self::Python(python) => {
                let mut c = Command::new(python);
                // requests lets these variables override the session's `verify` (the
                // tenant's CA, which the driver passes to MSAL).
                c.arg(scripts.join("msal_python_driver.py"))
                    .env_remove("REQUESTS_CA_BUNDLE")
                    .env_remove("CURL_CA_BUNDLE");
                c
            }
            Self::Node { node, dir } => {
                let mut c = Command::new(node);
                c.arg(scripts.join("msal_node_driver.mjs"))
                    .env("MSAL_NODE_DIR", dir)
                    .env("NODE_EXTRA_CA_CERTS", ca);
                c
            }
        }
    }

    /// Runs the driver with `request` (the tenant's CA added as `ca`) and returns its JSON result.
    ///
    /// # Panics
    ///
    /// When the driver fails, prints no JSON, or runs past [`DRIVER_TIMEOUT`] (it is killed).
    pub(crate) async fn run(&self, ca: &Path, mut request: Value) -> Value {
        request["ca"] = ca.to_string_lossy().into_owned().into();
        let mut child = self
            .command(ca)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {self:?}: {e}"));
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(request.to_string().as_bytes())
            .expect("write the request");
        let pid = child.id();
        // The wait runs on a blocking thread; the test task awaits it with a timeout (no polling
        // loop), and kills the driver if it hangs.
        let waited = tokio::time::timeout(
            DRIVER_TIMEOUT,
            tokio::task::spawn_blocking(move || child.wait_with_output()),
        )
        .await;
        let Ok(joined) = waited else {
            let _ = Command::new("kill").arg("-9").arg(pid.to_string()).status();
            panic!("{self:?} did not finish within {DRIVER_TIMEOUT:?}");
        };
        let output = joined.expect("join").expect("wait for the driver");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            output.status.success(),
            "{self:?} failed ({}):\n{stderr}",
            output.status
        );
        serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
            panic!(
                "{self:?} printed no JSON ({e}): {}\n{stderr}",
                String::from_utf8_lossy(&output.stdout)
            )
        })
    }
}

/// A directory under the system temp dir, removed on drop.
#[derive(Debug)]
pub(crate) struct TempDir(PathBuf);

impl TempDir {
    pub(crate) fn new() -> Self {
        static N: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "msal-lite-interop-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).expect("create temp dir");
        Self(dir)
    }

    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// An HTTPS dev tenant (real MSAL refuses `http://` authorities) whose CA is written to a file.
pub(crate) struct Setup {
    pub(crate) tenant: DevTenant,
    /// One tenant on port 443 at a time on this machine: an exclusive `flock` on
    /// [`test_support::INTEROP_443_LOCK`], held for the test's life, so tests in one binary,
    /// binaries run in parallel (nextest) and other engineers' runs never collide.
    _port: test_support::PortLock,
    pub(crate) dir: TempDir,
    pub(crate) ca: PathBuf,
}

impl Setup {
    /// The tenant listens on `127.0.0.1:443`: the cache `environment` is the authority's host,
    /// and MSAL Python writes it without the port (msal `authority.py` keeps the host only)
    /// while MSAL Node and msal-lite keep a non-default port, so on an ephemeral port the peers
    /// would disagree about a detail no real cloud has.
    pub(crate) async fn start() -> Self {
        // flock blocks until the holder releases it (the kernel wakes the waiter): run it on
        // a blocking thread so the test's runtime keeps going.
        let port = tokio::task::spawn_blocking(test_support::PortLock::interop_443)
            .await
            .expect("take the :443 lock");
        let dir = TempDir::new();
        let ca = dir.path("dev-tenant-ca.pem");
        let mut config = Config::quickstart();
        config.server.https = Some(HttpsConfig::new(Some(ca.clone())));
        config.server.bind = Some(std::net::SocketAddr::from(([127, 0, 0, 1], 443)));
        // The previous holder's tenant may free the port just after it released the lock
        // (its runtime shuts down after the test's values drop): poll for the port, bounded.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        let tenant = loop {
            match DevTenant::start(config.clone()).await {
                Err(dev_tenant::Error::Bind(e))
                    if e.kind() == std::io::ErrorKind::AddrInUse
                        && std::time::Instant::now() < deadline =>
                {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                started => {
                    break started.expect(
                        "dev tenant starts on 127.0.0.1:443 (needs root, and the port free)",
                    );
                }
            }
        };
        assert!(ca.is_file());
        Self {
            tenant,
            _port: port,
            dir,
            ca,
        }
    }

    /// The tenant's authority without the default port (the tenant's base URL spells `:443`
    /// out; MSAL Node's `knownAuthorities` compares the host as written) and without the
    /// trailing slash (MSAL appends `/v2.0/...` itself).
    pub(crate) fn authority(&self) -> String {
        self.tenant
            .authority()
            .replacen(":443/", "/", 1)
            .trim_end_matches('/')
            .to_owned()
    }

    fn ca_pem(&self) -> &str {
        self.tenant.ca_certificate_pem().expect("an HTTPS tenant")
    }

    /// A msal-lite client trusting the tenant's CA, with `store` attached.
    pub(crate) fn client(
        &self,
        client_id: &str,
        secret: &str,
        store: Arc<MemoryStore>,
    ) -> ConfidentialClient {
        let transport = ReqwestHttpClient::builder()
            .add_root_certificate_pem(self.ca_pem().as_bytes())
            .build()
            .expect("transport");
        ConfidentialClient::builder(
            client_id,
            self.authority(),
            ClientCredential::secret(secret),
        )
        .http_client(transport)
        .cache_store(store)
        .build()
        .expect("client builds")
    }

    /// The JSON fields every driver request has.
    pub(crate) fn request(&self, mode: &str, client_id: &str, secret: &str) -> Value {
        json!({
            "mode": mode,
            "authority": self.authority(),
            "client_id": client_id,
            "client_secret": secret,
        })
    }

    /// Signs `email` in through the tenant's login page with an authorization URL (PKCE, nonce)
    /// built by msal-lite, and returns the driver's `user` field: the code and verifier for the
    /// peer to redeem with its own `acquire_token_by_authorization_code` / `acquireTokenByCode`.
    pub(crate) async fn code_for(
        &self,
        client: &ConfidentialClient,
        email: &str,
        scopes: &[&str],
    ) -> Value {
        let (url, flow) = client
            .auth_code_url(AuthCodeRequest::new(
                scopes.iter().copied(),
                q::WEB_APP_REDIRECT_URI,
            ))
            .await
            .expect("authorize URL");
        let (returned, _) = Browser::trusting(self.ca_pem())
            .sign_in(&self.tenant, url.as_str(), email)
            .await;
        let flow = serde_json::to_value(&flow).expect("the flow serializes");
        json!({
            "code": returned.code,
            "state": returned.state,
            "nonce": flow["nonce"],
            "code_verifier": flow["code_verifier"],
            "redirect_uri": q::WEB_APP_REDIRECT_URI,
            "scopes": scopes,
        })
    }

    /// Signs `email` in with msal-lite itself (a token msal-lite wrote, for the peers to read).
    pub(crate) async fn sign_in_with_msal_lite(
        &self,
        client: &ConfidentialClient,
        email: &str,
        scopes: &[&str],
    ) -> msal_lite::Account {
        let (url, flow) = client
            .auth_code_url(AuthCodeRequest::new(
                scopes.iter().copied(),
                q::WEB_APP_REDIRECT_URI,
            ))
            .await
            .expect("authorize URL");
        let (returned, _) = Browser::trusting(self.ca_pem())
            .sign_in(&self.tenant, url.as_str(), email)
            .await;
        let result = client
            .acquire_token_by_code(&returned.code, &returned.state, flow)
            .await
            .expect("msal-lite redeems the code");
        assert_eq!(result.source(), TokenSource::Network);
        result.account().expect("an account").clone()
    }
}

/// Imports a whole MSAL cache document (every partition) into `client` and its store.
pub(crate) async fn import(client: &ConfidentialClient, json: &str) {
    let report = client
        .import_msal_cache(json.as_bytes())
        .await
        .expect("msal-lite imports the peer's cache");
    assert!(report.entries > 0, "nothing imported from {json}");
    assert!(report.skipped.is_empty(), "skipped {:?}", report.skipped);
}

/// Everything `client` holds, as one MSAL cache document.
pub(crate) async fn export(client: &ConfidentialClient) -> String {
    client
        .export_msal_cache()
        .await
        .expect("msal-lite exports its cache")
}

/// The home account id the tenant gives `object_id` (`<oid>.<tid>`, from `client_info`).
pub(crate) fn home_of(object_id: &str) -> String {
    format!("{object_id}.{}", q::TENANT_ID)
}

/// Microsoft Graph's delegated scope the user round trips use.
const USER_SCOPE: &str = q::GRAPH_USER_READ;
/// The daemon's application-permission scope.
const APP_SCOPE: &str = "https://graph.microsoft.com/.default";

/// A user cache written by `peer` (Alice signs in through it) is read by msal-lite, which serves
/// a silent hit with zero token requests; msal-lite then signs Bob in itself and writes the
/// whole cache back, and `peer` serves both users from it with zero token requests.
pub(crate) async fn user_round_trip(peer: &Peer) {
    let s = Setup::start().await;
    let (id, secret) = (q::WEB_APP_CLIENT_ID, q::WEB_APP_CLIENT_SECRET);

    // 1. The peer redeems Alice's code and serializes its cache.
    let url_builder = s.client(id, secret, Arc::new(MemoryStore::new()));
    let peer_cache = s.dir.path("written-by-peer.json");
    let mut request = s.request("acquire", id, secret);
    request["user"] = s
        .code_for(&url_builder, q::ALICE_EMAIL, &[USER_SCOPE])
        .await;
    request["cache_out"] = peer_cache.to_string_lossy().into_owned().into();
    let out = peer.run(&s.ca, request).await;
    assert_eq!(out["user_source"], "identity_provider", "{out}");
    assert_eq!(out["accounts"], json!([q::ALICE_EMAIL]), "{out}");
    let peer_json = std::fs::read_to_string(&peer_cache).expect("the peer wrote its cache");

    // 2. msal-lite reads it: the account, then a silent hit without any token request.
    let client = s.client(id, secret, Arc::new(MemoryStore::new()));
    import(&client, &peer_json).await;
    let calls = s.tenant.requests(dev_tenant::Endpoint::Token);
    let alice = client
        .account(&home_of(q::ALICE_OBJECT_ID))
        .await
        .unwrap_or_else(|| panic!("msal-lite finds no account in {peer_json}"));
    assert_eq!(alice.username(), Some(q::ALICE_EMAIL));
    let hit = client
        .acquire_token_silent([USER_SCOPE], &alice)
        .await
        .expect("msal-lite: silent from the peer's cache");
    assert_eq!(hit.source(), TokenSource::Cache);
    assert_eq!(
        s.tenant.requests(dev_tenant::Endpoint::Token),
        calls,
        "msal-lite made a token request instead of using the peer's cache"
    );

    // 3. msal-lite signs Bob in and writes everything back; the peer serves both from it.
    s.sign_in_with_msal_lite(&client, q::BOB_EMAIL, &[USER_SCOPE])
        .await;
    let lite_cache = s.dir.path("written-by-msal-lite.json");
    std::fs::write(&lite_cache, export(&client).await).expect("write msal-lite's cache");
    let calls = s.tenant.requests(dev_tenant::Endpoint::Token);
    for email in [q::ALICE_EMAIL, q::BOB_EMAIL] {
        let mut request = s.request("silent", id, secret);
        request["cache_in"] = lite_cache.to_string_lossy().into_owned().into();
        request["username"] = email.into();
        request["user_scopes"] = json!([USER_SCOPE]);
        let out = peer.run(&s.ca, request).await;
        assert_eq!(out["user_source"], "cache", "{email}: {out}");
    }
    assert_eq!(
        s.tenant.requests(dev_tenant::Endpoint::Token),
        calls,
        "the peer made a token request instead of using msal-lite's cache"
    );
}

/// An app (client credentials) token cached by `peer` is served by msal-lite from the imported
/// document with zero token requests.
pub(crate) async fn app_token_from_peer(peer: &Peer) {
    let s = Setup::start().await;
    let (id, secret) = (q::DAEMON_CLIENT_ID, q::DAEMON_CLIENT_SECRET);
    let peer_cache = s.dir.path("written-by-peer.json");
    let mut request = s.request("acquire", id, secret);
    request["app_scopes"] = json!([APP_SCOPE]);
    request["cache_out"] = peer_cache.to_string_lossy().into_owned().into();
    let out = peer.run(&s.ca, request).await;
    assert_eq!(out["app_source"], "identity_provider", "{out}");
    let peer_json = std::fs::read_to_string(&peer_cache).expect("the peer wrote its cache");

    let client = s.client(id, secret, Arc::new(MemoryStore::new()));
    import(&client, &peer_json).await;
    let calls = s.tenant.requests(dev_tenant::Endpoint::Token);
    let hit = client
        .acquire_token_for_client([APP_SCOPE])
        .await
        .expect("msal-lite: client credentials");
    assert_eq!(
        hit.source(),
        TokenSource::Cache,
        "msal-lite did not serve the app token from {peer_json}"
    );
    assert_eq!(s.tenant.requests(dev_tenant::Endpoint::Token), calls);
}

/// An app token msal-lite acquired and wrote is served by `peer` from its cache.
pub(crate) async fn app_token_from_msal_lite(peer: &Peer) {
    let s = Setup::start().await;
    let (id, secret) = (q::DAEMON_CLIENT_ID, q::DAEMON_CLIENT_SECRET);
    let client = s.client(id, secret, Arc::new(MemoryStore::new()));
    let token = client
        .acquire_token_for_client([APP_SCOPE])
        .await
        .expect("msal-lite: client credentials");
    assert_eq!(token.source(), TokenSource::Network);
    let lite_cache = s.dir.path("written-by-msal-lite.json");
    std::fs::write(&lite_cache, export(&client).await).expect("write msal-lite's cache");

    let calls = s.tenant.requests(dev_tenant::Endpoint::Token);
    let mut request = s.request("silent", id, secret);
    request["cache_in"] = lite_cache.to_string_lossy().into_owned().into();
    request["app_scopes"] = json!([APP_SCOPE]);
    let out = peer.run(&s.ca, request).await;
    assert_eq!(out["app_source"], "cache", "{out}");
    assert_eq!(s.tenant.requests(dev_tenant::Endpoint::Token), calls);
}

/// An assertion for the API (Alice, through the web app, with MFA as the API's policy asks).
fn api_assertion(s: &Setup) -> String {
    s.tenant
        .access_token_for(
            q::ALICE_EMAIL,
            q::WEB_APP_CLIENT_ID,
            [q::API_SCOPE_URI],
            dev_tenant::TokenOptions::default().mfa(true),
        )
        .expect("the tenant issues a token for the API")
}

/// An OBO token `peer` cached (the API exchanging Alice's assertion for Graph) is served by
/// msal-lite for the same assertion with zero token requests; one msal-lite obtained for another
/// assertion is served by `peer` from msal-lite's export.
pub(crate) async fn obo_round_trip(peer: &Peer) {
    let s = Setup::start().await;
    let (id, secret) = (q::API_CLIENT_ID, q::API_CLIENT_SECRET);
    let assertion = api_assertion(&s);
    let peer_cache = s.dir.path("written-by-peer.json");
    let mut request = s.request("acquire", id, secret);
    request["obo"] = json!({ "assertion": assertion, "scopes": [USER_SCOPE] });
    request["cache_out"] = peer_cache.to_string_lossy().into_owned().into();
    let out = peer.run(&s.ca, request).await;
    assert_eq!(out["obo_source"], "identity_provider", "{out}");
    let peer_json = std::fs::read_to_string(&peer_cache).expect("the peer wrote its cache");

    let client = s.client(id, secret, Arc::new(MemoryStore::new()));
    import(&client, &peer_json).await;
    let calls = s.tenant.requests(dev_tenant::Endpoint::Token);
    let hit = client
        .acquire_token_on_behalf_of(msal_lite::UserAssertion::new(assertion), [USER_SCOPE])
        .await
        .expect("msal-lite: OBO");
    assert_eq!(
        hit.source(),
        TokenSource::Cache,
        "msal-lite did not serve the OBO token from {peer_json}"
    );
    assert_eq!(s.tenant.requests(dev_tenant::Endpoint::Token), calls);

    // A second assertion (a later token of the same user): msal-lite goes to the tenant once,
    // and the peer then finds that token in msal-lite's export.
    let second = api_assertion(&s);
    let token = client
        .acquire_token_on_behalf_of(msal_lite::UserAssertion::new(second.clone()), [USER_SCOPE])
        .await
        .expect("msal-lite: OBO");
    assert_eq!(token.source(), TokenSource::Network);
    let lite_cache = s.dir.path("written-by-msal-lite.json");
    std::fs::write(&lite_cache, export(&client).await).expect("write msal-lite's cache");
    let calls = s.tenant.requests(dev_tenant::Endpoint::Token);
    let mut request = s.request("silent", id, secret);
    request["cache_in"] = lite_cache.to_string_lossy().into_owned().into();
    request["obo"] = json!({ "assertion": second, "scopes": [USER_SCOPE] });
    let out = peer.run(&s.ca, request).await;
    assert_eq!(out["obo_source"], "cache", "{out}");
    assert_eq!(s.tenant.requests(dev_tenant::Endpoint::Token), calls);
}

/// MSAL Python and on-behalf-of tokens, the deliberate difference (docs/migration.md): MSAL
/// Python 1.39's `acquire_token_on_behalf_of` never reads its cache (msal `application.py`:
/// it calls `obtain_token_by_assertion` straight away) and stores the result as an ordinary
/// entry of the user's account, without `user_assertion_hash`. msal-lite serves OBO tokens
/// only to the assertion they were obtained for, so it does not serve that entry to an OBO
/// request (it goes to the tenant once), and MSAL Python does not use the OBO token
/// msal-lite exports (it goes to the tenant too). What it imports stays usable as the user's
/// token: the entry lands in the user's partition.
pub(crate) async fn obo_with_msal_python(peer: &Peer) {
    let s = Setup::start().await;
    let (id, secret) = (q::API_CLIENT_ID, q::API_CLIENT_SECRET);
    let assertion = api_assertion(&s);
    let peer_cache = s.dir.path("written-by-peer.json");
    let mut request = s.request("acquire", id, secret);
    request["obo"] = json!({ "assertion": assertion, "scopes": [USER_SCOPE] });
    request["cache_out"] = peer_cache.to_string_lossy().into_owned().into();
    let out = peer.run(&s.ca, request).await;
    assert_eq!(out["obo_source"], "identity_provider", "{out}");
    let peer_json = std::fs::read_to_string(&peer_cache).expect("the peer wrote its cache");
    let written: Value = serde_json::from_str(&peer_json).expect("JSON");
    let entries = written["AccessToken"].as_object().expect("an access token");
    assert!(
        entries
            .values()
            .all(|e| e.get("user_assertion_hash").is_none()
                && e["home_account_id"] == home_of(q::ALICE_OBJECT_ID)),
        "MSAL Python keys OBO tokens by user, not assertion: {peer_json}"
    );

    let client = s.client(id, secret, Arc::new(MemoryStore::new()));
    import(&client, &peer_json).await;
    let calls = s.tenant.requests(dev_tenant::Endpoint::Token);
    let obo = client
        .acquire_token_on_behalf_of(
            msal_lite::UserAssertion::new(assertion.clone()),
            [USER_SCOPE],
        )
        .await
        .expect("msal-lite: OBO");
    assert_eq!(
        obo.source(),
        TokenSource::Network,
        "an entry not bound to the assertion must not answer an OBO request"
    );
    assert_eq!(s.tenant.requests(dev_tenant::Endpoint::Token), calls + 1);

    // msal-lite's export holds that OBO token (bound to the assertion); MSAL Python's OBO
    // still goes to the tenant: it has no OBO cache lookup.
    let lite_cache = s.dir.path("written-by-msal-lite.json");
    std::fs::write(&lite_cache, export(&client).await).expect("write msal-lite's cache");
    let exported: Value =
        serde_json::from_str(&std::fs::read_to_string(&lite_cache).expect("read")).expect("JSON");
    assert!(
        exported["AccessToken"]
            .as_object()
            .is_some_and(|m| m.values().any(|e| e.get("user_assertion_hash").is_some())),
        "msal-lite exports its OBO token with the assertion hash: {exported}"
    );
    let calls = s.tenant.requests(dev_tenant::Endpoint::Token);
    let mut request = s.request("silent", id, secret);
    request["cache_in"] = lite_cache.to_string_lossy().into_owned().into();
    request["obo"] = json!({ "assertion": assertion, "scopes": [USER_SCOPE] });
    let out = peer.run(&s.ca, request).await;
    assert_eq!(out["obo_source"], "identity_provider", "{out}");
    assert_eq!(s.tenant.requests(dev_tenant::Endpoint::Token), calls + 1);
}
