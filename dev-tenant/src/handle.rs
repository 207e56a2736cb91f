//! [`DevTenant`]: start a tenant, inspect and steer it from tests, stop it by dropping it.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::config::Config;
use crate::faults::{Endpoint, Fault};
use crate::grants::{UserIssue, issue_user_tokens};
use crate::keys::SigningKey;
use crate::scopes::app_grant;
use crate::state::{Revocation, Tenant};
use crate::tokens::{ClientAuth, app_access_token};
use crate::{Error, UserProfile};

/// Options for [`DevTenant::access_token_for`].
///
/// ```
/// let options = dev_tenant::TokenOptions::default().mfa(true).client_capabilities(["cp1"]);
/// # let _ = options;
/// ```
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct TokenOptions {
    /// The sign-in included MFA. A v2.0 access token does not show it (no `amr`, as in Entra);
    /// the on-behalf-of flow and the token's authentication contexts do.
    pub mfa: bool,
    /// Client capabilities put in `xms_cc` (e.g. `cp1`).
    pub client_capabilities: Vec<String>,
    /// Authentication contexts the client asked for (`acrs`); those the sign-in satisfies (with
    /// [`mfa`](Self::mfa), or under a policy that does not require MFA) appear in the token.
    pub auth_contexts: Vec<String>,
    /// Token lifetime; the configured access token lifetime when `None`.
    pub lifetime: Option<Duration>,
    /// The issuing tenant (an id or subdomain of the home or an additional tenant); the home
    /// tenant when `None`.
    pub tenant: Option<String>,
}

impl TokenOptions {
    /// Sets whether the sign-in included MFA.
    #[must_use]
    pub fn mfa(mut self, mfa: bool) -> Self {
        self.mfa = mfa;
        self
    }
    /// Sets the client capabilities (`xms_cc`).
    #[must_use]
    pub fn client_capabilities(
        mut self,
        caps: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        self.client_capabilities = caps.into_iter().map(Into::into).collect();
        self
    }
    /// Sets the requested authentication contexts (`acrs`, e.g. `c1`).
    #[must_use]
    pub fn auth_contexts(mut self, ids: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.auth_contexts = ids.into_iter().map(Into::into).collect();
        self
    }
    /// Sets the lifetime.
    #[must_use]
    pub fn lifetime(mut self, lifetime: Duration) -> Self {
        self.lifetime = Some(lifetime);
        self
    }
    /// Issues the token in another configured tenant (`tid` and `iss` of that tenant, the
    /// user's guest object id there), e.g. [`quickstart::GUEST_TENANT_ID`](crate::quickstart::GUEST_TENANT_ID).
    #[must_use]
    pub fn tenant(mut self, tenant: impl Into<String>) -> Self {
        self.tenant = Some(tenant.into());
        self
    }
}

/// A running dev tenant. Dropping it stops the server.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), dev_tenant::Error> {
/// use dev_tenant::{Config, DevTenant, Endpoint};
/// let tenant = DevTenant::start(Config::quickstart()).await?;
/// assert!(tenant.authority().ends_with("/contoso.onmicrosoft.com/"));
/// assert_eq!(tenant.requests(Endpoint::Token), 0);
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct DevTenant {
    tenant: Arc<Tenant>,
    addr: SocketAddr,
    ca_pem: Option<String>,
    _shutdown: watch::Sender<()>,
}

impl DevTenant {
    /// Starts a tenant on `config.server.bind` (default `127.0.0.1:0`, an ephemeral port).
    ///
    /// # Errors
    /// [`Error::InvalidConfig`], [`Error::Bind`], [`Error::Crypto`], [`Error::Tls`] or
    /// [`Error::WriteCert`].
    pub async fn start(config: Config) -> Result<Self, Error> {
        config.validate()?;
        let bind = config
            .server
            .bind
            .unwrap_or(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0));
        let listener = TcpListener::bind(bind).await.map_err(Error::Bind)?;
        let addr = listener.local_addr().map_err(Error::Bind)?;
        let https = config.server.https.clone();
        let scheme = if https.is_some() { "https" } else { "http" };
        let host = match (&config.server.public_host, addr.ip()) {
            (Some(host), _) => host.clone(),
            (None, ip) if ip.is_unspecified() => "127.0.0.1".to_owned(),
            (None, IpAddr::V6(ip)) => format!("[{ip}]"),
            (None, IpAddr::V4(ip)) => ip.to_string(),
        };
        let base_url = base_url(scheme, &host, addr.port());
        let mut cert_hosts: Vec<String> = config.server.public_host.iter().cloned().collect();
        cert_hosts.extend(config.server.certificate_hosts.iter().cloned());
        let https_on = https.is_some();
        let port = addr.port();
        // Key generation is CPU-bound (RSA 2048): keep it off the async worker.
        let (tenant, tls) = tokio::task::spawn_blocking(move || {
            let tls = https
                .map(|h| crate::https::setup(h.cert_out.as_deref(), &cert_hosts))
                .transpose()?;
            let tenant = Tenant::new(config, base_url, https_on, port)?;
            Ok::<_, Error>((tenant, tls))
        })
        .await
        .map_err(|e| Error::Crypto(e.to_string()))??;
        let tenant = Arc::new(tenant);
        let router = crate::routes::router(Arc::clone(&tenant));
        let (tx, rx) = watch::channel(());
        let ca_pem = tls.as_ref().map(|t| t.ca_pem.clone());
        tokio::spawn(crate::server::serve(
            listener,
            tls.map(|t| t.acceptor),
            Arc::clone(&tenant),
            router,
            rx,
        ));
        tracing::info!(authority = %tenant.authority(), "dev tenant started");
        Ok(Self {
            tenant,
            addr,
            ca_pem,
            _shutdown: tx,
        })
    }

    /// `http://127.0.0.1:PORT` (or `https://`, and the host `public_host` when set), without a
    /// trailing slash; a default port (443 for HTTPS, 80 for HTTP) is left out, as in Entra's URLs.
    pub fn base_url(&self) -> &str {
        &self.tenant.base_url
    }

    /// The bound socket address.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// `{base}/{subdomain}.onmicrosoft.com/`, the authority MSAL is configured with.
    pub fn authority(&self) -> String {
        self.tenant.authority()
    }

    /// `{base}/{tenant-id}/`, the same tenant addressed by id.
    pub fn authority_by_id(&self) -> String {
        format!("{}/{}/", self.tenant.base_url, self.tenant.tenant_id())
    }

    /// `{base}/{tenant-id}/v2.0`, the discovery document's `issuer` and the tokens' `iss`.
    pub fn issuer(&self) -> String {
        self.tenant.issuer()
    }

    /// The ids of the configured additional (guest) tenants, in configuration order.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), dev_tenant::Error> {
    /// use dev_tenant::{AdditionalTenant, Config, DevTenant, quickstart};
    /// let mut config = Config::quickstart();
    /// config.tenant.additional_tenants.push(AdditionalTenant::new(quickstart::GUEST_TENANT_ID, None));
    /// let tenant = DevTenant::start(config).await?;
    /// assert_eq!(tenant.additional_tenant_ids(), [quickstart::GUEST_TENANT_ID]);
    /// assert_eq!(
    ///     tenant.issuer_for(quickstart::GUEST_TENANT_ID),
    ///     format!("{}/{}/v2.0", tenant.base_url(), quickstart::GUEST_TENANT_ID)
    /// );
    /// # Ok(()) }
    /// ```
    pub fn additional_tenant_ids(&self) -> Vec<String> {
        self.tenant
            .additional_tenant_ids()
            .map(str::to_owned)
            .collect()
    }

    /// `{base}/{tenant}/`: the authority of any tenant served here, addressed by `tenant` as
    /// given (an id or subdomain).
    pub fn authority_for(&self, tenant: &str) -> String {
        format!("{}/{tenant}/", self.tenant.base_url)
    }

    /// `{base}/{tenant-id}/v2.0`: the issuer of the tenant `tenant_id` (home or additional).
    pub fn issuer_for(&self, tenant_id: &str) -> String {
        self.tenant.issuer_of(tenant_id)
    }

    /// The user's object id (`oid`) in tenant `tenant_id`: the home object id in the home
    /// tenant, the guest object's id in an additional one. `None` for an unknown user or tenant.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), dev_tenant::Error> {
    /// use dev_tenant::{AdditionalTenant, Config, DevTenant, quickstart};
    /// let mut config = Config::quickstart();
    /// config.tenant.additional_tenants.push(AdditionalTenant::new(quickstart::GUEST_TENANT_ID, None));
    /// let tenant = DevTenant::start(config).await?;
    /// let home = tenant.object_id_in(quickstart::ALICE_EMAIL, quickstart::TENANT_ID).unwrap();
    /// let guest = tenant.object_id_in(quickstart::ALICE_EMAIL, quickstart::GUEST_TENANT_ID).unwrap();
    /// assert_ne!(home, guest);
    /// # Ok(()) }
    /// ```
    pub fn object_id_in(&self, user: &str, tenant_id: &str) -> Option<String> {
        let t = &self.tenant;
        let tid = t.resolve_tenant(tenant_id)?.to_owned();
        let home = t.store().user_by_email(user)?.profile.id.clone();
        Some(t.local_oid(&tid, &home))
    }

    /// `{base}/{tenant-id}/discovery/v2.0/keys`.
    pub fn jwks_uri(&self) -> String {
        format!(
            "{}/{}/discovery/v2.0/keys",
            self.tenant.base_url,
            self.tenant.tenant_id()
        )
    }

    /// `{base}/{subdomain}.onmicrosoft.com/v2.0/.well-known/openid-configuration`.
    pub fn discovery_url(&self) -> String {
        format!("{}v2.0/.well-known/openid-configuration", self.authority())
    }

    /// `{base}/{subdomain}.onmicrosoft.com/oauth2/v2.0/token`.
    pub fn token_endpoint(&self) -> String {
        format!("{}oauth2/v2.0/token", self.authority())
    }

    /// `{base}/{subdomain}.onmicrosoft.com/oauth2/v2.0/authorize`.
    pub fn authorize_endpoint(&self) -> String {
        format!("{}oauth2/v2.0/authorize", self.authority())
    }

    /// `{base}/`: Graph is served at `{graph_url}v1.0/me`.
    pub fn graph_url(&self) -> String {
        format!("{}/", self.tenant.base_url)
    }

    /// The configuration the tenant runs with.
    pub fn config(&self) -> &Config {
        &self.tenant.config
    }

    /// The PEM of the CA that signed the HTTPS certificate (HTTPS only), for clients to trust.
    pub fn ca_certificate_pem(&self) -> Option<&str> {
        self.ca_pem.as_deref()
    }

    /// Requests received by `endpoint` so far (including those answered by a fault).
    pub fn requests(&self, endpoint: Endpoint) -> u64 {
        self.tenant.counters.get(endpoint)
    }

    /// Injects `fault` on `endpoint`; faults apply in the order injected. A fault with
    /// `times(0)` is ignored.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), dev_tenant::Error> {
    /// # let tenant = dev_tenant::DevTenant::start(dev_tenant::Config::quickstart()).await?;
    /// use dev_tenant::{Endpoint, Fault};
    /// tenant.inject_fault(Endpoint::Jwks, Fault::drop_connection().times(2));
    /// tenant.clear_faults(Endpoint::Jwks);
    /// # Ok(()) }
    /// ```
    pub fn inject_fault(&self, endpoint: Endpoint, fault: Fault) {
        if fault.validate().is_ok() {
            self.tenant.faults.inject(endpoint, fault);
        } else {
            tracing::warn!(?fault, "ignoring an invalid fault");
        }
    }

    /// Removes the faults of `endpoint`.
    pub fn clear_faults(&self, endpoint: Endpoint) {
        self.tenant.faults.clear(Some(endpoint));
    }

    /// Removes every fault.
    pub fn clear_all_faults(&self) {
        self.tenant.faults.clear(None);
    }

    /// Generates a new signing key; the old one stays in the JWKS (and keeps verifying) for
    /// `grace`, and is removed at once when `grace` is zero. Returns the new `kid`.
    ///
    /// # Panics
    /// Only if the crypto library cannot generate an RSA key, which leaves no usable tenant.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), dev_tenant::Error> {
    /// # let tenant = dev_tenant::DevTenant::start(dev_tenant::Config::quickstart()).await?;
    /// let old = tenant.current_kid();
    /// let new = tenant.rotate_keys(std::time::Duration::ZERO);
    /// assert_ne!(old, new);
    /// assert_eq!(tenant.current_kid(), new);
    /// # Ok(()) }
    /// ```
    pub fn rotate_keys(&self, grace: Duration) -> String {
        match rotate(&self.tenant, grace) {
            Ok(kid) => kid,
            Err(e) => panic!("dev tenant: cannot generate a signing key: {e}"),
        }
    }

    /// The `kid` of the current signing key.
    pub fn current_kid(&self) -> String {
        self.tenant
            .keys
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .current()
            .kid()
            .to_owned()
    }

    /// Revokes the user's sessions (CAE): SSO sessions end, refresh tokens issued before now
    /// fail with `invalid_grant`, and Graph answers tokens issued before now that carry
    /// `xms_cc` = `cp1` with a 401 `insufficient_claims` challenge whose `nbf` is the returned
    /// Unix time. `None` when no user has this email.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), dev_tenant::Error> {
    /// # let tenant = dev_tenant::DevTenant::start(dev_tenant::Config::quickstart()).await?;
    /// assert!(tenant.revoke_user("alice@contoso.com").is_some());
    /// assert!(tenant.revoke_user("nobody@contoso.com").is_none());
    /// # Ok(()) }
    /// ```
    pub fn revoke_user(&self, email: &str) -> Option<i64> {
        revoke(&self.tenant, email)
    }

    /// The user's current Graph profile.
    pub fn user(&self, email: &str) -> Option<UserProfile> {
        self.tenant
            .store()
            .user_by_email(email)
            .map(|u| u.profile.clone())
    }

    /// The most recent MFA one-time code (for tests that drive the login over HTTP).
    pub fn last_mfa_code(&self) -> Option<String> {
        self.tenant.store().last_mfa_code.clone()
    }

    /// The JOSE header the tenant puts on its tokens: `{"typ":"JWT","alg":"RS256","kid":…}`.
    pub fn default_header(&self) -> Value {
        self.tenant.jose_header()
    }

    /// Signs arbitrary JSON with the current key (RS256), for attack suites and fixtures.
    ///
    /// A string argument is taken as the exact JSON text to sign (so a test can sign duplicate
    /// keys or odd spacing); anything else is serialized with `serde_json`. The header is used
    /// as given: start from [`DevTenant::default_header`] for a well-formed token.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), dev_tenant::Error> {
    /// # let tenant = dev_tenant::DevTenant::start(dev_tenant::Config::quickstart()).await?;
    /// let claims = serde_json::json!({"iss": tenant.issuer(), "aud": "someone-else", "exp": 1});
    /// let token = tenant.mint_token(tenant.default_header(), &claims);
    /// let raw = tenant.mint_token(r#"{"alg":"RS256","alg":"none"}"#, r#"{"sub":"x"}"#);
    /// assert_eq!(token.split('.').count(), 3);
    /// assert_eq!(raw.split('.').count(), 3);
    /// # Ok(()) }
    /// ```
    pub fn mint_token(&self, header: impl Serialize, claims: impl Serialize) -> String {
        let text = |v: serde_json::Result<Value>| match v {
            Ok(Value::String(raw)) => raw.into_bytes(),
            Ok(other) => other.to_string().into_bytes(),
            Err(_) => b"null".to_vec(),
        };
        self.tenant.sign_raw(
            &text(serde_json::to_value(header)),
            &text(serde_json::to_value(claims)),
        )
    }

    /// A delegated access token as the token endpoint would issue it to `client_id` for `user`
    /// and `scopes` (consent is checked; Conditional Access is not, see [`TokenOptions::mfa()`]).
    ///
    /// # Errors
    /// [`Error::UnknownUser`], [`Error::UnknownClient`] or [`Error::Rejected`].
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), dev_tenant::Error> {
    /// # let tenant = dev_tenant::DevTenant::start(dev_tenant::Config::quickstart()).await?;
    /// use dev_tenant::{TokenOptions, quickstart as q};
    /// let token = tenant.access_token_for(q::ALICE_EMAIL, q::WEB_APP_CLIENT_ID, [q::API_SCOPE_URI], TokenOptions::default().mfa(true))?;
    /// assert_eq!(token.split('.').count(), 3);
    /// // Consent is checked: the web app was not granted User.ReadWrite.
    /// assert!(tenant.access_token_for(q::ALICE_EMAIL, q::WEB_APP_CLIENT_ID, ["User.ReadWrite"], TokenOptions::default()).is_err());
    /// # Ok(()) }
    /// ```
    pub fn access_token_for(
        &self,
        user: &str,
        client_id: &str,
        scopes: impl IntoIterator<Item = impl AsRef<str>>,
        options: TokenOptions,
    ) -> Result<String, Error> {
        let scope = scopes
            .into_iter()
            .map(|s| s.as_ref().to_owned())
            .collect::<Vec<_>>()
            .join(" ");
        user_access_token_for(&self.tenant, user, client_id, &scope, options)
    }

    /// An app-only access token for `client_id` and a `{resource}/.default` scope, as the
    /// client credentials grant would issue it.
    ///
    /// # Errors
    /// [`Error::UnknownClient`] or [`Error::Rejected`].
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), dev_tenant::Error> {
    /// # let tenant = dev_tenant::DevTenant::start(dev_tenant::Config::quickstart()).await?;
    /// let token = tenant.app_token_for(dev_tenant::quickstart::DAEMON_CLIENT_ID, "https://graph.microsoft.com/.default")?;
    /// assert_eq!(token.split('.').count(), 3);
    /// # Ok(()) }
    /// ```
    pub fn app_token_for(&self, client_id: &str, scope: &str) -> Result<String, Error> {
        let t = &self.tenant;
        let client = t.app(client_id).ok_or(Error::UnknownClient)?;
        let grant = app_grant(&t.config, client, scope)
            .map_err(|e| Error::Rejected(format!("AADSTS{}: {}", e.code, e.message)))?;
        Ok(app_access_token(
            t,
            t.tenant_id(),
            &client.client_id,
            ClientAuth::Secret,
            &grant.resource,
            &grant.roles,
            t.config.lifetimes.access_token_secs,
        ))
    }
}

/// [`DevTenant::access_token_for`] for the admin API too.
pub(crate) fn user_access_token_for(
    t: &Tenant,
    user: &str,
    client_id: &str,
    scope: &str,
    options: TokenOptions,
) -> Result<String, Error> {
    let oid = t
        .store()
        .user_by_email(user)
        .map(|u| u.profile.id.clone())
        .ok_or(Error::UnknownUser)?;
    let client = t.app(client_id).ok_or(Error::UnknownClient)?;
    let tid = match options.tenant.as_deref() {
        None => t.tenant_id(),
        Some(name) => t
            .resolve_tenant(name)
            .ok_or_else(|| Error::Rejected(format!("AADSTS90002: Tenant '{name}' not found.")))?,
    };
    let lifetime = options
        .lifetime
        .map_or(t.config.lifetimes.access_token_secs, |d| d.as_secs().max(1));
    let body = issue_user_tokens(
        t,
        &UserIssue {
            tenant_id: tid,
            client,
            client_auth: if client.is_confidential() {
                ClientAuth::Secret
            } else {
                ClientAuth::Public
            },
            user_oid: &oid,
            scope,
            mfa: options.mfa,
            auth_time: crate::time::now(),
            xms_cc: options.client_capabilities,
            acrs: crate::scopes::satisfied_contexts(&t.config, &options.auth_contexts, options.mfa),
            sid: None,
            nonce: None,
            enforce_ca: false,
            lifetime,
        },
    )
    .map_err(|e| Error::Rejected(format!("AADSTS{}: {}", e.code, e.message)))?;
    body["access_token"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| Error::Rejected("no access token".to_owned()))
}

/// `{scheme}://{host}[:{port}]`, without the port when it is the scheme's default (RFC 3986
/// section 6.2.3), as Entra's URLs are written: `https://{tid}.ciamlogin.com/{tid}/v2.0`.
pub(crate) fn base_url(scheme: &str, host: &str, port: u16) -> String {
    match (scheme, port) {
        ("https", 443) | ("http", 80) => format!("{scheme}://{host}"),
        _ => format!("{scheme}://{host}:{port}"),
    }
}

pub(crate) fn rotate(t: &Tenant, grace: Duration) -> Result<String, Error> {
    let next = SigningKey::generate(&t.issuer())?;
    let kid = next.kid().to_owned();
    t.keys
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .rotate(next, grace);
    tracing::info!(%kid, grace_secs = grace.as_secs(), "signing key rotated");
    Ok(kid)
}

/// Revokes a user's sessions; returns the revocation time.
pub(crate) fn revoke(t: &Tenant, email: &str) -> Option<i64> {
    let seq = t.next_seq();
    let at = crate::time::now();
    let mut store = t.store();
    let oid = store.user_by_email(email)?.profile.id.clone();
    store
        .revocations
        .insert(oid.to_ascii_lowercase(), Revocation { seq, at });
    store
        .sessions
        .retain(|_, s| !s.user_oid.eq_ignore_ascii_case(&oid));
    tracing::info!(user = %email, revoked_at = at, "user sessions revoked");
    Some(at)
}

#[cfg(test)]
mod tests {
    use super::base_url;

    #[test]
    fn default_ports_are_left_out() {
        assert_eq!(
            base_url("https", "a.ciamlogin.com", 443),
            "https://a.ciamlogin.com"
        );
        assert_eq!(base_url("http", "localhost", 80), "http://localhost");
        assert_eq!(base_url("https", "localhost", 80), "https://localhost:80");
        assert_eq!(base_url("http", "127.0.0.1", 443), "http://127.0.0.1:443");
        assert_eq!(base_url("http", "127.0.0.1", 8080), "http://127.0.0.1:8080");
    }
}
