//! The connection loop: hyper HTTP/1.1 over TCP or TLS, request counting and fault injection
//! in front of the axum router, graceful shutdown when the handle is dropped.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderValue, Request, Response, StatusCode, header};
use axum::response::IntoResponse;
use http_body_util::BodyExt as _;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tower::ServiceExt as _;
use tracing::Instrument as _;

use crate::errors::{EntraError, GraphError};
use crate::faults::{Endpoint, FaultKind};
use crate::state::Tenant;

/// Closes the connection without a response (hyper drops a connection whose service fails).
#[derive(Debug)]
struct DropConnection;

impl std::fmt::Display for DropConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped by an injected fault")
    }
}

impl std::error::Error for DropConnection {}

/// Accepts connections until `shutdown` changes or its sender is dropped.
pub(crate) async fn serve(
    listener: TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    tenant: Arc<Tenant>,
    router: Router,
    mut shutdown: watch::Receiver<()>,
) {
    loop {
        let accepted = tokio::select! {
            _ = shutdown.changed() => break,
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(conn) => conn,
            Err(error) => {
                tracing::debug!(%error, "accept failed");
                continue;
            }
        };
        let tenant = Arc::clone(&tenant);
        let router = router.clone();
        let shutdown = shutdown.clone();
        let tls = tls.clone();
        tokio::spawn(async move {
            match tls {
                Some(acceptor) => match acceptor.accept(stream).await {
                    Ok(stream) => serve_connection(stream, peer, tenant, router, shutdown).await,
                    Err(error) => tracing::debug!(%error, "TLS handshake failed"),
                },
                None => serve_connection(stream, peer, tenant, router, shutdown).await,
            }
        });
    }
}

async fn serve_connection<I>(
    io: I,
    peer: SocketAddr,
    tenant: Arc<Tenant>,
    router: Router,
    mut shutdown: watch::Receiver<()>,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |mut req: Request<Incoming>| {
        let tenant = Arc::clone(&tenant);
        let router = router.clone();
        req.extensions_mut().insert(ConnectInfo(peer));
        // Paths only: query strings and bodies carry codes, tokens and secrets.
        let span =
            tracing::debug_span!("dev_tenant", method = %req.method(), path = %req.uri().path());
        async move {
            let result = handle(&tenant, router, req.map(Body::new)).await;
            match &result {
                Ok(response) => tracing::debug!(status = response.status().as_u16(), "answered"),
                Err(_) => tracing::debug!("connection dropped (fault)"),
            }
            result
        }
        .instrument(span)
    });
    let conn =
        hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(io), service);
    tokio::pin!(conn);
    tokio::select! {
        result = conn.as_mut() => {
            if let Err(error) = result {
                tracing::debug!(%error, "connection ended with an error");
            }
        }
        _ = shutdown.changed() => {
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        }
    }
}

async fn handle(
    tenant: &Tenant,
    router: Router,
    req: Request<Body>,
) -> Result<Response<Body>, DropConnection> {
    let endpoint = Endpoint::classify(req.uri().path());
    let Some(endpoint) = endpoint else {
        return Ok(route(router, req).await);
    };
    tenant.counters.hit(endpoint);
    let Some(fault) = tenant.faults.take(endpoint) else {
        return Ok(route(router, req).await);
    };
    tracing::info!(%endpoint, ?fault, "injecting fault");
    match fault {
        FaultKind::Latency { millis } => {
            tokio::time::sleep(Duration::from_millis(millis)).await;
            Ok(route(router, req).await)
        }
        FaultKind::Status { status } => Ok(error_status(
            endpoint,
            StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE),
        )),
        FaultKind::TooManyRequests { retry_after_secs } => {
            let mut response = error_status(endpoint, StatusCode::TOO_MANY_REQUESTS);
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
            Ok(response)
        }
        FaultKind::MalformedJson => Ok((
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
            "{\"token_type\":\"Bearer\",\"access_token\":<html>",
        )
            .into_response()),
        FaultKind::TruncatedBody => {
            let response = route(router, req).await;
            let (mut parts, body) = response.into_parts();
            let bytes = body
                .collect()
                .await
                .map(|c| c.to_bytes())
                .unwrap_or_default();
            // Announce the full length but send half: hyper then closes the connection.
            parts.headers.insert(
                header::CONTENT_LENGTH,
                HeaderValue::from(bytes.len().max(2)),
            );
            let half = bytes.slice(..bytes.len() / 2);
            // A stream has no exact size hint, so hyper trusts the header (a sized body that
            // disagrees with Content-Length trips a debug assertion in hyper).
            // The pause after the first chunk lets hyper flush the head and the half body
            // before it notices the short body and closes the connection.
            let stream = futures_util::stream::unfold(Some(half), |chunk| async move {
                match chunk {
                    Some(bytes) => Some((Ok::<_, std::convert::Infallible>(bytes), None)),
                    None => {
                        tokio::task::yield_now().await;
                        None
                    }
                }
            });
            Ok(Response::from_parts(parts, Body::from_stream(stream)))
        }
        FaultKind::DropConnection => Err(DropConnection),
    }
}

async fn route(router: Router, req: Request<Body>) -> Response<Body> {
    let graph = req.uri().path().starts_with("/v1.0/");
    let response = match router.oneshot(req).await {
        Ok(response) => response,
        Err(never) => match never {},
    };
    let status = response.status();
    let structured = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json") || v.starts_with("text/html"));
    if (status.is_client_error() || status.is_server_error()) && !structured {
        // An extractor refused the request (bad path encoding, body too large, ...): answer in
        // the same shape as every other error.
        tracing::debug!(%status, "request rejected before reaching a handler");
        return if graph {
            GraphError::new(status, "BadRequest", "The request is not valid.").into_response()
        } else {
            EntraError::new(
                status,
                "invalid_request",
                90100,
                "The request is not properly formatted.",
            )
            .into_response_for(None)
        };
    }
    response
}

fn error_status(endpoint: Endpoint, status: StatusCode) -> Response<Body> {
    if endpoint == Endpoint::GraphMe {
        let code = match status {
            StatusCode::TOO_MANY_REQUESTS => "TooManyRequests",
            StatusCode::SERVICE_UNAVAILABLE => "serviceNotAvailable",
            s if s.is_server_error() => "generalException",
            _ => "BadRequest",
        };
        return GraphError::new(status, code, "Injected fault.").into_response();
    }
    let e = match status {
        StatusCode::TOO_MANY_REQUESTS => EntraError::new(
            status,
            "temporarily_unavailable",
            90055,
            "There are too many incoming requests. Please try again later.",
        ),
        s if s.is_server_error() => EntraError::new(
            status,
            "temporarily_unavailable",
            90033,
            "A transient error has occurred. Please try again.",
        ),
        _ => EntraError::new(status, "invalid_request", 90100, "Injected fault."),
    };
    e.into_response_for(None)
}
