//! Claims merging with client capabilities: never panics; a successful merge with
//! capabilities is a JSON object that merging again leaves unchanged.
#![no_main]

use libfuzzer_sys::fuzz_target;
use msal_lite::claims::{claims_hash, merge_client_capabilities};

fuzz_target!(|input: (Option<String>, Vec<String>)| {
    let (claims, capabilities) = input;
    let _ = claims_hash(claims.as_deref().unwrap_or_default());
    let Ok(merged) = merge_client_capabilities(claims.as_deref(), &capabilities) else {
        return;
    };
    if capabilities.is_empty() {
        // Unchanged text (or nothing) without capabilities.
        assert_eq!(
            merged.as_deref(),
            claims.as_deref().filter(|c| !c.is_empty())
        );
        return;
    }
    let merged = merged.expect("capabilities always produce claims");
    let again = merge_client_capabilities(Some(&merged), &capabilities)
        .expect("a merge result merges again");
    assert_eq!(again.as_deref(), Some(merged.as_str()));
});
