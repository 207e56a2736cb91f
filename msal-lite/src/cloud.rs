//! The well-known Microsoft clouds: which hosts are aliases of one cloud, and the host MSAL
//! writes into the cache for it.
//!
//! The table is the instance-discovery metadata MSAL ships built in (MSAL.NET
//! `Instance/Discovery/KnownMetadataProvider.cs`; msal-common's `AuthorityMetadata`): for the
//! public cloud, `login.microsoftonline.com`, `login.windows.net`, `login.microsoft.com` and
//! `sts.windows.net` are one cloud whose preferred cache host is `login.windows.net`. MSAL reads a
//! cache entry written under any alias of the authority's cloud and writes the preferred cache
//! host, so msal-lite does the same: a workforce cache written by MSAL Node or .NET is found,
//! and what msal-lite writes is found by them.
//!
//! Hosts not in the table (CIAM `*.ciamlogin.com`, B2C, ADFS, loopback dev tenants) are their
//! own single-alias cloud. An instance-discovery response (`instance_discovery.rs`) extends the
//! shared table for a host it does not know through [`CloudTable::learn`].

use std::sync::RwLock;

/// At most this many clouds are learned from instance discovery per process (each is a few
/// host names, kept for the process lifetime).
const MAX_DISCOVERED: usize = 64;

/// One cloud: its aliases and the host written into the cache.
#[derive(Debug, Clone)]
pub(crate) struct Cloud {
    pub(crate) aliases: Vec<String>,
    pub(crate) preferred_cache: String,
}

/// Alias sets, looked up by any member (ASCII case-insensitive): the built-in ones, then those
/// learned from instance discovery.
#[derive(Debug)]
pub(crate) struct CloudTable {
    clouds: Vec<Cloud>,
    /// Leaked on purpose so lookups can hand out `&str` without holding the lock: bounded by
    /// [`MAX_DISCOVERED`], and a learned cloud is never dropped anyway.
    discovered: RwLock<Vec<&'static Cloud>>,
}

/// (aliases, preferred cache host) as MSAL's known metadata has them.
const KNOWN: &[(&[&str], &str)] = &[
    (
        &[
            "login.microsoftonline.com",
            "login.windows.net",
            "login.microsoft.com",
            "sts.windows.net",
        ],
        "login.windows.net",
    ),
    (
        &["login.partner.microsoftonline.cn", "login.chinacloudapi.cn"],
        "login.partner.microsoftonline.cn",
    ),
    (&["login.microsoftonline.de"], "login.microsoftonline.de"),
    (
        &["login.microsoftonline.us", "login.usgovcloudapi.net"],
        "login.microsoftonline.us",
    ),
    (
        &["login-us.microsoftonline.com"],
        "login-us.microsoftonline.com",
    ),
    (
        &[
            "login.windows-ppe.net",
            "sts.windows-ppe.net",
            "login.microsoft-ppe.com",
        ],
        "login.windows-ppe.net",
    ),
    (
        &["login.sovcloud-identity.fr"],
        "login.sovcloud-identity.fr",
    ),
    (
        &["login.sovcloud-identity.de"],
        "login.sovcloud-identity.de",
    ),
    (
        &["login.sovcloud-identity.sg"],
        "login.sovcloud-identity.sg",
    ),
];

impl CloudTable {
    /// The built-in table of the well-known clouds.
    pub(crate) fn known() -> Self {
        Self {
            clouds: KNOWN
                .iter()
                .map(|(aliases, preferred)| Cloud {
                    aliases: aliases.iter().map(|a| (*a).to_owned()).collect(),
                    preferred_cache: (*preferred).to_owned(),
                })
                .collect(),
            discovered: RwLock::new(Vec::new()),
        }
    }

    /// Adds a cloud from an instance-discovery response for hosts the built-in table does not
    /// know. A cloud sharing a host with a built-in one is ignored (MSAL's known metadata wins),
    /// one already learned is kept, and past [`MAX_DISCOVERED`] nothing more is learned.
    /// Whether the table now has `cloud`'s hosts.
    pub(crate) fn learn(&self, cloud: Cloud) -> bool {
        let shares = |c: &Cloud| {
            c.aliases
                .iter()
                .any(|a| cloud.aliases.iter().any(|b| a.eq_ignore_ascii_case(b)))
        };
        if self.clouds.iter().any(shares) {
            return false;
        }
        let mut discovered = self.discovered.write().unwrap_or_else(|p| p.into_inner());
        if let Some(known) = discovered.iter().find(|c| shares(c)) {
            let same = known
                .preferred_cache
                .eq_ignore_ascii_case(&cloud.preferred_cache)
                && known.aliases.len() == cloud.aliases.len();
            if !same {
                tracing::debug!("instance discovery changed a learned cloud; keeping the first");
            }
            return true;
        }
        if discovered.len() >= MAX_DISCOVERED {
            tracing::warn!("instance discovery: too many clouds learned; not learning more");
            return false;
        }
        discovered.push(Box::leak(Box::new(cloud)));
        true
    }

    /// Adds (or replaces, for hosts it shares) a cloud, e.g. from an instance-discovery
    /// response's `metadata` entry.
    #[must_use]
    #[cfg_attr(
        not(test),
        expect(dead_code, reason = "tests build tables; discovery uses learn")
    )]
    pub(crate) fn with_entry(mut self, cloud: Cloud) -> Self {
        self.clouds.retain(|c| {
            !c.aliases
                .iter()
                .any(|a| cloud.aliases.iter().any(|b| a.eq_ignore_ascii_case(b)))
        });
        self.clouds.push(cloud);
        self
    }

    fn find(&self, host: &str) -> Option<&Cloud> {
        let has = |c: &&Cloud| c.aliases.iter().any(|a| a.eq_ignore_ascii_case(host));
        self.clouds.iter().find(has).or_else(|| {
            let discovered = self.discovered.read().unwrap_or_else(|p| p.into_inner());
            discovered.iter().copied().find(has)
        })
    }

    /// Whether the built-in table knows `host` (then instance discovery is not needed).
    pub(crate) fn is_built_in(&self, host: &str) -> bool {
        self.clouds
            .iter()
            .any(|c| c.aliases.iter().any(|a| a.eq_ignore_ascii_case(host)))
    }

    /// The host MSAL writes into cache entries for `host`'s cloud (`host` itself when unknown).
    pub(crate) fn cache_host<'a>(&'a self, host: &'a str) -> &'a str {
        self.find(host).map_or(host, |c| c.preferred_cache.as_str())
    }

    /// Whether an entry written for `entry_host` belongs to `authority_host`'s cloud.
    pub(crate) fn same_cloud(&self, entry_host: &str, authority_host: &str) -> bool {
        entry_host.eq_ignore_ascii_case(authority_host)
            || self
                .find(authority_host)
                .is_some_and(|c| c.aliases.iter().any(|a| a.eq_ignore_ascii_case(entry_host)))
    }
}

/// The built-in table, shared.
pub(crate) fn known() -> &'static CloudTable {
    static KNOWN_TABLE: std::sync::LazyLock<CloudTable> =
        std::sync::LazyLock::new(CloudTable::known);
    &KNOWN_TABLE
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Vectors: MSAL.NET `src/client/Microsoft.Identity.Client/Instance/Discovery/KnownMetadataProvider.cs`
    /// (AzureAD/microsoft-authentication-library-for-dotnet).
    #[test]
    fn msal_known_metadata() {
        let t = known();
        assert_eq!(
            t.cache_host("login.microsoftonline.com"),
            "login.windows.net"
        );
        assert_eq!(t.cache_host("LOGIN.MICROSOFT.COM"), "login.windows.net");
        assert_eq!(
            t.cache_host("login.chinacloudapi.cn"),
            "login.partner.microsoftonline.cn"
        );
        assert_eq!(
            t.cache_host("login.usgovcloudapi.net"),
            "login.microsoftonline.us"
        );
        assert_eq!(
            t.cache_host("login.sovcloud-identity.fr"),
            "login.sovcloud-identity.fr"
        );
        assert_eq!(
            t.cache_host("contoso.ciamlogin.com"),
            "contoso.ciamlogin.com"
        );
        assert!(t.same_cloud("login.windows.net", "login.microsoftonline.com"));
        assert!(t.same_cloud("sts.windows.net", "login.microsoftonline.com"));
        assert!(t.same_cloud("login.microsoftonline.com", "login.windows.net"));
        assert!(!t.same_cloud("login.microsoftonline.us", "login.microsoftonline.com"));
        assert!(!t.same_cloud("login.sovcloud-identity.de", "login.sovcloud-identity.fr"));
        assert!(t.same_cloud("Contoso.ciamlogin.com", "contoso.ciamlogin.com"));
        assert!(!t.same_cloud("fabrikam.ciamlogin.com", "contoso.ciamlogin.com"));
    }

    #[test]
    fn discovered_entries_extend_the_table() {
        let t = CloudTable::known().with_entry(Cloud {
            aliases: vec!["login.example.net".into(), "sts.example.net".into()],
            preferred_cache: "sts.example.net".into(),
        });
        assert_eq!(t.cache_host("login.example.net"), "sts.example.net");
        assert!(t.same_cloud("sts.example.net", "login.example.net"));
    }

    #[test]
    fn learned_clouds_never_override_built_in_ones() {
        let t = CloudTable::known();
        let cloud = |aliases: &[&str], preferred: &str| Cloud {
            aliases: aliases.iter().map(|a| (*a).to_owned()).collect(),
            preferred_cache: preferred.to_owned(),
        };
        assert!(t.learn(cloud(
            &["login.a.example", "sts.a.example"],
            "sts.a.example"
        )));
        assert_eq!(t.cache_host("LOGIN.a.example"), "sts.a.example");
        assert!(t.same_cloud("sts.a.example", "login.a.example"));
        assert!(!t.is_built_in("login.a.example"));
        // A response claiming the public cloud's hosts changes nothing.
        assert!(!t.learn(cloud(
            &["login.microsoftonline.com", "evil.example"],
            "evil.example"
        )));
        assert_eq!(
            t.cache_host("login.microsoftonline.com"),
            "login.windows.net"
        );
        assert!(!t.same_cloud("evil.example", "login.microsoftonline.com"));
        // The first learned set is kept; the table is bounded.
        assert!(t.learn(cloud(&["login.a.example", "x.example"], "x.example")));
        assert_eq!(t.cache_host("login.a.example"), "sts.a.example");
        for i in 0..MAX_DISCOVERED {
            t.learn(cloud(&[&format!("h{i}.example")], &format!("h{i}.example")));
        }
        assert!(!t.learn(cloud(&["late.example"], "late.example")));
    }
}
