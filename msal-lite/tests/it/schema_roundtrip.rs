//! The unified cache schema against caches written by MSAL Node and MSAL.NET
//! (fixtures and their provenance: tests/data/README.md).

use msal_lite::schema::{
    AccessToken, Account, AppMetadata, CacheDocument, CacheSecret, ClientInfo, IdToken, KeyStyle,
    PartitionKey, RefreshToken, UnixTime, assertion_hash,
};
use serde_json::Value;

const NODE: &str = include_str!("../data/msal-node-cache.json");
const NET: &str = include_str!("../data/msal-net-obo-excerpt.json");
const NET_FRAGMENTS: &str = include_str!("../data/msal-net-obo-excerpt.fragments.txt");

fn value(json: &str) -> Value {
    serde_json::from_str(json).expect("fixture is JSON")
}

fn assert_round_trip(json: &str) {
    let doc = CacheDocument::from_json(json).expect("fixture parses");
    let written = doc.to_json();
    assert_eq!(value(&written), value(json), "write(read(x)) == x");
    let again = CacheDocument::from_json(&written).expect("our output parses");
    assert_eq!(again.to_value(), value(json), "read(write(read(x))) == x");
}

fn assert_keys(doc: &CacheDocument, style: KeyStyle) {
    assert!(!doc.access_tokens.is_empty());
    for (k, e) in &doc.access_tokens {
        assert_eq!(&e.cache_key(style), k);
    }
    for (k, e) in &doc.refresh_tokens {
        assert_eq!(&e.cache_key(style), k);
    }
    for (k, e) in &doc.id_tokens {
        assert_eq!(&e.cache_key(style), k);
    }
    for (k, e) in &doc.accounts {
        assert_eq!(&e.cache_key(style), k);
    }
    for (k, e) in &doc.app_metadata {
        assert_eq!(&e.cache_key(style), k);
    }
}

#[test]
fn node_cache_round_trips_identically() {
    assert_round_trip(NODE);
}

#[test]
fn net_obo_cache_round_trips_identically() {
    assert_round_trip(NET);
}

#[test]
fn node_keys_follow_msal_js_formula() {
    let doc = CacheDocument::from_json(NODE).unwrap();
    assert_eq!(doc.len(), 8);
    assert_keys(&doc, KeyStyle::MsalJs);
    assert_eq!(doc.key_style(), KeyStyle::MsalJs);
}

#[test]
fn net_keys_follow_msal_net_formula() {
    let doc = CacheDocument::from_json(NET).unwrap();
    assert_eq!(doc.len(), 4);
    assert_keys(&doc, KeyStyle::MsalNet);
    assert_eq!(doc.key_style(), KeyStyle::MsalNet);
}

#[test]
fn net_assembled_fixture_entries_are_in_the_verbatim_fragments() {
    let doc = CacheDocument::from_json(NET).unwrap();
    let keys = doc
        .access_tokens
        .keys()
        .chain(doc.refresh_tokens.keys())
        .chain(doc.accounts.keys())
        .chain(doc.app_metadata.keys());
    for k in keys {
        assert!(NET_FRAGMENTS.contains(&format!("\"{k}\"")), "{k}");
    }
}

#[test]
fn node_fields_are_typed() {
    let doc = CacheDocument::from_json(NODE).unwrap();
    let obo = &doc.access_tokens["uid.utid-login.microsoftonline.com-accesstoken-mock_client_id-utid-scope1 scope2 scope3--"];
    assert_eq!(obo.user_assertion_hash.as_deref(), Some("mock_hash_string"));
    assert_eq!(obo.cached_at, Some(UnixTime::from_secs(1000)));
    assert_eq!(obo.expires_on, UnixTime::from_secs(4600));
    assert_eq!(obo.secret.secret(), "an access token");
    let pop = &doc.access_tokens["uid.utid-login.microsoftonline.com-accesstoken_with_authscheme-mock_client_id-utid-scope4 scope5--pop"];
    assert_eq!(pop.token_type.as_deref(), Some("pop"));
    assert_eq!(
        pop.key_id.as_deref(),
        Some("NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs")
    );
    let frt = &doc.refresh_tokens["uid.utid-login.microsoftonline.com-refreshtoken-1----"];
    assert_eq!(frt.family_id.as_deref(), Some("1"));
    // msal-node's old `tenantProfiles` is not modelled but survives in `extra`.
    let acc = doc.accounts.values().next().unwrap();
    assert!(acc.extra.contains_key("tenantProfiles"));
}

#[test]
fn net_fields_are_typed_and_nulls_survive() {
    let doc = CacheDocument::from_json(NET).unwrap();
    let at = doc.access_tokens.values().next().unwrap();
    // The key's scope part is lower-cased, the field keeps its case.
    assert_eq!(at.target.as_deref(), Some("email openid profile User.Read"));
    assert_eq!(
        at.user_assertion_hash.as_deref(),
        Some(assertion_hash("jwt").as_str())
    );
    assert_eq!(at.extended_expiry(), Some(UnixTime::from_secs(1556527082)));
    let rt = doc.refresh_tokens.values().next().unwrap();
    assert_eq!(rt.family_id, None);
    assert_eq!(rt.extra.get("family_id"), Some(&Value::Null));
    let md = doc.app_metadata.values().next().unwrap();
    assert_eq!(md.extra.get("family_id"), Some(&Value::Null));
}

#[test]
fn client_info_decodes_in_both_fixtures() {
    for json in [NODE, NET] {
        let doc = CacheDocument::from_json(json).unwrap();
        for acc in doc.accounts.values() {
            let ci = ClientInfo::decode(acc.client_info.as_deref().unwrap()).unwrap();
            assert_eq!(ci.home_account_id(), acc.home_account_id);
        }
    }
}

#[test]
fn new_obo_token_is_written_with_both_hash_spellings() {
    let mut at = AccessToken::new(
        "login.microsoftonline.com",
        "cid",
        CacheSecret::new("t"),
        UnixTime::from_secs(10),
    );
    at.user_assertion_hash = Some(assertion_hash("jwt"));
    at.key_id = Some("kid1".into());
    at.token_type = Some("pop".into());
    let mut doc = CacheDocument::new();
    let key = doc.insert_access_token(at);
    let v = doc.to_value();
    let entry = &v["AccessToken"][&key];
    // msal-node reads `userAssertionHash` and `key_id`; MSAL.NET `user_assertion_hash` and `kid`.
    assert_eq!(entry["userAssertionHash"], entry["user_assertion_hash"]);
    assert_eq!(entry["key_id"], "kid1");
    assert_eq!(entry["kid"], "kid1");
    assert_eq!(entry["token_type"], "pop");
    assert!(entry.get("tokenType").is_none());
    assert_eq!(entry["expires_on"], "10", "timestamps are strings");
}

#[test]
fn numeric_timestamps_are_accepted_and_written_as_strings() {
    let json = r#"{"AccessToken": {"k": {"environment": "e", "credential_type": "AccessToken",
        "client_id": "c", "secret": "s", "expires_on": 4600, "cached_at": " 1000 "}}}"#;
    let doc = CacheDocument::from_json(json).unwrap();
    let at = &doc.access_tokens["k"];
    assert_eq!(at.expires_on.as_secs(), 4600);
    assert_eq!(at.cached_at.unwrap().as_secs(), 1000);
    assert_eq!(doc.to_value()["AccessToken"]["k"]["expires_on"], "4600");
}

#[test]
fn differing_alias_spellings_are_both_kept() {
    let json = r#"{"AccessToken": {"k": {"environment": "e", "credential_type": "AccessToken",
        "client_id": "c", "secret": "s", "expires_on": "1",
        "user_assertion_hash": "a", "userAssertionHash": "b"}}}"#;
    let doc = CacheDocument::from_json(json).unwrap();
    assert_eq!(
        doc.access_tokens["k"].user_assertion_hash.as_deref(),
        Some("a")
    );
    assert_eq!(doc.to_value(), value(json));
}

#[test]
fn invalid_entries_are_errors_not_panics() {
    for bad in [
        "",
        "null",
        "[]",
        r#"{"AccessToken": []}"#,
        r#"{"AccessToken": {"k": 1}}"#,
        r#"{"AccessToken": {"k": {}}}"#,
        r#"{"AccessToken": {"k": {"environment": "e", "credential_type": "AccessToken",
            "client_id": "c", "secret": "s", "expires_on": "soon"}}}"#,
        r#"{"Account": {"k": {"home_account_id": 5, "environment": "e", "realm": "r"}}}"#,
    ] {
        assert!(CacheDocument::from_json(bad).is_err(), "{bad}");
    }
}

#[test]
fn error_messages_do_not_leak_secrets() {
    let json = r#"{"AccessToken": {"k": {"environment": "e", "credential_type": "AccessToken",
        "client_id": "c", "secret": "TOPSECRET", "expires_on": "later"}}}"#;
    let err = CacheDocument::from_json(json).unwrap_err();
    assert!(!format!("{err} {err:?}").contains("TOPSECRET"));
    let doc = CacheDocument::from_json(NODE).unwrap();
    let dbg = format!("{doc:?}");
    assert!(
        !dbg.contains("an access token"),
        "secrets are redacted in Debug"
    );
    assert!(dbg.contains("[redacted]"));
}

#[test]
fn python_key_layout() {
    // MSAL Python's own test expectations (tests/test_token_cache.py).
    let mut rt = RefreshToken::new("login.example.com", "my_client_id", CacheSecret::new("r"));
    rt.home_account_id = Some("uid.utid".into());
    rt.target = Some("s2 s1 s3".into());
    rt.target = Some("s1 s2 s3".into());
    assert_eq!(
        rt.cache_key(KeyStyle::MsalPython),
        "uid.utid-login.example.com-refreshtoken-my_client_id--s1 s2 s3"
    );
    let mut idt = IdToken::new("login.example.com", "my_client_id", CacheSecret::new("i"));
    idt.home_account_id = Some("uid.utid".into());
    idt.realm = Some("contoso".into());
    assert_eq!(
        idt.cache_key(KeyStyle::MsalPython),
        "uid.utid-login.example.com-idtoken-my_client_id-contoso-"
    );
    let acc = Account::new("uid.utid", "login.example.com", "contoso");
    assert_eq!(
        acc.cache_key(KeyStyle::MsalPython),
        "uid.utid-login.example.com-contoso"
    );
    let md = AppMetadata::new("login.example.com", "my_client_id");
    assert_eq!(
        md.cache_key(KeyStyle::MsalPython),
        "appmetadata-login.example.com-my_client_id"
    );
}

#[test]
fn partitions_split_and_reassemble() {
    let doc = CacheDocument::from_json(NODE).unwrap();
    let parts = doc.split_partitions();
    let obo = PartitionKey::obo("mock_hash_string");
    let user = PartitionKey::user("uid.utid");
    assert_eq!(
        parts.keys().cloned().collect::<Vec<_>>(),
        vec![user.clone(), obo.clone()]
    );
    assert_eq!(parts[&obo].access_tokens.len(), 1);
    assert_eq!(parts[&user].access_tokens.len(), 2);
    assert_eq!(parts[&user].refresh_tokens.len(), 2);
    // Each partition is a valid cache file on its own.
    for p in parts.values() {
        let again = CacheDocument::from_json(&p.to_json()).unwrap();
        assert!(again.same_entries(p));
    }
    let mut whole = CacheDocument::new();
    for p in parts.values() {
        whole.merge_newest(p);
    }
    assert!(whole.same_entries(&doc));

    // The .NET OBO cache: the access token is in the assertion's partition.
    let net = CacheDocument::from_json(NET).unwrap();
    let obo = PartitionKey::obo_for_assertion("jwt");
    assert_eq!(net.partition(&obo).access_tokens.len(), 1);
}
