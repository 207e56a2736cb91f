//! `CacheDocument::from_json` is fed arbitrary input: it must return, never panic, and what it
//! accepts must round-trip.

use msal_lite::schema::{CacheDocument, ClientInfo};
use proptest::prelude::*;

const NODE: &str = include_str!("data/msal-node-cache.json");

/// Arbitrary JSON values, biased towards the schema's shapes.
fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        // Short binary fractions only: serde_json's default float parsing may change the last
        // digit of long decimals in unknown fields (documented in docs/token-cache.md).
        (-4000i32..4000).prop_map(|i| serde_json::json!(f64::from(i) / 4.0)),
        "[a-z0-9 ._-]{0,12}".prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        let field = prop_oneof![
            Just("secret".to_owned()),
            Just("environment".to_owned()),
            Just("client_id".to_owned()),
            Just("credential_type".to_owned()),
            Just("expires_on".to_owned()),
            Just("home_account_id".to_owned()),
            Just("realm".to_owned()),
            Just("userAssertionHash".to_owned()),
            Just("user_assertion_hash".to_owned()),
            Just("AccessToken".to_owned()),
            Just("RefreshToken".to_owned()),
            Just("Account".to_owned()),
            "[a-z_]{1,8}",
        ];
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
            prop::collection::btree_map(field, inner, 0..6)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn from_json_never_panics_on_bytes(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = CacheDocument::from_slice(&bytes);
    }

    #[test]
    fn from_json_never_panics_on_text(s in ".{0,256}") {
        let _ = CacheDocument::from_json(&s);
        let _ = ClientInfo::decode(&s);
    }

    #[test]
    fn accepted_json_round_trips(v in json_value()) {
        let text = v.to_string();
        if let Ok(doc) = CacheDocument::from_json(&text) {
            let again = CacheDocument::from_json(&doc.to_json()).expect("our output parses");
            prop_assert_eq!(again.to_value(), doc.to_value());
        }
    }

    #[test]
    fn mutated_fixture_never_panics(pos in 0usize..4096, byte in any::<u8>()) {
        let mut bytes = NODE.as_bytes().to_vec();
        let i = pos % bytes.len();
        bytes[i] = byte;
        let _ = CacheDocument::from_slice(&bytes);
    }
}
