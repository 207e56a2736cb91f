"""MSAL Python's side of `cargo run --release -p benches --example cache_import_compare`.

    python msal_python_cache.py generate N OUT   # MSAL Python's own serialize() of N users' tokens
    python msal_python_cache.py load PATH        # time SerializableTokenCache.deserialize(), RSS

`generate` builds the cache MSAL Python 1.39 holds after N users signed in to one web app
(msal/token_cache.py: lower-cased `{home_account_id}-{environment}-{credential_type}-
{client_id}-{realm}-{target}` keys, string timestamps, realm = the token endpoint's tenant),
loads it into a `SerializableTokenCache` and writes that cache's `serialize()` output, so the
bytes are exactly what MSAL Python writes. `load` prints one JSON line: seconds spent in
`deserialize()`, the entries it holds, and the process's peak and current RSS afterwards.
"""

import json
import resource
import sys
import time

import msal

CLIENT_ID = "4d2e6f8a-1b3c-4d5e-8f9a-0b1c2d3e4f5a"
ENVIRONMENT = "login.microsoftonline.com"
TENANT = "f645ad92-e38d-4d1a-b510-d1b09a74a8ca"
TARGET = "openid profile User.Read"
TOKEN_BYTES = 1300  # about the size of a real Entra access token


def generate(users, out):
    now = int(time.time())
    secret = "x" * TOKEN_BYTES
    at, accounts = {}, {}
    for i in range(users):
        oid = "%08x-0000-4000-8000-000000000000" % i
        home = "%s.%s" % (oid, TENANT)
        key = "-".join([home, ENVIRONMENT, "accesstoken", CLIENT_ID, TENANT, TARGET]).lower()
        at[key] = {
            "credential_type": "AccessToken", "secret": secret, "home_account_id": home,
            "environment": ENVIRONMENT, "client_id": CLIENT_ID, "target": TARGET,
            "realm": TENANT, "token_type": "Bearer", "cached_at": str(now),
            "expires_on": str(now + 3600), "extended_expires_on": str(now + 3600),
        }
        accounts["-".join([home, ENVIRONMENT, TENANT]).lower()] = {
            "home_account_id": home, "environment": ENVIRONMENT, "realm": TENANT,
            "local_account_id": oid, "username": "user%d@contoso.com" % i,
            "authority_type": "MSSTS", "account_source": "authorization_code",
        }
    home = "00000000-0000-4000-8000-000000000000." + TENANT
    doc = {
        "AccessToken": at,
        "Account": accounts,
        "RefreshToken": {
            "-".join([home, ENVIRONMENT, "refreshtoken", CLIENT_ID, "", TARGET]).lower(): {
                "credential_type": "RefreshToken", "secret": "rt", "home_account_id": home,
                "environment": ENVIRONMENT, "client_id": CLIENT_ID, "target": TARGET,
                "last_modification_time": str(now),
            }
        },
        "IdToken": {
            "-".join([home, ENVIRONMENT, "idtoken", CLIENT_ID, TENANT, ""]).lower(): {
                "credential_type": "IdToken", "secret": "e30.e30.", "home_account_id": home,
                "environment": ENVIRONMENT, "realm": TENANT, "client_id": CLIENT_ID,
            }
        },
        "AppMetadata": {
            "appmetadata-%s-%s" % (ENVIRONMENT, CLIENT_ID): {
                "client_id": CLIENT_ID, "environment": ENVIRONMENT,
            }
        },
    }
    cache = msal.SerializableTokenCache()
    cache.deserialize(json.dumps(doc))
    del doc, at, accounts
    with open(out, "w") as f:
        f.write(cache.serialize())


def rss_kb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def load(path):
    with open(path) as f:
        state = f.read()
    cache = msal.SerializableTokenCache()
    start = time.perf_counter()
    cache.deserialize(state)
    seconds = time.perf_counter() - start
    del state  # msal-lite's side drops its input too
    entries = sum(len(v) for v in cache._cache.values())  # what deserialize() loaded
    print(json.dumps({
        "seconds": seconds,
        "entries": entries,
        "rss_kb": rss_kb(),
        "peak_rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    }))


if __name__ == "__main__":
    if sys.argv[1] == "generate":
        generate(int(sys.argv[2]), sys.argv[3])
    elif sys.argv[1] == "load":
        load(sys.argv[2])
    else:
        sys.exit("usage: generate N OUT | load PATH")
