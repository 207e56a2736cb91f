//! Cache round trips with the real MSAL Node (`@azure/msal-node` from npm, installed by `cargo xtask
//! test`; env `MSAL_NODE_DIR`): its `getTokenCache().serialize()` output is served by
//! msal-lite, and what msal-lite writes is served by MSAL Node's `acquireTokenSilent` /
//! `acquireTokenByClientCredential` (`fromCache`), each with zero token
//! requests to the dev tenant.
#![cfg(feature = "reqwest")]

use crate::interop_support;

use interop_support::Peer;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_cache_round_trip_with_msal_node() {
    let Some(peer) = Peer::node() else { return };
    interop_support::user_round_trip(&peer).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn app_token_cached_by_msal_node_is_served_by_msal_lite() {
    let Some(peer) = Peer::node() else { return };
    interop_support::app_token_from_peer(&peer).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn app_token_written_by_msal_lite_is_served_by_msal_node() {
    let Some(peer) = Peer::node() else { return };
    interop_support::app_token_from_msal_lite(&peer).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn obo_cache_round_trip_with_msal_node() {
    let Some(peer) = Peer::node() else { return };
    interop_support::obo_round_trip(&peer).await;
}
