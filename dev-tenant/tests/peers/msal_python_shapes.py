"""Drives MSAL Python against a dev tenant for dev-tenant's Entra-shape tests.

Reads {"authority", "client_id", "client_secret", "ca", "steps": [...]} on stdin and prints one
result per step: a step is {"op": "code", "code", "code_verifier", "redirect_uri", "nonce",
"scopes", "claims"?} (acquire_token_by_authorization_code) or {"op": "silent", "scopes",
"claims"?} (acquire_token_silent_with_error for the one cached account; MSAL skips the cache when
a claims challenge is given). A result is {"access_token"} or the error fields MSAL Python
returns. Instance discovery is off (a custom host) and the tenant's CA is trusted via `verify`.
"""

import json
import sys

import msal


def main():
    req = json.load(sys.stdin)
    app = msal.ConfidentialClientApplication(
        req["client_id"],
        client_credential=req["client_secret"],
        authority=req["authority"],
        verify=req["ca"],
        instance_discovery=False,
    )
    out = []
    for step in req["steps"]:
        if step["op"] == "code":
            result = app.acquire_token_by_authorization_code(
                step["code"], step["scopes"], redirect_uri=step["redirect_uri"],
                nonce=step["nonce"], claims_challenge=step.get("claims"),
                data={"code_verifier": step["code_verifier"]})
        elif step["op"] == "silent":
            accounts = app.get_accounts()
            if len(accounts) != 1:
                raise SystemExit("expected one account, found %d" % len(accounts))
            result = app.acquire_token_silent_with_error(
                step["scopes"], account=accounts[0], claims_challenge=step.get("claims"))
            if result is None:
                raise SystemExit("acquire_token_silent_with_error found nothing to refresh")
        else:
            raise SystemExit("unknown op %r" % step["op"])
        if "access_token" in result:
            out.append({"access_token": result["access_token"]})
        else:
            out.append({k: result.get(k) for k in
                        ("error", "error_codes", "suberror", "claims", "error_description")})
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
