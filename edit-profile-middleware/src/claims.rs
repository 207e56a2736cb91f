//! Typed access-token claims, parsed once per token (the strict parser is in `parse.rs`).

use std::fmt;

/// The validated claims of an access token.
///
/// The claims the middleware decides on are typed; everything else stays available as JSON
/// through [`Claims::get`] and [`Claims::json`]. A `Claims` value only exists for a token whose
/// signature, issuer, audience and lifetime were checked.
///
/// String claims are stored as positions in the claims JSON (one allocation for the whole set,
/// instead of one per claim), which keeps a full validation close to the cost of the signature
/// check alone.
///
/// # Example
///
/// ```
/// use std::sync::Arc;
/// use edit_profile_middleware::Claims;
///
/// fn who(claims: &Arc<Claims>) -> String {
///     format!("{} in {}", claims.oid().unwrap_or("?"), claims.tid().unwrap_or("?"))
/// }
/// ```
#[derive(Clone)]
pub struct Claims {
    pub(crate) raw: String,
    pub(crate) iss: Text,
    pub(crate) aud: TextList,
    pub(crate) exp: u64,
    pub(crate) nbf: Option<u64>,
    pub(crate) iat: Option<u64>,
    pub(crate) ver: Option<Text>,
    pub(crate) sub: Option<Text>,
    pub(crate) oid: Option<Text>,
    pub(crate) tid: Option<Text>,
    pub(crate) azp: Option<Text>,
    pub(crate) appid: Option<Text>,
    pub(crate) scp: Option<Text>,
    pub(crate) roles: TextList,
    pub(crate) amr: TextList,
    pub(crate) acrs: TextList,
    pub(crate) auth_time: Option<u64>,
    pub(crate) xms_cc: TextList,
    pub(crate) nonce: bool,
    /// The last layer policy whose time-independent part these claims satisfied (see
    /// [`PolicyMemo`](crate::policy::PolicyMemo)).
    pub(crate) policy_memo: crate::policy::PolicyMemo,
}

/// A string claim: a range of the claims JSON when it had no escapes, else an owned copy.
#[derive(Clone, Debug)]
pub(crate) enum Text {
    Span(u32, u32),
    Owned(Box<str>),
}

/// A list of string claims; one element (the common case for `aud`, `roles`, `acrs`) needs no
/// allocation.
#[derive(Clone, Debug, Default)]
pub(crate) enum TextList {
    #[default]
    Empty,
    One(Text),
    Many(Vec<Text>),
}

impl TextList {
    pub(crate) fn push(&mut self, text: Text) {
        *self = match std::mem::take(self) {
            Self::Empty => Self::One(text),
            Self::One(first) => Self::Many(vec![first, text]),
            Self::Many(mut all) => {
                all.push(text);
                Self::Many(all)
            }
        };
    }

    fn as_slice(&self) -> &[Text] {
        match self {
            Self::Empty => &[],
            Self::One(one) => std::slice::from_ref(one),
            Self::Many(all) => all,
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.as_slice().is_empty()
    }
}

/// The strings of a list claim, in order (`aud`, `roles`, `amr`, `acrs`, `xms_cc`).
///
/// ```
/// # fn f(claims: &edit_profile_middleware::Claims) {
/// let roles: Vec<&str> = claims.roles().collect();
/// let admin = claims.roles().any(|r| r == "Profile.Admin");
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct Strings<'a> {
    claims: &'a Claims,
    items: std::slice::Iter<'a, Text>,
}

impl<'a> Iterator for Strings<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        self.items.next().map(|t| self.claims.text(t))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.items.size_hint()
    }
}

impl ExactSizeIterator for Strings<'_> {}

impl Claims {
    fn text<'a>(&'a self, text: &'a Text) -> &'a str {
        match text {
            Text::Span(start, end) => self
                .raw
                .get(*start as usize..*end as usize)
                .unwrap_or_default(),
            Text::Owned(owned) => owned,
        }
    }

    fn opt<'a>(&'a self, text: Option<&'a Text>) -> Option<&'a str> {
        text.map(|t| self.text(t))
    }

    fn list<'a>(&'a self, list: &'a TextList) -> Strings<'a> {
        Strings {
            claims: self,
            items: list.as_slice().iter(),
        }
    }

    /// `iss`: the security token service that issued the token (RFC 7519 §4.1.1).
    pub fn iss(&self) -> &str {
        self.text(&self.iss)
    }

    /// `aud`: the audiences the token was issued for (RFC 7519 §4.1.3); Entra issues one.
    pub fn aud(&self) -> Strings<'_> {
        self.list(&self.aud)
    }

    /// `exp`: expiry, seconds since the Unix epoch (RFC 7519 §4.1.4). REQUIRED here.
    pub fn exp(&self) -> u64 {
        self.exp
    }

    /// `nbf`: not before, seconds since the Unix epoch (RFC 7519 §4.1.5).
    pub fn nbf(&self) -> Option<u64> {
        self.nbf
    }

    /// `iat`: issued at, seconds since the Unix epoch (RFC 7519 §4.1.6).
    pub fn iat(&self) -> Option<u64> {
        self.iat
    }

    /// `ver`: the access token version, `"1.0"` or `"2.0"` (Microsoft identity platform).
    pub fn ver(&self) -> Option<&str> {
        self.opt(self.ver.as_ref())
    }

    /// `sub`: the subject, pairwise per application (RFC 7519 §4.1.2).
    pub fn sub(&self) -> Option<&str> {
        self.opt(self.sub.as_ref())
    }

    /// `oid`: the immutable object id of the user or service principal in the tenant.
    pub fn oid(&self) -> Option<&str> {
        self.opt(self.oid.as_ref())
    }

    /// `tid`: the tenant the user or application signed in to.
    pub fn tid(&self) -> Option<&str> {
        self.opt(self.tid.as_ref())
    }

    /// `azp` (v2.0) or `appid` (v1.0): the client application that requested the token.
    pub fn azp(&self) -> Option<&str> {
        self.opt(self.azp.as_ref().or(self.appid.as_ref()))
    }

    /// `scp`: the delegated scopes, as the raw space-separated string.
    pub fn scp(&self) -> Option<&str> {
        self.opt(self.scp.as_ref())
    }

    /// The delegated scopes from `scp`, split on spaces.
    ///
    /// ```
    /// # fn f(claims: &edit_profile_middleware::Claims) {
    /// let can_write = claims.scopes().any(|s| s == "EditProfileService.ReadWrite");
    /// # }
    /// ```
    pub fn scopes(&self) -> impl Iterator<Item = &str> + Clone {
        self.scp()
            .unwrap_or("")
            .split(' ')
            .filter(|s| !s.is_empty())
    }

    /// `roles`: app roles (application permissions for app-only tokens, assigned roles for users).
    pub fn roles(&self) -> Strings<'_> {
        self.list(&self.roles)
    }

    /// `amr`: authentication methods (RFC 8176), e.g. `["pwd", "mfa"]`; Entra sends it in v1.0 tokens.
    pub fn amr(&self) -> Strings<'_> {
        self.list(&self.amr)
    }

    /// `acrs`: the authentication context ids the bearer satisfied (Entra Conditional Access).
    pub fn acrs(&self) -> Strings<'_> {
        self.list(&self.acrs)
    }

    /// `auth_time`: when the user last authenticated, seconds since the Unix epoch (OIDC Core §2).
    pub fn auth_time(&self) -> Option<u64> {
        self.auth_time
    }

    /// `xms_cc`: client capabilities; `cp1` means the client can handle claims challenges.
    pub fn xms_cc(&self) -> Strings<'_> {
        self.list(&self.xms_cc)
    }

    /// True when `xms_cc` contains `cp1` (compared case-insensitively, as Entra documents).
    pub fn client_handles_claims_challenges(&self) -> bool {
        self.xms_cc().any(|c| c.eq_ignore_ascii_case("cp1"))
    }

    /// The full claims set as JSON text (already validated as a JSON object).
    pub fn json(&self) -> &str {
        &self.raw
    }

    /// Any claim by name, parsed on demand from the claims JSON.
    ///
    /// ```
    /// # fn f(claims: &edit_profile_middleware::Claims) {
    /// let name = claims.get("name").and_then(|v| v.as_str().map(str::to_owned));
    /// # }
    /// ```
    pub fn get(&self, name: &str) -> Option<serde_json::Value> {
        let mut map: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(&self.raw).ok()?;
        map.remove(name)
    }
}

impl fmt::Debug for Claims {
    // Deliberately leaves out the raw JSON (names, e-mail addresses) and `sub`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Claims")
            .field("iss", &self.iss())
            .field("aud", &self.aud().collect::<Vec<_>>())
            .field("exp", &self.exp)
            .field("tid", &self.tid())
            .field("oid", &self.oid())
            .field("azp", &self.azp())
            .field("scp", &self.scp())
            .field("roles", &self.roles().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}
