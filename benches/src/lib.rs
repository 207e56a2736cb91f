//! Shared fixtures for the criterion benches.
//!
//! The token mirrors an Entra v2.0 access token for the EditProfileService API: RS256 with a
//! 2048-bit key, a `kid`, and 20 claims (about 1.3 KB), so that the numbers compare with the
//! figures in the performance notes.
//!
//! Everything is deterministic (fixed key, fixed timestamps, PKCS#1 v1.5 signatures), so that
//! instruction counts under callgrind repeat exactly. `fixture-key.der` (RFC 8017 `RSAPrivateKey`) is a throwaway 2048-bit
//! RSA key made with `openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -outform DER`;
//! it signs bench fixtures and nothing else.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeyPair;
use aws_lc_rs::signature::{
    KeyPair as _, ParsedPublicKey, RSA_PKCS1_2048_8192_SHA256, RSA_PKCS1_SHA256,
    RsaPublicKeyComponents,
};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// The API's client id (the token's `aud`).
pub const API_CLIENT_ID: &str = "4d2e6f8a-1b3c-4d5e-8f9a-0b1c2d3e4f5a";
/// The quickstart tenant id.
pub const TENANT_ID: &str = "b3c2a1f0-5d4e-4f6a-9b8c-7d6e5f4a3b2c";
/// The scope the API requires.
pub const SCOPE: &str = "EditProfileService.ReadWrite";

/// The issuer of the fixture token.
pub fn issuer() -> String {
    format!("https://{TENANT_ID}.ciamlogin.com/{TENANT_ID}/v2.0")
}

/// A signed token, its key as JWKS and as raw components.
#[derive(Debug)]
pub struct Fixture {
    /// The compact JWS.
    pub token: String,
    /// A JWKS document holding the verification key.
    pub jwks: String,
    /// RSA modulus, big-endian.
    pub n: Vec<u8>,
    /// RSA public exponent, big-endian.
    pub e: Vec<u8>,
    /// The claims JSON inside the token.
    pub claims_json: String,
}

/// The 20 claims of the fixture token.
pub fn claims_json() -> String {
    // Fixed: issued 2025-11-24, expires 2096 (far beyond any bench run).
    let now: u64 = 1_764_000_000;
    serde_json::json!({
        "aud": API_CLIENT_ID,
        "iss": issuer(),
        "iat": now - 60,
        "nbf": now - 60,
        "exp": 4_000_000_000u64,
        "aio": "AWQAm/8ZAAAAx3RVhyd4YQgR0q/sV6Qz+9cLpYhN4aMv3Qv2PpZQm1Q3jMZ0oRB8G4P6kD8b8QfbQ",
        "azp": "8a1f4c2e-6b3d-4e5f-9a7b-1c2d3e4f5a6b",
        "azpacr": "1",
        "name": "Alice Example",
        "oid": "11111111-2222-3333-4444-555555555555",
        "preferred_username": "alice@contoso.onmicrosoft.com",
        "scp": SCOPE,
        "sub": "tLchYumG3IvYOUkBZkSA3mhg8E_bsFd8nSibqIN_E1U",
        "tid": TENANT_ID,
        "uti": "ykkOwwrNAUOY9IEWz4HLAA",
        "ver": "2.0",
        "roles": ["Profile.Write"],
        "amr": ["pwd", "mfa"],
        "acrs": ["c1"],
        "idtyp": "user",
    })
    .to_string()
}

impl Fixture {
    /// The checked-in fixture token (`fixture-token.txt`, made by [`Fixture::sign`]) with its key.
    ///
    /// Loading it draws no randomness: RSA signing does (blinding), and the first use of the
    /// random generator costs millions of instructions, which would swamp instruction counts.
    ///
    /// # Panics
    ///
    /// If the checked-in fixture files are broken.
    pub fn new() -> Self {
        let token = include_str!("fixture-token.txt").trim().to_owned();
        let pair = KeyPair::from_der(include_bytes!("fixture-key.der")).expect("fixture key");
        let public = pair.public_key();
        let n = public.modulus().big_endian_without_leading_zero().to_vec();
        let e = public.exponent().big_endian_without_leading_zero().to_vec();
        let payload = token.split('.').nth(1).expect("three parts");
        let claims_json =
            String::from_utf8(URL_SAFE_NO_PAD.decode(payload).expect("base64url")).expect("utf-8");
        let jwks = jwks_json(&n, &e);
        Self {
            token,
            jwks,
            n,
            e,
            claims_json,
        }
    }

    /// Signs a fresh fixture token with the fixture key (`cargo run -p benches --bin
    /// instructions print-token > benches/src/fixture-token.txt`).
    ///
    /// # Panics
    ///
    /// If aws-lc-rs cannot load or use the checked-in key (a broken build, not a data problem).
    pub fn sign() -> Self {
        let pair = KeyPair::from_der(include_bytes!("fixture-key.der")).expect("fixture key");
        let public = pair.public_key();
        let n = public.modulus().big_endian_without_leading_zero().to_vec();
        let e = public.exponent().big_endian_without_leading_zero().to_vec();
        let header = r#"{"typ":"JWT","alg":"RS256","kid":"bench-key-1"}"#;
        let claims_json = claims_json();
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header),
            URL_SAFE_NO_PAD.encode(&claims_json)
        );
        let mut signature = vec![0; pair.public_modulus_len()];
        pair.sign(
            &RSA_PKCS1_SHA256,
            &SystemRandom::new(),
            input.as_bytes(),
            &mut signature,
        )
        .expect("rsa signing");
        let token = format!("{input}.{}", URL_SAFE_NO_PAD.encode(&signature));
        let jwks = jwks_json(&n, &e);
        Self {
            token,
            jwks,
            n,
            e,
            claims_json,
        }
    }
}

fn jwks_json(n: &[u8], e: &[u8]) -> String {
    serde_json::json!({"keys": [{
        "kty": "RSA", "use": "sig", "kid": "bench-key-1",
        "n": URL_SAFE_NO_PAD.encode(n), "e": URL_SAFE_NO_PAD.encode(e),
    }]})
    .to_string()
}

impl Default for Fixture {
    fn default() -> Self {
        Self::new()
    }
}

pub mod entra;

/// The baseline every middleware figure is a ratio to: a bare aws-lc-rs RS256 verify of the
/// fixture token, with the key parsed once and the signature already decoded.
#[derive(Debug)]
pub struct Baseline<'a> {
    /// The JWS signing input (`header.payload`).
    pub signed: &'a [u8],
    /// The decoded signature.
    pub signature: Vec<u8>,
    /// The public key, parsed once.
    pub key: ParsedPublicKey,
}

impl Baseline<'_> {
    /// One verify; panics if it fails (the fixture is valid).
    #[inline]
    pub fn verify(&self) {
        self.key
            .verify_sig(
                std::hint::black_box(self.signed),
                std::hint::black_box(&self.signature),
            )
            .expect("valid signature");
    }
}

impl Fixture {
    /// The bare-verify baseline for this fixture's token.
    pub fn baseline(&self) -> Baseline<'_> {
        let (signed, signature_b64) = self.token.rsplit_once('.').expect("three parts");
        Baseline {
            signed: signed.as_bytes(),
            signature: URL_SAFE_NO_PAD.decode(signature_b64).expect("base64url"),
            key: RsaPublicKeyComponents {
                n: &self.n,
                e: &self.e,
            }
            .to_parsed_public_key(&RSA_PKCS1_2048_8192_SHA256)
            .expect("rsa key"),
        }
    }
}

/// `count` distinct tokens signed with the fixture key (the claims of [`claims_json`] with a
/// unique `uti` each), for load tests that must miss the validation cache.
///
/// # Panics
///
/// If aws-lc-rs cannot load or use the checked-in key (a broken build, not a data problem).
pub fn mint(count: usize) -> Vec<String> {
    let pair = KeyPair::from_der(include_bytes!("fixture-key.der")).expect("fixture key");
    let rng = SystemRandom::new();
    let header = URL_SAFE_NO_PAD.encode(r#"{"typ":"JWT","alg":"RS256","kid":"bench-key-1"}"#);
    let mut claims: serde_json::Value =
        serde_json::from_str(&claims_json()).expect("fixture claims are JSON");
    (0..count)
        .map(|i| {
            claims["uti"] = format!("load-{i:010}").into();
            let input = format!("{header}.{}", URL_SAFE_NO_PAD.encode(claims.to_string()));
            let mut signature = vec![0; pair.public_modulus_len()];
            pair.sign(&RSA_PKCS1_SHA256, &rng, input.as_bytes(), &mut signature)
                .expect("rsa signing");
            format!("{input}.{}", URL_SAFE_NO_PAD.encode(&signature))
        })
        .collect()
}
