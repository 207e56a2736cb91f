//! [`BearerAuthLayer`]: configuration of the middleware.

use std::fmt;
use std::sync::Arc;

use tower::Layer;

use crate::policy::{MfaPolicy, Policy};
use crate::rejection::DefaultRejection;
use crate::service::BearerAuth;
use crate::validate::Validator;

/// Challenge parameters shared by every request through one layer.
#[derive(Clone, Debug, Default)]
pub(crate) struct Challenge {
    pub(crate) realm: Option<Arc<str>>,
    pub(crate) authorization_uri: Option<Arc<str>>,
    pub(crate) client_id: Option<Arc<str>>,
    /// The first challenge parameter that was not printable ASCII (left unset; reported by
    /// [`BearerAuthLayer::validate`]).
    pub(crate) invalid: Option<&'static str>,
}

/// Validates bearer tokens and applies a [`Policy`]; see the [crate docs](crate) for an example.
///
/// Cloning is cheap. Build one per policy from one shared [`Validator`], and apply each with axum's
/// `route_layer` so that unmatched routes still answer 404.
///
/// ```
/// use edit_profile_middleware::{BearerAuthLayer, MfaPolicy, Validator};
///
/// # fn f(validator: Validator) -> Result<(), edit_profile_middleware::PolicyError> {
/// let read = BearerAuthLayer::new(validator.clone()).require_scopes(["Profile.Read"]);
/// let write = BearerAuthLayer::new(validator)
///     .require_scopes(["EditProfileService.ReadWrite"])
///     .require_mfa(MfaPolicy::new().amr_mfa().auth_context("c1"))
///     .realm("EditProfileService")
///     .validate()?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
#[must_use]
pub struct BearerAuthLayer<R = DefaultRejection> {
    pub(crate) validator: Validator,
    pub(crate) policy: Arc<Policy>,
    pub(crate) challenge: Arc<Challenge>,
    pub(crate) rejection: R,
}

impl<R> fmt::Debug for BearerAuthLayer<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BearerAuthLayer")
            .field("validator", &self.validator)
            .field("policy", &self.policy)
            .field("challenge", &self.challenge)
            .field(
                "rejection",
                &format_args!("<{}>", std::any::type_name::<R>()),
            )
            .finish()
    }
}

impl BearerAuthLayer {
    /// A layer that requires a valid access token and nothing else yet.
    ///
    /// The `insufficient_claims` challenge defaults to the validator's discovered authorization
    /// endpoint and to its first audience that is not an `api://` URI as `client_id`.
    pub fn new(validator: Validator) -> Self {
        let challenge = Challenge {
            realm: None,
            authorization_uri: validator.authorization_endpoint().map(Arc::from),
            client_id: validator.default_client_id().map(Arc::from),
            invalid: None,
        };
        Self {
            validator,
            policy: Arc::new(Policy::new()),
            challenge: Arc::new(challenge),
            rejection: DefaultRejection,
        }
    }
}

impl<R> BearerAuthLayer<R> {
    /// Replace the whole policy.
    pub fn policy(mut self, policy: Policy) -> Self {
        self.policy = Arc::new(policy);
        self
    }

    fn map_policy(mut self, f: impl FnOnce(Policy) -> Policy) -> Self {
        let policy = Arc::unwrap_or_clone(self.policy);
        self.policy = Arc::new(f(policy));
        self
    }

    /// See [`Policy::require_scopes`].
    pub fn require_scopes<I: IntoIterator<Item = S>, S: Into<String>>(self, scopes: I) -> Self {
        self.map_policy(|p| p.require_scopes(scopes))
    }

    /// See [`Policy::require_any_scope`].
    pub fn require_any_scope<I: IntoIterator<Item = S>, S: Into<String>>(self, scopes: I) -> Self {
        self.map_policy(|p| p.require_any_scope(scopes))
    }

    /// See [`Policy::require_roles`].
    pub fn require_roles<I: IntoIterator<Item = S>, S: Into<String>>(self, roles: I) -> Self {
        self.map_policy(|p| p.require_roles(roles))
    }

    /// See [`Policy::require_any_role`].
    pub fn require_any_role<I: IntoIterator<Item = S>, S: Into<String>>(self, roles: I) -> Self {
        self.map_policy(|p| p.require_any_role(roles))
    }

    /// See [`Policy::require_mfa`].
    pub fn require_mfa(self, mfa: MfaPolicy) -> Self {
        self.map_policy(|p| p.require_mfa(mfa))
    }

    /// See [`Policy::require_recent_authentication`].
    pub fn require_recent_authentication(self, max_age: std::time::Duration) -> Self {
        self.map_policy(|p| p.require_recent_authentication(max_age))
    }

    /// Check the policy (see [`Policy::validate`]) and the challenge parameters; call it where
    /// the routes are built so that `require_scopes([])`, an [`MfaPolicy`] with no proof or a
    /// `realm` with a line break fails at start-up. The setters themselves never fail, so a
    /// chain reads top to bottom and ends here.
    ///
    /// # Errors
    ///
    /// The [`PolicyError`](crate::PolicyError) of an invalid policy, or
    /// [`PolicyError::InvalidChallengeText`](crate::PolicyError::InvalidChallengeText).
    ///
    /// ```
    /// # fn f(validator: edit_profile_middleware::Validator) -> Result<(), edit_profile_middleware::PolicyError> {
    /// use edit_profile_middleware::BearerAuthLayer;
    ///
    /// let layer = BearerAuthLayer::new(validator).require_scopes(["Profile.Read"]).validate()?;
    /// # Ok(()) }
    /// ```
    pub fn validate(self) -> Result<Self, crate::PolicyError> {
        self.policy.validate()?;
        if let Some(what) = self.challenge.invalid {
            return Err(crate::PolicyError::InvalidChallengeText(what));
        }
        Ok(self)
    }

    /// See [`Policy::check`].
    pub fn check(self, check: impl Fn(&crate::Claims) -> bool + Send + Sync + 'static) -> Self {
        self.map_policy(|p| p.check(check))
    }

    /// The `realm` auth-param of every challenge (default: none).
    ///
    /// It must be printable ASCII; anything else is left out of the challenges and reported by
    /// [`validate`](Self::validate).
    pub fn realm(self, realm: &str) -> Self {
        self.challenge_text(realm, "realm", |c, v| c.realm = v)
    }

    /// The `authorization_uri` of `insufficient_claims` challenges (default: the validator's
    /// discovered authorization endpoint). Printable ASCII, as for [`realm`](Self::realm).
    pub fn authorization_uri(self, uri: &str) -> Self {
        self.challenge_text(uri, "authorization_uri", |c, v| c.authorization_uri = v)
    }

    /// The `client_id` of `insufficient_claims` challenges (default: the validator's first
    /// audience that is not an `api://` URI). Printable ASCII, as for [`realm`](Self::realm).
    pub fn challenge_client_id(self, client_id: &str) -> Self {
        self.challenge_text(client_id, "client_id", |c, v| c.client_id = v)
    }

    fn challenge_text(
        mut self,
        value: &str,
        what: &'static str,
        set: impl FnOnce(&mut Challenge, Option<Arc<str>>),
    ) -> Self {
        let challenge = Arc::make_mut(&mut self.challenge);
        if value.bytes().all(|b| (0x20..0x7f).contains(&b)) {
            set(challenge, Some(Arc::from(value)));
        } else {
            set(challenge, None);
            challenge.invalid.get_or_insert(what);
        }
        self
    }

    /// Replace how rejections are turned into responses (a [`RejectionResponse`] or a closure).
    ///
    /// [`RejectionResponse`]: crate::RejectionResponse
    pub fn with_rejection_response<R2>(self, rejection: R2) -> BearerAuthLayer<R2> {
        BearerAuthLayer {
            validator: self.validator,
            policy: self.policy,
            challenge: self.challenge,
            rejection,
        }
    }

    /// The validator this layer uses.
    pub fn validator(&self) -> &Validator {
        &self.validator
    }
}

impl<S, R: Clone> Layer<S> for BearerAuthLayer<R> {
    type Service = BearerAuth<S, R>;

    fn layer(&self, inner: S) -> Self::Service {
        if let Some(what) = self.challenge.invalid {
            tracing::error!(
                parameter = what,
                "a challenge parameter is not printable ascii and is left out; call validate() at start-up"
            );
        }
        BearerAuth::from_layer(inner, self)
    }
}
