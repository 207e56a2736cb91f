//! Claims challenges from a real (dev) Microsoft Graph: a CAE revocation makes Graph answer
//! 401 with `WWW-Authenticate: Bearer ... error="insufficient_claims", claims="..."`, which
//! `ClaimsChallenge::from_headers` must turn into the claims the next token request carries.
//! The HTTP exchange is plain HTTP/1.1 over a loopback socket, so these tests depend on no
//! transport of this crate.

#![cfg(feature = "reqwest")]

use dev_tenant::{Config, DevTenant, TokenOptions, quickstart as q};
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use msal_lite::challenge::{ClaimsChallenge, StepUp, parse_www_authenticate_headers};
use msal_lite::claims::merge_client_capabilities;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// `GET /v1.0/me` with `token`; returns the status and the response headers.
async fn graph_me(tenant: &DevTenant, token: &str) -> (StatusCode, HeaderMap) {
    let host = tenant
        .base_url()
        .strip_prefix("http://")
        .expect("the dev tenant serves plain HTTP by default");
    let mut stream = TcpStream::connect(host)
        .await
        .expect("connect to the dev tenant");
    let request = format!(
        "GET /v1.0/me HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\nAccept: application/json\r\nConnection: close\r\n\r\n"
    );
    stream
        .write_all(request.as_bytes())
        .await
        .expect("send request");
    let mut response = Vec::new();
    stream
        .read_to_end(&mut response)
        .await
        .expect("read response");

    let end = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("complete response head");
    let head = std::str::from_utf8(&response[..end]).expect("ASCII response head");
    let mut lines = head.split("\r\n");
    let status_line = lines.next().expect("status line");
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse::<u16>().ok())
        .and_then(|s| StatusCode::from_u16(s).ok())
        .expect("status code");
    let mut headers = HeaderMap::new();
    for line in lines {
        let (name, value) = line.split_once(':').expect("header line");
        headers.append(
            HeaderName::from_bytes(name.trim().as_bytes()).expect("header name"),
            HeaderValue::from_str(value.trim()).expect("header value"),
        );
    }
    (status, headers)
}

fn cae_token(tenant: &DevTenant) -> String {
    tenant
        .access_token_for(
            q::ALICE_EMAIL,
            q::WEB_APP_CLIENT_ID,
            [q::GRAPH_USER_READ],
            TokenOptions::default().client_capabilities(["cp1"]),
        )
        .expect("the dev tenant issues a Graph token")
}

#[tokio::test]
async fn graph_cae_revocation_yields_a_parsed_claims_challenge() {
    let tenant = DevTenant::start(Config::quickstart())
        .await
        .expect("dev tenant starts");
    let token = cae_token(&tenant);
    let (status, headers) = graph_me(&tenant, &token).await;
    assert_eq!(status, StatusCode::OK);
    assert!(ClaimsChallenge::from_headers(&headers).is_none());

    let revoked_at = tenant.revoke_user(q::ALICE_EMAIL).expect("alice exists");
    let (status, headers) = graph_me(&tenant, &token).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let challenge = ClaimsChallenge::from_headers(&headers).expect("a claims challenge");
    assert_eq!(challenge.realm(), Some(""));
    assert_eq!(challenge.client_id(), Some(q::GRAPH_APP_ID));
    assert_eq!(
        challenge.authorization_uri(),
        Some(format!("{}oauth2/v2.0/authorize", tenant.authority()).as_str())
    );
    let claims: Value = serde_json::from_str(challenge.claims()).expect("claims are JSON");
    assert_eq!(claims["access_token"]["nbf"]["essential"], true);
    assert_eq!(
        claims["access_token"]["nbf"]["value"],
        revoked_at.to_string()
    );
    assert!(matches!(StepUp::from_headers(&headers), Some(StepUp::Claims(c)) if c == challenge));

    // What the client sends next: the challenge's claims with its capabilities merged in.
    let merged = merge_client_capabilities(Some(challenge.claims()), &["cp1"])
        .expect("challenge claims merge")
        .expect("merged claims");
    let merged: Value = serde_json::from_str(&merged).expect("merged claims are JSON");
    assert_eq!(merged["access_token"]["nbf"], claims["access_token"]["nbf"]);
    assert_eq!(
        merged["access_token"]["xms_cc"]["values"],
        serde_json::json!(["cp1"])
    );
}

#[tokio::test]
async fn graph_invalid_token_is_not_a_claims_challenge() {
    let tenant = DevTenant::start(Config::quickstart())
        .await
        .expect("dev tenant starts");
    let token = cae_token(&tenant);
    // Break the signature: change a character well inside it (the last one may only carry
    // padding bits).
    let at = token.len() - 10;
    let replacement = if &token[at..=at] == "A" { "B" } else { "A" };
    let token = format!("{}{replacement}{}", &token[..at], &token[at + 1..]);

    let (status, headers) = graph_me(&tenant, &token).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let challenges = parse_www_authenticate_headers(&headers).expect("Graph's challenge parses");
    assert_eq!(challenges.len(), 1);
    assert!(challenges[0].is_scheme("bearer"));
    assert_eq!(challenges[0].param("error"), Some("invalid_token"));
    assert!(ClaimsChallenge::from_headers(&headers).is_none());
    assert!(StepUp::from_headers(&headers).is_none());
}
