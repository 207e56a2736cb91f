//! Cache round trips with the real MSAL Python (`msal` from PyPI, installed by `cargo xtask
//! test`; env `MSAL_PYTHON`): its `SerializableTokenCache.serialize()` output is served by
//! msal-lite, and what msal-lite writes is served by MSAL Python's `acquire_token_silent` /
//! `acquire_token_for_client` (`result["token_source"] == "cache"`), each with zero token
//! requests to the dev tenant.
#![cfg(feature = "reqwest")]

use crate::interop_support;

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

/// The deliberate difference for on-behalf-of (docs/migration.md): neither side serves the
/// other's OBO tokens, and this asserts exactly what happens instead.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn obo_tokens_are_not_shared_with_msal_python() {
    let Some(peer) = Peer::python() else { return };
    interop_support::obo_with_msal_python(&peer).await;
}
