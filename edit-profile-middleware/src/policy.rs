//! Per-route authorization: scopes, app roles, MFA and custom checks.
//!
//! A [`Policy`] runs after the token was validated. Apply different policies to different routes by
//! building one [`BearerAuthLayer`](crate::BearerAuthLayer) per policy (sharing one
//! [`Validator`](crate::Validator)) and mounting each with axum's `route_layer`.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::claims::Claims;

type Check = Arc<dyn Fn(&Claims) -> bool + Send + Sync>;

/// What a route requires of a validated token.
///
/// * Scopes are matched exactly and case-sensitively against the space-separated `scp` claim,
///   as Microsoft.Identity.Web does (the bare scope name, not the `api://` form).
/// * Roles are matched against the `roles` array (app-only tokens carry roles, not scopes).
/// * When both scopes and roles are required, satisfying either is enough: a delegated token
///   proves scopes, an app-only token proves roles.
/// * MFA is checked after scopes and roles; custom checks run last.
///
/// ```
/// use std::time::Duration;
/// use edit_profile_middleware::{MfaPolicy, Policy};
///
/// let policy = Policy::new()
///     .require_scopes(["EditProfileService.ReadWrite"])
///     .require_mfa(MfaPolicy::new().amr_mfa().auth_context("c1"))
///     .check(|claims| claims.tid().is_some());
/// ```
#[derive(Clone, Default)]
#[must_use]
pub struct Policy {
    scopes: Option<Requirement>,
    roles: Option<Requirement>,
    mfa: Option<MfaPolicy>,
    checks: Vec<Check>,
}

#[derive(Clone, Debug)]
struct Requirement {
    values: Vec<String>,
    all: bool,
}

impl Requirement {
    fn satisfied_by<'a>(&self, mut have: impl Iterator<Item = &'a str> + Clone) -> bool {
        if self.all {
            self.values
                .iter()
                .all(|v| have.clone().any(|h| h == v.as_str()))
        } else {
            have.any(|h| self.values.iter().any(|v| v == h))
        }
    }
}

impl fmt::Debug for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Policy")
            .field("scopes", &self.scopes)
            .field("roles", &self.roles)
            .field("mfa", &self.mfa)
            .field("checks", &format_args!("[<fn>; {}]", self.checks.len()))
            .finish()
    }
}

/// Why a policy refused a token.
#[derive(Debug)]
pub(crate) enum Denial<'a> {
    /// Missing scopes or roles: the required scopes (space-separated) to name in `scope=`.
    /// Roles are left out: a client cannot ask for a role by scope name.
    Scope(Option<String>),
    Mfa(&'a MfaPolicy),
    Check,
}

impl Policy {
    /// A policy that only requires a valid access token.
    pub fn new() -> Self {
        Self::default()
    }

    /// Require every one of `scopes` in `scp`.
    pub fn require_scopes<I: IntoIterator<Item = S>, S: Into<String>>(mut self, scopes: I) -> Self {
        self.scopes = Some(Requirement {
            values: scopes.into_iter().map(Into::into).collect(),
            all: true,
        });
        self
    }

    /// Require at least one of `scopes` in `scp`.
    pub fn require_any_scope<I: IntoIterator<Item = S>, S: Into<String>>(
        mut self,
        scopes: I,
    ) -> Self {
        self.scopes = Some(Requirement {
            values: scopes.into_iter().map(Into::into).collect(),
            all: false,
        });
        self
    }

    /// Require every one of `roles` in `roles`.
    pub fn require_roles<I: IntoIterator<Item = S>, S: Into<String>>(mut self, roles: I) -> Self {
        self.roles = Some(Requirement {
            values: roles.into_iter().map(Into::into).collect(),
            all: true,
        });
        self
    }

    /// Require at least one of `roles` in `roles`.
    pub fn require_any_role<I: IntoIterator<Item = S>, S: Into<String>>(
        mut self,
        roles: I,
    ) -> Self {
        self.roles = Some(Requirement {
            values: roles.into_iter().map(Into::into).collect(),
            all: false,
        });
        self
    }

    /// Require multi-factor authentication (see [`MfaPolicy`]).
    pub fn require_mfa(mut self, mfa: MfaPolicy) -> Self {
        self.mfa = Some(mfa);
        self
    }

    /// Add a custom check; a `false` is answered with 403 `insufficient_scope`.
    pub fn check(mut self, check: impl Fn(&Claims) -> bool + Send + Sync + 'static) -> Self {
        self.checks.push(Arc::new(check));
        self
    }

    pub(crate) fn evaluate(&self, claims: &Claims, now: u64) -> Result<(), Denial<'_>> {
        let scopes_ok = self
            .scopes
            .as_ref()
            .map(|r| r.satisfied_by(claims.scopes()));
        let roles_ok = self.roles.as_ref().map(|r| r.satisfied_by(claims.roles()));
        let allowed = match (scopes_ok, roles_ok) {
            (None, None) => true,
            (Some(ok), None) | (None, Some(ok)) => ok,
            (Some(a), Some(b)) => a || b,
        };
        if !allowed {
            let required = self.scopes.as_ref().map(|r| r.values.join(" "));
            return Err(Denial::Scope(required));
        }
        if let Some(mfa) = &self.mfa
            && !mfa.satisfied_by(claims, now)
        {
            return Err(Denial::Mfa(mfa));
        }
        if self.checks.iter().any(|check| !check(claims)) {
            return Err(Denial::Check);
        }
        Ok(())
    }
}

/// How a route recognises multi-factor authentication. Any one configured proof is enough.
///
/// * [`amr_mfa`](Self::amr_mfa): `amr` contains `mfa` (RFC 8176; Entra sends `amr` in v1.0 tokens).
/// * [`auth_context`](Self::auth_context): `acrs` contains a Conditional Access authentication
///   context id (for example `c1`) whose policy demands MFA; this works with v2.0 tokens.
/// * [`max_age`](Self::max_age): the user authenticated within the given time (`auth_time`).
///
/// When the proof is missing, a client that announced `xms_cc` `cp1` gets 401
/// `insufficient_claims` with a `claims` request; any other client gets 401
/// `insufficient_user_authentication` (RFC 9470) with `acr_values` and/or `max_age`.
///
/// ```
/// use std::time::Duration;
/// use edit_profile_middleware::MfaPolicy;
///
/// let mfa = MfaPolicy::new().auth_context("c1").max_age(Duration::from_secs(600));
/// ```
#[derive(Clone, Debug, Default)]
#[must_use]
pub struct MfaPolicy {
    pub(crate) amr_mfa: bool,
    pub(crate) auth_context: Option<String>,
    pub(crate) max_age: Option<Duration>,
    pub(crate) acr_values: Option<String>,
}

impl MfaPolicy {
    /// An MFA policy with no proof configured yet (add at least one).
    pub fn new() -> Self {
        Self::default()
    }

    /// Accept `amr` containing `mfa`.
    pub fn amr_mfa(mut self) -> Self {
        self.amr_mfa = true;
        self
    }

    /// Accept `acrs` containing this authentication context id.
    pub fn auth_context(mut self, id: impl Into<String>) -> Self {
        self.auth_context = Some(id.into());
        self
    }

    /// Accept an `auth_time` no older than `max_age`.
    pub fn max_age(mut self, max_age: Duration) -> Self {
        self.max_age = Some(max_age);
        self
    }

    /// The `acr_values` to put in an RFC 9470 challenge (default: the auth context id, if any).
    pub fn step_up_acr_values(mut self, acr_values: impl Into<String>) -> Self {
        self.acr_values = Some(acr_values.into());
        self
    }

    pub(crate) fn satisfied_by(&self, claims: &Claims, now: u64) -> bool {
        (self.amr_mfa && claims.amr().any(|m| m == "mfa"))
            || self
                .auth_context
                .as_ref()
                .is_some_and(|id| claims.acrs().any(|a| a == id))
            || self.max_age.is_some_and(|max| {
                claims
                    .auth_time()
                    .is_some_and(|t| t <= now && now - t <= max.as_secs())
            })
    }

    /// The claims request (OpenID Connect Core §5.5) asking for what is missing.
    pub(crate) fn claims_request(&self) -> String {
        if let Some(id) = &self.auth_context {
            // The shape Microsoft's auth-context samples send.
            serde_json::json!({"access_token": {"acrs": {"essential": true, "value": id}}})
                .to_string()
        } else if self.amr_mfa {
            serde_json::json!({"access_token": {"amr": {"essential": true, "values": ["mfa"]}}})
                .to_string()
        } else {
            serde_json::json!({"access_token": {"auth_time": {"essential": true}}}).to_string()
        }
    }

    pub(crate) fn step_up_acr(&self) -> Option<&str> {
        self.acr_values.as_deref().or(self.auth_context.as_deref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(extra: &str) -> Claims {
        crate::claims::parse_claims(format!(r#"{{"iss":"i","aud":"a","exp":100{extra}}}"#)).unwrap()
    }

    #[test]
    fn scopes_all_and_any() {
        let c = claims(r#","scp":"a b""#);
        assert!(
            Policy::new()
                .require_scopes(["a", "b"])
                .evaluate(&c, 0)
                .is_ok()
        );
        assert!(
            Policy::new()
                .require_scopes(["a", "c"])
                .evaluate(&c, 0)
                .is_err()
        );
        assert!(
            Policy::new()
                .require_any_scope(["c", "b"])
                .evaluate(&c, 0)
                .is_ok()
        );
        assert!(
            Policy::new()
                .require_any_scope(["A"])
                .evaluate(&c, 0)
                .is_err()
        );
        match Policy::new().require_scopes(["x", "y"]).evaluate(&c, 0) {
            Err(Denial::Scope(s)) => assert_eq!(s.as_deref(), Some("x y")),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn roles_for_app_tokens_and_either_when_both() {
        let app = claims(r#","roles":["Profile.Write"]"#);
        let user = claims(r#","scp":"s""#);
        let p = Policy::new()
            .require_scopes(["s"])
            .require_roles(["Profile.Write"]);
        assert!(p.evaluate(&app, 0).is_ok());
        assert!(p.evaluate(&user, 0).is_ok());
        assert!(
            Policy::new()
                .require_roles(["Profile.Write"])
                .evaluate(&user, 0)
                .is_err()
        );
        assert!(
            Policy::new()
                .require_any_role(["x", "Profile.Write"])
                .evaluate(&app, 0)
                .is_ok()
        );
    }

    #[test]
    fn mfa_proofs() {
        let amr = claims(r#","amr":["pwd","mfa"]"#);
        let acrs = claims(r#","acrs":["c1"]"#);
        let recent = claims(r#","auth_time":950"#);
        let none = claims(r#","amr":["pwd"],"acrs":["c2"],"auth_time":100"#);
        let p = MfaPolicy::new()
            .amr_mfa()
            .auth_context("c1")
            .max_age(Duration::from_secs(60));
        for c in [&amr, &acrs, &recent] {
            assert!(p.satisfied_by(c, 1000));
        }
        assert!(!p.satisfied_by(&none, 1000));
        assert!(!MfaPolicy::new().satisfied_by(&amr, 1000));
        assert!(!MfaPolicy::new().auth_context("c1").satisfied_by(&amr, 1000));
    }

    #[test]
    fn claims_requests() {
        assert_eq!(
            MfaPolicy::new().auth_context("c1").claims_request(),
            r#"{"access_token":{"acrs":{"essential":true,"value":"c1"}}}"#
        );
        assert_eq!(
            MfaPolicy::new().amr_mfa().claims_request(),
            r#"{"access_token":{"amr":{"essential":true,"values":["mfa"]}}}"#
        );
    }

    #[test]
    fn custom_checks() {
        let c = claims(r#","scp":"s","tid":"t""#);
        assert!(
            Policy::new()
                .check(|c| c.tid() == Some("t"))
                .evaluate(&c, 0)
                .is_ok()
        );
        assert!(matches!(
            Policy::new()
                .check(|c| c.tid() == Some("u"))
                .evaluate(&c, 0),
            Err(Denial::Check)
        ));
    }
}
