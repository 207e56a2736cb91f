// Drives MSAL Node against a dev tenant for msal-lite's cache round-trip tests: the same JSON
// request on stdin and result on stdout as msal_python_driver.py, with `fromCache` reported as
// "cache" / "identity_provider".
//
// The dev tenant is a custom host: it is listed in `knownAuthorities` (no cloud discovery
// against Microsoft's hosts), and its self-signed CA is trusted through NODE_EXTRA_CA_CERTS,
// which the Rust test sets.
import { readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";

// MSAL Node is installed in the project directory the Rust test passes as MSAL_NODE_DIR.
const require = createRequire(`${process.env.MSAL_NODE_DIR}/package.json`);
const msal = require("@azure/msal-node");

const req = JSON.parse(readFileSync(0, "utf8"));
const cca = new msal.ConfidentialClientApplication({
  auth: {
    clientId: req.client_id,
    clientSecret: req.client_secret,
    authority: req.authority,
    knownAuthorities: [new URL(req.authority).host],
  },
});
const cache = cca.getTokenCache();
if (req.cache_in) {
  cache.deserialize(readFileSync(req.cache_in, "utf8"));
}
const source = (result) => {
  if (!result || !result.accessToken) {
    throw new Error("MSAL Node returned no access token");
  }
  return result.fromCache ? "cache" : "identity_provider";
};

const out = { app_source: null, user_source: null };
if (req.app_scopes && req.app_scopes.length) {
  out.app_source = source(await cca.acquireTokenByClientCredential({ scopes: req.app_scopes }));
}
if (req.obo) {
  out.obo_source = source(
    await cca.acquireTokenOnBehalfOf({ oboAssertion: req.obo.assertion, scopes: req.obo.scopes }),
  );
}
if (req.mode === "acquire") {
  if (req.user) {
    out.user_source = source(
      await cca.acquireTokenByCode({
        code: req.user.code,
        scopes: req.user.scopes,
        redirectUri: req.user.redirect_uri,
        codeVerifier: req.user.code_verifier,
        // MSAL Node checks the ID token's nonce against the request's.
        nonce: req.user.nonce,
        state: req.user.state,
      }, { code: req.user.code, state: req.user.state }),
    );
  }
  writeFileSync(req.cache_out, cache.serialize());
} else if (req.mode === "silent") {
  if (req.username) {
    const account = (await cache.getAllAccounts()).find((a) => a.username === req.username);
    if (!account) {
      throw new Error(`MSAL Node finds no account ${req.username} in the cache`);
    }
    out.user_source = source(await cca.acquireTokenSilent({ account, scopes: req.user_scopes }));
  }
} else {
  throw new Error(`unknown mode ${req.mode}`);
}
out.accounts = (await cache.getAllAccounts()).map((a) => a.username);
process.stdout.write(JSON.stringify(out));
