//! Parsing a token's JOSE header and claims set into [`Claims`], strictly.
//!
//! A claim the middleware makes decisions on must have the JSON type the Microsoft identity
//! platform documents ("Access token claims reference"), a time claim must be a JSON number
//! (RFC 7519 §2 `NumericDate`; a string `exp` is rejected rather than coerced), and a top-level
//! member name may appear only once (RFC 8725 §3.11 asks for one unambiguous interpretation;
//! RFC 7159 leaves duplicates undefined).

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};

use crate::claims::{Claims, Text, TextList};
use crate::error::TokenError;

/// The JOSE header fields the validator uses (RFC 7515 §4.1).
#[derive(Debug)]
pub(crate) struct Header<'a> {
    pub(crate) alg: Cow<'a, str>,
    pub(crate) kid: Option<Cow<'a, str>>,
    pub(crate) typ: Option<Cow<'a, str>>,
}

/// Parses a decoded JOSE header.
pub(crate) fn parse_header(json: &[u8]) -> Result<Header<'_>, TokenError> {
    let mut failure = None;
    let seed = HeaderSeed {
        failure: &mut failure,
    };
    parse_with(serde_json::Deserializer::from_slice(json), seed)
        .map_err(|()| failure.unwrap_or(TokenError::Malformed))
}

/// Parses a decoded claims set.
pub(crate) fn parse_claims(json: String) -> Result<Claims, TokenError> {
    let mut failure = None;
    let seed = ClaimsSeed {
        failure: &mut failure,
        base: Base::of(json.as_bytes()),
    };
    // From `&str`, not bytes: the claims are already UTF-8 checked as a whole, and serde_json
    // re-checks every string it reads from a byte slice (about 1 % of a whole miss, measured).
    match parse_with(serde_json::Deserializer::from_str(&json), seed) {
        Ok(partial) => partial.finish(json),
        Err(()) => Err(failure.unwrap_or(TokenError::Malformed)),
    }
}

fn parse_with<'de, R, S>(mut de: serde_json::Deserializer<R>, seed: S) -> Result<S::Value, ()>
where
    R: serde_json::de::Read<'de>,
    S: DeserializeSeed<'de>,
{
    let value = seed.deserialize(&mut de).map_err(|_| ())?;
    de.end().map_err(|_| ())?;
    Ok(value)
}

/// A JSON string that borrows from the input when it has no escapes.
struct Str<'de>(Cow<'de, str>);

impl<'de> de::Deserialize<'de> for Str<'de> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Str<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Str(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Str(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(Str(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V)
    }
}

/// RFC 7519 `NumericDate`: a JSON number of seconds; fractions are truncated, strings rejected.
struct NumericDate(u64);

impl<'de> de::Deserialize<'de> for NumericDate {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = NumericDate;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a non-negative number of seconds")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Ok(NumericDate(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                u64::try_from(v)
                    .map(NumericDate)
                    .map_err(|_| E::custom("negative"))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
                // Deliberately bounded: a huge float must not saturate into "never expires".
                if v.is_finite() && (0.0..4_102_444_800.0).contains(&v) {
                    #[expect(
                        clippy::cast_possible_truncation,
                        clippy::cast_sign_loss,
                        reason = "range checked just above"
                    )]
                    Ok(NumericDate(v as u64))
                } else {
                    Err(E::custom("out of range"))
                }
            }
        }
        d.deserialize_any(V)
    }
}

/// Where the claims JSON lives, to turn borrowed strings into [`Text::Span`]s.
#[derive(Clone, Copy)]
struct Base {
    start: usize,
    len: usize,
}

impl Base {
    fn of(json: &[u8]) -> Self {
        Self {
            start: json.as_ptr() as usize,
            len: json.len(),
        }
    }

    /// A span when `s` points into the JSON (no escapes), else an owned copy.
    fn text(self, s: Cow<'_, str>) -> Text {
        if let Cow::Borrowed(b) = &s
            && let Some(start) = (b.as_ptr() as usize).checked_sub(self.start)
            && start + b.len() <= self.len
            && let (Ok(from), Ok(to)) = (u32::try_from(start), u32::try_from(start + b.len()))
        {
            return Text::Span(from, to);
        }
        Text::Owned(s.into_owned().into_boxed_str())
    }
}

/// A string claim.
struct TextSeed(Base);

impl<'de> DeserializeSeed<'de> for TextSeed {
    type Value = Text;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Text, D::Error> {
        let Str(s) = <Str<'de> as de::Deserialize<'de>>::deserialize(d)?;
        Ok(self.0.text(s))
    }
}

/// A JSON array of strings (`roles`, `amr`, `acrs`, `xms_cc`), or for `aud` also a single string
/// (RFC 7519 §4.1.3).
struct ListSeed {
    base: Base,
    single_allowed: bool,
}

impl<'de> DeserializeSeed<'de> for ListSeed {
    type Value = TextList;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<TextList, D::Error> {
        if self.single_allowed {
            d.deserialize_any(self)
        } else {
            d.deserialize_seq(self)
        }
    }
}

impl<'de> Visitor<'de> for ListSeed {
    type Value = TextList;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of strings")
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<TextList, E> {
        if !self.single_allowed {
            return Err(E::invalid_type(de::Unexpected::Str(v), &self));
        }
        Ok(TextList::One(self.base.text(Cow::Borrowed(v))))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<TextList, E> {
        if !self.single_allowed {
            return Err(E::invalid_type(de::Unexpected::Str(v), &self));
        }
        Ok(TextList::One(Text::Owned(v.into())))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<TextList, A::Error> {
        let mut list = TextList::Empty;
        while let Some(text) = seq.next_element_seed(TextSeed(self.base))? {
            list.push(text);
        }
        Ok(list)
    }
}

/// Member names seen so far, for duplicate detection; the first 16 live on the stack (a typical
/// Entra token has fewer unknown members than that), so detection allocates nothing.
#[derive(Default)]
struct SeenKeys<'de> {
    inline: [Cow<'de, str>; 16],
    len: usize,
    spill: Vec<Cow<'de, str>>,
}

impl<'de> SeenKeys<'de> {
    fn contains(&self, key: &str) -> bool {
        self.inline[..self.len].iter().any(|k| k == key) || self.spill.iter().any(|k| k == key)
    }

    fn push(&mut self, key: Cow<'de, str>) {
        if let Some(slot) = self.inline.get_mut(self.len) {
            *slot = key;
            self.len += 1;
        } else {
            self.spill.push(key);
        }
    }
}

/// Records a duplicate or a wrongly typed member so the caller gets a precise [`TokenError`].
fn fail<E: de::Error>(slot: &mut Option<TokenError>, error: TokenError) -> E {
    *slot = Some(error);
    E::custom("rejected")
}

struct HeaderSeed<'s> {
    failure: &'s mut Option<TokenError>,
}

impl<'de> DeserializeSeed<'de> for HeaderSeed<'_> {
    type Value = Header<'de>;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for HeaderSeed<'_> {
    type Value = Header<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JOSE header object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut alg = None;
        let mut kid = None;
        let mut typ = None;
        let mut seen = SeenKeys::default();
        while let Some(Str(key)) = map.next_key::<Str<'de>>()? {
            if seen.contains(&key) {
                return Err(fail(self.failure, TokenError::DuplicateMember));
            }
            match &*key {
                "alg" => {
                    let Str(v) = map.next_value().map_err(|_: A::Error| {
                        fail::<A::Error>(self.failure, TokenError::InvalidClaimType("alg"))
                    })?;
                    alg = Some(v);
                }
                "kid" => {
                    let Str(v) = map.next_value().map_err(|_: A::Error| {
                        fail::<A::Error>(self.failure, TokenError::InvalidClaimType("kid"))
                    })?;
                    kid = Some(v);
                }
                "typ" => {
                    let Str(v) = map.next_value().map_err(|_: A::Error| {
                        fail::<A::Error>(self.failure, TokenError::InvalidClaimType("typ"))
                    })?;
                    typ = Some(v);
                }
                // RFC 8725 §3.10/§2.7: a key or key location chosen by the token itself must never
                // be trusted; we only verify with keys from the configured JWKS.
                "jwk" => return Err(fail(self.failure, TokenError::ForbiddenHeader("jwk"))),
                "jku" => return Err(fail(self.failure, TokenError::ForbiddenHeader("jku"))),
                "x5u" => return Err(fail(self.failure, TokenError::ForbiddenHeader("x5u"))),
                "x5c" => return Err(fail(self.failure, TokenError::ForbiddenHeader("x5c"))),
                // RFC 7515 §4.1.11: we understand no extensions, so any `crit` must be rejected.
                "crit" => return Err(fail(self.failure, TokenError::ForbiddenHeader("crit"))),
                // RFC 7516: `enc` only appears in JWE headers.
                "enc" | "zip" => return Err(fail(self.failure, TokenError::Encrypted)),
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
            seen.push(key);
        }
        let Some(alg) = alg else {
            return Err(fail(self.failure, TokenError::MissingClaim("alg")));
        };
        Ok(Header { alg, kid, typ })
    }
}

struct ClaimsSeed<'s> {
    failure: &'s mut Option<TokenError>,
    base: Base,
}

#[derive(Default)]
struct Partial {
    iss: Option<Text>,
    aud: Option<TextList>,
    exp: Option<u64>,
    nbf: Option<u64>,
    iat: Option<u64>,
    ver: Option<Text>,
    sub: Option<Text>,
    oid: Option<Text>,
    tid: Option<Text>,
    azp: Option<Text>,
    appid: Option<Text>,
    scp: Option<Text>,
    roles: TextList,
    amr: TextList,
    acrs: TextList,
    auth_time: Option<u64>,
    xms_cc: TextList,
    nonce: bool,
}

impl Partial {
    fn finish(self, raw: String) -> Result<Claims, TokenError> {
        Ok(Claims {
            iss: self.iss.ok_or(TokenError::MissingClaim("iss"))?,
            aud: self.aud.ok_or(TokenError::MissingClaim("aud"))?,
            exp: self.exp.ok_or(TokenError::MissingClaim("exp"))?,
            nbf: self.nbf,
            iat: self.iat,
            ver: self.ver,
            sub: self.sub,
            oid: self.oid,
            tid: self.tid,
            azp: self.azp,
            appid: self.appid,
            scp: self.scp,
            roles: self.roles,
            amr: self.amr,
            acrs: self.acrs,
            auth_time: self.auth_time,
            xms_cc: self.xms_cc,
            nonce: self.nonce,
            policy_memo: crate::policy::PolicyMemo::default(),
            raw,
        })
    }
}

impl<'de> DeserializeSeed<'de> for ClaimsSeed<'_> {
    type Value = Partial;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

/// The claims the validator reads; each has a bit for duplicate detection without allocating.
#[derive(Clone, Copy)]
enum Known {
    Iss,
    Aud,
    Exp,
    Nbf,
    Iat,
    Ver,
    Sub,
    Oid,
    Tid,
    Azp,
    Appid,
    Scp,
    Roles,
    Amr,
    Acrs,
    AuthTime,
    XmsCc,
    Nonce,
}

impl Known {
    fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "iss" => Self::Iss,
            "aud" => Self::Aud,
            "exp" => Self::Exp,
            "nbf" => Self::Nbf,
            "iat" => Self::Iat,
            "ver" => Self::Ver,
            "sub" => Self::Sub,
            "oid" => Self::Oid,
            "tid" => Self::Tid,
            "azp" => Self::Azp,
            "appid" => Self::Appid,
            "scp" => Self::Scp,
            "roles" => Self::Roles,
            "amr" => Self::Amr,
            "acrs" => Self::Acrs,
            "auth_time" => Self::AuthTime,
            "xms_cc" => Self::XmsCc,
            "nonce" => Self::Nonce,
            _ => return None,
        })
    }
}

impl<'de> Visitor<'de> for ClaimsSeed<'_> {
    type Value = Partial;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JWT claims object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut p = Partial::default();
        let mut known_seen: u32 = 0;
        let mut other_seen = SeenKeys::default();
        let failure = self.failure;
        let base = self.base;

        macro_rules! value {
            ($ty:ty, $name:literal) => {
                map.next_value::<$ty>()
                    .map_err(|_| fail::<A::Error>(failure, TokenError::InvalidClaimType($name)))?
            };
        }
        macro_rules! text {
            ($name:literal) => {
                map.next_value_seed(TextSeed(base))
                    .map_err(|_| fail::<A::Error>(failure, TokenError::InvalidClaimType($name)))?
            };
        }
        macro_rules! list {
            ($name:literal, $single:expr) => {
                map.next_value_seed(ListSeed {
                    base,
                    single_allowed: $single,
                })
                .map_err(|_| fail::<A::Error>(failure, TokenError::InvalidClaimType($name)))?
            };
        }

        while let Some(Str(key)) = map.next_key::<Str<'de>>()? {
            let Some(known) = Known::from_name(&key) else {
                if other_seen.contains(&key) {
                    return Err(fail(failure, TokenError::DuplicateMember));
                }
                map.next_value::<IgnoredAny>()?;
                other_seen.push(key);
                continue;
            };
            let bit = 1u32 << known as u32;
            if known_seen & bit != 0 {
                return Err(fail(failure, TokenError::DuplicateMember));
            }
            known_seen |= bit;
            match known {
                Known::Iss => p.iss = Some(text!("iss")),
                Known::Aud => p.aud = Some(list!("aud", true)),
                Known::Exp => p.exp = Some(value!(NumericDate, "exp").0),
                Known::Nbf => p.nbf = Some(value!(NumericDate, "nbf").0),
                Known::Iat => p.iat = Some(value!(NumericDate, "iat").0),
                Known::AuthTime => p.auth_time = Some(value!(NumericDate, "auth_time").0),
                Known::Ver => p.ver = Some(text!("ver")),
                Known::Sub => p.sub = Some(text!("sub")),
                Known::Oid => p.oid = Some(text!("oid")),
                Known::Tid => p.tid = Some(text!("tid")),
                Known::Azp => p.azp = Some(text!("azp")),
                Known::Appid => p.appid = Some(text!("appid")),
                Known::Scp => p.scp = Some(text!("scp")),
                Known::Roles => p.roles = list!("roles", false),
                Known::Amr => p.amr = list!("amr", false),
                Known::Acrs => p.acrs = list!("acrs", false),
                Known::XmsCc => p.xms_cc = list!("xms_cc", false),
                Known::Nonce => {
                    map.next_value::<IgnoredAny>()?;
                    p.nonce = true;
                }
            }
        }
        Ok(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(json: &str) -> Result<Claims, TokenError> {
        parse_claims(json.to_owned())
    }

    const MIN: &str = r#""iss":"i","aud":"a","exp":10"#;

    #[test]
    fn typed_fields_are_parsed() {
        let c = claims(
            r#"{"iss":"i","aud":["a","b"],"exp":10.5,"nbf":1,"iat":2,"ver":"2.0","sub":"s","oid":"o","tid":"t","azp":"z","scp":"x  y","roles":["r"],"amr":["pwd","mfa"],"acrs":["c1"],"auth_time":3,"xms_cc":["CP1"],"name":"N\u00e9"}"#,
        )
        .unwrap();
        assert_eq!(c.iss(), "i");
        assert_eq!(c.aud().collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(c.exp(), 10);
        assert_eq!(
            (c.nbf(), c.iat(), c.auth_time()),
            (Some(1), Some(2), Some(3))
        );
        assert_eq!(c.scopes().collect::<Vec<_>>(), ["x", "y"]);
        assert_eq!(c.roles().collect::<Vec<_>>(), ["r"]);
        assert_eq!(c.amr().collect::<Vec<_>>(), ["pwd", "mfa"]);
        assert_eq!(c.acrs().collect::<Vec<_>>(), ["c1"]);
        assert!(c.client_handles_claims_challenges());
        assert_eq!(c.azp(), Some("z"));
        assert_eq!(c.get("name").unwrap(), "Né");
        assert!(!format!("{c:?}").contains("Né"));
    }

    #[test]
    fn string_typed_times_are_rejected() {
        for name in ["exp", "nbf", "iat", "auth_time"] {
            let json = format!(r#"{{"iss":"i","aud":"a","exp":10,"{name}":"10"}}"#);
            let json = json.replacen(r#""exp":10,"exp""#, r#""exp""#, 1);
            let err = claims(&json).unwrap_err();
            assert!(
                matches!(err, TokenError::InvalidClaimType(n) if n == name)
                    || matches!(err, TokenError::DuplicateMember),
                "{name}: {err:?}"
            );
        }
        assert_eq!(
            claims(r#"{"iss":"i","aud":"a","exp":"10"}"#).unwrap_err(),
            TokenError::InvalidClaimType("exp")
        );
        assert_eq!(
            claims(r#"{"iss":"i","aud":"a","exp":-1}"#).unwrap_err(),
            TokenError::InvalidClaimType("exp")
        );
        assert_eq!(
            claims(r#"{"iss":"i","aud":"a","exp":1e300}"#).unwrap_err(),
            TokenError::InvalidClaimType("exp")
        );
    }

    #[test]
    fn duplicates_are_rejected() {
        assert_eq!(
            claims(&format!(r#"{{{MIN},"exp":99}}"#)).unwrap_err(),
            TokenError::DuplicateMember
        );
        assert_eq!(
            claims(&format!(r#"{{{MIN},"x":1,"x":2}}"#)).unwrap_err(),
            TokenError::DuplicateMember
        );
        // Past the 16 names kept on the stack.
        let many: String = (0..20).map(|i| format!(r#","k{i}":{i}"#)).collect();
        assert!(claims(&format!(r#"{{{MIN}{many}}}"#)).is_ok());
        assert_eq!(
            claims(&format!(r#"{{{MIN}{many},"k19":0}}"#)).unwrap_err(),
            TokenError::DuplicateMember
        );
        assert_eq!(
            claims(&format!(r#"{{{MIN}{many},"k3":0}}"#)).unwrap_err(),
            TokenError::DuplicateMember
        );
        // An escaped spelling of the same name is the same member.
        assert_eq!(
            claims(&format!(r#"{{{MIN},"\u0065xp":99}}"#)).unwrap_err(),
            TokenError::DuplicateMember
        );
        assert_eq!(
            parse_header(br#"{"alg":"RS256","alg":"none"}"#).unwrap_err(),
            TokenError::DuplicateMember
        );
    }

    #[test]
    fn missing_required_claims_are_named() {
        assert_eq!(
            claims(r#"{"iss":"i","aud":"a"}"#).unwrap_err(),
            TokenError::MissingClaim("exp")
        );
        assert_eq!(
            claims(r#"{"aud":"a","exp":1}"#).unwrap_err(),
            TokenError::MissingClaim("iss")
        );
    }

    #[test]
    fn malformed_json_is_rejected() {
        for bad in ["", "[]", "{", r#"{"iss":"i","aud":"a","exp":1} x"#, "null"] {
            assert!(claims(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn header_forbidden_members() {
        for (name, err) in [
            ("jwk", TokenError::ForbiddenHeader("jwk")),
            ("jku", TokenError::ForbiddenHeader("jku")),
            ("x5u", TokenError::ForbiddenHeader("x5u")),
            ("x5c", TokenError::ForbiddenHeader("x5c")),
            ("crit", TokenError::ForbiddenHeader("crit")),
            ("enc", TokenError::Encrypted),
        ] {
            let json = format!(r#"{{"alg":"RS256","{name}":1}}"#);
            assert_eq!(parse_header(json.as_bytes()).unwrap_err(), err);
        }
        let h = parse_header(br#"{"typ":"JWT","alg":"RS256","kid":"k\/1","x5t":"a"}"#).unwrap();
        assert_eq!((&*h.alg, h.kid.as_deref()), ("RS256", Some("k/1")));
    }

    proptest::proptest! {
        #[test]
        fn parsers_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512)) {
            let _ = parse_header(&bytes);
            let _ = parse_claims(String::from_utf8_lossy(&bytes).into_owned());
        }

        #[test]
        fn parsers_never_panic_on_json_like_input(s in r#"\{("[a-z_]{1,6}":(-?[0-9.e]{1,8}|"[a-z]{0,4}"|\[\]|\{\}|null|true),?){0,8}\}"#) {
            let _ = parse_header(s.as_bytes());
            let _ = parse_claims(s);
        }
    }
}
