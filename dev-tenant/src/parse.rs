//! Parsers for attacker-controlled input: form bodies and query strings (lenient, like Entra),
//! HTTP Basic credentials, the OIDC `claims` request parameter, and compact JWTs.
//!
//! They are public so fuzz targets can call them; none of them panics on any input.
//!
//! ```
//! use dev_tenant::parse;
//! // MSAL Node leaves some values unencoded, e.g. `x-ms-lib-capability=retry-after, h429`.
//! let p = parse::parse_form(b"grant_type=client_credentials&x-ms-lib-capability=retry-after, h429&scope=a%20b+c").unwrap();
//! assert_eq!(p.get("x-ms-lib-capability"), Some("retry-after, h429"));
//! assert_eq!(p.get("scope"), Some("a b c"));
//! ```

use base64::Engine as _;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use serde_json::{Map, Value};

/// The largest form body or query string accepted (Entra rejects much smaller ones).
pub const MAX_INPUT: usize = 256 * 1024;
/// The largest compact JWT accepted (MSAL.NET caps client assertions at 64 KiB).
pub const MAX_JWT: usize = 64 * 1024;

/// Why input was rejected.
///
/// ```
/// use dev_tenant::parse::{ParseError, parse_form};
/// assert_eq!(parse_form(b"a=1&a=2").unwrap_err(), ParseError::Duplicate("a".into()));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// A parameter appeared twice.
    #[error("the parameter '{0}' is duplicated")]
    Duplicate(String),
    /// The input is too large.
    #[error("the request is too large")]
    TooLarge,
    /// The value is not well-formed.
    #[error("{0}")]
    Malformed(&'static str),
}

/// Decoded `name=value` pairs in their original order.
///
/// ```
/// let p = dev_tenant::parse::parse_query("scope=&state=x").unwrap();
/// assert_eq!(p.get("scope"), Some(""));
/// assert_eq!(p.non_empty("scope"), None);
/// assert_eq!(p.iter().count(), 2);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params {
    pairs: Vec<(String, String)>,
}

impl Params {
    /// The value of `name` (exact, case-sensitive, as OAuth parameter names are).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The value of `name` when present and not empty.
    pub fn non_empty(&self, name: &str) -> Option<&str> {
        self.get(name).filter(|v| !v.is_empty())
    }

    /// All pairs.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

/// Parses an `application/x-www-form-urlencoded` body leniently: `+` is a space, `%XX` is
/// decoded, a stray `%` or any other byte (even a space or a comma) is kept as is, invalid UTF-8
/// is replaced. A repeated parameter name is an error, as in Entra (AADSTS9000411).
///
/// # Errors
/// [`ParseError::Duplicate`] or [`ParseError::TooLarge`].
pub fn parse_form(input: &[u8]) -> Result<Params, ParseError> {
    if input.len() > MAX_INPUT {
        return Err(ParseError::TooLarge);
    }
    let mut pairs: Vec<(String, String)> = Vec::new();
    for part in input.split(|b| *b == b'&') {
        if part.is_empty() {
            continue;
        }
        let (k, v) = match part.iter().position(|b| *b == b'=') {
            Some(i) => (&part[..i], &part[i + 1..]),
            None => (part, &[][..]),
        };
        let key = percent_decode(k);
        if key.is_empty() {
            continue;
        }
        if pairs.iter().any(|(existing, _)| *existing == key) {
            return Err(ParseError::Duplicate(key));
        }
        pairs.push((key, percent_decode(v)));
    }
    Ok(Params { pairs })
}

/// Parses a URL query string (without `?`) like a form body.
///
/// # Errors
/// As [`parse_form`].
pub fn parse_query(query: &str) -> Result<Params, ParseError> {
    parse_form(query.as_bytes())
}

/// Decodes `%XX` escapes and `+`, keeping malformed escapes literally.
///
/// ```
/// assert_eq!(dev_tenant::parse::percent_decode(b"a%20b+c%zz"), "a b c%zz");
/// ```
pub fn percent_decode(input: &[u8]) -> String {
    let hex = |b: u8| match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    };
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        match input[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < input.len() => match (hex(input[i + 1]), hex(input[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Reads `Authorization: Basic base64(urlencode(id):urlencode(secret))` (RFC 6749 section 2.3.1).
///
/// ```
/// // base64("client:s%3Acret")
/// assert_eq!(
///     dev_tenant::parse::parse_basic_auth("Basic Y2xpZW50OnMlM0FjcmV0"),
///     Some(("client".to_owned(), "s:cret".to_owned()))
/// );
/// ```
pub fn parse_basic_auth(header: &str) -> Option<(String, String)> {
    let (scheme, rest) = header.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(rest.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (id, secret) = text.split_once(':')?;
    Some((
        percent_decode(id.as_bytes()),
        percent_decode(secret.as_bytes()),
    ))
}

/// What a `claims` request parameter (OpenID Connect Core section 5.5) asks of the access token.
///
/// ```
/// let c = dev_tenant::parse::parse_claims(r#"{"access_token":{"acrs":{"essential":true,"value":"c1"}}}"#).unwrap();
/// assert!(c.demands_mfa());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClaimsRequest {
    /// `access_token.xms_cc.values`: the client's capabilities (e.g. `cp1`).
    pub xms_cc: Vec<String>,
    /// `access_token.capolids.values` (or the older spelling `polids`): Conditional Access
    /// policies the client must satisfy.
    pub polids: Vec<String>,
    /// `access_token.acrs` values (auth contexts).
    pub acrs: Vec<String>,
    /// `access_token.nbf.value`: the token (and sign-in) must be newer than this Unix time.
    pub nbf: Option<i64>,
    /// `amr` values demanded in the ID or access token (e.g. `mfa`).
    pub amr: Vec<String>,
}

impl ClaimsRequest {
    /// Whether satisfying the request needs multifactor authentication.
    pub fn demands_mfa(&self) -> bool {
        !self.polids.is_empty()
            || !self.acrs.is_empty()
            || self.amr.iter().any(|a| a.eq_ignore_ascii_case("mfa"))
    }
}

/// Parses the `claims` parameter (a JSON object).
///
/// # Errors
/// [`ParseError::Malformed`] when it is not a JSON object, or [`ParseError::TooLarge`].
///
/// ```
/// let c = dev_tenant::parse::parse_claims(r#"{"access_token":{"xms_cc":{"values":["cp1"]},"nbf":{"essential":true,"value":"1701477303"}}}"#).unwrap();
/// assert_eq!(c.xms_cc, ["cp1"]);
/// assert_eq!(c.nbf, Some(1701477303));
/// ```
pub fn parse_claims(json: &str) -> Result<ClaimsRequest, ParseError> {
    if json.len() > MAX_INPUT {
        return Err(ParseError::TooLarge);
    }
    let value: Value = serde_json::from_str(json)
        .map_err(|_| ParseError::Malformed("claims is not valid JSON"))?;
    let Value::Object(root) = value else {
        return Err(ParseError::Malformed("claims must be a JSON object"));
    };
    let mut out = ClaimsRequest::default();
    let strings = |v: Option<&Value>| -> Vec<String> {
        let Some(obj) = v.and_then(Value::as_object) else {
            return Vec::new();
        };
        let mut found: Vec<String> = obj
            .get("values")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        if let Some(s) = obj.get("value").and_then(Value::as_str) {
            found.push(s.to_owned());
        }
        found
    };
    if let Some(at) = root.get("access_token").and_then(Value::as_object) {
        out.xms_cc = strings(at.get("xms_cc"));
        // Entra names the policies `capolids` today; an old docs example says `polids`.
        out.polids = strings(at.get("capolids"));
        out.polids.extend(strings(at.get("polids")));
        out.acrs = strings(at.get("acrs"));
        out.amr = strings(at.get("amr"));
        out.nbf = at
            .get("nbf")
            .and_then(Value::as_object)
            .and_then(|o| o.get("value"))
            .and_then(|v| match v {
                Value::String(s) => s.trim().parse().ok(),
                Value::Number(n) => n.as_i64(),
                _ => None,
            });
    }
    if let Some(id) = root.get("id_token").and_then(Value::as_object) {
        out.amr.extend(strings(id.get("amr")));
        out.acrs.extend(
            strings(id.get("acr"))
                .into_iter()
                .filter(|a| a != "0" && a != "1"),
        );
    }
    Ok(out)
}

/// A compact JWS split and decoded, not yet verified.
///
/// ```
/// let jwt = dev_tenant::parse::decode_jwt("eyJhbGciOiJSUzI1NiJ9.eyJleHAiOiIxNyJ9.c2ln").unwrap();
/// assert_eq!(jwt.alg(), Some("RS256"));
/// assert_eq!(jwt.time_claim("exp"), Some(17));
/// ```
#[derive(Debug, Clone)]
pub struct Jwt {
    /// The JOSE header.
    pub header: Map<String, Value>,
    /// The claims.
    pub claims: Map<String, Value>,
    signing_input_len: usize,
    raw: String,
    /// The signature bytes.
    pub signature: Vec<u8>,
}

impl Jwt {
    /// `base64url(header) "." base64url(claims)`, the bytes the signature covers.
    pub fn signing_input(&self) -> &[u8] {
        &self.raw.as_bytes()[..self.signing_input_len]
    }

    /// The header's `alg`.
    pub fn alg(&self) -> Option<&str> {
        self.header.get("alg").and_then(Value::as_str)
    }

    /// A string claim.
    pub fn str_claim(&self, name: &str) -> Option<&str> {
        self.claims.get(name).and_then(Value::as_str)
    }

    /// A numeric date claim, accepting a JSON number or a numeric string (MSAL.NET writes
    /// `nbf`/`exp` of client assertions as strings).
    pub fn time_claim(&self, name: &str) -> Option<i64> {
        match self.claims.get(name)? {
            Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        }
    }
}

fn b64url() -> GeneralPurpose {
    GeneralPurpose::new(
        &alphabet::URL_SAFE,
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
    )
}

/// Splits and decodes a compact JWS (`header.claims.signature`); header and claims must be
/// JSON objects.
///
/// # Errors
/// [`ParseError::Malformed`] or [`ParseError::TooLarge`].
///
/// ```
/// assert!(dev_tenant::parse::decode_jwt("not-a-jwt").is_err());
/// ```
pub fn decode_jwt(token: &str) -> Result<Jwt, ParseError> {
    if token.len() > MAX_JWT {
        return Err(ParseError::TooLarge);
    }
    let mut parts = token.split('.');
    let (Some(h), Some(c), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(ParseError::Malformed("a JWT has three parts"));
    };
    let engine = b64url();
    let object = |part: &str| -> Result<Map<String, Value>, ParseError> {
        let bytes = engine
            .decode(part)
            .map_err(|_| ParseError::Malformed("invalid base64url"))?;
        match serde_json::from_slice(&bytes) {
            Ok(Value::Object(m)) => Ok(m),
            _ => Err(ParseError::Malformed("a JWT part is not a JSON object")),
        }
    };
    let header = object(h)?;
    let claims = object(c)?;
    let signature = engine
        .decode(s)
        .map_err(|_| ParseError::Malformed("invalid base64url"))?;
    Ok(Jwt {
        header,
        claims,
        signing_input_len: h.len() + 1 + c.len(),
        raw: token.to_owned(),
        signature,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_table() {
        type Case<'a> = (&'a [u8], Option<&'a [(&'a str, &'a str)]>);
        let cases: &[Case<'_>] = &[
            (b"", Some(&[])),
            (b"a=1&b=2", Some(&[("a", "1"), ("b", "2")])),
            (b"a=%41%4a+b", Some(&[("a", "AJ b")])),
            (b"a=%zz%4", Some(&[("a", "%zz%4")])),
            (b"a=%", Some(&[("a", "%")])),
            (b"a", Some(&[("a", "")])),
            (b"&&=x&a==", Some(&[("a", "=")])),
            (
                b"x-ms-lib-capability=retry-after, h429",
                Some(&[("x-ms-lib-capability", "retry-after, h429")]),
            ),
            (b"a=\xff\xfe", Some(&[("a", "\u{fffd}\u{fffd}")])),
            (b"a=1&a=2", None),
        ];
        for (input, expected) in cases {
            let got = parse_form(input);
            match expected {
                Some(pairs) => {
                    let got = got.unwrap();
                    let got: Vec<(&str, &str)> = got.iter().collect();
                    assert_eq!(&got, pairs, "{:?}", String::from_utf8_lossy(input));
                }
                None => assert!(got.is_err()),
            }
        }
        assert_eq!(
            parse_form(&vec![b'a'; MAX_INPUT + 1]),
            Err(ParseError::TooLarge)
        );
    }

    #[test]
    fn basic_auth() {
        // "my%20id:s%3Acret" — RFC 6749 form-encodes both parts before base64.
        let h = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode("my%20id:s%3Acret")
        );
        assert_eq!(
            parse_basic_auth(&h),
            Some(("my id".into(), "s:cret".into()))
        );
        assert_eq!(parse_basic_auth("Bearer abc"), None);
        assert_eq!(parse_basic_auth("Basic !!!"), None);
        assert_eq!(parse_basic_auth("Basic"), None);
    }

    #[test]
    fn claims_table() {
        let c = parse_claims(r#"{"access_token":{"polids":{"essential":true,"values":["p1"]}}}"#)
            .unwrap();
        assert!(c.demands_mfa());
        let c = parse_claims(r#"{"access_token":{"capolids":{"essential":true,"values":["p2"]}}}"#)
            .unwrap();
        assert_eq!(c.polids, ["p2"]);
        let c = parse_claims(r#"{"access_token":{"xms_cc":{"values":["cp1"]}}}"#).unwrap();
        assert!(!c.demands_mfa());
        assert_eq!(
            parse_claims(r#"{"access_token":{"nbf":{"value":17}}}"#)
                .unwrap()
                .nbf,
            Some(17)
        );
        for bad in ["", "[]", "\"s\"", "{", "null"] {
            assert!(parse_claims(bad).is_err(), "{bad}");
        }
        assert_eq!(
            parse_claims(r#"{"access_token":{"xms_cc":{"values":[1,null]}},"id_token":7}"#)
                .unwrap()
                .xms_cc,
            Vec::<String>::new()
        );
    }

    #[test]
    fn jwt_table() {
        let enc = |v: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v);
        let good = format!(
            "{}.{}.{}",
            enc(r#"{"alg":"RS256"}"#),
            enc(r#"{"exp":"12","iss":"x"}"#),
            enc("sig")
        );
        let jwt = decode_jwt(&good).unwrap();
        assert_eq!(jwt.alg(), Some("RS256"));
        assert_eq!(jwt.time_claim("exp"), Some(12));
        assert_eq!(jwt.str_claim("iss"), Some("x"));
        assert_eq!(jwt.signature, b"sig");
        assert!(good.as_bytes().starts_with(jwt.signing_input()));
        for bad in [
            "",
            "a.b",
            "a.b.c.d",
            "!.!.!",
            &format!("{}.{}.x", enc("[]"), enc("{}")),
        ] {
            assert!(decode_jwt(bad).is_err(), "{bad}");
        }
    }
}
