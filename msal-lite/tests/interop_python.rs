//! Cache round trips with the real MSAL Python (`msal` from PyPI, installed by `cargo xtask
//! test`; env `MSAL_PYTHON`): its `SerializableTokenCache.serialize()` output is served by
//! msal-lite, and what msal-lite writes is served by MSAL Python's `acquire_token_silent` /
//! `acquire_token_for_client` (`result["token_source"] == "cache"`), each with zero token
//! requests to the dev tenant.
#![cfg(feature = "reqwest")]

mod interop_support;
mod user_support;

use interop_support::Peer;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_cache_round_trip_with_msal_python() {
    let Some(peer) = Peer::python() else { return };
    interop_support::user_round_trip(&peer).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn app_token_cached_by_msal_python_is_served_by_msal_lite() {
    let Some(peer) = Peer::python() else { return };
    interop_support::app_token_from_peer(&peer).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn app_token_written_by_msal_lite_is_served_by_msal_python() {
    let Some(peer) = Peer::python() else { return };
    interop_support::app_token_from_msal_lite(&peer).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "MSAL Python 1.39 writes OBO tokens without user_assertion_hash, as ordinary entries of the user's account (home_account_id from the response), and finds them through the assertion's user; msal-lite looks OBO tokens up by assertion hash only, so the imported token is not served (source Network). Needs a decision in msal-lite's OBO lookup (cache engineer / cache/obo.rs)"]
async fn obo_cache_round_trip_with_msal_python() {
    let Some(peer) = Peer::python() else { return };
    interop_support::obo_round_trip(&peer).await;
}
