//! Per-route authorization: scopes, app roles, MFA and custom checks.
//!
//! A [`Policy`] runs after the token was validated. Apply different policies to different routes by
//! building one [`BearerAuthLayer`](crate::BearerAuthLayer) per policy (sharing one
//! [`Validator`](crate::Validator)) and mounting each with axum's `route_layer`.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
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
/// * MFA ([`require_mfa`](Self::require_mfa)) and recency
///   ([`require_recent_authentication`](Self::require_recent_authentication)) are separate
///   requirements, and both must hold when both are set: `auth_time` says when the user signed in,
///   never how, so a recent password sign-in is not MFA.
/// * MFA and recency are checked after scopes and roles; custom checks run last.
/// * A requirement that could never be met, or would allow everything (`require_scopes([])`,
///   `require_roles([])`, an [`MfaPolicy`] with no proof), makes the policy invalid:
///   [`validate`](Self::validate) reports it, and an invalid policy refuses every request.
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
    recent: Option<Duration>,
    checks: Vec<Check>,
    invalid: Option<PolicyError>,
}

/// Why a [`Policy`] is invalid (see [`Policy::validate`]).
///
/// ```
/// use edit_profile_middleware::{Policy, PolicyError};
///
/// let error = Policy::new().require_scopes(Vec::<String>::new()).validate().unwrap_err();
/// assert_eq!(error, PolicyError::EmptyRequirement("scopes"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// `require_scopes([])`, `require_any_role([])` and the like: an empty list would either allow
    /// every token or none, so it is refused as a configuration mistake.
    #[error("the required {0} list is empty")]
    EmptyRequirement(&'static str),
    /// An [`MfaPolicy`] with no proof configured (neither `amr_mfa` nor `auth_context`).
    #[error("the mfa policy has no proof configured")]
    MfaWithoutProof,
    /// `require_recent_authentication` with a zero `max_age`.
    #[error("the recent-authentication max age must be positive")]
    ZeroMaxAge,
    /// A challenge parameter of the layer (`realm`, `authorization_uri`, `client_id`) is not
    /// printable ASCII, so it cannot go into `WWW-Authenticate` (RFC 9110 §11.6.1).
    #[error("the {0} challenge parameter must be printable ascii")]
    InvalidChallengeText(&'static str),
}

#[derive(Clone, Debug)]
struct Requirement {
    values: Vec<String>,
    all: bool,
}

impl Requirement {
    fn new<I: IntoIterator<Item = S>, S: Into<String>>(values: I, all: bool) -> Self {
        Self {
            values: values.into_iter().map(Into::into).collect(),
            all,
        }
    }

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
            .field("recent", &self.recent)
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
    /// MFA and/or recency missing: the step-up to ask for.
    StepUp {
        mfa: Option<&'a MfaPolicy>,
        max_age: Option<u64>,
    },
    Check,
    /// The policy is invalid ([`Policy::validate`]); every request is refused.
    Invalid,
}

impl Policy {
    /// A policy that only requires a valid access token.
    pub fn new() -> Self {
        Self::default()
    }

    /// Require every one of `scopes` in `scp`.
    pub fn require_scopes<I: IntoIterator<Item = S>, S: Into<String>>(self, scopes: I) -> Self {
        self.set_scopes(scopes, true)
    }

    fn set_scopes<I: IntoIterator<Item = S>, S: Into<String>>(
        mut self,
        values: I,
        all: bool,
    ) -> Self {
        self.scopes = Some(self.requirement(values, all, "scopes"));
        self
    }

    fn set_roles<I: IntoIterator<Item = S>, S: Into<String>>(
        mut self,
        values: I,
        all: bool,
    ) -> Self {
        self.roles = Some(self.requirement(values, all, "roles"));
        self
    }

    /// A scope or role requirement; an empty list is recorded as invalid (`which` names it).
    fn requirement<I: IntoIterator<Item = S>, S: Into<String>>(
        &mut self,
        values: I,
        all: bool,
        which: &'static str,
    ) -> Requirement {
        let requirement = Requirement::new(values, all);
        if requirement.values.is_empty() {
            self.invalidate(PolicyError::EmptyRequirement(which));
        }
        requirement
    }

    fn invalidate(&mut self, error: PolicyError) {
        self.invalid.get_or_insert(error);
    }

    /// Check that every requirement can be met and none allows everything.
    ///
    /// [`BearerAuthLayer::validate`](crate::BearerAuthLayer::validate) calls this; call one of
    /// them where the routes are built so that a mistake fails at start-up. A policy that does
    /// not validate refuses every request (fail closed) rather than allowing it.
    ///
    /// # Errors
    ///
    /// The first [`PolicyError`] recorded while the policy was built.
    pub fn validate(&self) -> Result<(), PolicyError> {
        match &self.invalid {
            Some(error) => Err(error.clone()),
            None => Ok(()),
        }
    }

    /// Require at least one of `scopes` in `scp`.
    pub fn require_any_scope<I: IntoIterator<Item = S>, S: Into<String>>(self, scopes: I) -> Self {
        self.set_scopes(scopes, false)
    }

    /// Require every one of `roles` in `roles`.
    pub fn require_roles<I: IntoIterator<Item = S>, S: Into<String>>(self, roles: I) -> Self {
        self.set_roles(roles, true)
    }

    /// Require at least one of `roles` in `roles`.
    pub fn require_any_role<I: IntoIterator<Item = S>, S: Into<String>>(self, roles: I) -> Self {
        self.set_roles(roles, false)
    }

    /// Require multi-factor authentication (see [`MfaPolicy`]; it needs at least one proof).
    pub fn require_mfa(mut self, mfa: MfaPolicy) -> Self {
        if !mfa.amr_mfa && mfa.auth_context.is_none() {
            self.invalidate(PolicyError::MfaWithoutProof);
        }
        self.mfa = Some(mfa);
        self
    }

    /// Require that the user authenticated within `max_age` (`auth_time`, OpenID Connect Core
    /// §2). This is a separate requirement from MFA and is AND-ed with it: a recent sign-in
    /// says nothing about the factors used. When it fails the client gets an RFC 9470
    /// `insufficient_user_authentication` challenge with `max_age`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use edit_profile_middleware::{MfaPolicy, Policy};
    ///
    /// let policy = Policy::new()
    ///     .require_mfa(MfaPolicy::new().auth_context("c1"))
    ///     .require_recent_authentication(Duration::from_secs(600));
    /// assert!(policy.validate().is_ok());
    /// ```
    pub fn require_recent_authentication(mut self, max_age: Duration) -> Self {
        if max_age.as_secs() == 0 {
            self.invalidate(PolicyError::ZeroMaxAge);
        }
        self.recent = Some(max_age);
        self
    }

    /// Add a custom check; a `false` is answered with 403 `insufficient_scope`.
    pub fn check(mut self, check: impl Fn(&Claims) -> bool + Send + Sync + 'static) -> Self {
        self.checks.push(Arc::new(check));
        self
    }

    #[cfg(test)]
    pub(crate) fn evaluate(&self, claims: &Claims, now: u64) -> Result<(), Denial<'_>> {
        self.evaluate_as(claims, now, PolicyId::NONE)
    }

    /// [`evaluate`](Self::evaluate) for the policy of one layer, `id`: claims remember the
    /// last layer whose scope, role and MFA requirements they met, so a cached token on its
    /// next request skips those (they depend on the claims alone, and neither the claims nor a
    /// layer's policy ever change). Under `wrk`, splitting `scp` and comparing the scopes and
    /// `amr` was a third of the layer's own cost on a cache hit. How recent the sign-in was and
    /// custom checks are evaluated every time.
    pub(crate) fn evaluate_as(
        &self,
        claims: &Claims,
        now: u64,
        id: PolicyId,
    ) -> Result<(), Denial<'_>> {
        let mfa_missing = if id != PolicyId::NONE && claims.policy_memo.get() == id.0 {
            None
        } else {
            if self.invalid.is_some() {
                return Err(Denial::Invalid);
            }
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
            let mfa_missing = self.mfa.as_ref().filter(|mfa| !mfa.satisfied_by(claims));
            if mfa_missing.is_none() && id != PolicyId::NONE {
                claims.policy_memo.set(id.0);
            }
            mfa_missing
        };
        let max_age = self.recent.map(|d| d.as_secs()).filter(|&max| {
            !claims
                .auth_time()
                .is_some_and(|t| t <= now && now - t <= max)
        });
        if mfa_missing.is_some() || max_age.is_some() {
            return Err(Denial::StepUp {
                mfa: mfa_missing,
                max_age,
            });
        }
        if self.checks.iter().any(|check| !check(claims)) {
            return Err(Denial::Check);
        }
        Ok(())
    }
}

/// Identifies one layer's policy for [`Policy::evaluate_as`]: unique per process, never reused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct PolicyId(u64);

impl PolicyId {
    /// Not memoised.
    pub(crate) const NONE: Self = Self(0);

    /// A fresh id (a layer's policy is fixed once the layer wraps a service).
    pub(crate) fn next() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        Self(NEXT.fetch_add(1, Ordering::Relaxed))
    }
}

/// The [`PolicyId`] of the last layer policy whose scope, role and MFA requirements a set of
/// claims met (`0`: none). One slot: a token used on routes with different policies just
/// evaluates again. Relaxed ordering is enough: the value only ever names a policy these very
/// claims were checked against, whichever thread wrote it.
#[derive(Default)]
pub(crate) struct PolicyMemo(AtomicU64);

impl PolicyMemo {
    fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }

    fn set(&self, id: u64) {
        self.0.store(id, Ordering::Relaxed);
    }
}

impl Clone for PolicyMemo {
    fn clone(&self) -> Self {
        Self(AtomicU64::new(self.get()))
    }
}

/// How a route recognises multi-factor authentication. Any one configured proof is enough, and
/// at least one must be configured ([`PolicyError::MfaWithoutProof`]).
///
/// * [`amr_mfa`](Self::amr_mfa): `amr` contains `mfa` (RFC 8176; Entra sends `amr` in v1.0 tokens).
/// * [`auth_context`](Self::auth_context): `acrs` contains a Conditional Access authentication
///   context id (for example `c1`) whose policy demands MFA; this works with v2.0 tokens.
///
/// Only proofs of a second factor belong here. How recent the sign-in was is a separate
/// requirement, [`Policy::require_recent_authentication`]: `auth_time` says when the user
/// signed in, not how.
///
/// When the proof is missing, a client that announced `xms_cc` `cp1` gets 401
/// `insufficient_claims` with a `claims` request; any other client gets 401
/// `insufficient_user_authentication` (RFC 9470) with `acr_values`.
///
/// ```
/// use edit_profile_middleware::MfaPolicy;
///
/// let mfa = MfaPolicy::new().auth_context("c1");
/// ```
#[derive(Clone, Debug, Default)]
#[must_use]
pub struct MfaPolicy {
    pub(crate) amr_mfa: bool,
    pub(crate) auth_context: Option<String>,
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

    /// The `acr_values` to put in an RFC 9470 challenge (default: the auth context id, if any).
    pub fn step_up_acr_values(mut self, acr_values: impl Into<String>) -> Self {
        self.acr_values = Some(acr_values.into());
        self
    }

    pub(crate) fn satisfied_by(&self, claims: &Claims) -> bool {
        (self.amr_mfa && claims.amr().any(|m| m == "mfa"))
            || self
                .auth_context
                .as_ref()
                .is_some_and(|id| claims.acrs().any(|a| a == id))
    }

    /// The claims request (OpenID Connect Core §5.5) asking for what is missing.
    pub(crate) fn claims_request(&self) -> String {
        if let Some(id) = &self.auth_context {
            // The shape Microsoft's auth-context samples send.
            serde_json::json!({"access_token": {"acrs": {"essential": true, "value": id}}})
                .to_string()
        } else {
            serde_json::json!({"access_token": {"amr": {"essential": true, "values": ["mfa"]}}})
                .to_string()
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
        crate::parse::parse_claims(format!(r#"{{"iss":"i","aud":"a","exp":100{extra}}}"#)).unwrap()
    }

    #[test]
    fn a_layer_remembers_the_claims_it_admitted_and_only_that_layer() {
        let c = claims(r#","scp":"a","amr":["mfa"]"#);
        let admits = Policy::new()
            .require_scopes(["a"])
            .require_mfa(MfaPolicy::new().amr_mfa());
        let refuses = Policy::new().require_scopes(["b"]);
        let (one, two) = (PolicyId::next(), PolicyId::next());
        assert!(admits.evaluate_as(&c, 0, one).is_ok());
        // Another layer's policy is evaluated in full, so its refusal stands.
        assert!(matches!(
            refuses.evaluate_as(&c, 0, two),
            Err(Denial::Scope(_))
        ));
        assert!(admits.evaluate_as(&c, 0, one).is_ok());
        // The memo is what skips the checks: under the id of the layer that admitted these
        // claims, even a policy they fail is not re-checked (ids are never shared between
        // policies, so this cannot happen in the layer).
        assert!(refuses.evaluate_as(&c, 0, one).is_ok());
        // A refusal is never remembered, and no id means no memo.
        let fresh = claims(r#","scp":"a""#);
        assert!(refuses.evaluate_as(&fresh, 0, two).is_err());
        assert!(refuses.evaluate_as(&fresh, 0, two).is_err());
        assert!(admits.evaluate_as(&fresh, 0, PolicyId::NONE).is_err());
        assert!(refuses.evaluate_as(&c, 0, PolicyId::NONE).is_err());
    }

    #[test]
    fn remembered_claims_still_face_time_and_custom_checks() {
        let c = claims(r#","scp":"a","auth_time":950"#);
        let calls = Arc::new(AtomicU64::new(0));
        let counter = calls.clone();
        let p = Policy::new()
            .require_scopes(["a"])
            .require_recent_authentication(Duration::from_secs(60))
            .check(move |_| counter.fetch_add(1, Ordering::Relaxed) < 2);
        let id = PolicyId::next();
        assert!(p.evaluate_as(&c, 1000, id).is_ok());
        assert!(p.evaluate_as(&c, 1000, id).is_ok());
        // The sign-in is now too old: the memo does not skip the max-age check.
        assert!(matches!(
            p.evaluate_as(&c, 1011, id),
            Err(Denial::StepUp {
                mfa: None,
                max_age: Some(60)
            })
        ));
        // The custom check runs on every request (its third call refuses).
        assert!(matches!(p.evaluate_as(&c, 1000, id), Err(Denial::Check)));
        assert_eq!(calls.load(Ordering::Relaxed), 3);
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
        let none = claims(r#","amr":["pwd"],"acrs":["c2"],"auth_time":100"#);
        let p = MfaPolicy::new().amr_mfa().auth_context("c1");
        for c in [&amr, &acrs] {
            assert!(p.satisfied_by(c));
        }
        assert!(!p.satisfied_by(&none));
        assert!(!MfaPolicy::new().satisfied_by(&amr));
        assert!(!MfaPolicy::new().auth_context("c1").satisfied_by(&amr));
    }

    #[test]
    fn recent_password_sign_in_is_not_mfa() {
        // Issue 18: `auth_time` says when, not how; it used to satisfy MfaPolicy::max_age.
        let recent_pwd = claims(r#","amr":["pwd"],"auth_time":950"#);
        let p = Policy::new()
            .require_mfa(MfaPolicy::new().amr_mfa())
            .require_recent_authentication(Duration::from_secs(60));
        match p.evaluate(&recent_pwd, 1000) {
            Err(Denial::StepUp {
                mfa: Some(_),
                max_age: None,
            }) => {}
            other => panic!("{other:?}"),
        }
        // MFA long ago: recency alone fails, with max_age for the challenge.
        let old_mfa = claims(r#","amr":["pwd","mfa"],"auth_time":100"#);
        match p.evaluate(&old_mfa, 1000) {
            Err(Denial::StepUp {
                mfa: None,
                max_age: Some(60),
            }) => {}
            other => panic!("{other:?}"),
        }
        let no_auth_time = claims(r#","amr":["mfa"]"#);
        assert!(p.evaluate(&no_auth_time, 1000).is_err());
        let future = claims(r#","amr":["mfa"],"auth_time":2000"#);
        assert!(p.evaluate(&future, 1000).is_err());
        let good = claims(r#","amr":["mfa"],"auth_time":950"#);
        assert!(p.evaluate(&good, 1000).is_ok());
    }

    #[test]
    fn requirements_that_allow_everything_are_invalid() {
        let c = claims(r#","scp":"s","roles":["r"],"amr":["mfa"],"auth_time":1"#);
        let none: [&str; 0] = [];
        for (policy, error) in [
            (
                Policy::new().require_scopes(none),
                PolicyError::EmptyRequirement("scopes"),
            ),
            (
                Policy::new().require_any_scope(none),
                PolicyError::EmptyRequirement("scopes"),
            ),
            (
                Policy::new().require_roles(none),
                PolicyError::EmptyRequirement("roles"),
            ),
            (
                Policy::new().require_any_role(none),
                PolicyError::EmptyRequirement("roles"),
            ),
            (
                Policy::new().require_mfa(MfaPolicy::new()),
                PolicyError::MfaWithoutProof,
            ),
            (
                Policy::new().require_mfa(MfaPolicy::new().step_up_acr_values("x")),
                PolicyError::MfaWithoutProof,
            ),
            (
                Policy::new().require_recent_authentication(Duration::ZERO),
                PolicyError::ZeroMaxAge,
            ),
        ] {
            assert_eq!(policy.validate(), Err(error.clone()));
            // Fail closed: an invalid policy refuses even a token that has everything.
            assert!(
                matches!(policy.evaluate(&c, 2), Err(Denial::Invalid)),
                "{error}"
            );
        }
        assert!(Policy::new().require_scopes(["s"]).validate().is_ok());
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
