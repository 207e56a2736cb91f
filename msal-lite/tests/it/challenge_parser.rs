//! Table-driven and property tests for `msal_lite::challenge::parse_www_authenticate` and the
//! renderer. Each table row names the rule it covers; sources are cited where a row is a
//! published example.

use http::header::WWW_AUTHENTICATE;
use http::{HeaderMap, HeaderValue};
use msal_lite::challenge::{
    Challenge, ChallengeError, MAX_CHALLENGES, MAX_HEADER_LEN, MAX_PARAMS, parse_www_authenticate,
    parse_www_authenticate_headers, render_challenges,
};
use proptest::prelude::*;

/// Expected challenge: scheme, token68, params.
type C = (
    &'static str,
    Option<&'static str>,
    &'static [(&'static str, &'static str)],
);

/// What a table row expects from the parser.
type Parsed = Result<Vec<Challenge>, ChallengeError>;

fn ok(challenges: &[C]) -> Parsed {
    Ok(challenges
        .iter()
        .map(|(scheme, token68, params)| {
            let mut c = Challenge::new(*scheme).expect("valid scheme in table");
            if let Some(t) = token68 {
                c = c.with_token68(*t).expect("valid token68 in table");
            }
            for (n, v) in *params {
                c = c.with_param(*n, *v).expect("valid param in table");
            }
            c
        })
        .collect())
}

const GRAPH_CAE: &str = r#"Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", client_id="00000003-0000-0000-c000-000000000000", error="insufficient_claims", claims="eyJhY2Nlc3NfdG9rZW4iOnsibmJmIjp7ImVzc2VudGlhbCI6dHJ1ZSwidmFsdWUiOiIxNjAyMDEzOTU0In19fQ==""#;

#[test]
fn table() {
    use ChallengeError as E;
    let mib = "a".repeat(1 << 20);
    let rows: Vec<(&str, &str, Parsed)> = vec![
        // --- empty lists (RFC 7230 §7: empty elements are ignored) ---
        ("empty header", "", ok(&[])),
        ("only whitespace", " \t  ", ok(&[])),
        ("only commas", ",,, ,", ok(&[])),
        // --- schemes ---
        ("scheme only", "Bearer", ok(&[("Bearer", None, &[])])),
        ("scheme case kept", "bEaReR", ok(&[("bEaReR", None, &[])])),
        (
            "scheme with odd tchars",
            "X-Custom.Auth_1!",
            ok(&[("X-Custom.Auth_1!", None, &[])]),
        ),
        (
            "scheme list",
            "Basic, Digest ,Negotiate",
            ok(&[
                ("Basic", None, &[]),
                ("Digest", None, &[]),
                ("Negotiate", None, &[]),
            ]),
        ),
        // --- auth-params ---
        (
            "empty realm kept",
            r#"Bearer realm="""#,
            ok(&[("Bearer", None, &[("realm", "")])]),
        ),
        (
            "quoted value",
            r#"Bearer realm="example""#,
            ok(&[("Bearer", None, &[("realm", "example")])]),
        ),
        (
            "unquoted token value",
            "Bearer error=invalid_token",
            ok(&[("Bearer", None, &[("error", "invalid_token")])]),
        ),
        (
            "param name case kept",
            r#"Bearer REALM="x""#,
            ok(&[("Bearer", None, &[("REALM", "x")])]),
        ),
        (
            "spaces only value",
            r#"Bearer realm="  ""#,
            ok(&[("Bearer", None, &[("realm", "  ")])]),
        ),
        (
            "RFC 6750 §3 example",
            r#"Bearer realm="example", error="invalid_token", error_description="The access token expired""#,
            ok(&[(
                "Bearer",
                None,
                &[
                    ("realm", "example"),
                    ("error", "invalid_token"),
                    ("error_description", "The access token expired"),
                ],
            )]),
        ),
        (
            "quoted comma",
            r#"Bearer scope="a,b", error="x""#,
            ok(&[("Bearer", None, &[("scope", "a,b"), ("error", "x")])]),
        ),
        (
            "quoted equals",
            r#"Bearer scope="a=b""#,
            ok(&[("Bearer", None, &[("scope", "a=b")])]),
        ),
        // --- quoted-pair (RFC 7230 §3.2.6) ---
        (
            "escaped quotes",
            r#"Bearer error_description="say \"hi\"""#,
            ok(&[("Bearer", None, &[("error_description", r#"say "hi""#)])]),
        ),
        (
            "escaped backslash",
            r#"Bearer realm="a\\b""#,
            ok(&[("Bearer", None, &[("realm", r"a\b")])]),
        ),
        (
            "escaped ordinary char",
            r#"Bearer realm="\a\b""#,
            ok(&[("Bearer", None, &[("realm", "ab")])]),
        ),
        (
            "escaped non-ASCII",
            "Bearer realm=\"\\ü\"",
            ok(&[("Bearer", None, &[("realm", "ü")])]),
        ),
        (
            "escaped JSON claims",
            r#"Bearer error="insufficient_claims", claims="{\"access_token\":{}}""#,
            ok(&[(
                "Bearer",
                None,
                &[
                    ("error", "insufficient_claims"),
                    ("claims", r#"{"access_token":{}}"#),
                ],
            )]),
        ),
        // --- several challenges ---
        (
            "two challenges",
            r#"Bearer realm="a", Basic realm="b""#,
            ok(&[
                ("Bearer", None, &[("realm", "a")]),
                ("Basic", None, &[("realm", "b")]),
            ]),
        ),
        (
            "scheme-only then challenge",
            r#"Basic, Bearer realm="x""#,
            ok(&[("Basic", None, &[]), ("Bearer", None, &[("realm", "x")])]),
        ),
        (
            // Source: RFC 7235 §4.1.
            "RFC 7235 §4.1 example",
            r#"Newauth realm="apps", type=1, title="Login to \"apps\"", Basic realm="simple""#,
            ok(&[
                (
                    "Newauth",
                    None,
                    &[
                        ("realm", "apps"),
                        ("type", "1"),
                        ("title", r#"Login to "apps""#),
                    ],
                ),
                ("Basic", None, &[("realm", "simple")]),
            ]),
        ),
        // --- token68 (RFC 7235 §2.1) ---
        (
            "token68",
            "Negotiate abc",
            ok(&[("Negotiate", Some("abc"), &[])]),
        ),
        (
            "token68 one pad",
            "Negotiate YII=",
            ok(&[("Negotiate", Some("YII="), &[])]),
        ),
        (
            "token68 two pads",
            "Negotiate abc==",
            ok(&[("Negotiate", Some("abc=="), &[])]),
        ),
        (
            "token68 slash plus",
            "Basic dXNl/+cjpw==",
            ok(&[("Basic", Some("dXNl/+cjpw=="), &[])]),
        ),
        (
            "token68 then challenge",
            r#"Negotiate abc==, Bearer realm="x""#,
            ok(&[
                ("Negotiate", Some("abc=="), &[]),
                ("Bearer", None, &[("realm", "x")]),
            ]),
        ),
        (
            "token68 trailing space",
            "Negotiate abc== ",
            ok(&[("Negotiate", Some("abc=="), &[])]),
        ),
        // --- tolerances ---
        (
            "whitespace-separated params (MSAL.NET style)",
            r#"Bearer realm="" authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize" client_id="c""#,
            ok(&[(
                "Bearer",
                None,
                &[
                    ("realm", ""),
                    (
                        "authorization_uri",
                        "https://login.microsoftonline.com/common/oauth2/authorize",
                    ),
                    ("client_id", "c"),
                ],
            )]),
        ),
        (
            "mixed commas and spaces",
            r#"Bearer realm="x" error="y", scope="z""#,
            ok(&[(
                "Bearer",
                None,
                &[("realm", "x"), ("error", "y"), ("scope", "z")],
            )]),
        ),
        (
            "trailing comma",
            r#"Bearer realm="x","#,
            ok(&[("Bearer", None, &[("realm", "x")])]),
        ),
        (
            "leading commas",
            r#" , Bearer realm="x""#,
            ok(&[("Bearer", None, &[("realm", "x")])]),
        ),
        (
            "empty elements between params",
            r#"Bearer realm="x",,, error="y" , ,"#,
            ok(&[("Bearer", None, &[("realm", "x"), ("error", "y")])]),
        ),
        (
            "BWS around equals",
            r#"Bearer realm = "x" , error= y"#,
            ok(&[("Bearer", None, &[("realm", "x"), ("error", "y")])]),
        ),
        (
            "tabs",
            "Bearer\trealm=\"x\"\t,\terror=\"y\"",
            ok(&[("Bearer", None, &[("realm", "x"), ("error", "y")])]),
        ),
        (
            "comma right after scheme",
            r#"Bearer , realm="x""#,
            ok(&[("Bearer", None, &[("realm", "x")])]),
        ),
        (
            "comma glued to scheme",
            r#"Bearer,realm="x""#,
            ok(&[("Bearer", None, &[("realm", "x")])]),
        ),
        (
            // Source: RFC 9470 §3, with its line folding kept.
            "obsolete line folding",
            "Bearer error=\"insufficient_user_authentication\",\r\n  error_description=\"A different authentication level is required\",\r\n  acr_values=\"myACR\"",
            ok(&[(
                "Bearer",
                None,
                &[
                    ("error", "insufficient_user_authentication"),
                    (
                        "error_description",
                        "A different authentication level is required",
                    ),
                    ("acr_values", "myACR"),
                ],
            )]),
        ),
        (
            "unquoted padded base64",
            "Bearer error=insufficient_claims, claims=eyJ9fQ==",
            ok(&[(
                "Bearer",
                None,
                &[("error", "insufficient_claims"), ("claims", "eyJ9fQ==")],
            )]),
        ),
        (
            "unquoted URL",
            "Bearer authorization_uri=https://login.microsoftonline.com/common/oauth2/authorize, error=x",
            ok(&[(
                "Bearer",
                None,
                &[
                    (
                        "authorization_uri",
                        "https://login.microsoftonline.com/common/oauth2/authorize",
                    ),
                    ("error", "x"),
                ],
            )]),
        ),
        (
            "unquoted backslash kept",
            r"Bearer realm=a\b",
            ok(&[("Bearer", None, &[("realm", r"a\b")])]),
        ),
        (
            // Microsoft.Identity.Web's 403 consent challenge: raw JSON, quotes unescaped.
            "unescaped JSON claims",
            r#"Bearer consentUri="https://login.microsoftonline.com/t/oauth2/v2.0/authorize?client_id=1&scope=offline_access%20a", claims="{"access_token":{"capolids":{"essential":true,"values":["c1","c2"]}}}", scopes="a,b", proposedAction="consent""#,
            ok(&[(
                "Bearer",
                None,
                &[
                    (
                        "consentUri",
                        "https://login.microsoftonline.com/t/oauth2/v2.0/authorize?client_id=1&scope=offline_access%20a",
                    ),
                    (
                        "claims",
                        r#"{"access_token":{"capolids":{"essential":true,"values":["c1","c2"]}}}"#,
                    ),
                    ("scopes", "a,b"),
                    ("proposedAction", "consent"),
                ],
            )]),
        ),
        (
            "unescaped quotes glued to text",
            r#"Bearer error_description="the "foo"-token", error="x""#,
            ok(&[(
                "Bearer",
                None,
                &[("error_description", r#"the "foo"-token"#), ("error", "x")],
            )]),
        ),
        (
            "unescaped quotes before a space close",
            r#"Bearer error_description="the "foo" token", error="x""#,
            Err(E::UnexpectedCharacter { at: 36 }),
        ),
        (
            "non-ASCII quoted value",
            r#"Bearer realm="Zürich ☃""#,
            ok(&[("Bearer", None, &[("realm", "Zürich ☃")])]),
        ),
        (
            "abc= is a token68, not an empty param",
            "Negotiate abc=",
            ok(&[("Negotiate", Some("abc="), &[])]),
        ),
        (
            "Graph CAE challenge",
            GRAPH_CAE,
            ok(&[(
                "Bearer",
                None,
                &[
                    ("realm", ""),
                    (
                        "authorization_uri",
                        "https://login.microsoftonline.com/common/oauth2/authorize",
                    ),
                    ("client_id", "00000003-0000-0000-c000-000000000000"),
                    ("error", "insufficient_claims"),
                    (
                        "claims",
                        "eyJhY2Nlc3NfdG9rZW4iOnsibmJmIjp7ImVzc2VudGlhbCI6dHJ1ZSwidmFsdWUiOiIxNjAyMDEzOTU0In19fQ==",
                    ),
                ],
            )]),
        ),
        // --- errors ---
        (
            "duplicate param",
            r#"Bearer realm="a", realm="b""#,
            Err(E::DuplicateParam {
                name: "realm".into(),
            }),
        ),
        (
            "duplicate param, other case",
            r#"Bearer realm="a" REALM="b""#,
            Err(E::DuplicateParam {
                name: "REALM".into(),
            }),
        ),
        (
            "unterminated quote",
            r#"Bearer realm="abc"#,
            Err(E::UnterminatedQuotedString { at: 13 }),
        ),
        (
            "unterminated after backslash",
            r#"Bearer realm="abc\"#,
            Err(E::UnterminatedQuotedString { at: 13 }),
        ),
        (
            "escaped closing quote",
            r#"Bearer realm="abc\""#,
            Err(E::UnterminatedQuotedString { at: 13 }),
        ),
        (
            "junk glued after quote",
            r#"Bearer realm="x"junk"#,
            Err(E::UnterminatedQuotedString { at: 13 }),
        ),
        (
            "param without scheme",
            r#"realm="x""#,
            Err(E::ExpectedScheme { at: 0 }),
        ),
        ("lone equals", "=", Err(E::ExpectedScheme { at: 0 })),
        (
            "quoted scheme",
            r#""Bearer""#,
            Err(E::ExpectedScheme { at: 0 }),
        ),
        (
            "BOM before scheme",
            "\u{feff}Bearer",
            Err(E::ExpectedScheme { at: 0 }),
        ),
        (
            "non-ASCII in scheme",
            r#"Bäarer realm="x""#,
            Err(E::UnexpectedCharacter { at: 1 }),
        ),
        (
            "quote glued to scheme",
            r#"Bearer"x""#,
            Err(E::UnexpectedCharacter { at: 6 }),
        ),
        (
            "param after token68",
            r#"Negotiate abc, realm="x""#,
            Err(E::ExpectedScheme { at: 15 }),
        ),
        (
            "two token68s",
            "Negotiate abc def",
            Err(E::UnexpectedCharacter { at: 10 }),
        ),
        (
            "challenge without comma",
            r#"Bearer realm="a" Basic realm="b""#,
            Err(E::UnexpectedCharacter { at: 17 }),
        ),
        (
            "missing value at end",
            r#"Bearer error="x", realm="#,
            Err(E::ExpectedValue { at: 24 }),
        ),
        (
            "missing value before comma",
            r#"Bearer error="x", realm=, scope="y""#,
            Err(E::ExpectedValue { at: 24 }),
        ),
        (
            "value starting with equals",
            r#"Bearer error="x", a=="#,
            Err(E::ExpectedValue { at: 20 }),
        ),
        (
            "control char in quoted value",
            "Bearer realm=\"a\u{1}b\"",
            Err(E::UnexpectedCharacter { at: 15 }),
        ),
        (
            "escaped control char",
            "Bearer realm=\"a\\\u{0}\"",
            Err(E::UnexpectedCharacter { at: 16 }),
        ),
        ("NUL alone", "\0", Err(E::ExpectedScheme { at: 0 })),
        (
            "trailing CRLF is not folding",
            "Bearer realm=\"x\"\r\n",
            Err(E::UnexpectedCharacter { at: 16 }),
        ),
        (
            "DEL in unquoted value",
            "Bearer realm=a\u{7f}",
            Err(E::UnexpectedCharacter { at: 14 }),
        ),
        (
            "1 MiB input",
            &mib,
            Err(E::TooLong {
                len: 1 << 20,
                max: MAX_HEADER_LEN,
            }),
        ),
    ];

    assert!(rows.len() >= 40, "{} rows", rows.len());
    let mut failures = Vec::new();
    for (name, input, expected) in &rows {
        let actual = parse_www_authenticate(input);
        if &actual != expected {
            failures.push(format!(
                "{name}:\n   input {input:?}\n  expected {expected:?}\n    actual {actual:?}"
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} failing rows:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn names_match_case_insensitively_and_keep_their_case() {
    let challenges = parse_www_authenticate(r#"BEARER Error="invalid_token", Realm="""#).unwrap();
    let c = &challenges[0];
    assert_eq!(c.scheme(), "BEARER");
    assert!(c.is_scheme("bearer"));
    assert!(!c.is_scheme("bear"));
    assert_eq!(c.param("error"), Some("invalid_token"));
    assert_eq!(c.param("ERROR"), Some("invalid_token"));
    assert_eq!(c.param("realm"), Some(""));
    assert_eq!(c.param("scope"), None);
    assert_eq!(
        c.params().collect::<Vec<_>>(),
        [("Error", "invalid_token"), ("Realm", "")]
    );
}

#[test]
fn limits_are_enforced_at_their_boundaries() {
    // Exactly MAX_HEADER_LEN bytes still parses.
    let prefix = r#"Bearer realm=""#;
    let exact = format!(
        "{prefix}{}\"",
        "x".repeat(MAX_HEADER_LEN - prefix.len() - 1)
    );
    assert_eq!(exact.len(), MAX_HEADER_LEN);
    assert_eq!(
        parse_www_authenticate(&exact).unwrap()[0]
            .param("realm")
            .unwrap()
            .len(),
        MAX_HEADER_LEN - prefix.len() - 1
    );
    let over = format!("{exact} ");
    assert!(matches!(
        parse_www_authenticate(&over),
        Err(ChallengeError::TooLong { .. })
    ));

    let params = |n: usize| {
        (0..n)
            .map(|i| format!("p{i}=\"v\""))
            .collect::<Vec<_>>()
            .join(", ")
    };
    assert_eq!(
        parse_www_authenticate(&format!("Bearer {}", params(MAX_PARAMS))).unwrap()[0]
            .params()
            .len(),
        MAX_PARAMS
    );
    assert_eq!(
        parse_www_authenticate(&format!("Bearer {}", params(MAX_PARAMS + 1))),
        Err(ChallengeError::TooManyParams { max: MAX_PARAMS })
    );

    let schemes = |n: usize| vec!["Basic"; n].join(", ");
    assert_eq!(
        parse_www_authenticate(&schemes(MAX_CHALLENGES))
            .unwrap()
            .len(),
        MAX_CHALLENGES
    );
    assert_eq!(
        parse_www_authenticate(&schemes(MAX_CHALLENGES + 1)),
        Err(ChallengeError::TooManyChallenges {
            max: MAX_CHALLENGES
        })
    );
}

#[test]
fn pathological_inputs_at_the_size_limit_terminate() {
    // Shapes that make a naive tolerant parser backtrack: many unescaped quotes each followed
    // by a plausible continuation, long runs of separators, long tokens, long escapes.
    let fill = |unit: &str, head: &str| {
        let n = (MAX_HEADER_LEN - head.len()) / unit.len();
        format!("{head}{}", unit.repeat(n))
    };
    let inputs = [
        fill(r#"" a="#, r#"Bearer a=""#),
        fill(r#"", b"#, r#"Bearer a=""#),
        fill("\"", r#"Bearer a=""#),
        fill(r"\\", r#"Bearer a=""#),
        fill(", ", "Bearer "),
        fill("a", "Bearer "),
        fill("a=b ", "Bearer "),
        fill("\r\n ", "Bearer"),
        fill("=", "Negotiate a"),
    ];
    for input in &inputs {
        assert!(input.len() <= MAX_HEADER_LEN);
        // Only termination and absence of panics matter here; the results are whatever the
        // rules say.
        let _ = parse_www_authenticate(input);
    }
}

#[test]
fn header_map_parses_every_value_in_order_and_skips_non_utf8() {
    let mut headers = HeaderMap::new();
    headers.append(
        WWW_AUTHENTICATE,
        HeaderValue::from_static(r#"Basic realm="proxy""#),
    );
    headers.append(
        WWW_AUTHENTICATE,
        HeaderValue::from_bytes(b"Bearer realm=\"\xff\"").unwrap(),
    );
    headers.append(WWW_AUTHENTICATE, HeaderValue::from_static(GRAPH_CAE));
    headers.append(
        WWW_AUTHENTICATE,
        HeaderValue::from_bytes("Bearer realm=\"Zürich\"".as_bytes()).unwrap(),
    );
    headers.append("x-other", HeaderValue::from_static("Digest"));

    let challenges = parse_www_authenticate_headers(&headers).unwrap();
    let schemes: Vec<_> = challenges.iter().map(Challenge::scheme).collect();
    assert_eq!(schemes, ["Basic", "Bearer", "Bearer"]);
    assert_eq!(challenges[1].param("error"), Some("insufficient_claims"));
    assert_eq!(challenges[2].param("realm"), Some("Zürich"));

    assert_eq!(
        parse_www_authenticate_headers(&HeaderMap::new()),
        Ok(vec![])
    );

    headers.append(
        WWW_AUTHENTICATE,
        HeaderValue::from_static(r#"Bearer realm="oops"#),
    );
    assert_eq!(
        parse_www_authenticate_headers(&headers),
        Err(ChallengeError::UnterminatedQuotedString { at: 13 })
    );
}

#[test]
fn header_map_total_is_capped() {
    let mut headers = HeaderMap::new();
    let half = ["Basic"; MAX_CHALLENGES / 2 + 1].join(", ");
    headers.append(WWW_AUTHENTICATE, HeaderValue::from_str(&half).unwrap());
    headers.append(WWW_AUTHENTICATE, HeaderValue::from_str(&half).unwrap());
    assert_eq!(
        parse_www_authenticate_headers(&headers),
        Err(ChallengeError::TooManyChallenges {
            max: MAX_CHALLENGES
        })
    );
}

#[test]
fn builder_rejects_what_cannot_be_rendered() {
    assert_eq!(Challenge::new(""), Err(ChallengeError::InvalidScheme));
    assert_eq!(
        Challenge::new("Bear er"),
        Err(ChallengeError::InvalidScheme)
    );
    let c = Challenge::new("Bearer").unwrap();
    assert_eq!(
        c.clone().with_param("a b", "x"),
        Err(ChallengeError::InvalidParamName)
    );
    assert_eq!(
        c.clone().with_param("a", "x\r\ny"),
        Err(ChallengeError::InvalidParamValue)
    );
    assert!(c.clone().with_param("a", "tab\there").is_ok());
    assert_eq!(
        c.clone().with_token68("a=b"),
        Err(ChallengeError::InvalidToken68)
    );
    assert_eq!(
        c.clone().with_token68("abc").unwrap().with_param("a", "b"),
        Err(ChallengeError::Token68WithParams)
    );
    assert_eq!(
        c.with_param("a", "b").unwrap().with_token68("abc"),
        Err(ChallengeError::Token68WithParams)
    );
}

#[test]
fn renderer_escapes_and_separates() {
    let challenges = vec![
        Challenge::new("Bearer")
            .unwrap()
            .with_param("realm", "")
            .unwrap()
            .with_param("error_description", r#"a "quoted" \ path, with comma"#)
            .unwrap(),
        Challenge::new("Negotiate")
            .unwrap()
            .with_token68("abc==")
            .unwrap(),
        Challenge::new("Basic").unwrap(),
    ];
    let header = render_challenges(&challenges);
    assert_eq!(
        header,
        r#"Bearer realm="", error_description="a \"quoted\" \\ path, with comma", Negotiate abc==, Basic"#
    );
    assert_eq!(parse_www_authenticate(&header).unwrap(), challenges);
    assert_eq!(render_challenges(&[]), "");
}

// --- property tests ---

const TOKEN: &str = "[A-Za-z0-9!#$%&'*+.^_`|~-]{1,10}";

fn challenge_strategy() -> impl Strategy<Value = Challenge> {
    let token68 = "[A-Za-z0-9._~+/-]{1,16}={0,2}";
    // Any text without control characters other than HTAB: ASCII punctuation that matters to
    // the parser (quotes, backslashes, commas, equals) is over-represented on purpose.
    let value = proptest::collection::vec(
        prop_oneof![
            3 => Just("\"".to_owned()),
            3 => Just("\\".to_owned()),
            2 => Just(",".to_owned()),
            2 => Just("=".to_owned()),
            2 => Just(" ".to_owned()),
            1 => Just("\t".to_owned()),
            6 => "[a-zA-Z0-9]{1,4}",
            2 => "[^\\x00-\\x1f\\x7f]",
        ],
        0..12,
    )
    .prop_map(|parts| parts.concat());
    let params = proptest::collection::vec((TOKEN, value), 0..6);
    (TOKEN, proptest::option::weighted(0.2, token68), params).prop_map(
        |(scheme, token68, params)| {
            let mut c = Challenge::new(scheme).expect("strategy yields tokens");
            match token68 {
                Some(t) => c = c.with_token68(t).expect("strategy yields token68s"),
                None => {
                    for (name, value) in params {
                        // Duplicate names (ignoring case) are skipped, as the parser rejects them.
                        if let Ok(next) = c.clone().with_param(name, value) {
                            c = next;
                        }
                    }
                }
            }
            c
        },
    )
}

/// Header-shaped noise: fragments of real syntax glued at random, to reach deeper states
/// than uniformly random strings do.
fn header_noise() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            Just("Bearer".to_owned()),
            Just(" ".to_owned()),
            Just(",".to_owned()),
            Just("=".to_owned()),
            Just("\"".to_owned()),
            Just("\\".to_owned()),
            Just("\r\n ".to_owned()),
            Just("\t".to_owned()),
            Just("realm".to_owned()),
            Just("abc==".to_owned()),
            Just("é".to_owned()),
            Just("\u{0}".to_owned()),
            "[ -~]{1,3}",
        ],
        0..40,
    )
    .prop_map(|parts| parts.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn never_panics_on_arbitrary_text(input in any::<String>()) {
        let _ = parse_www_authenticate(&input);
    }

    #[test]
    fn never_panics_on_header_noise(input in header_noise()) {
        let _ = parse_www_authenticate(&input);
    }

    #[test]
    fn parse_of_render_round_trips(challenges in proptest::collection::vec(challenge_strategy(), 0..5)) {
        let header = render_challenges(&challenges);
        prop_assert_eq!(parse_www_authenticate(&header), Ok(challenges), "header {:?}", header);
    }

    /// Whatever the parser accepts (tolerances included) renders to a well-formed header that
    /// parses back to the same challenges.
    #[test]
    fn accepted_input_renders_to_an_equivalent_header(input in header_noise()) {
        if let Ok(challenges) = parse_www_authenticate(&input) {
            let header = render_challenges(&challenges);
            prop_assert_eq!(parse_www_authenticate(&header), Ok(challenges), "input {:?} rendered {:?}", input, header);
        }
    }
}
