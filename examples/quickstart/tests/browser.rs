//! The whole quickstart in a real headless Chromium, driven through chromedriver (WebDriver):
//! sign in on the dev tenant's login page, read the ID token's claims, open the Graph profile,
//! pass the MFA step the Conditional Access policy asks for, save new names, see them on the
//! profile page and in the tenant's user store, sign out.
//!
//! The dev tenant's URLs say `127.0.0.1` and the web app is opened as `localhost`, so for the
//! browser the tenant is another site, as a real tenant is: the `form_post` back to the web app is
//! a cross-site POST, and the web app's flow state has to survive it with real cookie rules.
//!
//! Needs `chromedriver` (`CHROMEDRIVER`, else `/usr/bin/chromedriver` or `PATH`) and Chromium
//! (`CHROMIUM`, else `/usr/bin/chromium` or `PATH`); skipped with a message when either is missing,
//! unless `REQUIRE_TEST_TOOLS` is set. On failure, a screenshot and the page's HTML are saved under
//! `target/test-artifacts/` and their paths are in the panic message; with
//! `BROWSER_TEST_SCREENSHOTS` set, a screenshot is saved after every step (to look at the pages).

use std::fmt::Write as _;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use dev_tenant::quickstart as q;
use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use quickstart::{Options, Ports, Quickstart};
use serde_json::json;

/// Upper bound for one page to show the element a step waits for (polled every 100 ms).
const WAIT: Duration = Duration::from_secs(15);
/// Upper bound for chromedriver to answer `/status` after it was spawned.
const DRIVER_START: Duration = Duration::from_secs(20);

const CHROME_ARGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
    "--window-size=1000,900",
];

/// `target/test-artifacts/` of this workspace (or of `CARGO_TARGET_DIR`).
fn artifacts_dir() -> PathBuf {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("examples/quickstart sits two levels below the workspace root");
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| workspace.join("target"), PathBuf::from);
    target.join("test-artifacts")
}

/// A running chromedriver and the browser profile directory it uses; both go away on drop.
struct ChromeDriver {
    child: Child,
    url: String,
    profile: PathBuf,
    log: PathBuf,
}

impl ChromeDriver {
    fn spawn(chromedriver: &Path, artifacts: &Path, label: &str) -> Self {
        // chromedriver cannot be told to pick a port and report it: take a free one from the OS.
        let port = TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
            .and_then(|l| l.local_addr())
            .expect("a free loopback port")
            .port();
        let nonce = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let profile =
            std::env::temp_dir().join(format!("quickstart-browser-{}-{nonce}", std::process::id()));
        std::fs::create_dir_all(&profile).expect("create the browser profile directory");
        let log = artifacts.join(format!("chromedriver-{}-{label}.log", std::process::id()));
        let child = Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .arg(format!("--log-path={}", log.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", chromedriver.display()));
        Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
            profile,
            log,
        }
    }

    /// Polls `/status` until chromedriver is ready (or has exited).
    async fn wait_ready(&mut self) {
        let http = reqwest::Client::new();
        let deadline = Instant::now() + DRIVER_START;
        let mut interval = tokio::time::interval(Duration::from_millis(50));
        loop {
            interval.tick().await;
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "chromedriver exited with {status} before it was ready; log: {}",
                    self.log.display()
                );
            }
            if let Ok(response) = http.get(format!("{}/status", self.url)).send().await
                && let Ok(body) = response.json::<serde_json::Value>().await
                && body["value"]["ready"] == json!(true)
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "chromedriver not ready after {DRIVER_START:?}; log: {}",
                self.log.display()
            );
        }
    }
}

impl Drop for ChromeDriver {
    fn drop(&mut self) {
        // The test closes the WebDriver session first, which ends Chromium; this ends the driver.
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
        // The log only matters when the test failed.
        if !std::thread::panicking() {
            let _ = std::fs::remove_file(&self.log);
        }
    }
}

/// The flow, step by step; `step` names the step under way for the failure message.
struct Flow<'a> {
    browser: &'a Client,
    stack: &'a Quickstart,
    /// Which variant runs (memory or Redis), for artifact names.
    label: &'static str,
    step: &'static str,
}

type Outcome = Result<(), String>;

impl Flow<'_> {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.stack.web_url())
    }

    async fn find(&self, css: &str) -> Result<Element, String> {
        self.browser
            .wait()
            .at_most(WAIT)
            .every(Duration::from_millis(100))
            .for_element(Locator::Css(css))
            .await
            .map_err(|e| format!("no element `{css}` within {WAIT:?}: {e}"))
    }

    /// Waits until the element with `id` shows exactly `text` (whitespace collapsed).
    async fn expect_text(&self, id: &str, text: &str) -> Outcome {
        let xpath = format!("//*[@id='{id}' and normalize-space(.)='{text}']");
        match self
            .browser
            .wait()
            .at_most(WAIT)
            .every(Duration::from_millis(100))
            .for_element(Locator::XPath(&xpath))
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => {
                let shown = match self.browser.find(Locator::Id(id)).await {
                    Ok(element) => element.text().await.unwrap_or_default(),
                    Err(_) => "<no such element>".to_owned(),
                };
                Err(format!("#{id} should read {text:?}, shows {shown:?} ({e})"))
            }
        }
    }

    async fn host(&self) -> Result<String, String> {
        let url = self
            .browser
            .current_url()
            .await
            .map_err(|e| e.to_string())?;
        Ok(url.host_str().unwrap_or_default().to_owned())
    }

    async fn fill(&self, css: &str, value: &str) -> Outcome {
        let field = self.find(css).await?;
        field
            .clear()
            .await
            .map_err(|e| format!("clear {css}: {e}"))?;
        field
            .send_keys(value)
            .await
            .map_err(|e| format!("type into {css}: {e}"))
    }

    async fn click(&self, css: &str) -> Outcome {
        self.find(css)
            .await?
            .click()
            .await
            .map_err(|e| format!("click {css}: {e}"))
    }

    async fn goto(&self, path: &str) -> Outcome {
        let url = self.url(path);
        self.browser
            .goto(&url)
            .await
            .map_err(|e| format!("open {url}: {e}"))
    }

    /// Starts the next step. With `BROWSER_TEST_SCREENSHOTS` set, first saves what the page
    /// looks like at the end of the previous step (to look at the pages).
    async fn enter(&mut self, step: &'static str) {
        if std::env::var_os("BROWSER_TEST_SCREENSHOTS").is_some() && self.step != "start" {
            save_artifacts(
                self.browser,
                &artifacts_dir(),
                &format!("{}-after-{}", self.label, self.step),
            )
            .await;
        }
        self.step = step;
    }

    /// From the signed-out home page through the tenant's login page, back to the web app.
    async fn sign_in(&mut self, display_name: &str) -> Outcome {
        self.enter("open the home page signed out").await;
        self.goto("/").await?;
        self.find("#signin").await?;

        self.enter("the web app sends the browser to the tenant's login page")
            .await;
        self.click("#signin").await?;
        self.find("#email").await?;
        let host = self.host().await?;
        if host != "127.0.0.1" {
            return Err(format!(
                "the login page should be on the tenant's site 127.0.0.1, is on {host}"
            ));
        }

        self.enter("sign in with email and password").await;
        self.fill("#email", q::ALICE_EMAIL).await?;
        self.fill("#password", q::USER_PASSWORD).await?;
        self.click("button[type=submit]").await?;

        self.enter("back on the web app, signed in").await;
        self.expect_text("welcome", &format!("Welcome, {display_name}"))
            .await?;
        let host = self.host().await?;
        if host != "localhost" {
            return Err(format!("the web app should be on localhost, is on {host}"));
        }
        self.find("#signout").await?;
        Ok(())
    }

    /// From the profile page through the tenant's MFA page to the edit form.
    async fn pass_mfa(&mut self) -> Outcome {
        let tenant = self.stack.tenant();
        self.enter("edit profile: the tenant's MFA page").await;
        let codes_before = tenant.last_mfa_code();
        self.click("#edit-profile").await?;
        let code_field = self.find("#code").await?;
        let host = self.host().await?;
        if host != "127.0.0.1" {
            return Err(format!(
                "the MFA page should be on the tenant's site 127.0.0.1, is on {host}"
            ));
        }

        self.enter("enter the one-time code").await;
        let code = tenant
            .last_mfa_code()
            .filter(|c| Some(c) != codes_before.as_ref())
            .ok_or("the dev tenant issued no new MFA code")?;
        code_field
            .send_keys(&code)
            .await
            .map_err(|e| format!("type the code: {e}"))?;
        self.click("button[type=submit]").await?;

        self.enter("edit profile: the form").await;
        self.find("#update-form").await?;
        Ok(())
    }

    /// The user's sessions are revoked (continuous access evaluation) while the edit form is
    /// open: saving sends the user back to the tenant to sign in again, then the save goes through.
    async fn revoked_mid_edit(&mut self) -> Outcome {
        let tenant = self.stack.tenant();
        let before = tenant
            .user(q::ALICE_EMAIL)
            .ok_or("alice is not in the dev tenant")?;
        self.sign_in(&before.display_name).await?;
        self.goto("/users/gatedUpdateProfile").await?;
        self.pass_mfa().await?;

        self.enter("revoke, then save").await;
        tenant
            .revoke_user(q::ALICE_EMAIL)
            .ok_or("alice is not in the dev tenant")?;
        self.fill("#displayName", NEW_DISPLAY_NAME).await?;
        self.fill("#givenName", NEW_GIVEN_NAME).await?;
        self.fill("#surname", NEW_SURNAME).await?;
        self.click("#save").await?;

        self.enter("sign in again").await;
        self.find("#email").await?;
        self.fill("#email", q::ALICE_EMAIL).await?;
        self.fill("#password", q::USER_PASSWORD).await?;
        self.click("button[type=submit]").await?;

        self.enter("MFA again").await;
        let code_field = self.find("#code").await?;
        let code = tenant.last_mfa_code().ok_or("no MFA code")?;
        code_field
            .send_keys(&code)
            .await
            .map_err(|e| format!("type the code: {e}"))?;
        self.click("button[type=submit]").await?;

        // The form's POST is not replayed after a sign-in: the user lands on the form again.
        self.enter("back on the edit form after signing in again")
            .await;
        self.find("#update-form").await?;
        if tenant.user(q::ALICE_EMAIL).map(|u| u.display_name) != Some(before.display_name) {
            return Err("the save went through with a revoked session".to_owned());
        }
        self.fill("#displayName", NEW_DISPLAY_NAME).await?;
        self.fill("#givenName", NEW_GIVEN_NAME).await?;
        self.fill("#surname", NEW_SURNAME).await?;
        self.click("#save").await?;

        self.enter("the profile page shows the new names").await;
        self.expect_text("profile-displayName", NEW_DISPLAY_NAME)
            .await?;
        let after = tenant
            .user(q::ALICE_EMAIL)
            .ok_or("alice is no longer in the dev tenant")?;
        if after.display_name != NEW_DISPLAY_NAME {
            return Err(format!("the tenant's profile was not updated: {after:?}"));
        }
        Ok(())
    }

    /// The quickstart's whole journey.
    async fn run(&mut self) -> Outcome {
        let tenant = self.stack.tenant();
        let before = tenant
            .user(q::ALICE_EMAIL)
            .ok_or("alice is not in the dev tenant")?;
        self.sign_in(&before.display_name).await?;

        self.enter("ID token claims").await;
        self.goto("/users/id").await?;
        let claims = self.find("#claims").await?;
        for (claim, value) in [
            ("oid", q::ALICE_OBJECT_ID),
            ("tid", q::TENANT_ID),
            ("aud", q::WEB_APP_CLIENT_ID),
        ] {
            let row =
                format!("//tr[th[normalize-space(.)='{claim}'] and td[contains(., '{value}')]]");
            if claims.find(Locator::XPath(&row)).await.is_err() {
                let shown = claims.text().await.unwrap_or_default();
                return Err(format!(
                    "#claims should list {claim} = {value}; it shows:\n{shown}"
                ));
            }
        }

        self.enter("profile from Graph").await;
        self.goto("/users/gatedUpdateProfile").await?;
        self.expect_text("profile-displayName", &before.display_name)
            .await?;
        self.expect_text(
            "profile-givenName",
            before.given_name.as_deref().unwrap_or(""),
        )
        .await?;
        self.expect_text("profile-surname", before.surname.as_deref().unwrap_or(""))
            .await?;

        self.pass_mfa().await?;
        self.fill("#displayName", NEW_DISPLAY_NAME).await?;
        self.fill("#givenName", NEW_GIVEN_NAME).await?;
        self.fill("#surname", NEW_SURNAME).await?;
        self.click("#save").await?;

        self.enter("the profile page shows the new names").await;
        self.expect_text("profile-displayName", NEW_DISPLAY_NAME)
            .await?;
        self.expect_text("profile-givenName", NEW_GIVEN_NAME)
            .await?;
        self.expect_text("profile-surname", NEW_SURNAME).await?;

        self.enter("the dev tenant's user store has the new names")
            .await;
        let after = tenant
            .user(q::ALICE_EMAIL)
            .ok_or("alice is no longer in the dev tenant")?;
        if (
            after.display_name.as_str(),
            after.given_name.as_deref(),
            after.surname.as_deref(),
        ) != (NEW_DISPLAY_NAME, Some(NEW_GIVEN_NAME), Some(NEW_SURNAME))
        {
            return Err(format!("the tenant's profile was not updated: {after:?}"));
        }

        self.enter("sign out").await;
        self.click("#signout").await?;
        self.find("#signin").await?;
        let url = self
            .browser
            .current_url()
            .await
            .map_err(|e| e.to_string())?;
        let home = url::Url::parse(&self.url("/")).map_err(|e| e.to_string())?;
        if (url.origin(), url.path()) != (home.origin(), "/") {
            return Err(format!(
                "sign-out should land on the home page, landed on {url}"
            ));
        }
        if self.browser.find(Locator::Id("welcome")).await.is_ok() {
            return Err("the home page still greets the user after sign-out".to_owned());
        }

        self.enter("signed out everywhere: the claims page asks to sign in again")
            .await;
        self.goto("/users/id").await?;
        // Either the web app's signed-out page or the tenant's login page (the tenant's SSO
        // session ended too); never the claims.
        self.find("#signin, #email").await?;
        if self.browser.find(Locator::Id("claims")).await.is_ok() {
            return Err("the claims are still shown after sign-out".to_owned());
        }
        Ok(())
    }
}

/// Which journey [`browser_flow`] drives.
#[derive(Clone, Copy)]
enum Scenario {
    /// [`Flow::run`].
    Journey,
    /// [`Flow::revoked_mid_edit`].
    RevokedMidEdit,
}

const NEW_DISPLAY_NAME: &str = "Zoë Ng-Okafor";
const NEW_GIVEN_NAME: &str = "Zoë";
const NEW_SURNAME: &str = "Ng-Okafor";

/// Saves a screenshot and the page's HTML; returns a description of what was saved where.
async fn save_artifacts(browser: &Client, dir: &Path, step: &str) -> String {
    let slug: String = step
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let stem = dir.join(format!("browser-{}-{slug}", std::process::id()));
    let mut saved = String::new();
    match browser.current_url().await {
        Ok(url) => {
            let _ = writeln!(saved, "page: {url}");
        }
        Err(e) => {
            let _ = writeln!(saved, "page: unknown ({e})");
        }
    }
    let png = stem.with_extension("png");
    match browser.screenshot().await {
        Ok(bytes) => match std::fs::write(&png, bytes) {
            Ok(()) => {
                let _ = writeln!(saved, "screenshot: {}", png.display());
            }
            Err(e) => {
                let _ = writeln!(saved, "screenshot not saved to {}: {e}", png.display());
            }
        },
        Err(e) => {
            let _ = writeln!(saved, "no screenshot: {e}");
        }
    }
    let html = stem.with_extension("html");
    match browser.source().await {
        Ok(source) => match std::fs::write(&html, source) {
            Ok(()) => {
                let _ = writeln!(saved, "html: {}", html.display());
            }
            Err(e) => {
                let _ = writeln!(saved, "html not saved to {}: {e}", html.display());
            }
        },
        Err(e) => {
            let _ = writeln!(saved, "no html: {e}");
        }
    }
    saved
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_view_claims_edit_profile_with_mfa_and_sign_out_in_chromium() {
    browser_flow("memory", Scenario::Journey, Options::new(Ports::EPHEMERAL)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoked_sessions_mid_edit_send_the_user_to_sign_in_again_then_the_save_goes_through() {
    browser_flow(
        "revoked",
        Scenario::RevokedMidEdit,
        Options::new(Ports::EPHEMERAL),
    )
    .await;
}

/// The same flow with the web app's sessions and both token caches in a real `redis-server`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_flow_with_sessions_and_token_caches_in_redis() {
    let Some(redis) = test_support::RedisServer::start() else {
        return;
    };
    let options = Options::new(Ports::EPHEMERAL).redis_url(redis.url());
    if !browser_flow("redis", Scenario::Journey, options).await {
        return;
    }
    // Both apps really kept their state in this Redis.
    let client = redis::Client::open(redis.url()).expect("a redis:// URL");
    let mut connection = client
        .get_multiplexed_async_connection()
        .await
        .expect("connect to redis-server");
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg("*")
        .query_async(&mut connection)
        .await
        .expect("KEYS");
    let obo = format!("{}obo/", api::OBO_CACHE_PREFIX);
    assert!(
        keys.iter().any(|k| k.starts_with(&obo)),
        "the API's on-behalf-of cache is in Redis: {keys:?}"
    );
    assert!(
        keys.iter()
            .any(|k| k.starts_with(web_app::SESSION_PREFIX) && !k.contains(":__")),
        "the web app's sessions are in Redis: {keys:?}"
    );
    // Sealed with DATA_KEYS: no token (a JWT starts `eyJ`) is readable in Redis.
    for key in keys.iter().filter(|k| !k.contains(":__")) {
        let kind: String = redis::cmd("TYPE")
            .arg(key)
            .query_async(&mut connection)
            .await
            .expect("TYPE");
        if kind != "string" {
            continue;
        }
        let value: Vec<u8> = redis::cmd("GET")
            .arg(key)
            .query_async(&mut connection)
            .await
            .expect("GET");
        assert!(
            !value.windows(3).any(|w| w == b"eyJ"),
            "{key} holds a readable token"
        );
    }
}

/// Runs [`Flow::run`] in a fresh headless Chromium against a fresh quickstart; `false` when
/// skipped (no chromedriver or Chromium).
async fn browser_flow(label: &'static str, scenario: Scenario, options: Options) -> bool {
    let Some(chromedriver) =
        test_support::tool_or_skip("CHROMEDRIVER", &["/usr/bin/chromedriver", "chromedriver"])
    else {
        return false;
    };
    let Some(chromium) = test_support::tool_or_skip("CHROMIUM", &["/usr/bin/chromium", "chromium"])
    else {
        return false;
    };
    let artifacts = artifacts_dir();
    std::fs::create_dir_all(&artifacts).expect("create target/test-artifacts");

    let stack = quickstart::start(options)
        .await
        .expect("the quickstart starts");
    let mut driver = ChromeDriver::spawn(&chromedriver, &artifacts, label);
    driver.wait_ready().await;

    let mut args: Vec<String> = CHROME_ARGS.iter().map(|a| (*a).to_owned()).collect();
    args.push(format!("--user-data-dir={}", driver.profile.display()));
    let capabilities = json!({
        "browserName": "chrome",
        "goog:chromeOptions": { "binary": chromium, "args": args },
    });
    let serde_json::Value::Object(capabilities) = capabilities else {
        unreachable!("a JSON object literal");
    };
    let browser = ClientBuilder::new(HttpConnector::new())
        .capabilities(capabilities)
        .connect(&driver.url)
        .await
        .unwrap_or_else(|e| {
            panic!(
                "chromedriver refused a session: {e}; log: {}",
                driver.log.display()
            )
        });

    let mut flow = Flow {
        browser: &browser,
        stack: &stack,
        label,
        step: "start",
    };
    let outcome = match scenario {
        Scenario::Journey => flow.run().await,
        Scenario::RevokedMidEdit => flow.revoked_mid_edit().await,
    };
    if outcome.is_ok() {
        flow.enter("done").await;
    }
    let step = flow.step;
    if let Err(message) = outcome {
        let saved = save_artifacts(&browser, &artifacts, &format!("{label}-{step}")).await;
        let _ = browser.close().await;
        panic!(
            "browser flow ({label}) failed at step {step:?}: {message}\n{saved}chromedriver log: {}",
            driver.log.display()
        );
    }
    browser.close().await.expect("close the browser session");
    drop(driver);
    stack.shutdown().await.expect("the servers stop cleanly");
    true
}
