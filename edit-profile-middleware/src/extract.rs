//! An axum extractor for the validated claims.

use std::ops::Deref;
use std::sync::Arc;

use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use http::request::Parts;

use crate::claims::Claims;

/// The claims [`BearerAuth`](crate::BearerAuth) validated for this request.
///
/// Extracting it on a route without the layer is a server bug and answers 500; use
/// `Option<BearerClaims>` on routes where the layer is optional.
///
/// ```
/// use axum::{Router, routing::get};
/// use edit_profile_middleware::BearerClaims;
///
/// async fn me(claims: BearerClaims) -> String {
///     claims.oid().unwrap_or_default().to_owned()
/// }
/// let app: Router = Router::new().route("/me", get(me));
/// ```
#[derive(Clone, Debug)]
pub struct BearerClaims(pub Arc<Claims>);

impl Deref for BearerClaims {
    type Target = Claims;

    fn deref(&self) -> &Claims {
        &self.0
    }
}

/// The layer was not applied to the route that extracted [`BearerClaims`]; answers 500.
///
/// ```
/// use axum::extract::FromRequestParts;
/// use axum::response::IntoResponse;
/// use edit_profile_middleware::BearerClaims;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let (mut parts, ()) = http::Request::new(()).into_parts();
/// let missing = BearerClaims::from_request_parts(&mut parts, &()).await.unwrap_err();
/// assert_eq!(missing.into_response().status(), 500);
/// # }
/// ```
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("bearer claims are missing: the route is not behind BearerAuthLayer")]
#[non_exhaustive]
pub struct MissingClaims;

impl IntoResponse for MissingClaims {
    fn into_response(self) -> Response {
        tracing::error!("{self}");
        (StatusCode::INTERNAL_SERVER_ERROR, "internal server error").into_response()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for BearerClaims {
    type Rejection = MissingClaims;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Arc<Claims>>()
            .cloned()
            .map(Self)
            .ok_or(MissingClaims)
    }
}

impl<S: Send + Sync> OptionalFromRequestParts<S> for BearerClaims {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        Ok(parts.extensions.get::<Arc<Claims>>().cloned().map(Self))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn extracts_claims_from_extensions() {
        let claims = Arc::new(
            crate::parse::parse_claims(r#"{"iss":"i","aud":"a","exp":1,"oid":"o"}"#.to_owned())
                .unwrap(),
        );
        let (mut parts, ()) = http::Request::new(()).into_parts();
        assert!(
            <BearerClaims as FromRequestParts<()>>::from_request_parts(&mut parts, &())
                .await
                .is_err()
        );
        assert!(
            <BearerClaims as OptionalFromRequestParts<()>>::from_request_parts(&mut parts, &())
                .await
                .unwrap()
                .is_none()
        );
        parts.extensions.insert(claims);
        let extracted = <BearerClaims as FromRequestParts<()>>::from_request_parts(&mut parts, &())
            .await
            .unwrap();
        assert_eq!(extracted.oid(), Some("o"));
        let response = MissingClaims.into_response();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }
}
