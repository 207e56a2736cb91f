//! Token requests: form building and the grant flows.

mod anchor_mailbox;
mod auth_code;
mod background_refresh;
mod by_refresh_token;
mod client_credentials;
mod long_running_obo;
mod obo;
mod silent;
mod token_request;

pub use auth_code::{AuthCodeFlow, AuthCodeRequest, PkceVerifier, Prompt, ResponseMode};
pub(crate) use background_refresh::BackgroundRefresh;
pub use by_refresh_token::RefreshToken;
pub use client_credentials::ClientCredentialsRequest;
pub(crate) use client_credentials::acquire as acquire_for_client;
pub use long_running_obo::SessionKey;
pub use obo::OboRequest;
pub use silent::SilentRequest;
pub(crate) use silent::UserState;
pub(crate) use token_request::{TokenRequest, common_headers, execute};

/// Authenticates the client on `request`: with the request's own client assertion when it has
/// one (msal-node's per-request `clientAssertion`, MSAL.NET `WithClientAssertion`), else with
/// the client's credential.
pub(crate) async fn apply_credential(
    inner: &crate::client::ClientInner,
    assertion: Option<&crate::ClientAssertion>,
    token_endpoint: &str,
    now: u64,
    request: &mut TokenRequest,
) -> Result<(), crate::Error> {
    match assertion {
        Some(assertion) => {
            request.form.push(
                "client_assertion_type",
                crate::credential::JWT_BEARER_ASSERTION_TYPE,
            );
            request.form.push("client_assertion", assertion.secret());
            Ok(())
        }
        None => {
            inner
                .credential
                .apply(&inner.client_id, token_endpoint, now, request)
                .await
        }
    }
}

/// A request's `claims`, or `None` when there are none to send: empty, whitespace, or a JSON
/// object without members (`{}`, `{ }`). MSAL ignores those too (msal-common
/// `StringUtils.isEmptyObj`, used by `SilentFlowClient` and `ClientCredentialClient` to decide
/// whether claims bypass the cache), so such a request is served from the cache and sends no
/// `claims` parameter. Anything else is kept and validated when sent.
pub(crate) fn meaningful_claims(claims: String) -> Option<String> {
    let trimmed = claims.trim();
    let empty_object = trimmed
        .strip_prefix('{')
        .and_then(|rest| rest.strip_suffix('}'))
        .is_some_and(|inside| inside.trim().is_empty());
    (!trimmed.is_empty() && !empty_object).then_some(claims)
}

#[cfg(test)]
mod tests {
    use super::meaningful_claims;

    #[test]
    fn empty_claims_are_none() {
        for none in ["", "  ", "{}", " { } ", "{\n\t}"] {
            assert_eq!(meaningful_claims(none.to_owned()), None, "{none:?}");
        }
        for some in [r#"{"access_token":{}}"#, "{x}", "[]", "not json"] {
            assert_eq!(meaningful_claims(some.to_owned()).as_deref(), Some(some));
        }
    }
}
