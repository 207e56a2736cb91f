//! User partitions: the tokens and account of each signed-in user, keyed by
//! `home_account_id`.
//!
//! Same shape as the app partitions: one hash lookup finds the user, a second the scope key,
//! and a scope-superset scan runs only inside that user's (small) partition. A hit takes one
//! read lock, allocates nothing and returns an `Arc` clone.
//!
//! Memory is bounded by a byte budget for all users together. Each partition's size is kept
//! up to date on every change (an O(partition) sum), and the total in an atomic counter. Only
//! when an insert takes the total over the budget does an eviction pass run: it drops the
//! least recently used partitions until the total is under 90% of the budget, so a pass frees
//! at least a tenth of the budget and inserts do not scan. An evicted user is read back from
//! the cache store on their next request (or signs in again when there is none). Expired
//! access tokens are dropped lazily, when their partition changes.

use std::fmt;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};

use foldhash::fast::RandomState;
use hashbrown::HashMap;

use super::{CachedToken, Lookup, SUPERSET_SCAN_LIMIT};
use crate::Scopes;
use crate::account::Account;
use crate::result::AccessToken;
use crate::schema::{self, CacheDocument, CacheSecret, UnixTime};

/// Default byte budget for all user partitions: 256 MiB (about 40 000 users with a few tokens
/// each).
pub(crate) const DEFAULT_BYTE_BUDGET: usize = 256 * 1024 * 1024;

/// Fixed per-entry overhead counted on top of string lengths (map slots, `Arc` headers).
const ENTRY_OVERHEAD: usize = 96;

/// A refresh token (redacted `Debug`, no `Display`).
pub(crate) struct RefreshSecret(Box<str>);

impl RefreshSecret {
    pub(crate) fn new(secret: impl Into<Box<str>>) -> Self {
        Self(secret.into())
    }

    pub(crate) fn secret(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for RefreshSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RefreshSecret([redacted])")
    }
}

/// One user's entries.
#[derive(Default)]
pub(crate) struct UserPartition {
    pub(crate) account: Option<Arc<Account>>,
    /// Access tokens by scope key (requested and granted).
    pub(crate) tokens: HashMap<Box<str>, Arc<CachedToken>, RandomState>,
    pub(crate) refresh_token: Option<Arc<RefreshSecret>>,
    pub(crate) id_token: Option<Arc<str>>,
    bytes: usize,
    last_used: AtomicU64,
}

impl UserPartition {
    fn measure(&self) -> usize {
        let mut bytes = ENTRY_OVERHEAD;
        if let Some(a) = &self.account {
            bytes += ENTRY_OVERHEAD
                + a.home_account_id.len()
                + a.environment.len()
                + a.tenant_id.len()
                + a.username.as_deref().map_or(0, str::len)
                + a.name.as_deref().map_or(0, str::len)
                // The claims were parsed from the ID token, so its length bounds them.
                + self.id_token.as_deref().map_or(0, str::len);
        }
        for (key, token) in &self.tokens {
            bytes += ENTRY_OVERHEAD
                + key.len()
                + token.access_token.secret().len()
                + token.scopes.as_str().len() * 2;
        }
        bytes += self.refresh_token.as_ref().map_or(0, |r| r.0.len());
        bytes += self.id_token.as_deref().map_or(0, str::len);
        bytes
    }
}

/// What a lookup found.
pub(crate) struct UserLookup {
    pub(crate) token: Lookup,
    /// The partition's account (an `Arc` clone).
    pub(crate) account: Option<Arc<Account>>,
    /// Whether the partition is in memory (if not, the cache store may have it).
    pub(crate) in_memory: bool,
}

/// All user partitions of a client.
pub(crate) struct UserCache {
    partitions: RwLock<HashMap<Box<str>, UserPartition, RandomState>>,
    bytes: AtomicUsize,
    budget: usize,
}

/// What a token acquisition adds to a partition.
pub(crate) struct Acquired {
    pub(crate) account: Arc<Account>,
    pub(crate) requested: Scopes,
    pub(crate) token: Arc<CachedToken>,
    /// A new refresh token (replaces the old one: rotation).
    pub(crate) refresh_token: Option<Arc<RefreshSecret>>,
    pub(crate) id_token: Option<Arc<str>>,
    /// Unix seconds, for `cached_at` and lazy eviction.
    pub(crate) now: u64,
}

impl UserCache {
    pub(crate) fn new(budget: usize) -> Self {
        Self {
            partitions: RwLock::new(HashMap::default()),
            bytes: AtomicUsize::new(0),
            budget,
        }
    }

    /// Records a use at `now` (Unix seconds) for least-recently-used eviction. Deliberately a
    /// per-partition timestamp written only when the second changes, not a shared counter: a
    /// hit then reads one cache line and writes none, so concurrent hits on many cores do not
    /// contend.
    fn touch(partition: &UserPartition, now: u64) {
        if partition.last_used.load(Ordering::Relaxed) != now {
            partition.last_used.store(now, Ordering::Relaxed);
        }
    }

    /// Finds an access token for `scopes` in the user's partition.
    pub(crate) fn lookup(&self, home: &str, scopes: &Scopes, now: u64, margin: u64) -> UserLookup {
        // A poisoned lock means a panic during an insert; hashbrown inserts are panic-safe.
        let partitions = self.partitions.read().unwrap_or_else(|p| p.into_inner());
        let Some(partition) = partitions.get(home) else {
            return UserLookup {
                token: Lookup::Miss,
                account: None,
                in_memory: false,
            };
        };
        Self::touch(partition, now);
        let token = if let Some(token) = partition.tokens.get(scopes.key()) {
            token.classify(now, margin)
        } else if partition.tokens.len() > SUPERSET_SCAN_LIMIT {
            Lookup::Miss
        } else {
            let mut best = Lookup::Miss;
            for token in partition.tokens.values() {
                if !token.scopes.contains_all(scopes) {
                    continue;
                }
                match token.classify(now, margin) {
                    fresh @ Lookup::Fresh(_) => {
                        best = fresh;
                        break;
                    }
                    due @ Lookup::RefreshDue(_) => best = due,
                    Lookup::Miss => {}
                }
            }
            best
        };
        UserLookup {
            token,
            account: partition.account.clone(),
            in_memory: true,
        }
    }

    pub(crate) fn contains(&self, home: &str) -> bool {
        self.partitions
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .contains_key(home)
    }

    pub(crate) fn account(&self, home: &str) -> Option<Arc<Account>> {
        let partitions = self.partitions.read().unwrap_or_else(|p| p.into_inner());
        partitions.get(home).and_then(|p| p.account.clone())
    }

    pub(crate) fn accounts(&self) -> Vec<Arc<Account>> {
        let partitions = self.partitions.read().unwrap_or_else(|p| p.into_inner());
        partitions
            .values()
            .filter_map(|p| p.account.clone())
            .collect()
    }

    /// Calls `f` with every partition in memory (holds the read lock).
    pub(crate) fn for_each(&self, mut f: impl FnMut(&str, &UserPartition)) {
        let partitions = self.partitions.read().unwrap_or_else(|p| p.into_inner());
        for (home, partition) in partitions.iter() {
            f(home, partition);
        }
    }

    pub(crate) fn refresh_token(&self, home: &str) -> Option<Arc<RefreshSecret>> {
        let partitions = self.partitions.read().unwrap_or_else(|p| p.into_inner());
        partitions.get(home).and_then(|p| p.refresh_token.clone())
    }

    /// Puts a partition read from the cache store into memory, unless one appeared meanwhile
    /// (memory is then newer).
    pub(crate) fn insert_loaded(&self, home: &str, mut partition: UserPartition, now: u64) {
        partition.bytes = partition.measure();
        let added = partition.bytes;
        {
            let mut partitions = self.partitions.write().unwrap_or_else(|p| p.into_inner());
            if partitions.contains_key(home) {
                return;
            }
            Self::touch(&partition, now);
            partitions.insert(home.into(), partition);
        }
        self.bytes.fetch_add(added, Ordering::Relaxed);
        self.evict_if_over_budget(home);
    }

    /// Takes from a partition re-read from the cache store what is newer than memory: each
    /// access token that expires later than memory's for the same scopes, and the store's
    /// refresh token when memory has none or when any of the store's access tokens was newer
    /// (the instance that refreshed last wrote both, and its refresh token carries the latest
    /// sign-in state, e.g. MFA done there). Returns whether anything was taken.
    ///
    /// Nothing in memory is dropped: a token memory holds and the store lacks (a write that has
    /// not reached a shared store yet) stays.
    pub(crate) fn merge_loaded(&self, home: &str, loaded: UserPartition, now: u64) -> bool {
        let (before, after, taken) = {
            let mut partitions = self.partitions.write().unwrap_or_else(|p| p.into_inner());
            let Some(partition) = partitions.get_mut(home) else {
                drop(partitions);
                self.insert_loaded(home, loaded, now);
                return true;
            };
            let mut newer = false;
            for (key, token) in loaded.tokens {
                if token.expires_on <= now {
                    continue;
                }
                let take = partition
                    .tokens
                    .get(&key)
                    .is_none_or(|mine| mine.expires_on < token.expires_on);
                if take {
                    partition.tokens.insert(key, token);
                    newer = true;
                }
            }
            let mut taken = newer;
            if let Some(rt) = loaded.refresh_token
                && (newer || partition.refresh_token.is_none())
            {
                partition.refresh_token = Some(rt);
                taken = true;
            }
            if partition.account.is_none() && loaded.account.is_some() {
                partition.account = loaded.account;
                partition.id_token = loaded.id_token;
                taken = true;
            }
            let before = partition.bytes;
            partition.bytes = partition.measure();
            (before, partition.bytes, taken)
        };
        self.adjust(before, after);
        if after > before {
            self.evict_if_over_budget(home);
        }
        taken
    }

    /// Adds what a token acquisition returned.
    pub(crate) fn store(&self, acquired: &Acquired) {
        let home = acquired.account.home_account_id();
        let (before, after) = {
            let mut partitions = self.partitions.write().unwrap_or_else(|p| p.into_inner());
            let partition = match partitions.get_mut(home) {
                Some(p) => p,
                None => partitions.entry(home.into()).or_default(),
            };
            let before = partition.bytes;
            partition.account = Some(acquired.account.clone());
            let token = &acquired.token;
            partition.tokens.retain(|_, t| {
                t.expires_on > acquired.now && !super::overlaps(&t.scopes, &token.scopes)
            });
            // Keyed by the granted scopes; by the requested ones too only when the grant covers
            // them (MSAL keys by the response's `scope`).
            partition
                .tokens
                .insert(token.scopes.key().into(), token.clone());
            if token.scopes.key() != acquired.requested.key()
                && super::answers_request(&token.scopes, &acquired.requested)
            {
                partition
                    .tokens
                    .insert(acquired.requested.key().into(), token.clone());
            }
            if let Some(rt) = &acquired.refresh_token {
                partition.refresh_token = Some(rt.clone());
            }
            if let Some(id) = &acquired.id_token {
                partition.id_token = Some(id.clone());
            }
            partition.bytes = partition.measure();
            Self::touch(partition, acquired.now);
            (before, partition.bytes)
        };
        self.adjust(before, after);
        self.evict_if_over_budget(home);
    }

    /// Forgets a user (sign-out).
    pub(crate) fn remove(&self, home: &str) {
        let removed = self
            .partitions
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(home);
        if let Some(p) = removed {
            self.adjust(p.bytes, 0);
        }
    }

    fn adjust(&self, before: usize, after: usize) {
        if after >= before {
            self.bytes.fetch_add(after - before, Ordering::Relaxed);
        } else {
            self.bytes.fetch_sub(before - after, Ordering::Relaxed);
        }
    }

    /// Total bytes accounted (for tests and metrics).
    pub(crate) fn bytes(&self) -> usize {
        self.bytes.load(Ordering::Relaxed)
    }

    fn evict_if_over_budget(&self, keep: &str) {
        if self.bytes() <= self.budget {
            return;
        }
        let target = self.budget / 10 * 9;
        let mut partitions = self.partitions.write().unwrap_or_else(|p| p.into_inner());
        let mut by_age: Vec<(u64, Box<str>)> = partitions
            .iter()
            .filter(|(k, _)| &***k != keep)
            .map(|(k, p)| (p.last_used.load(Ordering::Relaxed), k.clone()))
            .collect();
        by_age.sort_unstable_by_key(|(age, _)| *age);
        let mut evicted = 0usize;
        for (_, key) in by_age {
            if self.bytes() <= target {
                break;
            }
            if let Some(p) = partitions.remove(&key) {
                self.adjust(p.bytes, 0);
                evicted += 1;
            }
        }
        tracing::debug!(evicted, "user token cache over its byte budget");
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.partitions
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .len()
    }
}

/// The identity of the client a partition is written for.
pub(crate) struct Owner<'a> {
    pub(crate) client_id: &'a str,
    pub(crate) environment: &'a str,
    /// The account entry's `authority_type` ([`authority_type`]).
    pub(crate) authority_type: &'static str,
}

impl<'a> Owner<'a> {
    /// The owner for `client_id` at `authority`.
    pub(crate) fn of(client_id: &'a str, authority: &'a crate::Authority) -> Self {
        Self {
            client_id,
            environment: authority.environment(),
            authority_type: authority_type(authority),
        }
    }
}

/// The `authority_type` MSAL writes on an account for `authority`: `"ADFS"` for an ADFS
/// authority (tenant segment `adfs`, as MSAL Python tells it: msal `token_cache.py`), `"MSSTS"`
/// for the Entra protocol (workforce, CIAM, hosts with Entra's layout) and `"Generic"` for a
/// plain OpenID Connect issuer (msal-common `AccountEntity.createAccount`: `ADFS`, else
/// `MSSTS` in the AAD protocol mode, else `Generic`).
pub(crate) fn authority_type(authority: &crate::Authority) -> &'static str {
    if authority
        .tenant()
        .is_some_and(|t| t.eq_ignore_ascii_case("adfs"))
    {
        "ADFS"
    } else if authority.kind() == crate::authority::AuthorityKind::Oidc {
        "Generic"
    } else {
        "MSSTS"
    }
}

/// Applies an acquisition to a stored (MSAL schema) partition: the account, the ID token, the
/// access token (replacing one with the same scopes, dropping expired ones) and the refresh
/// token (replacing this client's previous one: rotation).
pub(crate) fn apply_to_document(doc: &mut CacheDocument, owner: &Owner<'_>, acquired: &Acquired) {
    let account = &acquired.account;
    // MSAL writes the cloud's preferred cache host (login.windows.net for
    // login.microsoftonline.com), and reads any alias.
    let environment = crate::cloud::known().cache_host(owner.environment);
    let home = account.home_account_id();
    let now = i64::try_from(acquired.now).unwrap_or(i64::MAX);
    let mut entry = schema::Account::new(home, environment, account.tenant_id());
    entry.local_account_id = account.local_account_id().map(str::to_owned);
    entry.username = account.username().map(str::to_owned);
    entry.name = account.name().map(str::to_owned);
    entry.authority_type = Some(owner.authority_type.to_owned());
    entry.client_info = client_info_for(home);
    // Keep what another MSAL stored about the account (tenant profiles, ...).
    let key = entry.cache_key(doc.key_style());
    if let Some(old) = doc.accounts.get(&key) {
        entry.extra = old.extra.clone();
    }
    doc.accounts.insert(key, entry);

    if let Some(id_token) = &acquired.id_token {
        let mut idt =
            schema::IdToken::new(environment, owner.client_id, CacheSecret::new(&**id_token));
        idt.home_account_id = Some(home.to_owned());
        idt.realm = Some(account.tenant_id().to_owned());
        doc.insert_id_token(idt);
    }

    let token = &acquired.token;
    doc.access_tokens.retain(|_, at| {
        let mine = at.client_id == owner.client_id
            && at.home_account_id.as_deref() == Some(home)
            && at.user_assertion_hash.is_none();
        // What the new token supersedes (overlapping scopes), as MSAL removes on write.
        let superseded = at
            .target
            .as_deref()
            .and_then(Scopes::from_server)
            .is_some_and(|s| super::overlaps(&s, &token.scopes));
        !(mine && (superseded || at.expires_on.as_secs() <= now))
    });
    let mut at = schema::AccessToken::new(
        environment,
        owner.client_id,
        CacheSecret::new(token.access_token.secret()),
        UnixTime::from_secs(secs(token.expires_on)),
    );
    at.home_account_id = Some(home.to_owned());
    at.realm = Some(
        token
            .tenant_id
            .as_deref()
            .unwrap_or(account.tenant_id())
            .to_owned(),
    );
    at.target = Some(token.scopes.as_str().to_owned());
    at.cached_at = Some(UnixTime::from_secs(now));
    at.extended_expires_on = token
        .ext_expires_on
        .get()
        .map(|t| UnixTime::from_secs(secs(t)));
    at.refresh_on = token.refresh_on.get().map(|t| UnixTime::from_secs(secs(t)));
    if !token.token_type.eq_ignore_ascii_case("bearer") {
        at.token_type = Some(token.token_type.to_string());
        at.credential_type = schema::CREDENTIAL_ACCESS_TOKEN_WITH_AUTH_SCHEME.to_owned();
    }
    doc.insert_access_token(at);

    if let Some(rt) = &acquired.refresh_token {
        doc.refresh_tokens.retain(|_, old| {
            !(old.client_id == owner.client_id
                && old.home_account_id.as_deref() == Some(home)
                && old.user_assertion_hash.is_none())
        });
        let mut entry =
            schema::RefreshToken::new(environment, owner.client_id, CacheSecret::new(rt.secret()));
        entry.home_account_id = Some(home.to_owned());
        // MSAL Python writes it and tries the newest refresh token first (msal
        // `application.py`, sorted by `last_modification_time`); so does msal-lite.
        entry.last_modification_time = Some(acquired.now.to_string());
        doc.insert_refresh_token(entry);
    }

    let metadata = schema::AppMetadata::new(environment, owner.client_id);
    let key = metadata.cache_key(doc.key_style());
    doc.app_metadata.entry(key).or_insert(metadata);
}

fn secs(t: u64) -> i64 {
    i64::try_from(t).unwrap_or(i64::MAX)
}

/// `client_info` for an account entry, rebuilt from `uid.utid` (MSAL.NET and msal-node read
/// it to recover the home account id).
fn client_info_for(home: &str) -> Option<String> {
    use base64::Engine as _;
    let (uid, utid) = home.split_once('.')?;
    let json = serde_json::json!({ "uid": uid, "utid": utid }).to_string();
    Some(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json))
}

/// Reads one user's entries for this client out of a stored partition. Access tokens that have
/// expired, are not Bearer, or were acquired with claims or on behalf of someone are skipped.
pub(crate) fn partition_from_document(
    doc: &CacheDocument,
    owner: &Owner<'_>,
    home: &str,
    now: u64,
) -> Option<UserPartition> {
    partition_from_entries(&UserEntries::of(doc), owner, home, now)
}

/// A user's entries, borrowed from a parsed document: what [`partition_from_entries`] reads.
/// An import groups a whole document's entries by user into these (a few pointers per entry)
/// instead of building one `CacheDocument` of `BTreeMap`s per user, whose first insert each
/// allocates a whole node (about 9 KB per user).
#[derive(Default)]
pub(crate) struct UserEntries<'d> {
    pub(crate) access_tokens: Vec<&'d schema::AccessToken>,
    pub(crate) refresh_tokens: Vec<&'d schema::RefreshToken>,
    pub(crate) id_tokens: Vec<&'d schema::IdToken>,
    pub(crate) accounts: Vec<&'d schema::Account>,
}

impl<'d> UserEntries<'d> {
    /// Every entry of `doc`.
    pub(crate) fn of(doc: &'d CacheDocument) -> Self {
        Self {
            access_tokens: doc.access_tokens.values().collect(),
            refresh_tokens: doc.refresh_tokens.values().collect(),
            id_tokens: doc.id_tokens.values().collect(),
            accounts: doc.accounts.values().collect(),
        }
    }
}

/// [`partition_from_document`] over borrowed entries.
pub(crate) fn partition_from_entries(
    doc: &UserEntries<'_>,
    owner: &Owner<'_>,
    home: &str,
    now: u64,
) -> Option<UserPartition> {
    // Every user and token of a client names the same few environments and tenants: one shared
    // copy each (bounded, see `TenantIds`) instead of one allocation per user and per token.
    static SHARED: std::sync::LazyLock<super::tenant_ids::TenantIds> =
        std::sync::LazyLock::new(super::tenant_ids::TenantIds::default);
    let mine = |client_id: &str, env: &str, h: Option<&str>| {
        client_id == owner.client_id
            && crate::cloud::known().same_cloud(env, owner.environment)
            && h == Some(home)
    };
    let id_token = doc
        .id_tokens
        .iter()
        .copied()
        .find(|t| mine(&t.client_id, &t.environment, t.home_account_id.as_deref()))
        .map(|t| t.secret.shared());
    let account = doc
        .accounts
        .iter()
        .copied()
        .find(|a| {
            a.home_account_id == home
                && crate::cloud::known().same_cloud(&a.environment, owner.environment)
        })
        .map(|a| {
            Arc::new(Account {
                home_account_id: a.home_account_id.as_str().into(),
                environment: SHARED.intern(owner.environment),
                tenant_id: SHARED.intern(&a.realm),
                local_account_id: a.local_account_id.as_deref().map(Arc::from),
                username: a.username.as_deref().map(Arc::from),
                name: a.name.as_deref().map(Arc::from),
                // Parsed when the app asks (`Account::id_token_claims`), not per user here.
                claims: Arc::new(crate::account::Claims::of_id_token(id_token.clone())),
            })
        });
    // Several may match (written by different MSALs or under alias hosts): the newest wins, as
    // MSAL Python tries them newest first (msal `application.py`: sorted by
    // `last_modification_time`, descending; a missing time counts as 0).
    let refresh_token = doc
        .refresh_tokens
        .iter()
        .copied()
        .filter(|t| {
            mine(&t.client_id, &t.environment, t.home_account_id.as_deref())
                && t.user_assertion_hash.is_none()
        })
        .max_by_key(|t| {
            t.last_modification_time
                .as_deref()
                .and_then(|m| m.parse::<i64>().ok())
                .unwrap_or(0)
        })
        .map(|t| Arc::new(RefreshSecret::new(t.secret.secret())));
    let mut tokens = HashMap::default();
    for &at in &doc.access_tokens {
        let usable = mine(
            &at.client_id,
            &at.environment,
            at.home_account_id.as_deref(),
        ) && at.user_assertion_hash.is_none()
            && at.requested_claims.is_none()
            && at.credential_type == schema::CREDENTIAL_ACCESS_TOKEN
            && u64::try_from(at.expires_on.as_secs()).is_ok_and(|e| e > now);
        if !usable {
            continue;
        }
        let Some(scopes) = at.target.as_deref().and_then(Scopes::from_server) else {
            continue;
        };
        let to_u64 = |t: UnixTime| u64::try_from(t.as_secs()).ok();
        let token = Arc::new(CachedToken {
            // Shares the parsed entry's allocation (`CacheSecret`), no copy.
            access_token: AccessToken::new(at.secret.shared()),
            token_type: super::token_type(at.token_type.as_deref().unwrap_or("Bearer")),
            expires_on: to_u64(at.expires_on).unwrap_or(0),
            ext_expires_on: at.extended_expiry().and_then(to_u64).into(),
            refresh_on: at.refresh_on.and_then(to_u64).into(),
            tenant_id: at.realm.as_deref().map(|realm| SHARED.intern(realm)),
            scopes,
        });
        tokens.insert(Box::from(token.scopes.key()), token);
    }
    if account.is_none() && refresh_token.is_none() && tokens.is_empty() {
        return None;
    }
    Some(UserPartition {
        account,
        tokens,
        refresh_token,
        id_token,
        bytes: 0,
        last_used: AtomicU64::new(0),
    })
}

#[cfg(test)]
mod authority_type_tests {
    use super::authority_type;
    use crate::Authority;

    /// Vectors: msal-common `AccountEntity.createAccount` (`ADFS` / `MSSTS` in the AAD protocol
    /// mode / `Generic`), MSAL Python `token_cache.py` (`ADFS` when the realm is `adfs`).
    #[test]
    fn authority_type_per_kind() {
        let of = |a: &str| authority_type(&Authority::parse(a).unwrap());
        assert_eq!(
            of("https://login.microsoftonline.com/contoso.onmicrosoft.com"),
            "MSSTS"
        );
        assert_eq!(
            of("https://contoso.ciamlogin.com/contoso.onmicrosoft.com"),
            "MSSTS"
        );
        assert_eq!(of("https://fs.contoso.com/adfs"), "ADFS");
        let oidc = Authority::from_oidc_issuer("https://accounts.example.com").unwrap();
        assert_eq!(authority_type(&oidc), "Generic");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account(home: &str) -> Arc<Account> {
        Arc::new(Account {
            home_account_id: home.into(),
            environment: "login.example.com".into(),
            tenant_id: "utid".into(),
            local_account_id: Some("uid".into()),
            username: Some("alice@contoso.com".into()),
            name: Some("Alice".into()),
            claims: Arc::default(),
        })
    }

    fn token(scopes: &str, expires_on: u64) -> Arc<CachedToken> {
        Arc::new(CachedToken {
            access_token: AccessToken::new(format!("at-{scopes}")),
            token_type: "Bearer".into(),
            scopes: Scopes::new([scopes]).unwrap(),
            expires_on,
            ext_expires_on: Some(expires_on).into(),
            refresh_on: None.into(),
            tenant_id: Some("utid".into()),
        })
    }

    fn acquired(home: &str, requested: &str, granted: &str, rt: &str) -> Acquired {
        acquired_at(home, requested, granted, rt, 1000)
    }

    fn acquired_at(home: &str, requested: &str, granted: &str, rt: &str, now: u64) -> Acquired {
        Acquired {
            account: account(home),
            requested: Scopes::new([requested]).unwrap(),
            token: token(granted, 10_000),
            refresh_token: Some(Arc::new(RefreshSecret::new(rt))),
            id_token: Some("h.eyJzdWIiOiJzIn0.s".into()),
            now,
        }
    }

    fn fresh(l: UserLookup) -> Option<String> {
        match l.token {
            Lookup::Fresh(t) => Some(t.access_token.secret().to_owned()),
            _ => None,
        }
    }

    fn loaded(tokens: &[(&str, &str, u64)], rt: Option<&str>) -> UserPartition {
        UserPartition {
            account: Some(account("u.t")),
            tokens: tokens
                .iter()
                .map(|(scopes, secret, expires_on)| {
                    let token = Arc::new(CachedToken {
                        access_token: AccessToken::new(*secret),
                        token_type: "Bearer".into(),
                        scopes: Scopes::new([*scopes]).unwrap(),
                        expires_on: *expires_on,
                        ext_expires_on: None.into(),
                        refresh_on: None.into(),
                        tenant_id: None,
                    });
                    (Box::from(token.scopes.key()), token)
                })
                .collect(),
            refresh_token: rt.map(|rt| Arc::new(RefreshSecret::new(rt))),
            ..UserPartition::default()
        }
    }

    fn secret_of(cache: &UserCache, scopes: &str, now: u64) -> Option<String> {
        let found = cache.lookup("u.t", &Scopes::new([scopes]).unwrap(), now, 0);
        match found.token {
            Lookup::Fresh(t) | Lookup::RefreshDue(t) => Some(t.access_token.secret().to_owned()),
            Lookup::Miss => None,
        }
    }

    /// Issue 16 items 2 and 3: keyed by granted scopes only; overlapping tokens replaced on
    /// write, in memory and in the stored (MSAL schema) partition.
    #[test]
    fn granted_scopes_only_and_overlapping_tokens_replaced() {
        let cache = UserCache::new(DEFAULT_BYTE_BUDGET);
        // Asked for User.Read Mail.Read, granted User.Read only.
        cache.store(&acquired("u.t", "User.Read Mail.Read", "User.Read", "rt"));
        assert!(secret_of(&cache, "User.Read Mail.Read", 1000).is_none());
        assert!(secret_of(&cache, "Mail.Read", 1000).is_none());
        assert_eq!(
            secret_of(&cache, "User.Read", 1000).as_deref(),
            Some("at-User.Read")
        );
        // A newer grant overlapping on User.Read replaces it.
        cache.store(&acquired(
            "u.t",
            "User.Read Files.Read",
            "User.Read Files.Read",
            "rt",
        ));
        assert_eq!(
            secret_of(&cache, "User.Read", 1000).as_deref(),
            Some("at-User.Read Files.Read")
        );
        let owner = Owner {
            client_id: "cid",
            environment: "login.example.com",
            authority_type: "MSSTS",
        };
        let mut doc = CacheDocument::new();
        for (requested, granted) in [
            ("User.Read", "User.Read Mail.Read"),
            ("Files.Read", "Files.Read"),
            ("Mail.Read", "Mail.Read"),
        ] {
            apply_to_document(&mut doc, &owner, &acquired("u.t", requested, granted, "rt"));
        }
        let mut targets: Vec<_> = doc
            .access_tokens
            .values()
            .filter_map(|a| a.target.clone())
            .collect();
        targets.sort();
        assert_eq!(targets, ["Files.Read", "Mail.Read"]);
    }

    #[test]
    fn merge_takes_newer_tokens_and_keeps_what_only_memory_has() {
        let cache = UserCache::new(DEFAULT_BYTE_BUDGET);
        cache.store(&acquired("u.t", "a", "a", "rt-mine")); // a expires at 10,000
        cache.store(&acquired("u.t", "b", "b", "rt-mine"));
        let rt = |c: &UserCache| c.refresh_token("u.t").map(|r| r.secret().to_owned());

        // Older or equal tokens and an expired one are not taken, nor is the refresh token.
        let stale = loaded(
            &[
                ("a", "a-old", 9_000),
                ("b", "b-same", 10_000),
                ("c", "c-gone", 500),
            ],
            Some("rt-stale"),
        );
        assert!(!cache.merge_loaded("u.t", stale, 1000));
        assert_eq!(secret_of(&cache, "a", 1000).as_deref(), Some("at-a"));
        assert_eq!(secret_of(&cache, "b", 1000).as_deref(), Some("at-b"));
        assert_eq!(secret_of(&cache, "c", 1000), None);
        assert_eq!(rt(&cache).as_deref(), Some("rt-mine"));

        // A newer token and a new scope are taken, with the store's refresh token; a token only
        // memory holds (b, not in this copy) stays.
        let before = cache.bytes();
        let newer = loaded(
            &[("a", "a-new", 20_000), ("d", "d-new", 20_000)],
            Some("rt-new"),
        );
        assert!(cache.merge_loaded("u.t", newer, 1000));
        assert_eq!(secret_of(&cache, "a", 1000).as_deref(), Some("a-new"));
        assert_eq!(secret_of(&cache, "d", 1000).as_deref(), Some("d-new"));
        assert_eq!(secret_of(&cache, "b", 1000).as_deref(), Some("at-b"));
        assert_eq!(rt(&cache).as_deref(), Some("rt-new"));
        assert!(
            cache.bytes() > before,
            "the byte budget accounts for what was taken"
        );
    }

    #[test]
    fn lookups_superset_and_rotation() {
        let cache = UserCache::new(DEFAULT_BYTE_BUDGET);
        cache.store(&acquired(
            "u.t",
            "User.Read",
            "User.Read openid profile",
            "rt1",
        ));
        assert!(
            fresh(cache.lookup("u.t", &Scopes::new(["user.read"]).unwrap(), 2000, 300)).is_some()
        );
        assert!(fresh(cache.lookup("u.t", &Scopes::new(["openid"]).unwrap(), 2000, 300)).is_some());
        assert!(
            fresh(cache.lookup("u.t", &Scopes::new(["Mail.Read"]).unwrap(), 2000, 300)).is_none()
        );
        assert!(
            fresh(cache.lookup("u.t", &Scopes::new(["User.Read"]).unwrap(), 9800, 300)).is_none(),
            "margin"
        );
        let miss = cache.lookup("other", &Scopes::new(["a"]).unwrap(), 0, 0);
        assert!(!miss.in_memory);
        cache.store(&acquired("u.t", "User.Read", "User.Read", "rt2"));
        assert_eq!(cache.refresh_token("u.t").unwrap().secret(), "rt2");
        assert_eq!(cache.accounts().len(), 1);
        cache.remove("u.t");
        assert!(cache.account("u.t").is_none());
        assert_eq!(cache.bytes(), 0);
        assert_eq!(
            format!("{:?}", RefreshSecret::new("rt")),
            "RefreshSecret([redacted])"
        );
    }

    #[test]
    fn byte_budget_evicts_least_recently_used_users() {
        let one = {
            let c = UserCache::new(usize::MAX);
            c.store(&acquired("u0.t", "a", "a", "rt"));
            c.bytes()
        };
        // Room for about ten users.
        let cache = UserCache::new(one * 10);
        for i in 0..10 {
            cache.store(&acquired_at(&format!("u{i}.t"), "a", "a", "rt", 1000 + i));
        }
        assert_eq!(cache.len(), 10);
        // Use u0 so that it is the most recent.
        assert!(fresh(cache.lookup("u0.t", &Scopes::new(["a"]).unwrap(), 1100, 0)).is_some());
        cache.store(&acquired_at("u10.t", "a", "a", "rt", 1101));
        assert!(cache.bytes() <= one * 10);
        assert!(cache.len() < 11);
        assert!(cache.contains("u0.t"), "recently used survives");
        assert!(cache.contains("u10.t"), "the new one survives");
        assert!(!cache.contains("u1.t"), "least recently used goes first");
    }

    #[test]
    fn document_round_trip() {
        let owner = Owner {
            client_id: "cid",
            environment: "login.example.com",
            authority_type: "MSSTS",
        };
        let mut doc = CacheDocument::new();
        apply_to_document(
            &mut doc,
            &owner,
            &acquired("u.t", "User.Read", "User.Read openid", "rt1"),
        );
        apply_to_document(
            &mut doc,
            &owner,
            &acquired("u.t", "User.Read", "User.Read openid", "rt2"),
        );
        assert_eq!(doc.refresh_tokens.len(), 1, "rotation replaces");
        assert_eq!(doc.access_tokens.len(), 1, "same scopes replace");
        assert_eq!(doc.accounts.len(), 1);
        assert_eq!(doc.app_metadata.len(), 1);
        // What MSAL would read.
        let json = doc.to_json();
        let back = CacheDocument::from_json(&json).unwrap();
        let p = partition_from_document(&back, &owner, "u.t", 2000).unwrap();
        assert_eq!(p.refresh_token.unwrap().secret(), "rt2");
        assert_eq!(
            p.account.as_ref().unwrap().username(),
            Some("alice@contoso.com")
        );
        assert_eq!(p.account.unwrap().id_token_claims()["sub"], "s");
        assert_eq!(p.tokens.len(), 1);
        // Expired tokens and other users are not loaded.
        let p = partition_from_document(&back, &owner, "u.t", 20_000).unwrap();
        assert!(p.tokens.is_empty());
        assert!(partition_from_document(&back, &owner, "x.y", 0).is_none());
        let other = Owner {
            client_id: "other",
            environment: "login.example.com",
            authority_type: "MSSTS",
        };
        assert!(
            partition_from_document(&back, &other, "u.t", 0)
                .unwrap()
                .refresh_token
                .is_none()
        );
    }

    /// Several matching refresh tokens (another MSAL wrote one under an alias host, MSAL Python
    /// keys one per target): the newest `last_modification_time` wins, as MSAL Python tries
    /// them newest first (msal `application.py` `_acquire_token_silent_by_finding_specific_refresh_token`).
    #[test]
    fn the_newest_refresh_token_wins() {
        let owner = Owner {
            client_id: "cid",
            environment: "login.microsoftonline.com",
            authority_type: "MSSTS",
        };
        let mut doc = CacheDocument::new();
        for (env, secret, modified) in [
            ("login.windows.net", "old", Some("1700000000")),
            ("login.microsoftonline.com", "newest", Some("1700000500")),
            ("login.microsoft.com", "undated", None),
            ("sts.windows.net", "middle", Some("1700000100")),
        ] {
            let mut rt = schema::RefreshToken::new(env, "cid", CacheSecret::new(secret));
            rt.home_account_id = Some("u.t".into());
            rt.last_modification_time = modified.map(str::to_owned);
            doc.insert_refresh_token(rt);
        }
        let p = partition_from_document(&doc, &owner, "u.t", 0).unwrap();
        assert_eq!(p.refresh_token.unwrap().secret(), "newest");
        // msal-lite stamps the ones it writes, so the next reader can tell.
        let mut written = CacheDocument::new();
        apply_to_document(
            &mut written,
            &owner,
            &acquired_at("u.t", "a", "a", "rt", 1234),
        );
        let rt = written.refresh_tokens.values().next().unwrap();
        assert_eq!(rt.last_modification_time.as_deref(), Some("1234"));
    }
}
