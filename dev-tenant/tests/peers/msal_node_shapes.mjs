// Drives MSAL Node against a dev tenant for dev-tenant's Entra-shape tests: reads
// {"authority", "client_id", "client_secret", "steps": [...]} on stdin and prints one result per
// step on stdout. A step is {"op": "code", "code", "code_verifier", "redirect_uri", "nonce",
// "scopes", "claims"?} (acquireTokenByCode) or {"op": "silent", "scopes", "claims"?}
// (acquireTokenSilent for the one cached account; MSAL skips the cache when claims are given).
// A result is {"access_token"} or the error as MSAL Node reports it.
//
// The tenant's self-signed CA is trusted through NODE_EXTRA_CA_CERTS (set by the Rust test), and
// its host is listed in knownAuthorities (no cloud discovery against Microsoft's hosts).
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

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

const out = [];
for (const step of req.steps) {
  try {
    let result;
    if (step.op === "code") {
      result = await cca.acquireTokenByCode({
        code: step.code,
        scopes: step.scopes,
        redirectUri: step.redirect_uri,
        codeVerifier: step.code_verifier,
        nonce: step.nonce,
        claims: step.claims,
      });
    } else if (step.op === "silent") {
      const [account] = await cca.getTokenCache().getAllAccounts();
      result = await cca.acquireTokenSilent({ account, scopes: step.scopes, claims: step.claims });
    } else {
      throw new Error(`unknown op ${step.op}`);
    }
    out.push({ access_token: result.accessToken });
  } catch (e) {
    out.push({
      error: e.errorCode ?? String(e),
      suberror: e.subError ?? null,
      claims: e.claims ?? null,
      // MSAL Node's own verdict: a step-up the user must see.
      interaction_required: e instanceof msal.InteractionRequiredAuthError,
      description: e.errorMessage ?? null,
    });
  }
}
process.stdout.write(JSON.stringify(out));
