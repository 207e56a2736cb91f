//! The errors of token validation and of configuring a validator.

use crate::fetch::FetchError;

/// Why a token was rejected.
///
/// Messages are short, lowercase, never contain any part of the token, and are safe to send back
/// as `error_description` (RFC 6750 §3 restricts it to printable ASCII without `"` and `\`).
///
/// ```
/// use edit_profile_middleware::TokenError;
/// assert_eq!(TokenError::Expired.to_string(), "the token is expired");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// The token is larger than the configured cap.
    #[error("the token is too large")]
    TooLarge,
    /// Not a compact JWS (`header.payload.signature`), or a part is not base64url or JSON.
    #[error("the token is malformed")]
    Malformed,
    /// A JWE (five parts, or an `enc` header): encrypted tokens are not accepted.
    #[error("encrypted tokens are not accepted")]
    Encrypted,
    /// `alg` is not on the allow-list (this covers `none` and every `HS*`).
    #[error("the signing algorithm is not allowed")]
    AlgorithmNotAllowed,
    /// A header member the validator refuses (`jwk`, `jku`, `x5u`, `x5c`, `crit`).
    #[error("the header parameter {0} is not allowed")]
    ForbiddenHeader(&'static str),
    /// `typ` names something other than a JWT access token.
    #[error("the token type is not accepted")]
    WrongType,
    /// A member name appears twice in the header or the claims.
    #[error("the token has duplicate members")]
    DuplicateMember,
    /// A claim has the wrong JSON type (for example a string `exp`).
    #[error("the {0} claim has the wrong type")]
    InvalidClaimType(&'static str),
    /// A required header member or claim is missing.
    #[error("the {0} claim is missing")]
    MissingClaim(&'static str),
    /// No signing key with this `kid` is published, even after a refresh.
    #[error("the signing key is unknown")]
    UnknownKey,
    /// The `kid` exists but the key does not allow the token's algorithm.
    #[error("the signing key does not match the algorithm")]
    KeyAlgorithmMismatch,
    /// The signature does not verify.
    #[error("the signature is invalid")]
    BadSignature,
    /// `exp` is in the past (beyond the clock skew).
    #[error("the token is expired")]
    Expired,
    /// `nbf` is in the future (beyond the clock skew).
    #[error("the token is not valid yet")]
    NotYetValid,
    /// `iat` is in the future, or the lifetime claims contradict each other.
    #[error("the token lifetime is invalid")]
    InvalidLifetime,
    /// `iss` is not an accepted issuer.
    #[error("the issuer is not accepted")]
    WrongIssuer,
    /// The signing key's published `issuer` names another tenant than the token.
    #[error("the signing key belongs to another issuer")]
    KeyIssuerMismatch,
    /// Multi-tenant mode: the tenant is not on the allow-list.
    #[error("the tenant is not allowed")]
    TenantNotAllowed,
    /// `aud` does not name this API.
    #[error("the audience is not accepted")]
    WrongAudience,
    /// `ver` is not `1.0` or `2.0`.
    #[error("the token version is not supported")]
    UnsupportedVersion,
    /// An ID token (has `nonce`) or a token with neither `scp` nor `roles`.
    #[error("the token is not an access token")]
    NotAnAccessToken,
    /// No signing keys could be loaded (the JWKS endpoint failed and nothing is cached).
    #[error("signing keys are unavailable")]
    KeysUnavailable,
}

/// Why a [`ValidatorBuilder`](crate::ValidatorBuilder) could not build.
///
/// ```
/// use edit_profile_middleware::{ConfigError, Validator};
///
/// let error = Validator::builder().audience("a").build().unwrap_err();
/// assert!(matches!(error, ConfigError::MissingIssuer));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// Neither an issuer nor a tenant issuer template was configured.
    #[error("no issuer configured")]
    MissingIssuer,
    /// No audience was configured.
    #[error("no audience configured")]
    MissingAudience,
    /// Neither a JWKS URI nor a static JWKS was configured.
    #[error("no jwks configured")]
    MissingJwks,
    /// An issuer template does not contain `{tenantid}` exactly once.
    #[error("issuer template must contain {{tenantid}} exactly once")]
    InvalidIssuerTemplate,
    /// A tenant issuer template without an explicit tenant allow-list.
    #[error("multi-tenant issuers need an explicit tenant allow-list")]
    MissingTenantAllowList,
    /// The clock skew is above the 10 minute bound.
    #[error("clock skew must be at most 10 minutes")]
    ClockSkewTooLarge,
    /// The token size cap is outside 1 KiB ..= 64 KiB.
    #[error("max token size must be between 1 KiB and 64 KiB")]
    TokenSizeOutOfRange,
    /// The algorithm allow-list is empty.
    #[error("at least one algorithm must be allowed")]
    NoAlgorithms,
    /// A duration that must be positive is zero.
    #[error("{0} must be positive")]
    ZeroDuration(&'static str),
    /// A JWKS URI is configured but there is no HTTP fetcher (the `reqwest` feature is off).
    #[error("no http fetcher configured")]
    MissingHttpFetch,
    /// OIDC discovery failed.
    #[error("openid configuration discovery failed")]
    Discovery(#[source] FetchError),
    /// A static JWKS document holds no usable key.
    #[error("invalid jwks")]
    InvalidJwks(#[source] FetchError),
    /// A JWKS or discovery URL is not `https` and not loopback (see
    /// [`ValidatorBuilder::insecure_allow_http`](crate::ValidatorBuilder::insecure_allow_http)): keys fetched in clear text can be replaced.
    #[error("the {0} url must use https")]
    InsecureUrl(&'static str),
    /// The unknown-`kid` refresh cooldown is under one second: every forged `kid` would then
    /// cost a fetch from the issuer.
    #[error("the jwks refresh cooldown must be at least 1 second")]
    CooldownTooShort,
    /// The default HTTP client could not be built.
    #[error("the http client could not be built")]
    HttpClient(#[source] FetchError),
}
