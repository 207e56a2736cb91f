//! JWT header and claims parsing in `edit-profile-middleware`, through the public API only
//! (`Validator::validate`). Never panics, never waits for the network (a fixed JWKS), and
//! accepts only what a correctly signed token with the right `iss`/`aud` can produce.
//!
//! The first byte picks the mode:
//! * even: the rest is the token text, as an attacker would send it (exercises splitting,
//!   base64url, header parsing, `kid` lookup, the size limit; signatures never verify);
//! * odd: the rest is `header JSON \0 claims JSON`; the target signs them with the fixed
//!   ES256 key whose public half is in the JWKS, so claims parsing and every claim check
//!   after the signature are reached.
#![no_main]

use std::sync::LazyLock;
use std::time::{Duration, UNIX_EPOCH};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use edit_profile_middleware::{Algorithm, Validator};
use futures_util::FutureExt as _;
use libfuzzer_sys::fuzz_target;

const ISSUER: &str = "https://fuzz.example/tenant/v2.0";
const AUDIENCE: &str = "api://fuzz";
/// A fixed clock, so that seeds with `exp`/`nbf` around it stay meaningful.
const NOW: u64 = 1_800_000_000;

static KEY: LazyLock<EcdsaKeyPair> = LazyLock::new(|| {
    EcdsaKeyPair::from_pkcs8(
        &ECDSA_P256_SHA256_FIXED_SIGNING,
        include_bytes!("../keys/es256.pk8"),
    )
    .expect("the checked-in key is valid PKCS#8")
});

static VALIDATOR: LazyLock<Validator> = LazyLock::new(|| {
    Validator::builder()
        .jwks_json(include_bytes!("../keys/jwks.json").to_vec())
        .issuer(ISSUER)
        .audience(AUDIENCE)
        .algorithms([Algorithm::Es256, Algorithm::Rs256])
        .cache_capacity(64)
        .time_fn(|| UNIX_EPOCH + Duration::from_secs(NOW))
        .build()
        .expect("a fixed JWKS, issuer and audience build a validator")
});

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let token = if mode % 2 == 0 {
        let Ok(text) = std::str::from_utf8(rest) else {
            return;
        };
        text.to_owned()
    } else {
        let mut parts = rest.splitn(2, |&b| b == 0);
        let header = parts.next().unwrap_or_default();
        let claims = parts.next().unwrap_or_default();
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header),
            URL_SAFE_NO_PAD.encode(claims)
        );
        let signature = KEY
            .sign(&SystemRandom::new(), signing_input.as_bytes())
            .expect("signing with a valid key");
        format!(
            "{signing_input}.{}",
            URL_SAFE_NO_PAD.encode(signature.as_ref())
        )
    };
    // A fixed JWKS: an unknown `kid` cannot trigger a fetch, so the future is ready at once.
    let Some(result) = VALIDATOR.validate(&token).now_or_never() else {
        panic!("validate waited although the JWKS is fixed");
    };
    match result {
        Ok(claims) => {
            // Only a token signed by our key with the right issuer and audience is accepted.
            assert_eq!(mode % 2, 1, "an unsigned token was accepted");
            assert_eq!(claims.iss(), ISSUER);
            assert!(claims.aud().any(|a| a == AUDIENCE));
            assert!(claims.exp() + 300 > NOW);
        }
        // Errors render without panicking.
        Err(error) => drop(format!("{error} {error:?}")),
    }
});
