//! Sign-in: the authorization code flow with PKCE (RFC 6749 §4.1, RFC 7636; OpenID Connect
//! Core 1.0 §3.1; Microsoft identity platform: "OAuth 2.0 authorization code flow"), and
//! sign-out URLs.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use url::Url;

use super::silent::{Grant, redeem};
use crate::account::Account;
use crate::{AuthenticationResult, ConfidentialClient, CorrelationId, Error, IntoScopes, Scopes};

/// The scopes every sign-in adds: an ID token (`openid`), the user's name and ids (`profile`)
/// and a refresh token (`offline_access`), as MSAL does.
pub(crate) const OIDC_SCOPES: &str = "openid profile offline_access";

/// How the authorization server returns the code to the redirect URI (OAuth 2.0 Multiple
/// Response Type Encoding Practices; OAuth 2.0 Form Post Response Mode).
///
/// ```
/// let mode = msal_lite::ResponseMode::FormPost;
/// assert_eq!(mode.as_str(), "form_post");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ResponseMode {
    /// In the query string of a `GET` to the redirect URI.
    Query,
    /// In the body of a `POST` to the redirect URI (the default: the code never appears in a
    /// URL, browser history or access logs; Microsoft recommends it for web apps).
    #[default]
    FormPost,
}

impl ResponseMode {
    /// The `response_mode` parameter value.
    ///
    /// ```
    /// assert_eq!(msal_lite::ResponseMode::Query.as_str(), "query");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Query => "query",
            Self::FormPost => "form_post",
        }
    }
}

/// The `prompt` parameter (OpenID Connect Core 1.0 §3.1.2.1, and Entra's `select_account` and
/// `create`).
///
/// ```
/// assert_eq!(msal_lite::Prompt::Login.as_str(), "login");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Prompt {
    /// Ask for credentials even with a session.
    Login,
    /// No interaction at all; fail with `login_required` / `interaction_required` instead.
    None,
    /// Show the consent page.
    Consent,
    /// Show the account picker.
    SelectAccount,
    /// Offer sign-up (External ID).
    Create,
}

impl Prompt {
    /// The parameter value.
    ///
    /// ```
    /// assert_eq!(msal_lite::Prompt::SelectAccount.as_str(), "select_account");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Login => "login",
            Self::None => "none",
            Self::Consent => "consent",
            Self::SelectAccount => "select_account",
            Self::Create => "create",
        }
    }
}

/// What to ask for when sending the user to sign in; see
/// [`ConfidentialClient::auth_code_url`].
///
/// ```
/// use msal_lite::{AuthCodeRequest, Prompt, ResponseMode};
///
/// let request = AuthCodeRequest::new(["User.Read"], "https://app.example.com/auth/redirect")
///     .response_mode(ResponseMode::FormPost)
///     .prompt(Prompt::SelectAccount)
///     .login_hint("alice@contoso.com")
///     .extra_scopes_to_consent(["https://graph.microsoft.com/Mail.Read"])
///     .extra_query_parameter("ui_locales", "fr-FR");
/// # let _ = request;
/// ```
#[derive(Debug)]
#[must_use]
pub struct AuthCodeRequest {
    scopes: Result<Scopes, Error>,
    redirect_uri: String,
    response_mode: ResponseMode,
    prompt: Option<Prompt>,
    login_hint: Option<String>,
    domain_hint: Option<String>,
    claims: Option<String>,
    extra: Vec<(String, String)>,
    state: Option<String>,
    sid: Option<String>,
    account: Option<AccountHint>,
    extra_scopes: Option<Result<Scopes, Error>>,
}

/// What an [`Account`] contributes to a sign-in's hints (msal-common
/// `AuthorizationCodeClient.createAuthCodeUrlQueryString`).
#[derive(Debug)]
struct AccountHint {
    /// Entra's opaque `login_hint` ID-token claim.
    login_hint_claim: Option<String>,
    /// The session id (`sid` claim).
    sid: Option<String>,
    username: Option<String>,
    /// `Oid:{uid}@{utid}` from the home account id.
    anchor: Option<String>,
}

/// Longest caller-chosen `state` accepted (it travels in a URL and back).
const MAX_STATE_LEN: usize = 2048;

impl AuthCodeRequest {
    /// A sign-in asking for `scopes` (plus `openid profile offline_access`, always added) that
    /// returns to `redirect_uri` (registered on the app). Invalid scopes are reported by
    /// [`ConfidentialClient::auth_code_url`].
    pub fn new(scopes: impl IntoScopes, redirect_uri: impl Into<String>) -> Self {
        Self {
            scopes: scopes.into_scopes(),
            redirect_uri: redirect_uri.into(),
            response_mode: ResponseMode::default(),
            prompt: None,
            login_hint: None,
            domain_hint: None,
            claims: None,
            extra: Vec::new(),
            state: None,
            sid: None,
            account: None,
            extra_scopes: None,
        }
    }

    /// OPTIONAL. Sends this `state` instead of a random one (as MSAL's `state` option), e.g. to
    /// carry where to return after sign-in. It comes back on the redirect and is compared in
    /// constant time by [`ConfidentialClient::acquire_token_by_code`].
    ///
    /// # Security Warning
    ///
    /// `state` is one of the sign-in's CSRF defences (PKCE, always on, is the other, RFC 9700
    /// §2.1): make it unguessable (e.g. a random value plus your data), never a constant. An
    /// empty or over-long (2048 bytes) state is refused by `auth_code_url`.
    ///
    /// ```
    /// let request = msal_lite::AuthCodeRequest::new(["User.Read"], "https://app.example.com/auth/redirect")
    ///     .state("Zq3k9X2vT0b1mN7c.return=/profile");
    /// # let _ = request;
    /// ```
    pub fn state(mut self, state: impl Into<String>) -> Self {
        self.state = Some(state.into());
        self
    }

    /// OPTIONAL. The session to reuse (`sid`, with [`Prompt::None`]: Entra's front-channel
    /// session id), as MSAL's `sid` option. Sent only with `prompt=none`, as msal-common does.
    ///
    /// ```
    /// use msal_lite::{AuthCodeRequest, Prompt};
    /// let request = AuthCodeRequest::new(["User.Read"], "https://app.example.com/auth/redirect")
    ///     .prompt(Prompt::None)
    ///     .sid("a-session-id");
    /// # let _ = request;
    /// ```
    pub fn sid(mut self, sid: impl Into<String>) -> Self {
        self.sid = Some(sid.into()).filter(|s| !s.trim().is_empty());
        self
    }

    /// OPTIONAL. Signs in (again) as this account, as MSAL's `account` option: the authorize
    /// URL gets the account's `login_hint` claim (unless a [`domain_hint`](Self::domain_hint)
    /// is set), else with [`Prompt::None`] its `sid` claim, else the request's
    /// [`login_hint`](Self::login_hint), else its username; plus the `X-AnchorMailbox` routing
    /// hint `Oid:{uid}@{utid}`. With [`Prompt::SelectAccount`] the account is ignored (Entra
    /// refuses an account hint with the account picker).
    ///
    /// ```no_run
    /// # async fn demo(client: msal_lite::ConfidentialClient, account: msal_lite::Account) -> Result<(), msal_lite::Error> {
    /// use msal_lite::{AuthCodeRequest, Prompt};
    /// let (url, flow) = client
    ///     .auth_code_url(
    ///         AuthCodeRequest::new(["User.Read"], "https://app.example.com/auth/redirect")
    ///             .prompt(Prompt::None)
    ///             .account(&account),
    ///     )
    ///     .await?;
    /// # let _ = (url, flow); Ok(()) }
    /// ```
    pub fn account(mut self, account: &Account) -> Self {
        let claim = |name: &str| {
            account
                .id_token_claims()
                .get(name)
                .and_then(serde_json::Value::as_str)
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
        };
        self.account = Some(AccountHint {
            login_hint_claim: claim("login_hint"),
            sid: claim("sid"),
            username: account.username().map(str::to_owned),
            anchor: super::anchor_mailbox::for_home_account(account.home_account_id()),
        });
        self
    }

    /// OPTIONAL. Scopes of other resources to consent to now (MSAL's `extraScopesToConsent`):
    /// added to the authorize URL's `scope` only, so the user consents up front, while the
    /// code is redeemed (and cached) for the request's own scopes.
    ///
    /// ```
    /// let request = msal_lite::AuthCodeRequest::new(["User.Read"], "https://app.example.com/auth/redirect")
    ///     .extra_scopes_to_consent(["api://my-api/Data.Read"]);
    /// # let _ = request;
    /// ```
    pub fn extra_scopes_to_consent(mut self, scopes: impl IntoScopes) -> Self {
        self.extra_scopes = Some(scopes.into_scopes());
        self
    }

    /// How the code comes back (default [`ResponseMode::FormPost`]).
    pub fn response_mode(mut self, mode: ResponseMode) -> Self {
        self.response_mode = mode;
        self
    }

    /// The `prompt` parameter.
    pub fn prompt(mut self, prompt: Prompt) -> Self {
        self.prompt = Some(prompt);
        self
    }

    /// OPTIONAL. Pre-fills the username (`login_hint`, OpenID Connect Core §3.1.2.1).
    pub fn login_hint(mut self, hint: impl Into<String>) -> Self {
        self.login_hint = Some(hint.into());
        self
    }

    /// OPTIONAL. Skips home-realm discovery (`domain_hint`, an Entra parameter).
    pub fn domain_hint(mut self, hint: impl Into<String>) -> Self {
        self.domain_hint = Some(hint.into());
        self
    }

    /// A claims request (JSON), e.g. the `claims` of an `interaction_required` error or of a
    /// `WWW-Authenticate` claims challenge. The client's capabilities are merged in. The same
    /// claims are sent again when the code is redeemed. Empty claims (`{}`) are none, as in MSAL.
    pub fn claims(mut self, claims: impl Into<String>) -> Self {
        self.claims = super::meaningful_claims(claims.into());
        self
    }

    /// Re-authentication after a silent or on-behalf-of failure: takes the error's claims
    /// challenge (if it has one) as [`claims`](Self::claims). Errors without claims leave the
    /// request unchanged.
    ///
    /// ```
    /// # fn demo(e: msal_lite::Error) {
    /// use msal_lite::AuthCodeRequest;
    /// if e.is_interaction_required() {
    ///     let again = AuthCodeRequest::new(["User.Read"], "https://app.example.com/auth/redirect")
    ///         .claims_from_error(&e);
    ///     # let _ = again;
    /// }
    /// # }
    /// ```
    pub fn claims_from_error(self, error: &Error) -> Self {
        match error.claims() {
            Some(claims) => self.claims(claims),
            None => self,
        }
    }

    /// Re-authentication after a resource answered `401` with a claims challenge
    /// (`WWW-Authenticate: Bearer error="insufficient_claims", claims="..."`; Microsoft identity
    /// platform: "Claims challenges, claims requests, and client capabilities").
    ///
    /// ```
    /// use http::{HeaderMap, HeaderValue, header::WWW_AUTHENTICATE};
    /// use msal_lite::AuthCodeRequest;
    /// use msal_lite::challenge::ClaimsChallenge;
    ///
    /// let mut headers = HeaderMap::new();
    /// headers.insert(WWW_AUTHENTICATE, HeaderValue::from_static(
    ///     r#"Bearer error="insufficient_claims", claims="eyJhY2Nlc3NfdG9rZW4iOnsibmJmIjp7ImVzc2VudGlhbCI6dHJ1ZSwidmFsdWUiOiIxNjAyMDEzOTU0In19fQ==""#,
    /// ));
    /// let challenge = ClaimsChallenge::from_headers(&headers).expect("a claims challenge");
    /// let again = AuthCodeRequest::new(["User.Read"], "https://app.example.com/auth/redirect")
    ///     .claims_challenge(&challenge);
    /// # let _ = again;
    /// ```
    pub fn claims_challenge(self, challenge: &crate::challenge::ClaimsChallenge) -> Self {
        self.claims(challenge.claims())
    }

    /// Any other query parameter (e.g. `ui_locales`). Parameters this request already sets
    /// cannot be overridden this way.
    pub fn extra_query_parameter(
        mut self,
        name: impl Into<String>,
        value: impl Into<String>,
    ) -> Self {
        self.extra.push((name.into(), value.into()));
        self
    }
}

/// A PKCE code verifier (RFC 7636 §4.1).
///
/// `Debug` prints `[redacted]`; not `Clone` (a verifier is used once); no `Display`. It is
/// serialized with the [`AuthCodeFlow`] that holds it.
#[derive(Serialize, Deserialize)]
#[serde(transparent)]
pub struct PkceVerifier(String);

impl PkceVerifier {
    /// 32 random bytes, base64url-encoded: 43 characters, as RFC 7636 §4.1 recommends.
    fn random() -> Self {
        Self(URL_SAFE_NO_PAD.encode(random_bytes()))
    }

    /// The S256 challenge: base64url(SHA-256(verifier)) (RFC 7636 §4.2).
    ///
    /// ```
    /// # use msal_lite::PkceVerifier;
    /// // Source: RFC 7636 Appendix B.
    /// let challenge = PkceVerifier::challenge_for("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk");
    /// assert_eq!(challenge, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
    /// ```
    pub fn challenge_for(verifier: &str) -> String {
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, verifier.as_bytes());
        URL_SAFE_NO_PAD.encode(digest.as_ref())
    }

    /// The verifier.
    ///
    /// # Security Warning
    ///
    /// Whoever holds it and the code can redeem the code: keep it server-side.
    ///
    /// ```
    /// # let flow: msal_lite::AuthCodeFlow = serde_json::from_str(r#"{"state":"s","nonce":"n","code_verifier":"v","redirect_uri":"https://a/r","scopes":"openid"}"#).unwrap();
    /// assert_eq!(flow.code_verifier().secret(), "v");
    /// ```
    pub fn secret(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PkceVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PkceVerifier([redacted])")
    }
}

fn random_bytes() -> [u8; 32] {
    let mut bytes = [0u8; 32];
    // The system random generator only fails when the OS has no entropy source at all, in
    // which case no secure sign-in is possible.
    #[expect(
        clippy::expect_used,
        reason = "no OS randomness means no secure sign-in"
    )]
    aws_lc_rs::rand::fill(&mut bytes).expect("the system random generator works");
    bytes
}

/// What a sign-in must remember between the redirect to the authorize endpoint and the
/// return to the redirect URI: `state`, `nonce`, the PKCE verifier, the redirect URI, the
/// scopes and claims asked for.
///
/// Serializable (serde) so a web app can keep it in its session; not `Clone`, since it is used
/// once.
///
/// # Security Warning
///
/// It holds the PKCE verifier: keep it in a server-side session (or an encrypted cookie), never
/// in a URL or a readable cookie.
///
/// ```
/// # async fn demo(client: msal_lite::ConfidentialClient) -> Result<(), Box<dyn std::error::Error>> {
/// use msal_lite::{AuthCodeFlow, AuthCodeRequest};
///
/// let (url, flow) = client
///     .auth_code_url(AuthCodeRequest::new(["User.Read"], "https://app.example.com/auth/redirect"))
///     .await?;
/// let saved = serde_json::to_string(&flow)?;          // into the session
/// // ... the browser goes to `url` and comes back with `code` and `state` ...
/// let flow: AuthCodeFlow = serde_json::from_str(&saved)?;
/// assert!(!flow.state().is_empty());
/// # let _ = url; Ok(()) }
/// ```
#[derive(Serialize, Deserialize)]
pub struct AuthCodeFlow {
    state: String,
    nonce: String,
    code_verifier: PkceVerifier,
    redirect_uri: String,
    /// The scopes as sent (OIDC scopes included).
    scopes: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    claims: Option<String>,
    /// The `X-AnchorMailbox` routing hint for the code redemption.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    anchor: Option<String>,
}

impl AuthCodeFlow {
    /// The `state` sent; the redirect must bring it back.
    pub fn state(&self) -> &str {
        &self.state
    }

    /// The `nonce` sent; the ID token must carry it.
    pub fn nonce(&self) -> &str {
        &self.nonce
    }

    /// The redirect URI the code will be sent to (the token request repeats it).
    pub fn redirect_uri(&self) -> &str {
        &self.redirect_uri
    }

    /// The scopes asked for, space-separated, OIDC scopes included.
    pub fn scopes(&self) -> &str {
        &self.scopes
    }

    /// The PKCE verifier.
    pub fn code_verifier(&self) -> &PkceVerifier {
        &self.code_verifier
    }

    /// Takes the `client_info` that came back with the code (Entra returns it because the
    /// authorize URL asks `client_info=1`) as the code redemption's `X-AnchorMailbox` routing
    /// hint, `Oid:{uid}@{utid}`, as MSAL Python's `obtain_token_by_auth_code_flow` does. A
    /// `client_info` that does not decode is ignored (the hint chosen at sign-in start stays).
    ///
    /// ```
    /// # let flow: msal_lite::AuthCodeFlow = serde_json::from_str(r#"{"state":"s","nonce":"n","code_verifier":"v","redirect_uri":"https://a/r","scopes":"openid"}"#).unwrap();
    /// // base64url of {"uid":"u-1","utid":"t-1"}, from the redirect's form or query
    /// let flow = flow.client_info("eyJ1aWQiOiJ1LTEiLCJ1dGlkIjoidC0xIn0");
    /// # let _ = flow;
    /// ```
    #[must_use]
    pub fn client_info(mut self, returned_client_info: &str) -> Self {
        match crate::schema::ClientInfo::decode(returned_client_info) {
            Ok(info) if !info.uid.is_empty() && !info.utid.is_empty() => {
                self.anchor = Some(format!("Oid:{}@{}", info.uid, info.utid));
            }
            _ => tracing::debug!("the returned client_info does not decode; ignored"),
        }
        self
    }
}

impl fmt::Debug for AuthCodeFlow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthCodeFlow")
            .field("state", &self.state)
            .field("code_verifier", &self.code_verifier)
            .field("redirect_uri", &self.redirect_uri)
            .field("scopes", &self.scopes)
            .finish_non_exhaustive()
    }
}

/// Parameters `auth_code_url` sets itself; extra parameters may not override them.
const RESERVED: &[&str] = &[
    "client_id",
    "response_type",
    "redirect_uri",
    "scope",
    "response_mode",
    "state",
    "nonce",
    "code_challenge",
    "code_challenge_method",
    "claims",
    "prompt",
    "login_hint",
    "domain_hint",
    "client_info",
    "sid",
    "x-anchormailbox",
];

impl ConfidentialClient {
    /// Builds the URL that starts a sign-in, and the [`AuthCodeFlow`] to keep until the user
    /// comes back.
    ///
    /// The URL carries `client_id`, `response_type=code`, `redirect_uri`, the scopes plus
    /// `openid profile offline_access`, `response_mode`, a random `state` and `nonce`, a PKCE
    /// S256 `code_challenge`, `client_info=1`, the `claims` (merged with the client
    /// capabilities) and the optional `prompt`, `login_hint`, `domain_hint` and extra
    /// parameters. The authorize endpoint comes from the authority's metadata (fetched once).
    ///
    /// ```no_run
    /// # async fn demo(client: msal_lite::ConfidentialClient) -> Result<(), msal_lite::Error> {
    /// use msal_lite::AuthCodeRequest;
    ///
    /// let (url, flow) = client
    ///     .auth_code_url(AuthCodeRequest::new(["User.Read"], "http://localhost:3000/auth/redirect"))
    ///     .await?;
    /// // Keep `flow` in the session, then redirect the browser to `url`.
    /// # let _ = (url, flow); Ok(()) }
    /// ```
    pub async fn auth_code_url(
        &self,
        request: AuthCodeRequest,
    ) -> Result<(Url, AuthCodeFlow), Error> {
        let inner = &self.inner;
        let hints = Hints::choose(&request);
        let scopes = with_oidc_scopes(&request.scopes?)?;
        // Consent-only scopes go on the URL, never into the flow (the redemption's scopes).
        let url_scopes = match request.extra_scopes {
            Some(extra) => Scopes::new([scopes.as_str(), extra?.as_str()])?,
            None => scopes.clone(),
        };
        if let Some(state) = &request.state
            && (state.is_empty() || state.len() > MAX_STATE_LEN)
        {
            return Err(Error::config(
                "the state must be non-empty and at most 2048 bytes",
            ));
        }
        let redirect = Url::parse(&request.redirect_uri)
            .map_err(|_| Error::config("the redirect URI is not an absolute URL"))?;
        if let Some((name, _)) = request
            .extra
            .iter()
            .find(|(name, _)| RESERVED.iter().any(|r| r.eq_ignore_ascii_case(name)))
        {
            return Err(Error::config(format!(
                "the extra query parameter {name:?} is set by the request itself"
            )));
        }
        let claims = inner.merged_claims(request.claims.as_deref())?;
        let metadata = inner
            .metadata
            .get(
                inner.http.as_ref(),
                &inner.retry,
                &inner.authority,
                CorrelationId::random(),
            )
            .await?;
        let endpoint = match metadata.authorization_endpoint.as_deref() {
            Some(endpoint) => endpoint.to_owned(),
            None => format!("{}oauth2/v2.0/authorize", inner.authority.as_str()),
        };
        let mut url = Url::parse(&endpoint).map_err(|_| {
            Error::malformed(
                "the metadata authorization_endpoint is not a URL",
                None,
                None,
            )
        })?;
        let verifier = PkceVerifier::random();
        let flow = AuthCodeFlow {
            state: request
                .state
                .unwrap_or_else(|| URL_SAFE_NO_PAD.encode(random_bytes())),
            nonce: URL_SAFE_NO_PAD.encode(random_bytes()),
            code_verifier: verifier,
            redirect_uri: redirect.to_string(),
            scopes: scopes.as_str().to_owned(),
            claims: request.claims,
            anchor: hints.anchor.clone(),
        };
        {
            let mut query = url.query_pairs_mut();
            query
                .append_pair("client_id", &inner.client_id)
                .append_pair("response_type", "code")
                .append_pair("redirect_uri", &flow.redirect_uri)
                .append_pair("scope", url_scopes.as_str())
                .append_pair("response_mode", request.response_mode.as_str())
                .append_pair("state", &flow.state)
                .append_pair("nonce", &flow.nonce)
                .append_pair(
                    "code_challenge",
                    &PkceVerifier::challenge_for(flow.code_verifier.secret()),
                )
                .append_pair("code_challenge_method", "S256")
                .append_pair("client_info", "1");
            if let Some(prompt) = request.prompt {
                query.append_pair("prompt", prompt.as_str());
            }
            if let Some(hint) = &hints.login_hint {
                query.append_pair("login_hint", hint);
            }
            if let Some(sid) = &hints.sid {
                query.append_pair("sid", sid);
            }
            // msal-common puts the routing hint on the authorize URL too (`addCcsOid`/`addCcsUpn`).
            if let Some(anchor) = &hints.anchor {
                query.append_pair(super::anchor_mailbox::NAME, anchor);
            }
            if let Some(hint) = &request.domain_hint {
                query.append_pair("domain_hint", hint);
            }
            if let Some(claims) = &claims {
                query.append_pair("claims", claims);
            }
            for (name, value) in &request.extra {
                query.append_pair(name, value);
            }
        }
        Ok((url, flow))
    }

    /// Finishes a sign-in: checks that `returned_state` is the flow's `state` (in constant
    /// time, before any network call), redeems `code` with the PKCE verifier and the client
    /// credential, validates the ID token (signature against the authority's keys, issuer,
    /// audience, expiry, nonce, issue time), and stores the access token, refresh token, ID
    /// token and [`Account`] in the user's cache partition (and the cache store, if any).
    ///
    /// The result's [`account`](AuthenticationResult::account) is the signed-in user; keep its
    /// [`home_account_id`](Account::home_account_id) in the session.
    ///
    /// ```no_run
    /// # async fn demo(client: msal_lite::ConfidentialClient, flow: msal_lite::AuthCodeFlow,
    /// #     code: String, state: String) -> Result<(), msal_lite::Error> {
    /// let result = client.acquire_token_by_code(&code, &state, flow).await?;
    /// let account = result.account().expect("a sign-in always yields an account");
    /// println!("signed in {:?} ({})", account.username(), account.home_account_id());
    /// # Ok(()) }
    /// ```
    pub async fn acquire_token_by_code(
        &self,
        code: &str,
        returned_state: &str,
        flow: AuthCodeFlow,
    ) -> Result<AuthenticationResult, Error> {
        if aws_lc_rs::constant_time::verify_slices_are_equal(
            returned_state.as_bytes(),
            flow.state.as_bytes(),
        )
        .is_err()
        {
            return Err(Error::StateMismatch);
        }
        if code.is_empty() {
            return Err(Error::config("the authorization code is empty"));
        }
        let scopes = Scopes::new([flow.scopes.as_str()])?;
        let grant = Grant::AuthorizationCode {
            code,
            redirect_uri: &flow.redirect_uri,
            code_verifier: flow.code_verifier.secret(),
            nonce: &flow.nonce,
            anchor: flow.anchor.as_deref(),
        };
        redeem(
            &self.inner,
            grant,
            &scopes,
            flow.claims.as_deref(),
            CorrelationId::random(),
        )
        .await
    }

    /// The URL that signs the user out at the identity provider (OpenID Connect RP-Initiated
    /// Logout 1.0): the metadata's `end_session_endpoint`, else `{authority}oauth2/v2.0/logout`,
    /// with `client_id`, the `post_logout_redirect_uri` (registered on the app) and, when the
    /// ID token carried Entra's `login_hint` claim, `logout_hint` (so no account picker shows).
    ///
    /// Signing out locally is [`remove_account`](Self::remove_account).
    ///
    /// ```no_run
    /// # async fn demo(client: msal_lite::ConfidentialClient, account: msal_lite::Account) -> Result<(), msal_lite::Error> {
    /// client.remove_account(&account).await;
    /// let url = client.sign_out_url(&account, Some("http://localhost:3000/")).await?;
    /// // redirect the browser to `url`
    /// # let _ = url; Ok(()) }
    /// ```
    pub async fn sign_out_url(
        &self,
        account: &Account,
        post_logout_redirect_uri: Option<&str>,
    ) -> Result<Url, Error> {
        let inner = &self.inner;
        let metadata = inner
            .metadata
            .get(
                inner.http.as_ref(),
                &inner.retry,
                &inner.authority,
                CorrelationId::random(),
            )
            .await?;
        let endpoint = match metadata.end_session_endpoint.as_deref() {
            Some(endpoint) => endpoint.to_owned(),
            None => format!("{}oauth2/v2.0/logout", inner.authority.as_str()),
        };
        let mut url = Url::parse(&endpoint).map_err(|_| {
            Error::malformed("the metadata end_session_endpoint is not a URL", None, None)
        })?;
        {
            let mut query = url.query_pairs_mut();
            query.append_pair("client_id", &inner.client_id);
            if let Some(uri) = post_logout_redirect_uri {
                query.append_pair("post_logout_redirect_uri", uri);
            }
            if let Some(hint) = account
                .id_token_claims()
                .get("login_hint")
                .and_then(serde_json::Value::as_str)
            {
                query.append_pair("logout_hint", hint);
            }
        }
        Ok(url)
    }
}

/// The account hints of one sign-in: which of `login_hint` / `sid` go on the authorize URL and
/// the `X-AnchorMailbox` routing hint, chosen as msal-common
/// `lib/msal-common/src/client/AuthorizationCodeClient.ts` (`createAuthCodeUrlQueryString`) does.
#[derive(Debug, Default, PartialEq)]
struct Hints {
    login_hint: Option<String>,
    sid: Option<String>,
    anchor: Option<String>,
}

impl Hints {
    fn choose(request: &AuthCodeRequest) -> Self {
        use super::anchor_mailbox::for_login_hint;
        let prompt_none = request.prompt == Some(Prompt::None);
        let from_login_hint = || Hints {
            login_hint: request.login_hint.clone(),
            sid: None,
            anchor: request.login_hint.as_deref().and_then(for_login_hint),
        };
        if request.prompt == Some(Prompt::SelectAccount) {
            // Entra refuses account hints with the account picker; an explicit login_hint is
            // still sent as before (msal-common drops it too).
            return from_login_hint();
        }
        if let (Some(sid), true) = (&request.sid, prompt_none) {
            return Hints {
                sid: Some(sid.clone()),
                ..Hints::default()
            };
        }
        let Some(account) = &request.account else {
            return from_login_hint();
        };
        let anchor = account.anchor.clone();
        if let Some(claim) = account
            .login_hint_claim
            .as_ref()
            .filter(|_| request.domain_hint.is_none())
        {
            Hints {
                login_hint: Some(claim.clone()),
                sid: None,
                anchor,
            }
        } else if let (Some(sid), true) = (&account.sid, prompt_none) {
            Hints {
                login_hint: None,
                sid: Some(sid.clone()),
                anchor,
            }
        } else if request.login_hint.is_some() {
            from_login_hint()
        } else {
            Hints {
                login_hint: account.username.clone(),
                sid: None,
                anchor,
            }
        }
    }
}

/// The request's scopes followed by `openid profile offline_access` (de-duplicated).
pub(crate) fn with_oidc_scopes(scopes: &Scopes) -> Result<Scopes, Error> {
    Scopes::new([scopes.as_str(), OIDC_SCOPES])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_vectors() {
        // Source: RFC 7636 Appendix B.
        assert_eq!(
            PkceVerifier::challenge_for("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
        // Source: msal-js msal-common test kit (TEST_VERIFIER / TEST_CHALLENGE).
        assert_eq!(
            PkceVerifier::challenge_for(
                "Y5LnOOlAWK0kt370Bjm0ZcrW9Sc2pMXR1slip9TFZXoyUV8Y8lCn0WHXyyQ1QcTnALMbrUAj85dC7WIe6gYqc8o8jsHCezP3xiUNB143A5IfwtSfO6Kb8oy7pNqcT9vN"
            ),
            "JsjesZmxJwehdhNY9kvyr0QOeSMEvryY_EHZo3BKrqg"
        );
    }

    #[test]
    fn verifiers_are_random_and_well_formed() {
        let a = PkceVerifier::random();
        let b = PkceVerifier::random();
        assert_ne!(a.secret(), b.secret());
        // RFC 7636 §4.1: 43..=128 unreserved characters.
        assert_eq!(a.secret().len(), 43);
        assert!(
            a.secret()
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-._~".contains(c))
        );
        assert_eq!(format!("{a:?}"), "PkceVerifier([redacted])");
    }

    #[test]
    fn flow_serde_round_trip_and_redacted_debug() {
        let flow = AuthCodeFlow {
            state: "st".into(),
            nonce: "no".into(),
            code_verifier: PkceVerifier("verifier-secret".into()),
            redirect_uri: "https://a/r".into(),
            scopes: "User.Read openid profile offline_access".into(),
            claims: None,
            anchor: Some("Oid:a@b".into()),
        };
        let json = serde_json::to_string(&flow).unwrap();
        let back: AuthCodeFlow = serde_json::from_str(&json).unwrap();
        assert_eq!(back.code_verifier().secret(), "verifier-secret");
        assert_eq!(back.state(), "st");
        assert!(!format!("{back:?}").contains("verifier-secret"));
    }

    #[test]
    fn claims_from_errors_and_challenges() {
        let request = AuthCodeRequest::new(["a"], "https://a/r");
        let no_claims = Error::StateMismatch;
        assert!(request.claims_from_error(&no_claims).claims.is_none());
        let server = crate::response::parse_json::<serde_json::Value>(
            &http::Response::builder()
                .status(400)
                .header("content-type", "application/json")
                .body(bytes::Bytes::from_static(
                    br#"{"error":"interaction_required","claims":"{\"access_token\":{}}"}"#,
                ))
                .unwrap(),
            None,
        )
        .unwrap_err();
        let request = AuthCodeRequest::new(["a"], "https://a/r").claims_from_error(&server);
        assert_eq!(request.claims.as_deref(), Some(r#"{"access_token":{}}"#));
    }

    /// The precedence of msal-common `AuthorizationCodeClient.createAuthCodeUrlQueryString`:
    /// the login_hint claim (not with a domain_hint), then the sid claim (prompt=none), then the
    /// request's login_hint, then the username; an explicit sid with prompt=none wins over all;
    /// select_account drops account hints.
    #[test]
    fn account_hint_precedence() {
        let account = || AccountHint {
            login_hint_claim: Some("opaque-hint".into()),
            sid: Some("sid-claim".into()),
            username: Some("alice@contoso.com".into()),
            anchor: Some("Oid:u@t".into()),
        };
        let base = || AuthCodeRequest::new(["a"], "https://a/r");
        let with = |mut r: AuthCodeRequest, a: AccountHint| {
            r.account = Some(a);
            r
        };
        let hints = |login: Option<&str>, sid: Option<&str>, anchor: Option<&str>| Hints {
            login_hint: login.map(Into::into),
            sid: sid.map(Into::into),
            anchor: anchor.map(Into::into),
        };
        let oid = Some("Oid:u@t");
        assert_eq!(
            Hints::choose(&with(base(), account())),
            hints(Some("opaque-hint"), None, oid)
        );
        let no_claim = || AccountHint {
            login_hint_claim: None,
            ..account()
        };
        assert_eq!(
            Hints::choose(&with(base().domain_hint("contoso.com"), account()).prompt(Prompt::None)),
            hints(None, Some("sid-claim"), oid)
        );
        assert_eq!(
            Hints::choose(&with(base().prompt(Prompt::None), no_claim())),
            hints(None, Some("sid-claim"), oid)
        );
        assert_eq!(
            Hints::choose(&with(base().login_hint("bob@contoso.com"), no_claim())),
            hints(Some("bob@contoso.com"), None, Some("UPN:bob@contoso.com"))
        );
        assert_eq!(
            Hints::choose(&with(base(), no_claim())),
            hints(Some("alice@contoso.com"), None, oid)
        );
        assert_eq!(
            Hints::choose(&with(base().prompt(Prompt::None).sid("s-1"), account())),
            hints(None, Some("s-1"), None)
        );
        // An explicit sid without prompt=none is not sent.
        assert_eq!(Hints::choose(&base().sid("s-1")), Hints::default());
        assert_eq!(
            Hints::choose(&with(base().prompt(Prompt::SelectAccount), account())),
            Hints::default()
        );
    }

    #[test]
    fn returned_client_info_becomes_the_routing_hint() {
        let flow = || AuthCodeFlow {
            state: "s".into(),
            nonce: "n".into(),
            code_verifier: PkceVerifier("v".into()),
            redirect_uri: "https://a/r".into(),
            scopes: "openid".into(),
            claims: None,
            anchor: Some("UPN:a@b".into()),
        };
        // base64url of {"uid":"u-1","utid":"t-1"}
        let f = flow().client_info("eyJ1aWQiOiJ1LTEiLCJ1dGlkIjoidC0xIn0");
        assert_eq!(f.anchor.as_deref(), Some("Oid:u-1@t-1"));
        for junk in ["", "!!!", "e30"] {
            assert_eq!(
                flow().client_info(junk).anchor.as_deref(),
                Some("UPN:a@b"),
                "{junk}"
            );
        }
    }

    #[test]
    fn oidc_scopes_are_added_once() {
        let s = with_oidc_scopes(&Scopes::new(["User.Read openid"]).unwrap()).unwrap();
        assert_eq!(s.as_str(), "User.Read openid profile offline_access");
    }
}
