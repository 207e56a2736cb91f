//! Single-flight: concurrent cache misses for one key share one network call.
//!
//! The first caller starts a flight; later callers join it and all get a clone of its result.
//! The flight is a `Shared` future, so it keeps running if the caller that started it is
//! cancelled while others still wait. It removes itself from the map when done, after the
//! flight body has written the cache; a caller that finds no flight re-checks the cache under
//! the map's lock, so a token stored by a flight that just finished is never fetched again.
//!
//! [`with_lease`] is the fleet half: inside one instance's flight, before the network, it
//! takes the shared store's acquisition lease so that one instance of the fleet goes to the
//! token endpoint and the others take the token it stores.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::persistence::{CacheStore, Lease, LeaseOutcome, Partition};
use crate::schema::PartitionKey;

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

/// First pause of a waiter between two polls of the store; doubled up to [`MAX_POLL`].
const FIRST_POLL: Duration = Duration::from_millis(2);
/// Longest pause between two polls: a waiter sees the leader's token at most this late.
const MAX_POLL: Duration = Duration::from_millis(50);

/// Runs `body` (one network acquisition that stores its token in `store`) as the fleet's
/// only acquisition of `flight` in `partition`, or returns what `take` makes of the token
/// another instance stored meanwhile.
///
/// - The lease comes with the stored partition (one round trip); `take` looks in it first, so
///   a token stored just before the lease was free is not fetched again.
/// - A waiter polls the store (with the lease attempt, so it takes over as soon as the lease
///   is released or expires) with backoff from [`FIRST_POLL`] to [`MAX_POLL`], never longer
///   than the lease has left, and for at most two lease durations in all; then it acquires
///   itself.
/// - A store without leases, or one that fails (Redis unreachable), means local single flight
///   only: `body` runs at once (availability over deduplication).
/// - `body` is told whether the store was just read (with the lease or the last poll), so it
///   can skip its own "before access" read: the lease then costs no extra round trip.
/// - The leader releases the lease once `body` is done, whatever its outcome, in the
///   background so the caller does not wait for it. A leader that is cancelled or crashes
///   leaves the lease to expire.
///
/// MSAL deduplicates within one process only (MSAL.NET
/// `src/client/Microsoft.Identity.Client/Internal/Requests/ClientCredentialRequest.cs`: one
/// static semaphore, the cache checked again inside it); the lease carries that re-check
/// across the fleet.
pub(crate) async fn with_lease<T, F>(
    store: &dyn CacheStore,
    ttl: Duration,
    partition: &PartitionKey,
    flight: &str,
    mut take: impl FnMut(&Partition) -> Option<T>,
    body: impl FnOnce(bool) -> F,
) -> T
where
    F: Future<Output = T>,
{
    let give_up_at = Instant::now() + ttl.saturating_mul(2);
    let mut pause = FIRST_POLL;
    loop {
        match store.acquisition_lease(partition, flight, ttl).await {
            Ok(LeaseOutcome::Acquired { lease, current }) => {
                if let Some(done) = current.as_ref().and_then(&mut take) {
                    release(lease).await;
                    return done;
                }
                let out = body(true).await;
                release(lease).await;
                return out;
            }
            Ok(LeaseOutcome::Held {
                expires_in,
                current,
            }) => {
                if let Some(done) = current.as_ref().and_then(&mut take) {
                    tracing::debug!(
                        partition = partition.kind(),
                        "served the token another instance acquired"
                    );
                    return done;
                }
                if pause == FIRST_POLL {
                    tracing::debug!(
                        partition = partition.kind(),
                        ?expires_in,
                        "another instance is acquiring this token; waiting for it"
                    );
                }
                let now = Instant::now();
                if now >= give_up_at {
                    tracing::warn!(
                        partition = partition.kind(),
                        "the fleet's acquisition lease is still held after two lease durations; acquiring here"
                    );
                    // The poll just read the store: nothing usable there.
                    return body(true).await;
                }
                // Poll again soon, and no later than when the lease ends.
                let wait = pause
                    .min(expires_in.max(Duration::from_millis(1)))
                    .min(give_up_at - now);
                tokio::time::sleep(wait).await;
                pause = (pause * 2).min(MAX_POLL);
            }
            Ok(_) => return body(false).await,
            Err(e) => {
                tracing::warn!(
                    partition = partition.kind(),
                    error = %e,
                    "acquisition lease unavailable; falling back to this instance's single flight"
                );
                return body(false).await;
            }
        }
    }
}

/// Releases `lease` in the background (inline without a Tokio runtime); a failure only means
/// the lease expires on its own.
async fn release(lease: Lease) {
    let releasing = async move {
        if let Err(e) = lease.release().await {
            tracing::debug!(error = %e, "releasing the acquisition lease failed; it will expire");
        }
    };
    match tokio::runtime::Handle::try_current() {
        Ok(runtime) => drop(runtime.spawn(releasing)),
        Err(_) => releasing.await,
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

#[cfg(test)]
mod lease_tests {
    use std::collections::VecDeque;
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;
    use crate::persistence::{BoxFuture, PersistenceError, SaveOutcome};
    use crate::schema::CacheDocument;

    /// A store that answers lease attempts from a script and counts releases.
    #[derive(Default)]
    struct Scripted {
        answers: Mutex<VecDeque<Result<LeaseOutcome, PersistenceError>>>,
        attempts: AtomicU32,
        releases: Arc<AtomicU32>,
    }

    impl Scripted {
        fn new(answers: impl IntoIterator<Item = Result<LeaseOutcome, PersistenceError>>) -> Self {
            Self {
                answers: Mutex::new(answers.into_iter().collect()),
                ..Self::default()
            }
        }
        fn lease(&self) -> Lease {
            let releases = self.releases.clone();
            Lease::new(move || {
                Box::pin(async move {
                    releases.fetch_add(1, Ordering::SeqCst);
                    Ok(())
                })
            })
        }
    }

    impl CacheStore for Scripted {
        fn load<'a>(
            &'a self,
            _: &'a PartitionKey,
        ) -> BoxFuture<'a, Result<Option<Partition>, PersistenceError>> {
            Box::pin(async { Ok(None) })
        }
        fn save<'a>(
            &'a self,
            _: &'a PartitionKey,
            _: Arc<CacheDocument>,
            _: Option<u64>,
        ) -> BoxFuture<'a, Result<SaveOutcome, PersistenceError>> {
            Box::pin(async { Ok(SaveOutcome::Saved { version: 1 }) })
        }
        fn remove<'a>(
            &'a self,
            _: &'a PartitionKey,
        ) -> BoxFuture<'a, Result<(), PersistenceError>> {
            Box::pin(async { Ok(()) })
        }
        fn acquisition_lease<'a>(
            &'a self,
            _: &'a PartitionKey,
            _: &'a str,
            _: Duration,
        ) -> BoxFuture<'a, Result<LeaseOutcome, PersistenceError>> {
            self.attempts.fetch_add(1, Ordering::SeqCst);
            let next = self
                .answers
                .lock()
                .unwrap()
                .pop_front()
                .unwrap_or(Ok(LeaseOutcome::Held {
                    expires_in: Duration::from_secs(60),
                    current: None,
                }));
            Box::pin(async move { next })
        }
    }

    fn held(version: Option<u64>) -> Result<LeaseOutcome, PersistenceError> {
        Ok(LeaseOutcome::Held {
            expires_in: Duration::from_millis(1),
            current: version.map(|v| Partition::new(v, Arc::new(CacheDocument::new()))),
        })
    }

    /// `take` accepts a partition stored at version 7 or later ("the leader's token").
    fn take(p: &Partition) -> Option<u32> {
        (p.version() >= 7).then_some(1)
    }

    async fn run(store: &Scripted, ttl: Duration, runs: &AtomicU32) -> u32 {
        with_lease(
            store,
            ttl,
            &PartitionKey::app("c", "t"),
            "s",
            take,
            |_| async {
                runs.fetch_add(1, Ordering::SeqCst);
                2
            },
        )
        .await
    }

    #[tokio::test]
    async fn a_waiter_takes_the_leaders_token_and_never_fetches() {
        let store = Scripted::new([held(None), held(Some(3)), held(Some(7))]);
        let runs = AtomicU32::new(0);
        assert_eq!(run(&store, Duration::from_secs(5), &runs).await, 1);
        assert_eq!(runs.load(Ordering::SeqCst), 0);
        assert_eq!(store.attempts.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn the_leader_fetches_and_releases_and_a_late_leader_takes_the_stored_token() {
        let store = Scripted::new([]);
        store.answers.lock().unwrap().extend([
            Ok(LeaseOutcome::Acquired {
                lease: store.lease(),
                current: None,
            }),
            Ok(LeaseOutcome::Acquired {
                lease: store.lease(),
                current: Some(Partition::new(8, Arc::new(CacheDocument::new()))),
            }),
        ]);
        let runs = AtomicU32::new(0);
        assert_eq!(run(&store, Duration::from_secs(5), &runs).await, 2);
        assert_eq!(run(&store, Duration::from_secs(5), &runs).await, 1);
        assert_eq!(
            runs.load(Ordering::SeqCst),
            1,
            "the second saw the stored token"
        );
        // Releases run in the background: poll until both happened.
        while store.releases.load(Ordering::SeqCst) < 2 {
            tokio::task::yield_now().await;
        }
    }

    #[tokio::test]
    async fn no_lease_or_a_failing_store_means_acquiring_here() {
        let runs = AtomicU32::new(0);
        let unsupported = Scripted::new([Ok(LeaseOutcome::Unsupported)]);
        assert_eq!(run(&unsupported, Duration::from_secs(5), &runs).await, 2);
        let down = Scripted::new([Err(PersistenceError::Timeout)]);
        assert_eq!(run(&down, Duration::from_secs(5), &runs).await, 2);
        assert_eq!(runs.load(Ordering::SeqCst), 2);
    }

    /// Whether `body` was told that the store had just been read.
    async fn store_read(store: &Scripted) -> bool {
        with_lease(
            store,
            Duration::from_secs(5),
            &PartitionKey::app("c", "t"),
            "s",
            |_| None,
            |read| async move { read },
        )
        .await
    }

    #[tokio::test]
    async fn the_body_skips_its_own_store_read_only_after_a_lease_read() {
        let leader = Scripted::new([]);
        leader
            .answers
            .lock()
            .unwrap()
            .push_back(Ok(LeaseOutcome::Acquired {
                lease: leader.lease(),
                current: None,
            }));
        assert!(store_read(&leader).await);
        assert!(!store_read(&Scripted::new([Ok(LeaseOutcome::Unsupported)])).await);
        assert!(!store_read(&Scripted::new([Err(PersistenceError::Timeout)])).await);
    }

    #[tokio::test]
    async fn a_lease_that_stays_held_is_waited_for_at_most_two_lease_durations() {
        let store = Scripted::new([]);
        let runs = AtomicU32::new(0);
        let started = Instant::now();
        assert_eq!(run(&store, Duration::from_millis(40), &runs).await, 2);
        let waited = started.elapsed();
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        assert!(waited >= Duration::from_millis(80), "waited {waited:?}");
        assert!(
            store.attempts.load(Ordering::SeqCst) > 2,
            "it polled meanwhile"
        );
    }
}
