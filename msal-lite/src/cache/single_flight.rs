//! Single-flight: concurrent cache misses for one key share one network call.
//!
//! The first caller starts a flight; later callers join it and all get a clone of its result.
//! The flight is a `Shared` future, so it keeps running if the caller that started it is
//! cancelled while others still wait. It removes itself from the map when done, after the
//! flight body has written the cache; a caller that finds no flight re-checks the cache under
//! the map's lock, so a token stored by a flight that just finished is never fetched again.

use std::future::Future;
use std::sync::{Arc, Mutex};

use foldhash::fast::RandomState;
use futures_util::FutureExt as _;
use futures_util::future::{BoxFuture, Shared};
use hashbrown::HashMap;

pub(crate) struct SingleFlight<T: Clone> {
    flights: Mutex<HashMap<Box<str>, Shared<BoxFuture<'static, T>>, RandomState>>,
}

impl<T: Clone + Send + Sync + 'static> SingleFlight<T> {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Self {
            flights: Mutex::new(HashMap::default()),
        })
    }

    /// Joins the flight for `key`, or (when `recheck` finds nothing) starts one with `start`.
    pub(crate) async fn run<F>(
        self: &Arc<Self>,
        key: &str,
        recheck: impl FnOnce() -> Option<T>,
        start: impl FnOnce() -> F,
    ) -> T
    where
        F: Future<Output = T> + Send + 'static,
    {
        let flight = {
            // Poisoning cannot leave the map inconsistent (no user code runs under the lock
            // except `recheck`, which only reads the cache); keep going.
            let mut flights = self.flights.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(flight) = flights.get(key) {
                flight.clone()
            } else {
                if let Some(done) = recheck() {
                    return done;
                }
                let body = start();
                let owner = Arc::clone(self);
                let owned_key: Box<str> = key.into();
                let flight = async move {
                    let out = body.await;
                    owner
                        .flights
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .remove(&owned_key);
                    out
                }
                .boxed()
                .shared();
                flights.insert(key.into(), flight.clone());
                flight
            }
        };
        flight.await
    }

    #[cfg(test)]
    pub(crate) fn in_flight(&self) -> usize {
        self.flights.lock().unwrap_or_else(|p| p.into_inner()).len()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use tokio::sync::Notify;

    use super::*;

    #[tokio::test]
    async fn concurrent_callers_share_one_run() {
        let flights = SingleFlight::<u32>::new();
        let runs = Arc::new(AtomicU32::new(0));
        let gate = Arc::new(Notify::new());
        let mut tasks = Vec::new();
        for _ in 0..50 {
            let flights = flights.clone();
            let runs = runs.clone();
            let gate = gate.clone();
            tasks.push(tokio::spawn(async move {
                flights
                    .run(
                        "k",
                        || None,
                        || async move {
                            runs.fetch_add(1, Ordering::SeqCst);
                            gate.notified().await;
                            7
                        },
                    )
                    .await
            }));
        }
        // Wait until the flight exists and every task has joined it.
        while flights.in_flight() == 0 {
            tokio::task::yield_now().await;
        }
        for _ in 0..100 {
            tokio::task::yield_now().await;
        }
        gate.notify_one();
        for t in tasks {
            assert_eq!(t.await.unwrap(), 7);
        }
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        assert_eq!(flights.in_flight(), 0);
    }

    #[tokio::test]
    async fn recheck_short_circuits_and_flights_are_removed() {
        let flights = SingleFlight::<u32>::new();
        assert_eq!(flights.run("k", || Some(1), || async { 2 }).await, 1);
        assert_eq!(flights.run("k", || None, || async { 3 }).await, 3);
        assert_eq!(flights.in_flight(), 0);
        assert_eq!(flights.run("k", || None, || async { 4 }).await, 4);
    }

    #[tokio::test]
    async fn survives_the_starter_being_cancelled() {
        let flights = SingleFlight::<u32>::new();
        let gate = Arc::new(Notify::new());
        let g = gate.clone();
        let starter = {
            let flights = flights.clone();
            tokio::spawn(async move {
                flights
                    .run(
                        "k",
                        || None,
                        || async move {
                            g.notified().await;
                            9
                        },
                    )
                    .await
            })
        };
        while flights.in_flight() == 0 {
            tokio::task::yield_now().await;
        }
        let joiner = {
            let flights = flights.clone();
            tokio::spawn(async move { flights.run("k", || None, || async { 0 }).await })
        };
        for _ in 0..20 {
            tokio::task::yield_now().await;
        }
        starter.abort();
        gate.notify_one();
        assert_eq!(joiner.await.unwrap(), 9);
    }
}
