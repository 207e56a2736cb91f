//! Scale-out: several web-app and API instances sharing one real `redis-server`, against the real
//! dev tenant. One browser (one cookie jar) talks to every web-app instance, as it would behind a
//! load balancer where the instances share an origin.

mod support;

use std::net::SocketAddr;

use api::at_rest::{CacheCodec, DataKeys};
use base64::Engine as _;
use dev_tenant::quickstart as q;
use dev_tenant::{Config as TenantConfig, DevTenant, Endpoint};
use msal_lite::persistence::Codec as _;
use msal_lite::schema::{CacheDocument, PartitionKey};
use redis::aio::MultiplexedConnection;
use reqwest::StatusCode;
use support::{Browser, Stack, no_redirects, start_api, start_web_app};

/// What every instance shares: Redis, the data keys, the cookie key.
struct Shared {
    redis_url: String,
    data_keys: String,
    cookie_key: String,
}

impl Shared {
    fn new(redis_url: String) -> Self {
        let mut cookie = [0u8; 32];
        aws_lc_rs::rand::SecureRandom::fill(&aws_lc_rs::rand::SystemRandom::new(), &mut cookie)
            .unwrap();
        Self {
            redis_url,
            data_keys: DataKeys::new_entry("k1"),
            cookie_key: base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(cookie),
        }
    }

    fn vars(&self) -> Vec<(&'static str, String)> {
        self.vars_with_keys(&self.data_keys)
    }

    fn vars_with_keys(&self, data_keys: &str) -> Vec<(&'static str, String)> {
        vec![
            ("REDIS_URL", self.redis_url.clone()),
            ("DATA_KEYS", data_keys.to_owned()),
            ("COOKIE_KEY", self.cookie_key.clone()),
        ]
    }

    fn keys(&self) -> DataKeys {
        DataKeys::parse(&self.data_keys).unwrap()
    }
}

async fn connect(url: &str) -> MultiplexedConnection {
    redis::Client::open(url)
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}

/// `KEYS *`, then `GET` / `HGETALL` of every key: everything a Redis dump would disclose.
async fn dump(conn: &mut MultiplexedConnection) -> Vec<(String, Vec<u8>)> {
    let mut keys: Vec<String> = redis::cmd("KEYS").arg("*").query_async(conn).await.unwrap();
    keys.sort();
    let mut out = Vec::new();
    for key in keys {
        let kind: String = redis::cmd("TYPE")
            .arg(&key)
            .query_async(conn)
            .await
            .unwrap();
        let mut bytes = Vec::new();
        match kind.as_str() {
            "string" => {
                let v: Vec<u8> = redis::cmd("GET").arg(&key).query_async(conn).await.unwrap();
                bytes.extend(v);
            }
            "hash" => {
                let fields: Vec<Vec<u8>> = redis::cmd("HGETALL")
                    .arg(&key)
                    .query_async(conn)
                    .await
                    .unwrap();
                for f in fields {
                    bytes.extend(f);
                    bytes.push(b'\n');
                }
            }
            other => panic!("unexpected redis type {other} for {key}"),
        }
        out.push((key, bytes));
    }
    out
}

fn user_key() -> String {
    format!("{}user/{}", web_app::MSAL_CACHE_PREFIX, home_account_id())
}

fn home_account_id() -> String {
    format!("{}.{}", q::ALICE_OBJECT_ID, q::TENANT_ID)
}

/// The signed-in user's token-cache partition as Redis holds it, decrypted with the data keys.
async fn user_partition(conn: &mut MultiplexedConnection, keys: &DataKeys) -> CacheDocument {
    let data: Vec<u8> = redis::cmd("HGET")
        .arg(user_key())
        .arg("data")
        .query_async(conn)
        .await
        .unwrap();
    let json = CacheCodec::new(keys.clone())
        .decode(&PartitionKey::user(home_account_id()), data)
        .unwrap();
    CacheDocument::from_slice(&json).unwrap()
}

/// Rewrites the partition in Redis (sealed again with the data keys), keeping its version.
async fn rewrite_user_partition(
    conn: &mut MultiplexedConnection,
    keys: &DataKeys,
    change: impl FnOnce(&mut CacheDocument),
) {
    let mut doc = user_partition(conn, keys).await;
    change(&mut doc);
    let sealed = CacheCodec::new(keys.clone())
        .encode(&PartitionKey::user(home_account_id()), doc.to_vec())
        .unwrap();
    let _: i64 = redis::cmd("HSET")
        .arg(user_key())
        .arg("data")
        .arg(sealed)
        .query_async(conn)
        .await
        .unwrap();
}

fn has_scope(doc: &CacheDocument, scope: &str) -> bool {
    doc.access_tokens.values().any(|at| {
        at.target
            .as_deref()
            .is_some_and(|t| t.to_lowercase().contains(&scope.to_lowercase()))
    })
}

fn api_token(doc: &CacheDocument) -> String {
    doc.access_tokens
        .values()
        .find(|at| {
            at.target
                .as_deref()
                .is_some_and(|t| t.contains(q::API_SCOPE))
        })
        .expect("an access token for the API")
        .secret
        .secret()
        .to_owned()
}

/// A page fetched with the browser's web-app cookies (no redirects followed).
async fn page(web: &str, path: &str, browser: &Browser) -> (StatusCode, String) {
    let cookie = browser
        .app_cookies
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("; ");
    let response = no_redirects()
        .get(format!("{web}{path}"))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    (response.status(), response.text().await.unwrap())
}

fn session_id(browser: &Browser) -> String {
    browser
        .app_cookies
        .get("ep.session")
        .expect("a session cookie")
        .clone()
}

async fn redis_has(conn: &mut MultiplexedConnection, key: &str) -> bool {
    redis::cmd("EXISTS")
        .arg(key)
        .query_async::<i64>(conn)
        .await
        .is_ok_and(|n| n == 1)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

struct Scaled {
    stack: Stack,
    shared: Shared,
    web_a: String,
    web_b: String,
    api_a: SocketAddr,
    api_b: SocketAddr,
}

/// The dev tenant, two APIs and two web apps (A calls API B, B calls API A), all on one Redis.
async fn scaled(redis_url: String) -> Scaled {
    let tenant = DevTenant::start(TenantConfig::quickstart()).await.unwrap();
    let shared = Shared::new(redis_url);
    let api_a = start_api(&tenant, &shared.vars()).await;
    let api_b = start_api(&tenant, &shared.vars()).await;
    let web_a = start_web_app(&tenant, api_b, &shared.vars()).await;
    let web_b = start_web_app(&tenant, api_a, &shared.vars()).await;
    Scaled {
        stack: Stack {
            tenant,
            web: web_a.clone(),
        },
        shared,
        web_a,
        web_b,
        api_a,
        api_b,
    }
}

#[tokio::test]
async fn instances_share_sessions_and_token_caches_encrypted_at_rest() {
    let Some(redis) = test_support::RedisServer::start() else {
        return;
    };
    let Scaled {
        mut stack,
        shared,
        web_a,
        web_b,
        api_a,
        api_b,
    } = scaled(redis.url()).await;
    let keys = shared.keys();
    let mut conn = connect(&redis.url()).await;
    let mut browser = Browser::default();

    // (1) Sign in on A; the next request, on B, is signed in and gets its Graph token from the
    // shared cache: no token-endpoint call.
    stack.route_to(&web_a);
    let (_, home) = browser.browse(&stack, "/auth/signin").await;
    assert!(
        home.html.contains("Welcome, Alice Example"),
        "{}",
        home.html
    );
    let calls = stack.tenant.requests(Endpoint::Token);
    stack.route_to(&web_b);
    let (url, profile) = browser.browse(&stack, "/users/gatedUpdateProfile").await;
    assert!(url.starts_with(&web_b), "{url}");
    assert!(
        profile
            .html
            .contains(r#"id="profile-displayName">Alice Example<"#),
        "{}",
        profile.html
    );
    let (_, claims) = browser.browse(&stack, "/users/id").await;
    assert!(claims.html.contains(q::ALICE_OBJECT_ID));
    assert_eq!(
        stack.tenant.requests(Endpoint::Token),
        calls,
        "B served A's user from the shared cache"
    );

    // The MFA step for the API on B, then a profile edit through B, which calls API A: API A
    // obtains the Graph token on-behalf-of the user (one token call).
    let (url, form) = browser.browse(&stack, "/users/updateProfile").await;
    assert!(
        form.html.contains(r#"id="update-form""#),
        "{url}: {}",
        form.html
    );
    let csrf = support::hidden(&form.html, "csrf_token");
    let calls = stack.tenant.requests(Endpoint::Token);
    let saved = browser
        .post(
            &stack,
            &format!("{web_b}/users/update"),
            &[
                ("csrf_token", &csrf),
                ("displayName", "Ada Lovelace"),
                ("givenName", "Ada"),
                ("surname", "Lovelace"),
            ],
        )
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.html);
    assert_eq!(
        stack.tenant.requests(Endpoint::Token),
        calls + 1,
        "API A's on-behalf-of exchange"
    );

    // (2) The same caller token at API B: its OBO token is a cache hit (zero token calls).
    let user_doc = user_partition(&mut conn, &keys).await;
    let bearer = api_token(&user_doc);
    let calls = stack.tenant.requests(Endpoint::Token);
    let answer = no_redirects()
        .post(format!("http://{api_b}/updateUserInfo"))
        .bearer_auth(&bearer)
        .json(&api::profile::ProfileUpdate {
            display_name: Some("Ada King".into()),
            given_name: None,
            surname: None,
        })
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        stack.tenant.requests(Endpoint::Token),
        calls,
        "API B found API A's on-behalf-of token in the shared cache"
    );
    assert_eq!(
        stack.tenant.user(q::ALICE_EMAIL).unwrap().display_name,
        "Ada King"
    );
    let _ = api_a;

    // (3) Two more instances join; the user's access tokens have expired (simulated by removing
    // them from the shared partition), so both instances must refresh, concurrently, for
    // different scopes. Each starts from the same stored version; the second write conflicts in
    // Redis and is merged, so neither token is lost.
    let web_c = start_web_app(&stack.tenant, api_a, &shared.vars()).await;
    let web_d = start_web_app(&stack.tenant, api_b, &shared.vars()).await;
    rewrite_user_partition(&mut conn, &keys, |doc| doc.access_tokens.clear()).await;
    // Both read the partition first (the ID-token claims page needs no access token), so both
    // hold the same version when they refresh: whichever writes second gets a conflict from
    // Redis, whatever the timing.
    let calls = stack.tenant.requests(Endpoint::Token);
    for web in [&web_c, &web_d] {
        let (status, html) = page(web, "/users/id", &browser).await;
        assert_eq!(status, StatusCode::OK, "{html}");
    }
    assert_eq!(stack.tenant.requests(Endpoint::Token), calls);
    let (c, d) = tokio::join!(
        page(&web_c, "/users/gatedUpdateProfile", &browser),
        page(&web_d, "/users/updateProfile", &browser),
    );
    assert_eq!(c.0, StatusCode::OK, "{}", c.1);
    assert_eq!(d.0, StatusCode::OK, "{}", d.1);
    assert!(
        c.1.contains(r#"id="profile-displayName">Ada King<"#),
        "{}",
        c.1
    );
    assert!(d.1.contains(r#"id="update-form""#), "{}", d.1);
    // C refreshed User.Read and D the API scope. D also needs User.Read: it refreshes it too
    // unless C's token reached Redis before D re-read the partition (timing decides), never more.
    let refreshed = stack.tenant.requests(Endpoint::Token) - calls;
    assert!((2..=3).contains(&refreshed), "{refreshed} token calls");
    let merged = user_partition(&mut conn, &keys).await;
    assert!(has_scope(&merged, "User.Read"), "{merged:?}");
    assert!(has_scope(&merged, q::API_SCOPE), "{merged:?}");
    // Each instance finds its tokens again, a fresh instance finds both, and C, which holds
    // the user's partition in memory without the API token D acquired, re-reads Redis before
    // it would go to the token endpoint: zero calls.
    let web_e = start_web_app(&stack.tenant, api_a, &shared.vars()).await;
    let calls = stack.tenant.requests(Endpoint::Token);
    for (web, path) in [
        (&web_c, "/users/gatedUpdateProfile"),
        (&web_d, "/users/updateProfile"),
        (&web_c, "/users/updateProfile"),
        (&web_e, "/users/gatedUpdateProfile"),
        (&web_e, "/users/updateProfile"),
    ] {
        let (status, html) = page(web, path, &browser).await;
        assert_eq!(status, StatusCode::OK, "{web}{path}: {html}");
    }
    assert_eq!(stack.tenant.requests(Endpoint::Token), calls);

    // (5) A dump of Redis discloses no token and not the user's email or name.
    let mut secrets: Vec<String> = Vec::new();
    for doc in [&user_doc, &merged] {
        secrets.extend(
            doc.access_tokens
                .values()
                .map(|t| t.secret.secret().to_owned()),
        );
        secrets.extend(
            doc.refresh_tokens
                .values()
                .map(|t| t.secret.secret().to_owned()),
        );
        secrets.extend(doc.id_tokens.values().map(|t| t.secret.secret().to_owned()));
    }
    assert!(secrets.len() >= 6, "{}", secrets.len());
    let dumped = dump(&mut conn).await;
    let sessions = dumped
        .iter()
        .filter(|(k, _)| k.starts_with(web_app::SESSION_PREFIX) && !k.ends_with("__generation"))
        .count();
    assert!(sessions >= 1, "{dumped:?}");
    assert!(
        dumped
            .iter()
            .any(|(k, _)| k.starts_with(api::OBO_CACHE_PREFIX))
    );
    for (key, value) in &dumped {
        for secret in &secrets {
            assert!(!contains(value, secret.as_bytes()), "a token in {key}");
            // JWTs: also no readable segment of one (the payload carries the claims).
            for part in secret.split('.').filter(|p| p.len() > 16) {
                assert!(!contains(value, part.as_bytes()), "a token part in {key}");
            }
        }
        for plain in [
            q::ALICE_EMAIL,
            "Alice Example",
            "Ada King",
            "preferred_username",
            "access_token",
            "secret",
        ] {
            assert!(!contains(value, plain.as_bytes()), "{plain:?} in {key}");
        }
    }

    // TTLs on everything that holds user data (the counters and the generation key hold none).
    for (key, _) in &dumped {
        let ttl: i64 = redis::cmd("TTL")
            .arg(key)
            .query_async(&mut conn)
            .await
            .unwrap();
        let bound = if key.starts_with(web_app::SESSION_PREFIX) {
            web_app::SESSION_INACTIVITY
        } else if key.starts_with(api::OBO_CACHE_PREFIX) {
            api::OBO_PARTITION_TTL
        } else {
            web_app::USER_PARTITION_TTL
        };
        if key.ends_with("__version") || key.ends_with("__generation") {
            assert_eq!(ttl, -1, "{key}");
        } else {
            assert!(
                ttl > 0 && ttl.unsigned_abs() <= bound.as_secs(),
                "{key}: ttl {ttl}"
            );
        }
    }

    // Sizing: what one session and one cached account cost in Redis (the figures quoted in
    // docs/deploy.md come from this report).
    let mut report = String::from("redis sizing (bytes):\n");
    for (key, _) in &dumped {
        let usage: i64 = redis::cmd("MEMORY")
            .arg("USAGE")
            .arg(key)
            .query_async(&mut conn)
            .await
            .unwrap_or(-1);
        let kind: String = redis::cmd("TYPE")
            .arg(key)
            .query_async(&mut conn)
            .await
            .unwrap();
        let stored: i64 = if kind == "hash" {
            redis::cmd("HSTRLEN")
                .arg(key)
                .arg("data")
                .query_async(&mut conn)
                .await
                .unwrap()
        } else {
            redis::cmd("STRLEN")
                .arg(key)
                .query_async(&mut conn)
                .await
                .unwrap()
        };
        let ttl: i64 = redis::cmd("TTL")
            .arg(key)
            .query_async(&mut conn)
            .await
            .unwrap();
        report.push_str(&format!(
            "  {key:70} stored value {stored:6}  MEMORY USAGE {usage:6}  TTL {ttl}s\n"
        ));
    }
    report.push_str(&format!(
        "  user partition plaintext JSON {} bytes: {} access tokens, {} refresh tokens, {} ID tokens, {} accounts\n",
        merged.to_vec().len(),
        merged.access_tokens.len(),
        merged.refresh_tokens.len(),
        merged.id_tokens.len(),
        merged.accounts.len(),
    ));
    #[expect(
        clippy::print_stderr,
        reason = "the sizing figures quoted in docs/deploy.md"
    )]
    {
        eprintln!("{report}");
    }
}

#[tokio::test]
async fn a_redis_restart_fails_no_request_memory_can_serve_and_loses_no_session() {
    let Some(mut redis) = test_support::RedisServer::start() else {
        return;
    };
    let Scaled {
        mut stack,
        shared,
        web_a,
        web_b,
        api_a,
        ..
    } = scaled(redis.url()).await;
    let mut conn = connect(&redis.url()).await;

    // Alice signs in on A, uses B, and passes the MFA step on B (so B holds the API token).
    let mut alice = Browser::default();
    stack.route_to(&web_a);
    browser_sign_in(&mut alice, &stack).await;
    stack.route_to(&web_b);
    let (_, form) = alice.browse(&stack, "/users/updateProfile").await;
    assert!(form.html.contains(r#"id="update-form""#), "{}", form.html);
    let alice_session = format!("{}{}", web_app::SESSION_PREFIX, session_id(&alice));
    assert!(redis_has(&mut conn, &alice_session).await);
    // A serves the session too (after the MFA step it has a new id), so both instances hold it
    // in memory. A session an instance never served is not in its memory: during an outage that
    // instance cannot serve it (the documented exception).
    let (status, _) = page(&web_a, "/users/id", &alice).await;
    assert_eq!(status, StatusCode::OK);

    // Redis dies.
    redis.kill();
    let calls = stack.tenant.requests(Endpoint::Token);
    for (web, path) in [
        (&web_a, "/users/gatedUpdateProfile"),
        (&web_b, "/users/updateProfile"),
        (&web_b, "/users/id"),
    ] {
        let (status, html) = page(web, path, &alice).await;
        assert_eq!(
            status,
            StatusCode::OK,
            "{web}{path} during the outage: {html}"
        );
    }
    assert_eq!(
        stack.tenant.requests(Endpoint::Token),
        calls,
        "served from memory"
    );
    // A profile edit through B and API A (on-behalf-of while the cache's L2 is down).
    stack.route_to(&web_b);
    let csrf = support::hidden(
        &page(&web_b, "/users/updateProfile", &alice).await.1,
        "csrf_token",
    );
    let saved = alice
        .post(
            &stack,
            &format!("{web_b}/users/update"),
            &[
                ("csrf_token", &csrf),
                ("displayName", "Alice Outage"),
                ("givenName", "Alice"),
                ("surname", "Outage"),
            ],
        )
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.html);
    // A new sign-in during the outage (another browser) works too: session and tokens are kept in
    // A's memory and written to Redis when it is back.
    let mut late = Browser::default();
    stack.route_to(&web_a);
    browser_sign_in(&mut late, &stack).await;
    let late_session = format!("{}{}", web_app::SESSION_PREFIX, session_id(&late));

    // Redis comes back empty (no persistence). Every request keeps succeeding while the
    // instances reconnect; sessions come back: Alice's is restored from memory on its next use,
    // the one created during the outage is written back.
    redis.restart();
    let mut conn = connect(&redis.url()).await;
    let mut restored = false;
    for _ in 0..200 {
        for (web, path) in [(&web_a, "/users/id"), (&web_b, "/users/updateProfile")] {
            let (status, html) = page(web, path, &alice).await;
            assert_eq!(
                status,
                StatusCode::OK,
                "{web}{path} after the restart: {html}"
            );
        }
        let (status, _) = page(&web_a, "/users/id", &late).await;
        assert_eq!(status, StatusCode::OK);
        if redis_has(&mut conn, &alice_session).await && redis_has(&mut conn, &late_session).await {
            restored = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(restored, "sessions were not written back to redis");

    // The session and the tokens of the sign-in made during the outage reach Redis (the cache's
    // flush task), so a fresh instance serves that user with no token call.
    let user_key = user_key();
    let mut flushed = false;
    for _ in 0..300 {
        if redis_has(&mut conn, &user_key).await {
            flushed = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(flushed, "the token cache partition was not re-sent");
    let web_c = start_web_app(&stack.tenant, api_a, &shared.vars()).await;
    let calls = stack.tenant.requests(Endpoint::Token);
    let (status, html) = page(&web_c, "/users/gatedUpdateProfile", &late).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(html.contains("Alice Outage"), "{html}");
    assert_eq!(stack.tenant.requests(Endpoint::Token), calls);
}

async fn browser_sign_in(browser: &mut Browser, stack: &Stack) {
    let (url, home) = browser.browse(stack, "/auth/signin").await;
    assert!(home.html.contains("Welcome,"), "{url}: {}", home.html);
}

#[tokio::test]
async fn rotated_keys_open_old_values_and_unknown_or_tampered_values_read_as_missing() {
    let Some(redis) = test_support::RedisServer::start() else {
        return;
    };
    let Scaled {
        mut stack,
        shared,
        web_a,
        api_a,
        ..
    } = scaled(redis.url()).await;
    let mut conn = connect(&redis.url()).await;
    let mut alice = Browser::default();
    stack.route_to(&web_a);
    browser_sign_in(&mut alice, &stack).await;
    let session_key = format!("{}{}", web_app::SESSION_PREFIX, session_id(&alice));

    // Rotation: k2 is the new current key, k1 still opens. An instance configured so serves
    // Alice from the values k1 sealed, with no token call; what it writes is sealed with k2.
    let rotated = format!("{},{}", DataKeys::new_entry("k2"), shared.data_keys);
    let web_r = start_web_app(&stack.tenant, api_a, &shared.vars_with_keys(&rotated)).await;
    let calls = stack.tenant.requests(Endpoint::Token);
    let (status, html) = page(&web_r, "/users/gatedUpdateProfile", &alice).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert_eq!(stack.tenant.requests(Endpoint::Token), calls);
    let mut second = Browser::default();
    stack.route_to(&web_r);
    browser_sign_in(&mut second, &stack).await;
    let second_key = format!("{}{}", web_app::SESSION_PREFIX, session_id(&second));
    let sealed: Vec<u8> = redis::cmd("GET")
        .arg(&second_key)
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(&sealed[..4], b"\x01\x02k2", "sealed with the new key");

    // An instance that only knows a key that sealed nothing here: Alice's session and tokens
    // read as missing, so she is sent to sign in — not an error page.
    let retired = DataKeys::new_entry("k3");
    let web_x = start_web_app(&stack.tenant, api_a, &shared.vars_with_keys(&retired)).await;
    let (status, _) = page(&web_x, "/users/id", &alice).await;
    assert_eq!(
        status,
        StatusCode::SEE_OTHER.min(StatusCode::FOUND).max(status)
    );
    assert!(status.is_redirection(), "{status}");

    // A tampered session value reads as no session on every instance.
    let mut value: Vec<u8> = redis::cmd("GET")
        .arg(&session_key)
        .query_async(&mut conn)
        .await
        .unwrap();
    let last = value.len() - 1;
    value[last] ^= 1;
    let _: () = redis::cmd("SET")
        .arg(&session_key)
        .arg(value)
        .arg("KEEPTTL")
        .query_async(&mut conn)
        .await
        .unwrap();
    let fresh = start_web_app(&stack.tenant, api_a, &shared.vars()).await;
    for web in [&web_a, &fresh] {
        let response = no_redirects()
            .get(format!("{web}/users/id"))
            .header("cookie", format!("ep.session={}", session_id(&alice)))
            .send()
            .await
            .unwrap();
        assert_eq!(
            response
                .headers()
                .get("location")
                .and_then(|l| l.to_str().ok()),
            Some("/auth/signin"),
            "{web}"
        );
    }

    // A tampered token-cache partition reads as missing: a fresh instance sends the user (the
    // second browser's session is intact) to the tenant to sign in again instead of failing.
    let partition_key = user_key();
    let mut data: Vec<u8> = redis::cmd("HGET")
        .arg(&partition_key)
        .arg("data")
        .query_async(&mut conn)
        .await
        .unwrap();
    let last = data.len() - 1;
    data[last] ^= 1;
    let _: i64 = redis::cmd("HSET")
        .arg(&partition_key)
        .arg("data")
        .arg(data)
        .query_async(&mut conn)
        .await
        .unwrap();
    let fresh = start_web_app(&stack.tenant, api_a, &shared.vars_with_keys(&rotated)).await;
    let response = no_redirects()
        .get(format!("{fresh}/users/id"))
        .header("cookie", format!("ep.session={}", session_id(&second)))
        .send()
        .await
        .unwrap();
    let location = response
        .headers()
        .get("location")
        .and_then(|l| l.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(location.contains("/oauth2/v2.0/authorize"), "{location}");
}

mod session_store {
    //! The session store as two instances see it, directly (no HTTP).

    use api::at_rest::DataKeys;
    use time::{Duration, OffsetDateTime};
    use tower_sessions::session::{Id, Record};
    use tower_sessions::session_store::SessionStore;
    use web_app::session_store::RedisSessionStore;

    fn record() -> Record {
        let mut data = std::collections::HashMap::new();
        data.insert("user".to_owned(), serde_json::json!("alice@contoso.com"));
        Record {
            id: Id::default(),
            data,
            expiry_date: OffsetDateTime::now_utc() + Duration::minutes(10),
        }
    }

    async fn store(url: &str, keys: &DataKeys) -> RedisSessionStore {
        RedisSessionStore::connect(url, "s:")
            .await
            .unwrap()
            .with_data_keys(keys.clone())
    }

    #[tokio::test]
    async fn a_delete_on_one_instance_is_seen_by_another_that_holds_the_session() {
        let Some(redis) = test_support::RedisServer::start() else {
            return;
        };
        let keys = DataKeys::generate("k1");
        let (a, b) = (
            store(&redis.url(), &keys).await,
            store(&redis.url(), &keys).await,
        );
        let mut rec = record();
        a.create(&mut rec).await.unwrap();
        assert_eq!(b.load(&rec.id).await.unwrap(), Some(rec.clone()));
        a.delete(&rec.id).await.unwrap();
        // B holds a copy in memory, but Redis is the truth: signed out everywhere.
        assert_eq!(b.load(&rec.id).await.unwrap(), None);
        // The stored value is sealed: the email is not readable in Redis.
        let mut other = record();
        a.create(&mut other).await.unwrap();
        let mut conn = super::connect(&redis.url()).await;
        let raw: Vec<u8> = redis::cmd("GET")
            .arg(format!("s:{}", other.id))
            .query_async(&mut conn)
            .await
            .unwrap();
        assert!(!super::contains(&raw, b"alice@contoso.com"));
        // A sealed record copied under another session's key does not open there.
        let stolen = Id::default();
        let _: () = redis::cmd("SET")
            .arg(format!("s:{stolen}"))
            .arg(raw)
            .query_async(&mut conn)
            .await
            .unwrap();
        assert_eq!(a.load(&stolen).await.unwrap(), None);
    }

    #[tokio::test]
    async fn outage_changes_and_deletes_are_written_back_when_redis_returns() {
        let Some(mut redis) = test_support::RedisServer::start() else {
            return;
        };
        let keys = DataKeys::generate("k1");
        let a = store(&redis.url(), &keys).await;
        let mut kept = record();
        let mut gone = record();
        a.create(&mut kept).await.unwrap();
        a.create(&mut gone).await.unwrap();

        redis.kill();
        kept.data.insert("n".into(), serde_json::json!(2));
        a.save(&kept).await.unwrap();
        a.delete(&gone.id).await.unwrap();
        assert_eq!(a.load(&kept.id).await.unwrap(), Some(kept.clone()));
        // A session this instance never saw cannot be served while Redis is down.
        assert!(a.load(&Id::default()).await.is_err());

        redis.restart();
        let mut sent = 0;
        for _ in 0..100 {
            match a.flush().await {
                Ok(n) => {
                    sent = n;
                    break;
                }
                Err(_) => tokio::time::sleep(std::time::Duration::from_millis(20)).await,
            }
        }
        assert_eq!(sent, 2, "one change and one delete");
        let b = store(&redis.url(), &keys).await;
        assert_eq!(b.load(&kept.id).await.unwrap().unwrap().data["n"], 2);
        assert_eq!(b.load(&gone.id).await.unwrap(), None);
    }
}
