//! The tenant's configuration: app registrations, users, Conditional Access and lifetimes.
//!
//! [`Config::quickstart`] reproduces the Microsoft quickstart "Edit profile in a sample Node.js web
//! app" (Entra External ID); its values are also exported as constants in [`quickstart`].

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::{Error, quickstart};

/// A secret value from the configuration (client secret or password).
///
/// Its `Debug` prints `[redacted]` and it has no `Display`.
///
/// ```
/// let s = dev_tenant::Secret::new("dev-web-app-secret");
/// assert_eq!(format!("{s:?}"), "[redacted]");
/// assert_eq!(s.secret(), "dev-web-app-secret");
/// ```
#[derive(Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret value.
    ///
    /// # Security Warning
    /// Do not log or display the returned value.
    pub fn secret(&self) -> &str {
        &self.0
    }

    /// Compares in constant time (for the value's length).
    pub(crate) fn matches(&self, candidate: &str) -> bool {
        use subtle::ConstantTimeEq;
        self.0.as_bytes().ct_eq(candidate.as_bytes()).into()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// The whole dev tenant configuration (TOML).
///
/// ```
/// let config = dev_tenant::Config::quickstart();
/// let toml = config.to_toml_string().unwrap();
/// let back = dev_tenant::Config::from_toml_str(&toml).unwrap();
/// assert_eq!(back.tenant.tenant_id, config.tenant.tenant_id);
/// ```
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Config {
    /// The tenant's names.
    pub tenant: TenantConfig,
    /// Where and how to listen.
    #[serde(default)]
    pub server: ServerConfig,
    /// Token and code lifetimes.
    #[serde(default)]
    pub lifetimes: Lifetimes,
    /// Refuse scope sets that span two resources with AADSTS28000 instead of issuing a token for
    /// the first resource (Entra's documented default).
    #[serde(default)]
    pub reject_multi_resource_scopes: bool,
    /// Refuse a client assertion whose `jti` was already used (RFC 7523 section 3 allows it).
    /// Off by default, as in Entra: MSAL Node, MSAL Python and MSAL.NET reuse a signed
    /// assertion until it nears expiry, so a strict check would break them.
    #[serde(default)]
    pub reject_replayed_assertions: bool,
    /// Sign a configured user in without the login page (for tests that drive the flow with
    /// an HTTP client rather than a browser). Absent by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_login: Option<AutoLogin>,
    /// App registrations, including resources such as Microsoft Graph.
    #[serde(default, rename = "app", skip_serializing_if = "Vec::is_empty")]
    pub apps: Vec<AppRegistration>,
    /// Seeded users.
    #[serde(default, rename = "user", skip_serializing_if = "Vec::is_empty")]
    pub users: Vec<UserConfig>,
    /// Conditional Access policies.
    #[serde(
        default,
        rename = "conditional_access_policy",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub conditional_access: Vec<ConditionalAccessPolicy>,
}

/// Auto-login: an authorize request that would show the login page signs `user` in at once
/// (an SSO session is set as usual); with `mfa` the sign-in counts as multifactor, otherwise
/// the MFA page still appears when a policy asks for it. `prompt=none` still needs a session.
///
/// ```
/// let mut config = dev_tenant::Config::quickstart();
/// config.auto_login = Some(dev_tenant::AutoLogin::new("alice@contoso.com", true));
/// assert!(config.validate().is_ok());
/// config.auto_login = Some(dev_tenant::AutoLogin::new("nobody@contoso.com", true));
/// assert!(config.validate().is_err());
/// ```
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct AutoLogin {
    /// The seeded user's email.
    pub user: String,
    /// Whether the sign-in includes MFA.
    #[serde(default)]
    pub mfa: bool,
}

impl AutoLogin {
    /// Signs `user` in automatically, with or without MFA.
    pub fn new(user: impl Into<String>, mfa: bool) -> Self {
        Self {
            user: user.into(),
            mfa,
        }
    }
}

/// The tenant's names.
///
/// ```
/// let config = dev_tenant::Config::quickstart();
/// assert_eq!(config.tenant.domain(), "contoso.onmicrosoft.com");
/// ```
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct TenantConfig {
    /// The subdomain, e.g. `contoso` for `contoso.onmicrosoft.com`.
    pub subdomain: String,
    /// The tenant id (a GUID).
    pub tenant_id: String,
    /// Other tenants the users belong to as guests (Entra B2B) and the apps are provisioned in
    /// (multi-tenant registrations): each answers at `/{its id or subdomain}/...`, its tokens
    /// carry its `tid` and issuer, and the home tenant stays the accounts' home (`client_info`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub additional_tenants: Vec<AdditionalTenant>,
}

impl TenantConfig {
    /// `{subdomain}.onmicrosoft.com`.
    pub fn domain(&self) -> String {
        format!("{}.onmicrosoft.com", self.subdomain)
    }
}

/// A second directory sharing the home tenant's users (as guests) and app registrations.
///
/// ```
/// let mut config = dev_tenant::Config::quickstart();
/// config.tenant.additional_tenants.push(dev_tenant::AdditionalTenant::new(
///     "5a7c6b1e-0d2f-4e8a-9b3c-2f1e0d9c8b7a",
///     Some("fabrikam".into()),
/// ));
/// assert!(config.validate().is_ok());
/// ```
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct AdditionalTenant {
    /// The tenant id (a GUID).
    pub tenant_id: String,
    /// The subdomain, so that `/{subdomain}/` and `/{subdomain}.onmicrosoft.com/` address it
    /// too; absent: addressed by id only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subdomain: Option<String>,
}

impl AdditionalTenant {
    /// A tenant with this id and, optionally, a subdomain.
    pub fn new(tenant_id: impl Into<String>, subdomain: Option<String>) -> Self {
        Self {
            tenant_id: tenant_id.into(),
            subdomain,
        }
    }
}

/// Listener settings.
///
/// ```
/// let mut config = dev_tenant::Config::quickstart();
/// config.server.bind = Some("127.0.0.1:0".parse().unwrap());
/// config.server.public_host = Some("localhost".into());
/// ```
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct ServerConfig {
    /// The address to bind; `127.0.0.1:0` (an ephemeral loopback port) when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bind: Option<SocketAddr>,
    /// The host name put in URLs (base URL, issuer, endpoints), e.g. `localhost` so that a web
    /// app on `http://localhost:3000` and the tenant are the same site for cookies; the bound IP
    /// address when absent. It must resolve to the bound address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_host: Option<String>,
    /// Serve HTTPS with a generated self-signed certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub https: Option<HttpsConfig>,
    /// More host names for the generated certificate besides `localhost`, the loopback
    /// addresses and `public_host`, e.g. `contoso.ciamlogin.com` when `public_host` is
    /// `{tenant-id}.ciamlogin.com` (the issuer's host) and the app's authority uses the
    /// subdomain.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub certificate_hosts: Vec<String>,
    /// When set, the admin API (`/_admin/`) answers any client that sends
    /// `Authorization: Bearer {admin_token}` and no other, loopback or not (for a tenant in a
    /// container bound to `0.0.0.0`); when absent it answers loopback clients only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admin_token: Option<Secret>,
}

/// HTTPS settings: a self-signed certificate for `127.0.0.1` and `localhost` is generated at start.
///
/// ```
/// let mut config = dev_tenant::Config::quickstart();
/// config.server.https = Some(dev_tenant::HttpsConfig::new(Some(std::env::temp_dir().join("dev-tenant-ca.pem"))));
/// ```
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct HttpsConfig {
    /// Where to write the certificate (PEM) so clients can trust it.
    #[serde(default)]
    pub cert_out: Option<PathBuf>,
}

impl HttpsConfig {
    /// HTTPS, writing the certificate to `cert_out` when given.
    pub fn new(cert_out: Option<PathBuf>) -> Self {
        Self { cert_out }
    }
}

/// Lifetimes in seconds.
///
/// ```
/// let mut config = dev_tenant::Config::quickstart();
/// config.lifetimes.access_token_secs = 60;
/// config.lifetimes.code_secs = 0; // every code is already expired
/// assert!(config.validate().is_ok());
/// ```
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Lifetimes {
    /// Access and ID token lifetime (`expires_in`).
    #[serde(default = "default_access")]
    pub access_token_secs: u64,
    /// Refresh token lifetime.
    #[serde(default = "default_refresh")]
    pub refresh_token_secs: u64,
    /// Authorization code lifetime; 0 makes codes expire at once (to test expiry).
    #[serde(default = "default_code")]
    pub code_secs: u64,
}

fn default_access() -> u64 {
    3600
}
fn default_refresh() -> u64 {
    24 * 3600
}
fn default_code() -> u64 {
    300
}

impl Default for Lifetimes {
    fn default() -> Self {
        Self {
            access_token_secs: default_access(),
            refresh_token_secs: default_refresh(),
            code_secs: default_code(),
        }
    }
}

/// An app registration (a client, a resource, or both).
///
/// ```
/// use dev_tenant::{AppRegistration, Config, DelegatedPermission, Secret, quickstart};
/// let mut app = AppRegistration::new("my-app", "0d3f1c2b-aaaa-4bbb-8ccc-123456789abc");
/// app.client_secrets.push(Secret::new("my-secret"));
/// app.redirect_uris.push("http://localhost:8080/callback".into());
/// app.delegated_permissions.push(DelegatedPermission::new(quickstart::GRAPH_APP_ID, ["User.Read"]));
/// let mut config = Config::quickstart();
/// config.apps.push(app);
/// assert!(config.validate().is_ok());
/// ```
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct AppRegistration {
    /// Display name.
    pub name: String,
    /// Application (client) id.
    pub client_id: String,
    /// Client secrets.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub client_secrets: Vec<Secret>,
    /// Certificates (PEM `CERTIFICATE`) or public keys (PEM `PUBLIC KEY`) accepted for
    /// `private_key_jwt` client assertions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub certificates: Vec<String>,
    /// Redirect URIs (loopback URIs match with any port).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub redirect_uris: Vec<String>,
    /// Post-logout redirect URIs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub post_logout_redirect_uris: Vec<String>,
    /// Identifier URIs, e.g. `api://{client-id}`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub identifier_uris: Vec<String>,
    /// Delegated scopes this app exposes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scopes: Vec<String>,
    /// Application roles this app exposes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub app_roles: Vec<String>,
    /// Admin-consented delegated permissions to other apps.
    #[serde(
        default,
        rename = "delegated_permission",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub delegated_permissions: Vec<DelegatedPermission>,
    /// Granted application permissions (app roles) on other apps.
    #[serde(
        default,
        rename = "application_permission",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub application_permissions: Vec<ApplicationPermission>,
    /// Whether authorization requests must carry a PKCE `code_challenge` (RFC 7636). When absent,
    /// as in Entra ("Microsoft identity platform and OAuth 2.0 authorization code flow"): required
    /// for public clients, optional for confidential web apps. `S256` and `plain` are accepted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub require_pkce: Option<bool>,
    /// Optional claims this app receives ("Provide optional claims to your app"): none unless
    /// configured, as in Entra.
    #[serde(default, skip_serializing_if = "OptionalClaims::is_empty")]
    pub optional_claims: OptionalClaims,
}

/// Optional claims of an app registration, by token type (the manifest's `optionalClaims`).
///
/// ID tokens accept [`OptionalClaims::ID_TOKEN`], access tokens [`OptionalClaims::ACCESS_TOKEN`]
/// (no `amr`: v2.0 access tokens never carry it).
///
/// ```
/// let mut app = dev_tenant::AppRegistration::new("web", "0d3f1c2b-aaaa-4bbb-8ccc-123456789abc");
/// app.optional_claims.id_token = vec!["email".into(), "auth_time".into()];
/// assert!(!app.optional_claims.is_empty());
/// ```
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct OptionalClaims {
    /// Claims added to the ID tokens issued to this app (the audience).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub id_token: Vec<String>,
    /// Claims added to access tokens for this app as the resource.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub access_token: Vec<String>,
}

impl OptionalClaims {
    /// The optional claims an ID token can carry here.
    pub const ID_TOKEN: &'static [&'static str] = &[
        "auth_time",
        "email",
        "amr",
        "given_name",
        "family_name",
        "upn",
        "acct",
    ];
    /// The optional claims an access token can carry here.
    pub const ACCESS_TOKEN: &'static [&'static str] = &[
        "auth_time",
        "email",
        "given_name",
        "family_name",
        "upn",
        "acct",
    ];

    /// Whether no optional claim is configured.
    pub fn is_empty(&self) -> bool {
        self.id_token.is_empty() && self.access_token.is_empty()
    }

    pub(crate) fn id_token_has(&self, name: &str) -> bool {
        self.id_token.iter().any(|c| c == name)
    }

    pub(crate) fn access_token_has(&self, name: &str) -> bool {
        self.access_token.iter().any(|c| c == name)
    }
}

impl AppRegistration {
    /// A registration with no credentials, URIs or permissions.
    pub fn new(name: impl Into<String>, client_id: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            client_id: client_id.into(),
            client_secrets: Vec::new(),
            certificates: Vec::new(),
            redirect_uris: Vec::new(),
            post_logout_redirect_uris: Vec::new(),
            identifier_uris: Vec::new(),
            scopes: Vec::new(),
            app_roles: Vec::new(),
            delegated_permissions: Vec::new(),
            application_permissions: Vec::new(),
            require_pkce: None,
            optional_claims: OptionalClaims::default(),
        }
    }

    /// Whether this app can authenticate as a confidential client.
    pub fn is_confidential(&self) -> bool {
        !self.client_secrets.is_empty() || !self.certificates.is_empty()
    }

    /// Whether its authorization requests need PKCE: [`require_pkce`](Self::require_pkce), else
    /// Entra's default (public clients only).
    ///
    /// ```
    /// let mut app = dev_tenant::AppRegistration::new("spa", "0d3f1c2b-aaaa-4bbb-8ccc-123456789abc");
    /// assert!(app.pkce_required());
    /// app.client_secrets.push(dev_tenant::Secret::new("s"));
    /// assert!(!app.pkce_required());
    /// app.require_pkce = Some(true);
    /// assert!(app.pkce_required());
    /// ```
    pub fn pkce_required(&self) -> bool {
        self.require_pkce.unwrap_or(!self.is_confidential())
    }
}

/// Delegated permissions (scopes) granted to a client on a resource, admin consented.
///
/// ```
/// let p = dev_tenant::DelegatedPermission::new("https://graph.microsoft.com", ["User.Read"]);
/// assert_eq!(p.scopes, ["User.Read"]);
/// ```
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct DelegatedPermission {
    /// The resource's client id or identifier URI.
    pub resource: String,
    /// The granted scopes.
    pub scopes: Vec<String>,
}

impl DelegatedPermission {
    /// Grants `scopes` on `resource`.
    pub fn new(
        resource: impl Into<String>,
        scopes: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        Self {
            resource: resource.into(),
            scopes: scopes.into_iter().map(Into::into).collect(),
        }
    }
}

/// Application permissions (app roles) granted to a client on a resource.
///
/// ```
/// let p = dev_tenant::ApplicationPermission::new("https://graph.microsoft.com", ["User.Read.All"]);
/// assert_eq!(p.roles, ["User.Read.All"]);
/// ```
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct ApplicationPermission {
    /// The resource's client id or identifier URI.
    pub resource: String,
    /// The granted roles.
    pub roles: Vec<String>,
}

impl ApplicationPermission {
    /// Grants `roles` on `resource`.
    pub fn new(
        resource: impl Into<String>,
        roles: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        Self {
            resource: resource.into(),
            roles: roles.into_iter().map(Into::into).collect(),
        }
    }
}

/// A seeded user.
///
/// ```
/// let mut config = dev_tenant::Config::quickstart();
/// config.users.push(dev_tenant::UserConfig::new("carol@contoso.com", "Passw0rd!", "Carol", "5a5a5a5a-0000-4000-8000-000000000003"));
/// assert!(config.validate().is_ok());
/// ```
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct UserConfig {
    /// Sign-in name and `mail`.
    pub email: String,
    /// Password for the login page.
    pub password: Secret,
    /// `displayName`.
    pub display_name: String,
    /// `givenName`.
    #[serde(default)]
    pub given_name: Option<String>,
    /// `surname`.
    #[serde(default)]
    pub surname: Option<String>,
    /// Object id (`oid`).
    pub object_id: String,
}

impl UserConfig {
    /// A user with the given sign-in name, password, display name and object id.
    pub fn new(
        email: impl Into<String>,
        password: impl Into<String>,
        display_name: impl Into<String>,
        object_id: impl Into<String>,
    ) -> Self {
        Self {
            email: email.into(),
            password: Secret::new(password),
            display_name: display_name.into(),
            given_name: None,
            surname: None,
            object_id: object_id.into(),
        }
    }
}

/// A Conditional Access policy that requires MFA for the listed resources, or for the listed
/// authentication contexts ("Conditional Access authentication context": an API asks for one
/// with a claims challenge for `acrs`, and the token carries `acrs` once the policy is met).
///
/// ```
/// let mut config = dev_tenant::Config::quickstart();
/// config.conditional_access.push(dev_tenant::ConditionalAccessPolicy::require_mfa(
///     "0b0b0b0b-0000-4000-8000-000000000000",
///     ["https://graph.microsoft.com"],
/// ));
/// config.conditional_access.push(dev_tenant::ConditionalAccessPolicy::require_mfa_for_auth_context(
///     "0c0c0c0c-0000-4000-8000-000000000000",
///     ["c2"],
/// ));
/// assert!(config.validate().is_ok());
/// ```
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct ConditionalAccessPolicy {
    /// Policy id (named in `capolids` in the `claims` of the AADSTS50076 error).
    pub id: String,
    /// Display name.
    #[serde(default)]
    pub name: String,
    /// Resources (client id or identifier URI) the policy protects.
    #[serde(default)]
    pub resources: Vec<String>,
    /// Authentication context ids (`c1` … `c99`) the policy protects.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub authentication_contexts: Vec<String>,
    /// Require multifactor authentication.
    #[serde(default = "yes")]
    pub require_mfa: bool,
}

fn yes() -> bool {
    true
}

impl ConditionalAccessPolicy {
    /// A policy requiring MFA for `resources`.
    pub fn require_mfa(
        id: impl Into<String>,
        resources: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        Self {
            id: id.into(),
            name: String::new(),
            resources: resources.into_iter().map(Into::into).collect(),
            authentication_contexts: Vec::new(),
            require_mfa: true,
        }
    }

    /// A policy requiring MFA for the authentication contexts `contexts` (e.g. `c1`).
    pub fn require_mfa_for_auth_context(
        id: impl Into<String>,
        contexts: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        Self {
            id: id.into(),
            name: String::new(),
            resources: Vec::new(),
            authentication_contexts: contexts.into_iter().map(Into::into).collect(),
            require_mfa: true,
        }
    }
}

impl Config {
    /// The quickstart tenant: see [`quickstart`] for every value.
    pub fn quickstart() -> Self {
        use quickstart as q;
        let mut graph = AppRegistration::new("Microsoft Graph", q::GRAPH_APP_ID);
        graph.identifier_uris = vec![q::GRAPH_RESOURCE.to_owned()];
        graph.scopes = vec![
            q::GRAPH_USER_READ.to_owned(),
            q::GRAPH_USER_READ_WRITE.to_owned(),
        ];
        graph.app_roles = vec![q::GRAPH_USER_READ_ALL.to_owned()];

        let mut web = AppRegistration::new("ciam-client-app", q::WEB_APP_CLIENT_ID);
        web.client_secrets = vec![Secret::new(q::WEB_APP_CLIENT_SECRET)];
        web.redirect_uris = vec![q::WEB_APP_REDIRECT_URI.to_owned()];
        web.post_logout_redirect_uris = vec![q::WEB_APP_POST_LOGOUT_REDIRECT_URI.to_owned()];
        web.delegated_permissions = vec![
            DelegatedPermission::new(q::GRAPH_APP_ID, [q::GRAPH_USER_READ]),
            DelegatedPermission::new(q::API_CLIENT_ID, [q::API_SCOPE]),
        ];

        let mut api = AppRegistration::new("EditProfileService", q::API_CLIENT_ID);
        api.client_secrets = vec![Secret::new(q::API_CLIENT_SECRET)];
        api.identifier_uris = vec![q::API_IDENTIFIER_URI.to_owned()];
        api.scopes = vec![q::API_SCOPE.to_owned()];
        api.app_roles = vec![q::API_APP_ROLE.to_owned()];
        api.delegated_permissions = vec![DelegatedPermission::new(
            q::GRAPH_APP_ID,
            [q::GRAPH_USER_READ_WRITE, q::GRAPH_USER_READ],
        )];

        let mut daemon = AppRegistration::new("daemon", q::DAEMON_CLIENT_ID);
        daemon.client_secrets = vec![Secret::new(q::DAEMON_CLIENT_SECRET)];
        daemon.application_permissions = vec![
            ApplicationPermission::new(q::GRAPH_APP_ID, [q::GRAPH_USER_READ_ALL]),
            ApplicationPermission::new(q::API_CLIENT_ID, [q::API_APP_ROLE]),
        ];

        let mut alice = UserConfig::new(
            q::ALICE_EMAIL,
            q::USER_PASSWORD,
            q::ALICE_DISPLAY_NAME,
            q::ALICE_OBJECT_ID,
        );
        alice.given_name = Some("Alice".to_owned());
        alice.surname = Some("Example".to_owned());
        let mut bob = UserConfig::new(
            q::BOB_EMAIL,
            q::USER_PASSWORD,
            q::BOB_DISPLAY_NAME,
            q::BOB_OBJECT_ID,
        );
        bob.given_name = Some("Bob".to_owned());
        bob.surname = Some("Example".to_owned());

        let mut policy = ConditionalAccessPolicy::require_mfa(q::MFA_POLICY_ID, [q::API_CLIENT_ID]);
        policy.name = "Require MFA for EditProfileService".to_owned();
        let mut context_policy = ConditionalAccessPolicy::require_mfa_for_auth_context(
            q::AUTH_CONTEXT_POLICY_ID,
            [q::AUTH_CONTEXT_ID],
        );
        context_policy.name =
            "Require MFA for the profile-editing authentication context".to_owned();

        Self {
            tenant: TenantConfig {
                subdomain: q::TENANT_SUBDOMAIN.to_owned(),
                tenant_id: q::TENANT_ID.to_owned(),
                additional_tenants: Vec::new(),
            },
            server: ServerConfig::default(),
            lifetimes: Lifetimes::default(),
            reject_multi_resource_scopes: false,
            reject_replayed_assertions: false,
            auto_login: None,
            apps: vec![graph, web, api, daemon],
            users: vec![alice, bob],
            conditional_access: vec![policy, context_policy],
        }
    }

    /// Parses a TOML configuration and validates it.
    ///
    /// # Errors
    /// [`Error::ParseConfig`] or [`Error::InvalidConfig`].
    pub fn from_toml_str(toml: &str) -> Result<Self, Error> {
        let config: Self = toml::from_str(toml).map_err(|e| Error::ParseConfig(Box::new(e)))?;
        config.validate()?;
        Ok(config)
    }

    /// Reads and parses a TOML configuration file.
    ///
    /// # Errors
    /// [`Error::ReadConfig`], [`Error::ParseConfig`] or [`Error::InvalidConfig`].
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, Error> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| Error::ReadConfig {
            path: path.to_owned(),
            source,
        })?;
        Self::from_toml_str(&text)
    }

    /// Serializes to TOML (secrets included: this is a development configuration).
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] if the value cannot be represented in TOML.
    pub fn to_toml_string(&self) -> Result<String, Error> {
        toml::to_string_pretty(self)
            .map_err(|e| Error::InvalidConfig(format!("cannot serialize: {e}")))
    }

    /// The app registration with this client id.
    pub fn app(&self, client_id: &str) -> Option<&AppRegistration> {
        self.apps
            .iter()
            .find(|a| a.client_id.eq_ignore_ascii_case(client_id))
    }

    /// The app registration with this client id, for changes before [`crate::DevTenant::start`].
    ///
    /// ```
    /// use dev_tenant::{quickstart, Config};
    /// let mut config = Config::quickstart();
    /// config.app_mut(quickstart::DAEMON_CLIENT_ID).unwrap().certificates.push("-----BEGIN CERTIFICATE-----...".into());
    /// ```
    pub fn app_mut(&mut self, client_id: &str) -> Option<&mut AppRegistration> {
        self.apps
            .iter_mut()
            .find(|a| a.client_id.eq_ignore_ascii_case(client_id))
    }

    /// Checks ids and references.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] naming the first problem.
    pub fn validate(&self) -> Result<(), Error> {
        let bad = |m: String| Err(Error::InvalidConfig(m));
        if self.tenant.subdomain.is_empty() || self.tenant.subdomain.contains(['/', '.', ' ']) {
            return bad("tenant.subdomain must be a single DNS label".to_owned());
        }
        if let Some(host) = &self.server.public_host
            && (host.is_empty() || host.contains(['/', ':', ' ', '?', '#', '@']))
        {
            return bad("server.public_host must be a bare host name".to_owned());
        }
        if uuid::Uuid::parse_str(&self.tenant.tenant_id).is_err() {
            return bad("tenant.tenant_id must be a GUID".to_owned());
        }
        for (i, extra) in self.tenant.additional_tenants.iter().enumerate() {
            if uuid::Uuid::parse_str(&extra.tenant_id).is_err() {
                return bad("tenant.additional_tenants: tenant_id must be a GUID".to_owned());
            }
            if extra
                .subdomain
                .as_ref()
                .is_some_and(|s| s.is_empty() || s.contains(['/', '.', ' ']))
            {
                return bad(
                    "tenant.additional_tenants: subdomain must be a single DNS label".to_owned(),
                );
            }
            let earlier = || {
                std::iter::once((
                    self.tenant.tenant_id.as_str(),
                    Some(self.tenant.subdomain.as_str()),
                ))
                .chain(
                    self.tenant.additional_tenants[..i]
                        .iter()
                        .map(|t| (t.tenant_id.as_str(), t.subdomain.as_deref())),
                )
            };
            if earlier().any(|(id, sub)| {
                id.eq_ignore_ascii_case(&extra.tenant_id)
                    || extra
                        .subdomain
                        .as_deref()
                        .is_some_and(|s| sub.is_some_and(|o| o.eq_ignore_ascii_case(s)))
            }) {
                return bad(format!(
                    "tenant.additional_tenants: {} repeats a tenant id or subdomain",
                    extra.tenant_id
                ));
            }
        }
        if self.lifetimes.access_token_secs == 0 || self.lifetimes.refresh_token_secs == 0 {
            return bad("token lifetimes must be positive".to_owned());
        }
        for (i, app) in self.apps.iter().enumerate() {
            if app.client_id.is_empty() || app.client_id.contains(['/', ' ']) {
                return bad(format!(
                    "app {:?}: client_id must be a GUID-like id",
                    app.name
                ));
            }
            if self.apps[..i]
                .iter()
                .any(|a| a.client_id.eq_ignore_ascii_case(&app.client_id))
            {
                return bad(format!("duplicate app client_id {}", app.client_id));
            }
            for uri in app
                .redirect_uris
                .iter()
                .chain(&app.post_logout_redirect_uris)
            {
                if url::Url::parse(uri).is_err() {
                    return bad(format!("app {:?}: invalid URI {uri:?}", app.name));
                }
            }
            for p in &app.delegated_permissions {
                if self.resource(&p.resource).is_none() {
                    return bad(format!(
                        "app {:?}: unknown resource {:?}",
                        app.name, p.resource
                    ));
                }
            }
            for p in &app.application_permissions {
                if self.resource(&p.resource).is_none() {
                    return bad(format!(
                        "app {:?}: unknown resource {:?}",
                        app.name, p.resource
                    ));
                }
            }
            for pem in &app.certificates {
                if crate::keys::public_key_from_pem(pem).is_err() {
                    return bad(format!(
                        "app {:?}: unreadable certificate or public key",
                        app.name
                    ));
                }
            }
        }
        if let Some(a) = &self.auto_login
            && !self
                .users
                .iter()
                .any(|u| u.email.eq_ignore_ascii_case(a.user.trim()))
        {
            return bad(format!("auto_login: no user {:?}", a.user));
        }
        if self
            .server
            .admin_token
            .as_ref()
            .is_some_and(|t| t.secret().trim().is_empty())
        {
            return bad("server.admin_token must not be empty".to_owned());
        }
        for a in &self.apps {
            for (list, allowed, kind) in [
                (&a.optional_claims.id_token, OptionalClaims::ID_TOKEN, "ID"),
                (
                    &a.optional_claims.access_token,
                    OptionalClaims::ACCESS_TOKEN,
                    "access",
                ),
            ] {
                if let Some(c) = list.iter().find(|c| !allowed.contains(&c.as_str())) {
                    return bad(format!(
                        "app {}: {c:?} is not an optional claim of {kind} tokens here (known: {})",
                        a.client_id,
                        allowed.join(", ")
                    ));
                }
            }
        }
        for (i, u) in self.users.iter().enumerate() {
            if !u.email.contains('@') {
                return bad(format!("user {:?}: email must contain '@'", u.email));
            }
            if self.users[..i]
                .iter()
                .any(|o| o.email.eq_ignore_ascii_case(&u.email) || o.object_id == u.object_id)
            {
                return bad(format!("duplicate user {:?}", u.email));
            }
        }
        for p in &self.conditional_access {
            if p.resources.is_empty() && p.authentication_contexts.is_empty() {
                return bad(format!(
                    "policy {}: it names neither resources nor authentication contexts",
                    p.id
                ));
            }
            for r in &p.resources {
                if self.resource(r).is_none() {
                    return bad(format!("policy {}: unknown resource {r:?}", p.id));
                }
            }
        }
        Ok(())
    }

    /// The app registration a resource identifier names: client id, identifier URI or
    /// `api://{client-id}`, compared case-insensitively.
    pub(crate) fn resource(&self, id: &str) -> Option<&AppRegistration> {
        let id = id.trim_end_matches('/');
        self.apps.iter().find(|a| {
            a.client_id.eq_ignore_ascii_case(id)
                || a.identifier_uris
                    .iter()
                    .any(|u| u.trim_end_matches('/').eq_ignore_ascii_case(id))
                || id.len() > 6
                    && id[..6].eq_ignore_ascii_case("api://")
                    && a.client_id.eq_ignore_ascii_case(&id[6..])
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quickstart_is_valid_and_round_trips() {
        let c = Config::quickstart();
        c.validate().unwrap();
        let text = c.to_toml_string().unwrap();
        let back = Config::from_toml_str(&text).unwrap();
        assert_eq!(back.to_toml_string().unwrap(), text);
    }

    #[test]
    fn shipped_toml_equals_quickstart() {
        let shipped = include_str!("../dev-tenant.toml");
        let parsed = Config::from_toml_str(shipped).unwrap();
        assert_eq!(
            parsed.to_toml_string().unwrap(),
            Config::quickstart().to_toml_string().unwrap()
        );
    }

    #[test]
    fn secret_debug_is_redacted() {
        assert_eq!(format!("{:?}", Secret::new("x")), "[redacted]");
        let c = Config::quickstart();
        assert!(!format!("{c:?}").contains(quickstart::WEB_APP_CLIENT_SECRET));
        assert!(!format!("{c:?}").contains(quickstart::USER_PASSWORD));
    }

    #[test]
    fn resource_lookup_forms() {
        let c = Config::quickstart();
        for id in [
            quickstart::API_CLIENT_ID,
            quickstart::API_IDENTIFIER_URI,
            "API://4D2E6F8A-1B3C-4D5E-8F9A-0B1C2D3E4F5A",
        ] {
            assert_eq!(
                c.resource(id).unwrap().client_id,
                quickstart::API_CLIENT_ID,
                "{id}"
            );
        }
        assert_eq!(
            c.resource("https://graph.microsoft.com/")
                .unwrap()
                .client_id,
            quickstart::GRAPH_APP_ID
        );
        assert!(c.resource("https://example.com").is_none());
    }

    #[test]
    fn certificate_pem_in_toml() {
        let key =
            rcgen::KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, rcgen::RsaKeySize::_2048)
                .unwrap();
        let cert = rcgen::CertificateParams::new(vec!["d".to_owned()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let mut c = Config::quickstart();
        c.app_mut(quickstart::DAEMON_CLIENT_ID)
            .unwrap()
            .certificates
            .push(cert.pem());
        let text = c.to_toml_string().unwrap();
        let back = Config::from_toml_str(&text).unwrap();
        assert_eq!(
            back.app(quickstart::DAEMON_CLIENT_ID).unwrap().certificates,
            [cert.pem()]
        );
        c.app_mut(quickstart::DAEMON_CLIENT_ID)
            .unwrap()
            .certificates
            .push("garbage".into());
        assert!(matches!(c.validate(), Err(Error::InvalidConfig(_))));
        assert!(
            Config::from_toml_str(&text.replace("[tenant]", "[tenant]\nextra = 1")).is_err(),
            "unknown fields are refused"
        );
    }

    #[test]
    fn validation_rejects_bad_values() {
        let mut c = Config::quickstart();
        c.tenant.tenant_id = "nope".into();
        assert!(c.validate().is_err());
        let mut c = Config::quickstart();
        c.conditional_access[0]
            .resources
            .push("https://unknown".into());
        assert!(c.validate().is_err());
        assert!(Config::from_toml_str("tenant = 1").is_err());
    }
}
