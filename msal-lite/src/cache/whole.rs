//! Whole-cache serialization, as MSAL Node's `getTokenCache().serialize()/deserialize()` and
//! MSAL Python's `SerializableTokenCache` do it: one MSAL document in, one out.

use std::collections::{BTreeMap, HashMap};

use super::obo::{EntryContext, StoredPartition, to_schema};
use super::persist;
use super::user::{
    Acquired, Owner, UserEntries, apply_to_document, partition_from_document,
    partition_from_entries,
};
use crate::ConfidentialClient;
use crate::persistence::{CacheImport, ImportError, read_partitions, save_partitions};
use crate::schema::{CacheDocument, PartitionKey};

impl ConfidentialClient {
    /// Imports a whole MSAL cache document: what MSAL Python's
    /// `SerializableTokenCache.serialize()`, MSAL Node's `getTokenCache().serialize()` or
    /// MSAL.NET's `SerializeMsalV3()` wrote.
    ///
    /// The document is read once and its entries grouped by partition in one pass (O(entries)).
    /// With a [`cache_store`](crate::ConfidentialClientBuilder::cache_store), every partition
    /// (user, on-behalf-of, app) is merged into the store, so every instance sharing it finds
    /// the tokens; this client's user and on-behalf-of partitions also go into memory, so the
    /// next silent or OBO request is served without a network call, store or not.
    ///
    /// A malformed entry is skipped with a traced warning naming its key (and listed in
    /// [`CacheImport::skipped`]); a document that is not JSON at all is an error naming the
    /// byte offset, and nothing is imported.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// # let client = msal_lite::ConfidentialClient::builder("cid", "https://login.microsoftonline.com/t",
    /// #     msal_lite::ClientCredential::secret("s")).http_client(|_r: msal_lite::http::HttpRequest| async {
    /// #     Err::<msal_lite::http::HttpResponse, _>(msal_lite::http::HttpError::body_too_large(0)) }).build()?;
    /// let report = client.import_msal_cache(br#"{"Account": {}, "AccessToken": {"k": 1}}"#).await?;
    /// assert_eq!(report.skipped, ["k"]);
    /// assert!(client.import_msal_cache(b"{\"Account\": [").await.is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub async fn import_msal_cache(&self, json: &[u8]) -> Result<CacheImport, ImportError> {
        let inner = &self.inner;
        let now = inner.clock.unix_seconds();
        let owner = Owner::of(&inner.client_id, &inner.authority);
        let (parts, report) = if inner.cache_store.is_some() {
            read_partitions(json).map_err(ImportError::Document)?
        } else {
            // Into memory only: no per-user documents to save, so users' entries are read
            // where they were parsed (see `UserEntries`), and only the other partitions are
            // split into documents.
            let (doc, skipped) =
                CacheDocument::from_slice_lenient(json).map_err(ImportError::Document)?;
            let (users, rest) = group_users(&doc);
            let parts = rest.into_partitions();
            for (home, entries) in &users {
                if let Some(p) = partition_from_entries(entries, &owner, home, now) {
                    inner.users.cache.merge_loaded(home, p, now);
                }
            }
            let report = CacheImport {
                partitions: users.len() + parts.len(),
                entries: doc.len(),
                skipped,
            };
            (parts, report)
        };
        if let Some(store) = &inner.cache_store {
            save_partitions(&**store, parts.iter()).await?;
        }
        // The configured authority's token-endpoint tenant, discovered at most once.
        let mut endpoint_tenant: Option<Option<String>> = None;
        for (key, part) in &parts {
            match key {
                PartitionKey::User { home_account_id } => {
                    if let Some(p) = partition_from_document(part, &owner, home_account_id, now) {
                        inner.users.cache.merge_loaded(home_account_id, p, now);
                    }
                }
                PartitionKey::Obo { assertion_hash } => {
                    let stored = StoredPartition {
                        document: part,
                        client_id: &inner.client_id,
                        environment: inner.authority.environment(),
                        assertion_hash,
                        // The assertion's expiry is unknown here; the tokens' own bound it.
                        deadline: 0,
                    };
                    inner.obo.import(assertion_hash, &stored, now);
                }
                PartitionKey::App {
                    client_id,
                    tenant_id,
                } if client_id.eq_ignore_ascii_case(&inner.client_id) => {
                    let authority = if self
                        .is_endpoint_tenant(tenant_id, &mut endpoint_tenant)
                        .await
                    {
                        // MSAL Python's realm for the configured authority (see
                        // `is_endpoint_tenant`): serve it for that authority, and keep it in
                        // the store where this client looks.
                        if let Some(store) = &inner.cache_store {
                            let key = super::app::store_key(&inner.client_id, &inner.authority);
                            save_partitions(&**store, std::iter::once((&key, part))).await?;
                        }
                        inner.authority.clone()
                    } else {
                        let Ok(authority) = inner.authority.with_tenant(tenant_id) else {
                            continue;
                        };
                        authority
                    };
                    let partition = super::app::partition_key(&inner.client_id, &authority);
                    for token in super::app::from_document(part, &inner.client_id, &authority, now)
                    {
                        let granted = token.scopes.clone();
                        inner.cache.app.insert(&partition, &granted, token, now);
                    }
                }
                _ => {}
            }
        }
        Ok(report)
    }

    /// Every account this client can serve: those in memory ([`accounts`](Self::accounts))
    /// and those only the [`cache_store`](crate::ConfidentialClientBuilder::cache_store)
    /// holds (signed in through another instance, or imported into the store elsewhere), as
    /// MSAL's `getAllAccounts()` / `get_accounts()` list the whole cache. Needs a store whose
    /// [`CacheStore::list`](crate::persistence::CacheStore::list) works (memory, layered,
    /// Redis); with one that cannot list, the memory accounts.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// # let client = msal_lite::ConfidentialClient::builder("cid", "https://login.microsoftonline.com/t",
    /// #     msal_lite::ClientCredential::secret("s")).http_client(|_r: msal_lite::http::HttpRequest| async {
    /// #     Err::<msal_lite::http::HttpResponse, _>(msal_lite::http::HttpError::body_too_large(0)) })
    /// #     .cache_store(std::sync::Arc::new(msal_lite::persistence::MemoryStore::new())).build()?;
    /// assert!(client.all_accounts().await?.is_empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub async fn all_accounts(&self) -> Result<Vec<crate::Account>, ImportError> {
        let inner = &self.inner;
        let mut accounts = self.accounts();
        let Some(store) = &inner.cache_store else {
            return Ok(accounts);
        };
        let known: std::collections::HashSet<String> = accounts
            .iter()
            .map(|a| a.home_account_id().to_owned())
            .collect();
        let owner = Owner::of(&inner.client_id, &inner.authority);
        let now = inner.clock.unix_seconds();
        for key in listed(&**store).await? {
            let PartitionKey::User { home_account_id } = &key else {
                continue;
            };
            if known.contains(home_account_id) {
                continue;
            }
            let Some(stored) = store.load(&key).await.map_err(ImportError::Store)? else {
                continue;
            };
            if let Some(account) =
                partition_from_document(stored.document(), &owner, home_account_id, now)
                    .and_then(|p| p.account)
            {
                accounts.push((*account).clone());
            }
        }
        Ok(accounts)
    }

    /// Whether `realm` (an imported app token's) names the configured authority's tenant in
    /// MSAL Python's convention, though not as configured: MSAL Python writes the tenant of the
    /// discovered token endpoint (msal `authority.py`: `self.tenant` from `token_endpoint`),
    /// so for an authority named by domain its app tokens carry the tenant id. The authority
    /// metadata is fetched once per import, only when a realm differs from the configured
    /// tenant; if discovery fails the token stays under its own realm's tenant.
    async fn is_endpoint_tenant(&self, realm: &str, cached: &mut Option<Option<String>>) -> bool {
        let inner = &self.inner;
        let Some(configured) = inner.authority.tenant() else {
            return false;
        };
        if configured.eq_ignore_ascii_case(realm) || !inner.authority.supports_tenant_override() {
            return false;
        }
        if cached.is_none() {
            let found = inner
                .metadata
                .get(
                    inner.http.as_ref(),
                    &inner.retry,
                    &inner.authority,
                    crate::CorrelationId::random(),
                )
                .await
                .ok()
                .and_then(|m| super::app::endpoint_tenant(&m.token_endpoint).map(str::to_owned));
            *cached = Some(found);
        }
        cached
            .as_ref()
            .and_then(Option::as_deref)
            .is_some_and(|t| t.eq_ignore_ascii_case(realm))
    }

    /// Everything this client holds as one MSAL cache document (compact JSON): the user,
    /// on-behalf-of and app partitions in memory, merged with the cache store's copy of each of them.
    /// MSAL Python's `deserialize()`, MSAL Node's `deserialize()` and
    /// [`import_msal_cache`](Self::import_msal_cache) read it.
    ///
    /// # Security Warning
    ///
    /// The output contains every token secret in clear text (see
    /// [`CacheDocument::to_json`]).
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// # let client = msal_lite::ConfidentialClient::builder("cid", "https://login.microsoftonline.com/t",
    /// #     msal_lite::ClientCredential::secret("s")).http_client(|_r: msal_lite::http::HttpRequest| async {
    /// #     Err::<msal_lite::http::HttpResponse, _>(msal_lite::http::HttpError::body_too_large(0)) }).build()?;
    /// assert_eq!(client.export_msal_cache().await?, "{}");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub async fn export_msal_cache(&self) -> Result<String, ImportError> {
        let inner = &self.inner;
        let now = inner.clock.unix_seconds();
        let owner = Owner::of(&inner.client_id, &inner.authority);
        // Per partition: memory's entries, replaced by the store's copy when it has one (every
        // write reaches the store too, and its copy keeps the keys and fields the writer used).
        let mut parts: BTreeMap<PartitionKey, CacheDocument> = BTreeMap::new();
        inner.users.cache.for_each(|home, partition| {
            let doc = parts.entry(PartitionKey::user(home)).or_default();
            let Some(account) = &partition.account else {
                return;
            };
            let mut refresh_token = partition.refresh_token.clone();
            let mut id_token = partition.id_token.clone();
            for token in partition.tokens.values() {
                if token.expires_on <= now {
                    continue;
                }
                let acquired = Acquired {
                    account: account.clone(),
                    requested: token.scopes.clone(),
                    token: token.clone(),
                    refresh_token: refresh_token.take(),
                    id_token: id_token.take(),
                    now,
                };
                apply_to_document(doc, &owner, &acquired);
            }
        });
        inner.obo.tokens.for_each(|partition, token| {
            if token.expires_on <= now {
                return;
            }
            let hash = partition.split_once('|').map_or(partition, |(h, _)| h);
            let cx = EntryContext {
                client_id: &inner.client_id,
                environment: inner.authority.environment(),
                assertion_hash: hash,
                home_account_id: None,
                cached_at: now,
                requested: None,
            };
            parts
                .entry(PartitionKey::obo(hash))
                .or_default()
                .insert_access_token(to_schema(token, &cx));
        });
        inner.cache.app.for_each(|partition, token| {
            if token.expires_on <= now {
                return;
            }
            // `{client_id}|{authority}` (app::partition_key).
            let Some(authority) = partition
                .split_once('|')
                .and_then(|(_, a)| crate::Authority::parse(a).ok())
            else {
                return;
            };
            let part = parts
                .entry(super::app::store_key(&inner.client_id, &authority))
                .or_default();
            let entries = super::app::to_schema(token, &inner.client_id, &authority, now);
            super::app::apply(part, entries, &inner.client_id, now);
        });
        if let Some(store) = &inner.cache_store {
            // Partitions only the store holds (other instances' users, an import into the
            // store by another process): this client's, when the store can list them.
            for key in listed(&**store).await? {
                let mine = match &key {
                    PartitionKey::App { client_id, .. } => {
                        client_id.eq_ignore_ascii_case(&inner.client_id)
                    }
                    _ => true,
                };
                if mine {
                    parts.entry(key).or_default();
                }
            }
            for (key, part) in &mut parts {
                if let Some(stored) = persist::load(&**store, key).await {
                    *part = stored.document().clone();
                }
            }
        }
        let mut doc = CacheDocument::new();
        for part in parts.values() {
            doc.merge_newest(part);
        }
        Ok(doc.to_json())
    }
}

/// The store's partitions; none when the store cannot list them.
async fn listed(
    store: &dyn crate::persistence::CacheStore,
) -> Result<Vec<PartitionKey>, ImportError> {
    match store.list().await {
        Ok(keys) => Ok(keys),
        Err(crate::persistence::PersistenceError::Unsupported { .. }) => Ok(Vec::new()),
        Err(e) => Err(ImportError::Store(e)),
    }
}

/// The user a credential belongs to, by [`PartitionKey::of_access_token`]'s rule, without
/// allocating the key.
fn user_of<'d>(
    user_assertion_hash: Option<&str>,
    home_account_id: Option<&'d str>,
) -> Option<&'d str> {
    match (user_assertion_hash, home_account_id) {
        (Some(h), _) if !h.is_empty() => None,
        (_, Some(home)) if !home.is_empty() => Some(home),
        _ => None,
    }
}

/// `doc`'s entries grouped by user, borrowed, and a document of everything else (on-behalf-of
/// and app entries, with the app metadata) for [`CacheDocument::into_partitions`]. One pass.
fn group_users(doc: &CacheDocument) -> (HashMap<&str, UserEntries<'_>>, CacheDocument) {
    let mut users: HashMap<&str, UserEntries<'_>> = HashMap::with_capacity(doc.accounts.len());
    let mut rest = CacheDocument::new().with_key_style(doc.key_style());
    for (key, at) in &doc.access_tokens {
        match user_of(
            at.user_assertion_hash.as_deref(),
            at.home_account_id.as_deref(),
        ) {
            Some(home) => users.entry(home).or_default().access_tokens.push(at),
            None => {
                rest.access_tokens.insert(key.clone(), at.clone());
            }
        }
    }
    for (key, rt) in &doc.refresh_tokens {
        match user_of(
            rt.user_assertion_hash.as_deref(),
            rt.home_account_id.as_deref(),
        ) {
            Some(home) => users.entry(home).or_default().refresh_tokens.push(rt),
            None => {
                rest.refresh_tokens.insert(key.clone(), rt.clone());
            }
        }
    }
    for (key, idt) in &doc.id_tokens {
        match user_of(None, idt.home_account_id.as_deref()) {
            Some(home) => users.entry(home).or_default().id_tokens.push(idt),
            None => {
                rest.id_tokens.insert(key.clone(), idt.clone());
            }
        }
    }
    for account in doc.accounts.values() {
        users
            .entry(account.home_account_id.as_str())
            .or_default()
            .accounts
            .push(account);
    }
    rest.app_metadata.clone_from(&doc.app_metadata);
    (users, rest)
}
