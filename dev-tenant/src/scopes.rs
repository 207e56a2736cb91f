//! Scope strings: which resource they name, which permissions they ask for, and whether the
//! client was granted them (Microsoft identity platform: "Scopes and permissions", ".default").

use axum::http::StatusCode;

use crate::config::{AppRegistration, Config};
use crate::errors::EntraError;

/// A parsed `scope` parameter.
#[derive(Debug, Clone, Default)]
pub(crate) struct RequestedScopes {
    pub(crate) openid: bool,
    pub(crate) profile: bool,
    pub(crate) email: bool,
    pub(crate) offline_access: bool,
    pub(crate) resources: Vec<ResourceScopes>,
}

/// The scopes asked of one resource.
#[derive(Debug, Clone)]
pub(crate) struct ResourceScopes {
    /// The resource's client id.
    pub(crate) resource: String,
    pub(crate) default: bool,
    /// (canonical name, the form the client wrote).
    pub(crate) scopes: Vec<(String, String)>,
    pub(crate) default_form: Option<String>,
}

/// Splits a scope string and resolves each value to a resource and a permission.
///
/// Forms: `openid`/`profile`/`email`/`offline_access`; `{resource}/.default`;
/// `{resource}/{scope}` where resource is an identifier URI or client id; a bare `{scope}` means
/// Microsoft Graph, as in Entra.
pub(crate) fn parse_scopes(
    config: &Config,
    scope: &str,
    graph_default: bool,
) -> Result<RequestedScopes, EntraError> {
    let mut out = RequestedScopes::default();
    for value in scope
        .split([' ', '\t', '\n', '\r'])
        .filter(|s| !s.is_empty())
    {
        match value.to_ascii_lowercase().as_str() {
            "openid" => out.openid = true,
            "profile" => out.profile = true,
            "email" => out.email = true,
            "offline_access" => out.offline_access = true,
            _ => {
                let (resource_id, name) = match value.rfind('/') {
                    Some(i) if i + 1 < value.len() => (&value[..i], &value[i + 1..]),
                    Some(_) => return Err(invalid_scope(value)),
                    None if graph_default => (crate::quickstart::GRAPH_RESOURCE, value),
                    None => return Err(invalid_scope(value)),
                };
                let app = config
                    .resource(resource_id)
                    .ok_or_else(|| unknown_resource(config, resource_id))?;
                let entry = match out
                    .resources
                    .iter()
                    .position(|r| r.resource == app.client_id)
                {
                    Some(i) => &mut out.resources[i],
                    None => {
                        out.resources.push(ResourceScopes {
                            resource: app.client_id.clone(),
                            default: false,
                            scopes: Vec::new(),
                            default_form: None,
                        });
                        let last = out.resources.len() - 1;
                        &mut out.resources[last]
                    }
                };
                if name.eq_ignore_ascii_case(".default") {
                    entry.default = true;
                    entry.default_form = Some(value.to_owned());
                } else {
                    let canonical = app
                        .scopes
                        .iter()
                        .find(|s| s.eq_ignore_ascii_case(name))
                        .ok_or_else(|| invalid_scope(value))?;
                    if !entry.scopes.iter().any(|(c, _)| c == canonical) {
                        entry.scopes.push((canonical.clone(), value.to_owned()));
                    }
                }
            }
        }
    }
    Ok(out)
}

fn invalid_scope(value: &str) -> EntraError {
    EntraError::invalid_scope(
        70011,
        format!(
            "The provided value for the input parameter 'scope' isn't valid. The scope {value} isn't valid."
        ),
    )
}

fn unknown_resource(config: &Config, resource: &str) -> EntraError {
    EntraError::new(
        StatusCode::BAD_REQUEST,
        "invalid_resource",
        500011,
        format!(
            "The resource principal named {resource} was not found in the tenant named {}. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant.",
            config.tenant.domain()
        ),
    )
}

/// What a user-flow token will carry for one resource.
#[derive(Debug, Clone)]
pub(crate) struct DelegatedGrant {
    pub(crate) resource: String,
    pub(crate) scp: Vec<String>,
    /// The response's `scope` value.
    pub(crate) response_scope: String,
}

/// Delegated scopes `client` was granted on `resource` (admin consent).
fn granted_delegated<'a>(
    config: &'a Config,
    client: &'a AppRegistration,
    resource: &str,
) -> Vec<&'a str> {
    if client.client_id.eq_ignore_ascii_case(resource) {
        return client.scopes.iter().map(String::as_str).collect();
    }
    client
        .delegated_permissions
        .iter()
        .filter(|p| {
            config
                .resource(&p.resource)
                .is_some_and(|a| a.client_id == resource)
        })
        .flat_map(|p| p.scopes.iter().map(String::as_str))
        .collect()
}

/// Checks consent for every requested resource (the authorize request covers them all).
pub(crate) fn check_consent(
    config: &Config,
    client: &AppRegistration,
    req: &RequestedScopes,
) -> Result<(), EntraError> {
    for r in &req.resources {
        let granted = granted_delegated(config, client, &r.resource);
        for (scope, _) in &r.scopes {
            if !granted.iter().any(|g| g.eq_ignore_ascii_case(scope)) {
                return Err(EntraError::consent_required(
                    &client.client_id,
                    &r.resource,
                    scope,
                ));
            }
        }
    }
    Ok(())
}

/// The resource and scopes of the access token for a user flow: the first resource named,
/// or Microsoft Graph when only OpenID Connect scopes were asked for.
pub(crate) fn delegated_grant(
    config: &Config,
    client: &AppRegistration,
    req: &RequestedScopes,
) -> Result<DelegatedGrant, EntraError> {
    if req.resources.len() > 1 && config.reject_multi_resource_scopes {
        return Err(EntraError::invalid_scope(
            28000,
            "Provided value for the input parameter scope is not valid because it contains more than one resource.",
        ));
    }
    check_consent(config, client, req)?;
    let oidc: Vec<&str> = [
        (req.openid, "openid"),
        (req.profile, "profile"),
        (req.email, "email"),
    ]
    .into_iter()
    .filter_map(|(on, s)| on.then_some(s))
    .collect();
    let Some(first) = req.resources.first() else {
        let graph = config.resource(crate::quickstart::GRAPH_RESOURCE);
        let (resource, scp) = match graph {
            Some(g) => (
                g.client_id.clone(),
                granted_delegated(config, client, &g.client_id)
                    .into_iter()
                    .map(str::to_owned)
                    .collect::<Vec<_>>(),
            ),
            None => return Err(invalid_scope("openid")),
        };
        let mut response: Vec<String> = scp.clone();
        response.extend(oidc.iter().map(|s| (*s).to_owned()));
        return Ok(DelegatedGrant {
            resource,
            scp,
            response_scope: response.join(" "),
        });
    };
    let app = config
        .app(&first.resource)
        .ok_or_else(|| invalid_scope(&first.resource))?;
    let mut scp: Vec<String> = Vec::new();
    let mut response: Vec<String> = Vec::new();
    for (canonical, written) in &first.scopes {
        if !scp.iter().any(|s| s.eq_ignore_ascii_case(canonical)) {
            scp.push(canonical.clone());
            response.push(written.clone());
        }
    }
    // Entra lists every consented scope of the resource in `scp` and the response's `scope`,
    // not only the requested ones ("Scopes and permissions": consent is per resource, and the
    // token carries all of it), as for `/.default`.
    let is_graph = app
        .identifier_uris
        .iter()
        .any(|u| u.eq_ignore_ascii_case(crate::quickstart::GRAPH_RESOURCE));
    let prefix = app
        .identifier_uris
        .first()
        .cloned()
        .unwrap_or_else(|| format!("api://{}", app.client_id));
    let written_prefix = first
        .scopes
        .first()
        .and_then(|(_, w)| w.rfind('/').map(|i| w[..i].to_owned()))
        .or_else(|| {
            first
                .default_form
                .as_deref()
                .filter(|_| !is_graph)
                .and_then(|w| w.rfind('/').map(|i| w[..i].to_owned()))
        });
    for g in granted_delegated(config, client, &app.client_id) {
        if !scp.iter().any(|s| s.eq_ignore_ascii_case(g)) {
            scp.push(g.to_owned());
            // Written as the client wrote the resource (Graph scopes may be bare).
            response.push(match &written_prefix {
                Some(p) => format!("{p}/{g}"),
                None if is_graph => g.to_owned(),
                None => format!("{prefix}/{g}"),
            });
        }
    }
    response.extend(oidc.iter().map(|s| (*s).to_owned()));
    Ok(DelegatedGrant {
        resource: app.client_id.clone(),
        scp,
        response_scope: response.join(" "),
    })
}

/// What an app-only (client credentials) token will carry.
#[derive(Debug, Clone)]
pub(crate) struct AppGrant {
    pub(crate) resource: String,
    pub(crate) roles: Vec<String>,
    pub(crate) response_scope: String,
}

/// Client credentials accept exactly one `{resource}/.default` (AADSTS1002012 otherwise).
pub(crate) fn app_grant(
    config: &Config,
    client: &AppRegistration,
    scope: &str,
) -> Result<AppGrant, EntraError> {
    let not_default = || {
        EntraError::invalid_scope(
            1002012,
            format!(
                "The provided value for scope {scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI)."
            ),
        )
    };
    let req = parse_scopes(config, scope, false)
        .map_err(|e| if e.code == 70011 { not_default() } else { e })?;
    if req.openid || req.profile || req.email || req.offline_access {
        return Err(not_default());
    }
    let [r] = req.resources.as_slice() else {
        return Err(not_default());
    };
    if !r.default || !r.scopes.is_empty() {
        return Err(not_default());
    }
    let roles = client
        .application_permissions
        .iter()
        .filter(|p| {
            config
                .resource(&p.resource)
                .is_some_and(|a| a.client_id == r.resource)
        })
        .flat_map(|p| p.roles.iter().cloned())
        .collect();
    Ok(AppGrant {
        resource: r.resource.clone(),
        roles,
        response_scope: r.default_form.clone().unwrap_or_default(),
    })
}

/// Ids of the Conditional Access policies requiring MFA for `resource` (a client id).
pub(crate) fn mfa_policies(config: &Config, resource: &str) -> Vec<String> {
    config
        .conditional_access
        .iter()
        .filter(|p| {
            p.require_mfa
                && p.resources
                    .iter()
                    .any(|r| config.resource(r).is_some_and(|a| a.client_id == resource))
        })
        .map(|p| p.id.clone())
        .collect()
}

/// Policy ids that apply to any resource in the request.
pub(crate) fn mfa_policies_for_request(config: &Config, req: &RequestedScopes) -> Vec<String> {
    let mut ids: Vec<String> = Vec::new();
    for r in &req.resources {
        for id in mfa_policies(config, &r.resource) {
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
    }
    ids
}

/// The Conditional Access policies a `claims` request makes the sign-in meet with MFA, or
/// `None` when it needs no MFA ("Conditional Access authentication context"; claims challenges).
///
/// `capolids`/`polids` and `amr: mfa` always need MFA. An `acrs` value needs it when a policy
/// naming that authentication context requires MFA; a context no policy names is treated as
/// needing MFA too (an unconfigured step-up still shows the MFA page, see the README's table of
/// differences from Entra).
pub(crate) fn claims_mfa_policies(
    config: &Config,
    claims: &crate::parse::ClaimsRequest,
) -> Option<Vec<String>> {
    let mut ids: Vec<String> = claims.polids.clone();
    let mut needed =
        !claims.polids.is_empty() || claims.amr.iter().any(|a| a.eq_ignore_ascii_case("mfa"));
    for context in &claims.acrs {
        let naming: Vec<_> = context_policies(config, context).collect();
        if naming.is_empty() || naming.iter().any(|p| p.require_mfa) {
            needed = true;
        }
        for p in naming.into_iter().filter(|p| p.require_mfa) {
            if !ids.contains(&p.id) {
                ids.push(p.id.clone());
            }
        }
    }
    if !needed {
        return None;
    }
    if ids.is_empty() {
        ids = config
            .conditional_access
            .iter()
            .filter(|p| p.require_mfa)
            .map(|p| p.id.clone())
            .collect();
    }
    Some(ids)
}

fn context_policies<'a>(
    config: &'a Config,
    context: &'a str,
) -> impl Iterator<Item = &'a crate::config::ConditionalAccessPolicy> {
    config.conditional_access.iter().filter(move |p| {
        p.authentication_contexts
            .iter()
            .any(|c| c.eq_ignore_ascii_case(context))
    })
}

/// The requested authentication contexts a sign-in satisfies, for the token's `acrs`: each
/// one whose policies are met (MFA done, or none of them requires it). Entra emits `acrs`
/// only for contexts the client asked for in a claims request.
pub(crate) fn satisfied_contexts(config: &Config, requested: &[String], mfa: bool) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for context in requested {
        let naming: Vec<_> = context_policies(config, context).collect();
        let met = mfa || (!naming.is_empty() && naming.iter().all(|p| !p.require_mfa));
        if met && !out.iter().any(|c| c.eq_ignore_ascii_case(context)) {
            out.push(context.clone());
        }
    }
    out
}

/// `a` followed by the values of `b` it lacks.
pub(crate) fn union(a: &[String], b: &[String]) -> Vec<String> {
    let mut out = a.to_vec();
    for v in b {
        if !out.iter().any(|o| o.eq_ignore_ascii_case(v)) {
            out.push(v.clone());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quickstart as q;

    fn web(c: &Config) -> &AppRegistration {
        c.app(q::WEB_APP_CLIENT_ID).unwrap()
    }

    #[test]
    fn graph_bare_and_api_scopes() {
        let c = Config::quickstart();
        let req = parse_scopes(&c, "User.Read openid profile offline_access", true).unwrap();
        let g = delegated_grant(&c, web(&c), &req).unwrap();
        assert_eq!(g.resource, q::GRAPH_APP_ID);
        assert_eq!(g.scp, ["User.Read"]);
        assert_eq!(g.response_scope, "User.Read openid profile");

        let req = parse_scopes(&c, &format!("{} offline_access", q::API_SCOPE_URI), true).unwrap();
        let g = delegated_grant(&c, web(&c), &req).unwrap();
        assert_eq!(g.resource, q::API_CLIENT_ID);
        assert_eq!(g.scp, [q::API_SCOPE]);
        assert_eq!(g.response_scope, q::API_SCOPE_URI);
        assert_eq!(mfa_policies_for_request(&c, &req), [q::MFA_POLICY_ID]);
    }

    #[test]
    fn multi_resource_first_wins_or_28000() {
        let mut c = Config::quickstart();
        let scope = format!("User.Read {}", q::API_SCOPE_URI);
        let req = parse_scopes(&c, &scope, true).unwrap();
        assert_eq!(
            delegated_grant(&c, web(&c), &req).unwrap().resource,
            q::GRAPH_APP_ID
        );
        c.reject_multi_resource_scopes = true;
        assert_eq!(delegated_grant(&c, web(&c), &req).unwrap_err().code, 28000);
    }

    #[test]
    fn consent_and_unknown_scopes() {
        let c = Config::quickstart();
        let req = parse_scopes(&c, "User.ReadWrite", true).unwrap();
        assert_eq!(delegated_grant(&c, web(&c), &req).unwrap_err().code, 65001);
        assert_eq!(parse_scopes(&c, "Mail.Read", true).unwrap_err().code, 70011);
        assert_eq!(
            parse_scopes(&c, "https://unknown.example/x", true)
                .unwrap_err()
                .code,
            500011
        );
        assert_eq!(parse_scopes(&c, "api://x/", true).unwrap_err().code, 70011);
    }

    #[test]
    fn client_credentials_scopes() {
        let c = Config::quickstart();
        let daemon = c.app(q::DAEMON_CLIENT_ID).unwrap();
        let g = app_grant(&c, daemon, "https://graph.microsoft.com/.default").unwrap();
        assert_eq!(g.roles, [q::GRAPH_USER_READ_ALL]);
        let g = app_grant(&c, daemon, &format!("{}/.default", q::API_IDENTIFIER_URI)).unwrap();
        assert_eq!(g.roles, [q::API_APP_ROLE]);
        for bad in [
            "User.Read",
            "https://graph.microsoft.com/User.Read",
            "openid",
            "",
            "https://graph.microsoft.com/.default api://4d2e6f8a-1b3c-4d5e-8f9a-0b1c2d3e4f5a/.default",
        ] {
            assert_eq!(
                app_grant(&c, daemon, bad).unwrap_err().code,
                1002012,
                "{bad}"
            );
        }
    }
}
