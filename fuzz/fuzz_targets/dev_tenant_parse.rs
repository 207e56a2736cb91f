//! The dev tenant's parsers of request input (form bodies, query strings, percent-decoding,
//! `Authorization: Basic`, the `claims` request parameter, compact JWTs): never panic, and
//! what they accept obeys their documented limits.
#![no_main]

use dev_tenant::parse::{
    MAX_INPUT, MAX_JWT, decode_jwt, parse_basic_auth, parse_claims, parse_form, parse_query,
    percent_decode,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(params) = parse_form(data) {
        assert!(data.len() <= MAX_INPUT);
        // Duplicates are rejected, so every name appears once.
        let mut names: Vec<&str> = params.iter().map(|(n, _)| n).collect();
        let count = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), count, "a duplicated parameter was accepted");
    }
    let decoded = percent_decode(data);
    // Decoding never grows the input beyond its UTF-8 replacement expansion.
    assert!(decoded.len() <= data.len() * 3);
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = parse_query(text);
    let _ = parse_basic_auth(text);
    if let Ok(claims) = parse_claims(text) {
        let _ = claims.demands_mfa();
    }
    if let Ok(jwt) = decode_jwt(text) {
        assert!(text.len() <= MAX_JWT);
        let _ = jwt.signing_input();
        let _ = jwt.alg();
        let _ = jwt.str_claim("iss");
        let _ = jwt.time_claim("exp");
    }
});
