//! `WWW-Authenticate` → [`Challenge`]s: RFC 7235 §4.1 plus the tolerances described in the
//! module docs. Single pass over the bytes; every look-ahead is bounded by the next `"`, so the
//! work is linear in the input length.

use http::HeaderMap;
use http::header::WWW_AUTHENTICATE;

use super::auth_challenge::Challenge;
use super::error::ChallengeError;
use super::syntax::{is_ctl, is_tchar, is_token68_char};
use super::{MAX_CHALLENGES, MAX_HEADER_LEN};

/// Parses one `WWW-Authenticate` header value into its challenges (RFC 7235 §4.1).
///
/// Scheme and parameter names are matched case-insensitively later but kept as sent; quoted
/// values are unescaped; an empty value (or one of only commas and spaces) gives an empty list.
/// The tolerances beyond RFC 7235 (whitespace-separated parameters, unquoted URLs and base64,
/// unescaped quotes inside a quoted value, ...) are listed in the [module docs](super).
///
/// Never panics. Values longer than [`MAX_HEADER_LEN`] are refused before any scanning, so the
/// work is bounded by a constant.
///
/// # Errors
///
/// A [`ChallengeError`] naming the first syntax problem and its byte offset, or the limit hit.
///
/// ```
/// use msal_lite::challenge::parse_www_authenticate;
///
/// let header = r#"Bearer realm="", error="insufficient_claims", claims="e30=", Basic realm="x""#;
/// let challenges = parse_www_authenticate(header)?;
/// assert_eq!(challenges.len(), 2);
/// assert!(challenges[0].is_scheme("bearer"));
/// assert_eq!(challenges[0].param("CLAIMS"), Some("e30="));
/// assert_eq!(challenges[1].param("realm"), Some("x"));
/// # Ok::<(), msal_lite::challenge::ChallengeError>(())
/// ```
pub fn parse_www_authenticate(value: &str) -> Result<Vec<Challenge>, ChallengeError> {
    if value.len() > MAX_HEADER_LEN {
        return Err(ChallengeError::TooLong {
            len: value.len(),
            max: MAX_HEADER_LEN,
        });
    }
    Parser {
        s: value,
        b: value.as_bytes(),
        i: 0,
    }
    .challenges()
}

/// Parses every `WWW-Authenticate` header in `headers`, in order, into one list of challenges.
///
/// Values that are not UTF-8 are skipped (they cannot carry a challenge this crate acts on).
/// The limits of [`parse_www_authenticate`] apply to each value, and [`MAX_CHALLENGES`] to the
/// total.
///
/// # Errors
///
/// The first value's [`ChallengeError`], or [`ChallengeError::TooManyChallenges`]. To look for
/// a claims challenge past malformed values, use
/// [`ClaimsChallenge::from_headers`](super::ClaimsChallenge::from_headers), which skips them.
///
/// ```
/// use http::{HeaderMap, HeaderValue, header::WWW_AUTHENTICATE};
/// use msal_lite::challenge::parse_www_authenticate_headers;
///
/// let mut headers = HeaderMap::new();
/// headers.append(WWW_AUTHENTICATE, HeaderValue::from_static(r#"Basic realm="proxy""#));
/// headers.append(WWW_AUTHENTICATE, HeaderValue::from_static(r#"Bearer error="invalid_token""#));
/// let challenges = parse_www_authenticate_headers(&headers)?;
/// let schemes: Vec<_> = challenges.iter().map(|c| c.scheme()).collect();
/// assert_eq!(schemes, ["Basic", "Bearer"]);
/// # Ok::<(), msal_lite::challenge::ChallengeError>(())
/// ```
pub fn parse_www_authenticate_headers(
    headers: &HeaderMap,
) -> Result<Vec<Challenge>, ChallengeError> {
    let mut out = Vec::new();
    for value in headers.get_all(WWW_AUTHENTICATE) {
        let Ok(text) = std::str::from_utf8(value.as_bytes()) else {
            continue;
        };
        let mut challenges = parse_www_authenticate(text)?;
        if out.len() + challenges.len() > MAX_CHALLENGES {
            return Err(ChallengeError::TooManyChallenges {
                max: MAX_CHALLENGES,
            });
        }
        out.append(&mut challenges);
    }
    Ok(out)
}

/// Every challenge of every well-formed UTF-8 `WWW-Authenticate` value, lazily; malformed
/// values are skipped (with a `debug` event) so one bad header cannot hide a good one.
pub(crate) fn lenient_challenges(headers: &HeaderMap) -> impl Iterator<Item = Challenge> + '_ {
    headers
        .get_all(WWW_AUTHENTICATE)
        .iter()
        .filter_map(|value| std::str::from_utf8(value.as_bytes()).ok())
        .flat_map(|text| match parse_www_authenticate(text) {
            Ok(challenges) => challenges,
            Err(error) => {
                tracing::debug!(%error, "skipping a malformed WWW-Authenticate value");
                Vec::new()
            }
        })
}

struct Parser<'a> {
    s: &'a str,
    b: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    /// `1#challenge`, with empty list elements allowed anywhere (RFC 7230 §7).
    fn challenges(mut self) -> Result<Vec<Challenge>, ChallengeError> {
        let mut out = Vec::new();
        loop {
            self.i = skip_ws_and_commas(self.b, self.i);
            if self.i >= self.b.len() {
                return Ok(out);
            }
            if out.len() >= MAX_CHALLENGES {
                return Err(ChallengeError::TooManyChallenges {
                    max: MAX_CHALLENGES,
                });
            }
            let start = self.i;
            let end = token_end(self.b, start);
            // Deliberately an error, not a param of the previous challenge: we only get here
            // at the start or after a token68, where RFC 7235 allows no auth-param.
            if end == start || self.b.get(skip_ws(self.b, end)) == Some(&b'=') {
                return Err(ChallengeError::ExpectedScheme { at: start });
            }
            let mut challenge = Challenge::from_scheme(self.s[start..end].to_owned());
            self.i = end;
            self.body(&mut challenge)?;
            out.push(challenge);
        }
    }

    /// What follows an auth-scheme: nothing, a token68, or auth-params. Returns positioned at
    /// the end of input or at a `,` / list element that is not an auth-param of this challenge.
    fn body(&mut self, challenge: &mut Challenge) -> Result<(), ChallengeError> {
        let after_scheme = self.i;
        self.i = skip_ws(self.b, self.i);
        match self.peek() {
            None => return Ok(()),
            Some(b',') => {
                // `Bearer , realm="x"`: an auth-param cannot start a challenge, so after empty
                // list elements it still belongs to this scheme.
                let next = skip_ws_and_commas(self.b, self.i);
                if param_eq(self.b, next).is_none() {
                    return Ok(());
                }
                self.i = next;
            }
            Some(_) if self.i == after_scheme => {
                return Err(ChallengeError::UnexpectedCharacter { at: self.i });
            }
            Some(_) => {
                // token68 wins over `name=` when nothing but OWS follows it, so `abc=` and
                // `abc==` are token68s, not params with empty or `=` values.
                let end = token68_end(self.b, self.i);
                if end > self.i && matches!(self.b.get(skip_ws(self.b, end)), None | Some(b',')) {
                    challenge.set_token68(self.s[self.i..end].to_owned());
                    self.i = end;
                    return Ok(());
                }
            }
        }
        self.params(challenge)
    }

    /// `#auth-param`, starting at an auth-param.
    fn params(&mut self, challenge: &mut Challenge) -> Result<(), ChallengeError> {
        loop {
            let Some((name_end, eq)) = param_eq(self.b, self.i) else {
                return Err(ChallengeError::UnexpectedCharacter { at: self.i });
            };
            let name = self.s[self.i..name_end].to_owned();
            let (value, next) = self.value(skip_ws(self.b, eq + 1))?;
            challenge.push_param(name, value)?;

            let after = skip_ws(self.b, next);
            let had_ws = after > next;
            self.i = after;
            match self.peek() {
                None => return Ok(()),
                Some(b',') => {
                    self.i = skip_ws_and_commas(self.b, self.i);
                    if param_eq(self.b, self.i).is_none() {
                        // End of input, or the next challenge's scheme.
                        return Ok(());
                    }
                }
                // Tolerance: MSAL.NET splits parameters on spaces, and some servers send
                // `realm="" error="x"` without commas.
                Some(_) if had_ws && param_eq(self.b, self.i).is_some() => {}
                Some(_) => return Err(ChallengeError::UnexpectedCharacter { at: self.i }),
            }
        }
    }

    /// An auth-param value at `at`: a quoted-string, or (tolerance) any run of visible
    /// characters up to whitespace or a comma. Returns the value and the index after it.
    fn value(&self, at: usize) -> Result<(String, usize), ChallengeError> {
        match self.b.get(at) {
            Some(b'"') => self.quoted(at),
            Some(&c) if c != b'=' && c != b',' && c != b' ' && c != b'\t' && !is_ctl(c) => {
                let end = unquoted_end(self.b, at);
                Ok((self.s[at..end].to_owned(), end))
            }
            _ => Err(ChallengeError::ExpectedValue { at }),
        }
    }

    /// A quoted-string (RFC 7230 §3.2.6) opening at `open`, with quoted-pairs resolved.
    ///
    /// Tolerance: an unescaped `"` glued to what follows (see [`closes_at`]) is kept as a
    /// literal `"`. On well-formed input the first unescaped `"` is always followed by
    /// whitespace, a comma and a new element, or the end, so this changes nothing there; it
    /// lets compact raw JSON claims (Microsoft.Identity.Web's 403 challenge) through.
    fn quoted(&self, open: usize) -> Result<(String, usize), ChallengeError> {
        let (s, b) = (self.s, self.b);
        let mut out = String::new();
        let mut run = open + 1;
        let mut j = open + 1;
        loop {
            let Some(&c) = b.get(j) else {
                return Err(ChallengeError::UnterminatedQuotedString { at: open });
            };
            match c {
                b'"' if closes_at(b, j + 1) => {
                    out.push_str(&s[run..j]);
                    return Ok((out, j + 1));
                }
                b'\\' => {
                    out.push_str(&s[run..j]);
                    match b.get(j + 1) {
                        None => return Err(ChallengeError::UnterminatedQuotedString { at: open }),
                        Some(&e) if is_ctl(e) => {
                            return Err(ChallengeError::UnexpectedCharacter { at: j + 1 });
                        }
                        Some(&e) if e.is_ascii() => {
                            out.push(char::from(e));
                            j += 2;
                        }
                        // A non-ASCII character after `\`: drop the backslash and let the run
                        // copy the whole (multi-byte) character.
                        Some(_) => j += 1,
                    }
                    run = j;
                }
                c if is_ctl(c) => return Err(ChallengeError::UnexpectedCharacter { at: j }),
                _ => j += 1,
            }
        }
    }
}

/// Whether a `"` ending just before `k` is a closing quote: it is when whitespace or the end
/// follows, or a comma leading (after more commas and whitespace) to the end or to a token
/// followed by `=`, whitespace, a comma or the end, i.e. something that can start a list
/// element. A `"` glued to anything else (`"{"a":`, `"x"junk`) is literal.
///
/// The scan stops at the first byte that is neither whitespace, a comma, a tchar nor `=`; a
/// `"` is such a byte, so the look-aheads of successive quotes never overlap.
fn closes_at(b: &[u8], k: usize) -> bool {
    if k >= b.len() || skip_ws(b, k) > k {
        return true;
    }
    if b.get(k) != Some(&b',') {
        return false;
    }
    let n = skip_ws_and_commas(b, k);
    if n >= b.len() {
        return true;
    }
    let t = token_end(b, n);
    t > n && (matches!(b.get(t), None | Some(b',' | b'=')) || skip_ws(b, t) > t)
}

/// If an auth-param (`token BWS "="`) starts at `i`: the end of its name and the index of `=`.
fn param_eq(b: &[u8], i: usize) -> Option<(usize, usize)> {
    let name_end = token_end(b, i);
    if name_end == i {
        return None;
    }
    let eq = skip_ws(b, name_end);
    (b.get(eq) == Some(&b'=')).then_some((name_end, eq))
}

/// End of the tchar run starting at `i`.
fn token_end(b: &[u8], mut i: usize) -> usize {
    while b.get(i).is_some_and(|&c| is_tchar(c)) {
        i += 1;
    }
    i
}

/// End of the token68 (`1*token68char *"="`) starting at `i`, or `i` when there is none.
fn token68_end(b: &[u8], start: usize) -> usize {
    let mut i = start;
    while b.get(i).is_some_and(|&c| is_token68_char(c)) {
        i += 1;
    }
    if i == start {
        return start;
    }
    while b.get(i) == Some(&b'=') {
        i += 1;
    }
    i
}

/// End of an unquoted value: stops at whitespace, `,`, `"` or a control character. Non-ASCII
/// bytes are kept, so the end is always a char boundary.
fn unquoted_end(b: &[u8], mut i: usize) -> usize {
    while b
        .get(i)
        .is_some_and(|&c| !matches!(c, b' ' | b'\t' | b',' | b'"') && !is_ctl(c))
    {
        i += 1;
    }
    i
}

/// Skips OWS (SP / HTAB) and obsolete line folding (RFC 7230 §3.2.4: CRLF or a bare LF
/// followed by SP / HTAB), which a recipient may treat as a space.
fn skip_ws(b: &[u8], mut i: usize) -> usize {
    loop {
        match b.get(i) {
            Some(b' ' | b'\t') => i += 1,
            Some(b'\r') if b.get(i + 1) == Some(&b'\n') && is_sp(b.get(i + 2)) => i += 3,
            Some(b'\n') if is_sp(b.get(i + 1)) => i += 2,
            _ => return i,
        }
    }
}

fn is_sp(b: Option<&u8>) -> bool {
    matches!(b, Some(b' ' | b'\t'))
}

/// Skips whitespace and commas: list separators and empty list elements (RFC 7230 §7).
fn skip_ws_and_commas(b: &[u8], mut i: usize) -> usize {
    loop {
        i = skip_ws(b, i);
        if b.get(i) == Some(&b',') {
            i += 1;
        } else {
            return i;
        }
    }
}
