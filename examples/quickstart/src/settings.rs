//! The variables each app is started with: exactly what its `.env` would hold for a real tenant,
//! pointed at the dev tenant instead.

use std::net::SocketAddr;

use dev_tenant::{DevTenant, quickstart as q};

/// A list of `NAME=value` pairs handed to an app's `Config::from_vars`.
#[derive(Debug, Default)]
pub(crate) struct Vars(Vec<(&'static str, String)>);

impl Vars {
    fn set(&mut self, name: &'static str, value: impl Into<String>) {
        self.0.push((name, value.into()));
    }

    /// The value of `name`, for `from_vars`.
    pub(crate) fn get(&self, name: &str) -> Option<String> {
        self.0
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.clone())
    }
}

/// The EditProfileService API's variables: its own registration, the tenant, Graph.
/// `redis` is `(REDIS_URL, DATA_KEYS)`.
pub(crate) fn api_vars(tenant: &DevTenant, bind: SocketAddr, redis: Option<(&str, &str)>) -> Vars {
    let mut vars = Vars::default();
    vars.set("AUTHORITY", tenant.authority());
    vars.set("TENANT_ID", q::TENANT_ID);
    vars.set("CLIENT_ID", q::API_CLIENT_ID);
    vars.set("CLIENT_SECRET", q::API_CLIENT_SECRET);
    vars.set("GRAPH_API_ENDPOINT", tenant.graph_url());
    // The tenant's Conditional Access policy on the API enforces MFA, as in the Microsoft
    // quickstart: v2.0 access tokens carry no `amr` (the dev tenant's neither), see
    // docs/configuration.md.
    vars.set("MFA_POLICY", "conditional-access");
    vars.set("BIND_ADDRESS", bind.to_string());
    if let Some((url, keys)) = redis {
        vars.set("REDIS_URL", url);
        vars.set("DATA_KEYS", keys);
    }
    vars
}

/// The web app's variables. `web_origin` is how the browser reaches the web app
/// (`http://localhost:PORT`); `api_url` is where the web app reaches the API.
pub(crate) fn web_app_vars(
    tenant: &DevTenant,
    bind: SocketAddr,
    web_origin: &str,
    api_url: &str,
    redis: Option<(&str, &str)>,
) -> Vars {
    let mut vars = Vars::default();
    vars.set("AUTHORITY", tenant.authority());
    vars.set("CLIENT_ID", q::WEB_APP_CLIENT_ID);
    vars.set("CLIENT_SECRET", q::WEB_APP_CLIENT_SECRET);
    vars.set("REDIRECT_URI", format!("{web_origin}/auth/redirect"));
    vars.set("POST_LOGOUT_REDIRECT_URI", format!("{web_origin}/"));
    vars.set("GRAPH_API_ENDPOINT", tenant.graph_url());
    vars.set("EDIT_PROFILE_FOR_CLIENT_WEB_APP", q::API_SCOPE_URI);
    vars.set("EDIT_PROFILE_API_ENDPOINT", format!("{api_url}/"));
    vars.set("BIND_ADDRESS", bind.to_string());
    if let Some((url, keys)) = redis {
        vars.set("REDIS_URL", url);
        vars.set("DATA_KEYS", keys);
    }
    vars
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn variables_point_each_app_at_the_dev_tenant_and_each_other() {
        let tenant = DevTenant::start(dev_tenant::Config::quickstart())
            .await
            .unwrap();
        let bind: SocketAddr = "127.0.0.1:3000".parse().unwrap();
        let web = web_app_vars(
            &tenant,
            bind,
            "http://localhost:3000",
            "http://127.0.0.1:3001",
            None,
        );
        assert_eq!(
            web.get("REDIRECT_URI").as_deref(),
            Some(q::WEB_APP_REDIRECT_URI)
        );
        assert_eq!(
            web.get("POST_LOGOUT_REDIRECT_URI").as_deref(),
            Some(q::WEB_APP_POST_LOGOUT_REDIRECT_URI)
        );
        assert_eq!(
            web.get("EDIT_PROFILE_API_ENDPOINT").as_deref(),
            Some("http://127.0.0.1:3001/")
        );
        assert_eq!(web.get("REDIS_URL"), None);
        assert_eq!(web.get("DATA_KEYS"), None);
        let api = api_vars(&tenant, bind, Some(("redis://127.0.0.1:6379", "k1:key")));
        assert_eq!(api.get("AUTHORITY"), Some(tenant.authority()));
        assert_eq!(
            api.get("REDIS_URL").as_deref(),
            Some("redis://127.0.0.1:6379")
        );
        assert_eq!(api.get("DATA_KEYS").as_deref(), Some("k1:key"));
        assert_eq!(api.get("NOT_SET"), None);
    }
}
