//! The app-token (client credentials) partition key.

use crate::Authority;

/// `{client_id}|{authority}`: one partition per client and tenant (MSAL.NET keys it by client
/// and tenant id; the whole normalised authority also separates clouds and hosts).
pub(crate) fn partition_key(client_id: &str, authority: &Authority) -> Box<str> {
    format!("{client_id}|{}", authority.as_str()).into_boxed_str()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_separates_tenants_and_clients() {
        let a = Authority::parse("https://login.microsoftonline.com/t1").unwrap();
        let b = Authority::parse("https://login.microsoftonline.com/t2").unwrap();
        assert_ne!(partition_key("c", &a), partition_key("c", &b));
        assert_ne!(partition_key("c", &a), partition_key("d", &a));
        assert_eq!(
            &*partition_key("c", &a),
            "c|https://login.microsoftonline.com/t1/"
        );
    }
}
