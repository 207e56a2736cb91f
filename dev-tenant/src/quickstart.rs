//! The values of [`Config::quickstart`](crate::Config::quickstart), for tests and examples that need them.
//!
//! ```
//! use dev_tenant::quickstart;
//! assert_eq!(quickstart::TENANT_DOMAIN, "contoso.onmicrosoft.com");
//! assert_eq!(quickstart::API_SCOPE_URI, "api://4d2e6f8a-1b3c-4d5e-8f9a-0b1c2d3e4f5a/EditProfileService.ReadWrite");
//! ```

/// The tenant subdomain (`{subdomain}.onmicrosoft.com`, `{subdomain}.ciamlogin.com` in Entra).
pub const TENANT_SUBDOMAIN: &str = "contoso";
/// The tenant's `.onmicrosoft.com` domain name, one of the two accepted tenant path segments.
pub const TENANT_DOMAIN: &str = "contoso.onmicrosoft.com";
/// The tenant id (`tid`), the other accepted tenant path segment.
pub const TENANT_ID: &str = "b3c2a1f0-5d4e-4f6a-9b8c-7d6e5f4a3b2c";

/// A suggested id for a second (guest) tenant in tests: not part of [`Config::quickstart`](crate::Config::quickstart)
/// (add it with [`AdditionalTenant::new`](crate::AdditionalTenant::new)).
pub const GUEST_TENANT_ID: &str = "5a7c6b1e-0d2f-4e8a-9b3c-2f1e0d9c8b7a";
/// A suggested subdomain for the guest tenant of [`GUEST_TENANT_ID`].
pub const GUEST_TENANT_SUBDOMAIN: &str = "fabrikam";

/// The web app's client id (a confidential client).
pub const WEB_APP_CLIENT_ID: &str = "8a1f4c2e-6b3d-4e5f-9a7b-1c2d3e4f5a6b";
/// The web app's client secret.
pub const WEB_APP_CLIENT_SECRET: &str = "dev-web-app-secret";
/// The web app's redirect URI (loopback: any port matches).
pub const WEB_APP_REDIRECT_URI: &str = "http://localhost:3000/auth/redirect";
/// The web app's post-logout redirect URI.
pub const WEB_APP_POST_LOGOUT_REDIRECT_URI: &str = "http://localhost:3000/";

/// The EditProfileService API's client id.
pub const API_CLIENT_ID: &str = "4d2e6f8a-1b3c-4d5e-8f9a-0b1c2d3e4f5a";
/// The EditProfileService API's client secret (used for on-behalf-of).
pub const API_CLIENT_SECRET: &str = "dev-api-secret";
/// The EditProfileService API's identifier URI.
pub const API_IDENTIFIER_URI: &str = "api://4d2e6f8a-1b3c-4d5e-8f9a-0b1c2d3e4f5a";
/// The delegated scope the API exposes.
pub const API_SCOPE: &str = "EditProfileService.ReadWrite";
/// The API scope as a client requests it.
pub const API_SCOPE_URI: &str =
    "api://4d2e6f8a-1b3c-4d5e-8f9a-0b1c2d3e4f5a/EditProfileService.ReadWrite";
/// The application role the API exposes.
pub const API_APP_ROLE: &str = "EditProfileService.ReadWrite.All";

/// The daemon app's client id (client credentials).
pub const DAEMON_CLIENT_ID: &str = "5e3f7a9b-2c4d-4e6f-8a0b-1c3d5e7f9a2b";
/// The daemon app's client secret.
pub const DAEMON_CLIENT_SECRET: &str = "dev-daemon-secret";

/// Microsoft Graph's application id (the `aud` of Graph tokens).
pub const GRAPH_APP_ID: &str = "00000003-0000-0000-c000-000000000000";
/// Microsoft Graph's identifier URI.
pub const GRAPH_RESOURCE: &str = "https://graph.microsoft.com";
/// Graph delegated scope to read the signed-in user's profile.
pub const GRAPH_USER_READ: &str = "User.Read";
/// Graph delegated scope to update the signed-in user's profile.
pub const GRAPH_USER_READ_WRITE: &str = "User.ReadWrite";
/// Graph application role to read all users.
pub const GRAPH_USER_READ_ALL: &str = "User.Read.All";

/// The password of both seeded users.
pub const USER_PASSWORD: &str = "Passw0rd!";
/// The first seeded user.
pub const ALICE_EMAIL: &str = "alice@contoso.com";
/// Alice's object id (`oid`).
pub const ALICE_OBJECT_ID: &str = "9f8e7d6c-5b4a-4c3d-8e2f-1a0b9c8d7e6f";
/// Alice's display name.
pub const ALICE_DISPLAY_NAME: &str = "Alice Example";
/// The second seeded user.
pub const BOB_EMAIL: &str = "bob@contoso.com";
/// Bob's object id (`oid`).
pub const BOB_OBJECT_ID: &str = "2b3c4d5e-6f7a-4b8c-9d0e-1f2a3b4c5d6e";
/// Bob's display name.
pub const BOB_DISPLAY_NAME: &str = "Bob Example";

/// The Conditional Access policy that requires MFA for the EditProfileService API.
pub const MFA_POLICY_ID: &str = "7c1d2e3f-4a5b-4c6d-9e8f-0a1b2c3d4e5f";
/// The authentication context id an API can demand with a claims challenge (`acrs`).
pub const AUTH_CONTEXT_ID: &str = "c1";
/// The Conditional Access policy requiring MFA for [`AUTH_CONTEXT_ID`].
pub const AUTH_CONTEXT_POLICY_ID: &str = "3e4f5a6b-7c8d-4e9f-8a0b-1c2d3e4f5a6b";
