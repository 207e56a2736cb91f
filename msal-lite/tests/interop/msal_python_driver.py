"""Drives MSAL Python against a dev tenant for msal-lite's cache round-trip tests.

Reads one JSON request on stdin, prints one JSON result on stdout:

  {"mode": "acquire", "authority", "client_id", "client_secret", "ca", "cache_out",
   "app_scopes": [...], "user": {"code", "code_verifier", "redirect_uri", "scopes": [...]} | null}
      -> {"app_source", "user_source", "accounts": [...]}   (and writes the cache to cache_out)
  {"mode": "silent", ... "cache_in", "app_scopes", "user_scopes", "username"}
      -> {"app_source", "user_source", "accounts": [...]}   (token_source of each result)
  either mode may carry "obo": {"assertion", "scopes"} -> "obo_source" (acquire_token_on_behalf_of)

Instance discovery is off (the dev tenant is a custom host, not a Microsoft cloud) and the
tenant's self-signed CA is trusted through `verify`.
"""

import json
import sys

import msal


def app_for(req, cache):
    return msal.ConfidentialClientApplication(
        req["client_id"],
        client_credential=req["client_secret"],
        authority=req["authority"],
        token_cache=cache,
        verify=req["ca"],
        instance_discovery=False,
    )


def source(result):
    if "access_token" not in result:
        raise SystemExit("MSAL Python error: %s" % json.dumps(
            {k: result.get(k) for k in ("error", "error_description")}))
    return result.get("token_source")


def main():
    req = json.load(sys.stdin)
    cache = msal.SerializableTokenCache()
    if req.get("cache_in"):
        with open(req["cache_in"], encoding="utf-8") as f:
            cache.deserialize(f.read())
    app = app_for(req, cache)
    out = {"app_source": None, "user_source": None}
    if req.get("app_scopes"):
        out["app_source"] = source(app.acquire_token_for_client(req["app_scopes"]))
    if req.get("obo"):
        out["obo_source"] = source(app.acquire_token_on_behalf_of(
            req["obo"]["assertion"], req["obo"]["scopes"]))
    if req["mode"] == "acquire":
        user = req.get("user")
        if user:
            out["user_source"] = source(app.acquire_token_by_authorization_code(
                user["code"], user["scopes"], redirect_uri=user["redirect_uri"],
                nonce=user["nonce"],
                data={"code_verifier": user["code_verifier"]}))
        with open(req["cache_out"], "w", encoding="utf-8") as f:
            f.write(cache.serialize())
    elif req["mode"] == "silent":
        if req.get("username"):
            accounts = app.get_accounts(username=req["username"])
            if not accounts:
                raise SystemExit("MSAL Python finds no account %s in the cache" % req["username"])
            result = app.acquire_token_silent(req["user_scopes"], account=accounts[0])
            if result is None:
                raise SystemExit("MSAL Python acquire_token_silent: no token in the cache")
            out["user_source"] = source(result)
    else:
        raise SystemExit("unknown mode %r" % req["mode"])
    out["accounts"] = [a["username"] for a in app.get_accounts()]
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
