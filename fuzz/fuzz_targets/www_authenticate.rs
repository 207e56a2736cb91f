//! `WWW-Authenticate` parsing: never panics, and whatever it accepts renders to a header that
//! parses back to the same challenges. Also drives the claims-challenge and step-up
//! classifiers over the same bytes as raw header values.
#![no_main]

use http::header::WWW_AUTHENTICATE;
use http::{HeaderMap, HeaderValue};
use libfuzzer_sys::fuzz_target;
use msal_lite::challenge::{
    ClaimsChallenge, MAX_HEADER_LEN, StepUp, parse_www_authenticate, render_challenges,
};

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(challenges) = parse_www_authenticate(text) {
            let rendered = render_challenges(&challenges);
            // Escaping can grow a value past the length limit; only compare when it cannot.
            if rendered.len() <= MAX_HEADER_LEN {
                assert_eq!(parse_www_authenticate(&rendered).as_ref(), Ok(&challenges));
            }
            for challenge in challenges {
                let _ = StepUp::from_challenge(challenge);
            }
        }
    }

    // The same bytes as header values, split on NUL so several headers are exercised.
    let mut headers = HeaderMap::new();
    for part in data.split(|&b| b == 0) {
        if let Ok(value) = HeaderValue::from_bytes(part) {
            headers.append(WWW_AUTHENTICATE, value);
        }
    }
    if let Some(found) = ClaimsChallenge::from_headers(&headers) {
        assert!(found.claims().trim_start().starts_with('{'));
    }
    let _ = StepUp::from_headers(&headers);
});
