//! `CacheDocument::from_json` is fed arbitrary input: it must return, never panic, and what it
//! accepts must round-trip.

use msal_lite::schema::{CacheDocument, ClientInfo};
use proptest::prelude::*;

const NODE: &str = include_str!("../data/msal-node-cache.json");

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

mod merge {
    use std::collections::BTreeMap;

    use msal_lite::schema::{AccessToken, CacheDocument, CacheSecret, UnixTime};
    use proptest::prelude::*;

    /// A document of access tokens: scope name -> (secret, cached_at).
    fn doc(entries: &BTreeMap<u8, (u8, i64)>) -> CacheDocument {
        let mut d = CacheDocument::new();
        for (scope, (secret, cached)) in entries {
            let mut at = AccessToken::new(
                "login.microsoftonline.com",
                "cid",
                CacheSecret::new(format!("s{secret}")),
                UnixTime::from_secs(9_999_999_999),
            );
            at.home_account_id = Some("u.t".into());
            at.target = Some(format!("scope{scope}"));
            at.cached_at = Some(UnixTime::from_secs(*cached));
            d.insert_access_token(at);
        }
        d
    }

    fn entries() -> impl Strategy<Value = BTreeMap<u8, (u8, i64)>> {
        prop::collection::btree_map(0u8..8, (0u8..3, 0i64..4), 0..6)
    }

    fn secret_of(d: &CacheDocument, scope: u8) -> Option<String> {
        d.access_tokens
            .values()
            .find(|at| at.target.as_deref() == Some(&format!("scope{scope}")))
            .map(|at| at.secret.secret().to_owned())
    }

    proptest! {
        /// The guarantees the layered cache relies on: a side that did not touch an entry
        /// defers to the other; nothing one side added or changed is lost.
        #[test]
        fn three_way_merge_loses_no_change(base in entries(), ours in entries(), theirs in entries()) {
            let (b, o, t) = (doc(&base), doc(&ours), doc(&theirs));
            let merged = CacheDocument::merge_three_way(&b, &o, &t);
            for scope in 0u8..8 {
                let (sb, so, st) = (base.get(&scope), ours.get(&scope), theirs.get(&scope));
                let m = secret_of(&merged, scope);
                let name = |e: Option<&(u8, i64)>| e.map(|(s, _)| format!("s{s}"));
                if so == sb {
                    prop_assert_eq!(m, name(st), "ours untouched: theirs wins");
                } else if st == sb {
                    prop_assert_eq!(m, name(so), "theirs untouched: ours wins");
                } else {
                    // Both changed: an entry present on either side survives.
                    prop_assert_eq!(m.is_some(), so.is_some() || st.is_some());
                    if let (Some(o), Some(t)) = (so, st) {
                        let expect = if t.1 > o.1 { t } else { o };
                        prop_assert_eq!(m, name(Some(expect)));
                    }
                }
            }
        }

        #[test]
        fn union_merge_keeps_every_key(ours in entries(), theirs in entries()) {
            let mut merged = doc(&ours);
            merged.merge_newest(&doc(&theirs));
            for scope in ours.keys().chain(theirs.keys()) {
                prop_assert!(secret_of(&merged, *scope).is_some());
            }
        }
    }
}
