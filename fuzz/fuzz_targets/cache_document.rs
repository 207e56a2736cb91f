//! MSAL token-cache JSON (`CacheDocument`) and `client_info` decoding: never panic on any
//! bytes; whatever parses serializes to JSON that parses back to the same entries.
#![no_main]

use libfuzzer_sys::fuzz_target;
use msal_lite::schema::{CacheDocument, ClientInfo};

fuzz_target!(|data: &[u8]| {
    if let Ok(doc) = CacheDocument::from_slice(data) {
        let bytes = doc.to_vec();
        let again = CacheDocument::from_slice(&bytes).expect("a serialized document parses");
        assert!(again.same_entries(&doc), "round trip changed the entries");
        let _ = doc.partition_keys();
        let _ = doc.split_partitions();
        let _ = doc.latest_access_token_expiry();
        let mut merged = doc.clone();
        merged.merge_newest(&again);
        assert!(
            merged.same_entries(&doc),
            "merging a copy changed the entries"
        );
    }
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(info) = ClientInfo::decode(text) {
            let _ = info.home_account_id();
        }
    }
});
