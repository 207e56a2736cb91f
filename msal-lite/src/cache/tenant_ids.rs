//! Shared tenant-id strings for cached tokens.
//!
//! Every token a client caches carries the tenant it was issued in, and a client sees few
//! tenants but may hold a million tokens. Interning keeps one copy per tenant (36 bytes per
//! token otherwise, a tenth of a token entry's overhead).

use std::sync::{Arc, RwLock};

use foldhash::fast::RandomState;
use hashbrown::HashSet;

/// Beyond this many distinct tenants, new ones are no longer interned (still stored, just not
/// shared), so a stream of made-up tenant ids cannot grow the set without bound.
const MAX_TENANTS: usize = 65_536;

#[derive(Default)]
pub(crate) struct TenantIds {
    ids: RwLock<HashSet<Arc<str>, RandomState>>,
}

impl TenantIds {
    /// The shared copy of `tenant` (made on first sight).
    pub(crate) fn intern(&self, tenant: &str) -> Arc<str> {
        if let Some(id) = self
            .ids
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(tenant)
        {
            return id.clone();
        }
        let mut ids = self.ids.write().unwrap_or_else(|p| p.into_inner());
        if let Some(id) = ids.get(tenant) {
            return id.clone();
        }
        let id: Arc<str> = tenant.into();
        if ids.len() < MAX_TENANTS {
            ids.insert(id.clone());
        }
        id
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_copy_per_tenant() {
        let ids = TenantIds::default();
        let a = ids.intern("b3c2a1f0-5d4e-4f6a-9b8c-7d6e5f4a3b2c");
        let b = ids.intern(&String::from("b3c2a1f0-5d4e-4f6a-9b8c-7d6e5f4a3b2c"));
        assert!(Arc::ptr_eq(&a, &b));
        let c = ids.intern("other");
        assert!(!Arc::ptr_eq(&a, &c));
        assert_eq!(&*c, "other");
    }

    #[test]
    fn stops_interning_at_the_bound() {
        let ids = TenantIds::default();
        for i in 0..MAX_TENANTS + 10 {
            assert_eq!(&*ids.intern(&format!("t{i}")), format!("t{i}"));
        }
        assert_eq!(
            ids.ids.read().unwrap_or_else(|p| p.into_inner()).len(),
            MAX_TENANTS
        );
        let late = format!("t{}", MAX_TENANTS + 5);
        assert!(!Arc::ptr_eq(&ids.intern(&late), &ids.intern(&late)));
    }
}
