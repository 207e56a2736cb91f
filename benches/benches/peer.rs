//! A peer tower JWT layer beside ours, with the same baselines, in one criterion run.
//!
//! * `peer/rs256_aws_lc_preparsed` — the baseline: a bare aws-lc-rs RS256 verify (key parsed
//!   once, signature decoded), as in the `middleware` bench.
//! * `peer/bare_inner` — the inner service alone.
//! * `peer/ours_miss` — edit-profile-middleware with its validation cache off: full validation
//!   plus scope and MFA checks.
//! * `peer/ours_hit` — edit-profile-middleware with its validation cache (the default).
//! * `peer/tower_oauth2_resource_server` — tower-oauth2-resource-server 0.12 (jsonwebtoken 11
//!   with its aws-lc backend, static JWKS, issuer + audience + exp + nbf checks; it has no
//!   validation cache and no scope or MFA check).
//!
//! Every layer wraps the same inner service and is driven the same way (a current-thread
//! runtime's `block_on` per request, since the peer's future may yield), so the runtime's cost
//! is in every row and cancels in the ratios. Read ratios to the bare verify of this run.

use std::convert::Infallible;

use benches::{API_CLIENT_ID, Fixture, SCOPE, issuer};
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use edit_profile_middleware::{BearerAuthLayer, MfaPolicy, Validator};
use http::{Request, Response, header};
use tower::{Layer, Service, ServiceExt as _, service_fn};
use tower_oauth2_resource_server::server::OAuth2ResourceServer;
use tower_oauth2_resource_server::tenant::TenantConfiguration;

/// Requests built 16 at a time, cache-hot as a just-parsed request (as in the middleware bench).
const HOT: BatchSize = BatchSize::NumIterations(16);

fn request(authorization: &str) -> Request<String> {
    Request::post("/users/update")
        .header(header::AUTHORIZATION, authorization)
        .body(String::new())
        .expect("valid request")
}

fn peer(c: &mut Criterion) {
    let fixture = Fixture::new();
    let authorization = format!("Bearer {}", fixture.token);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let inner = service_fn(|_req: Request<String>| async {
        Ok::<_, Infallible>(Response::new(String::new()))
    });

    let baseline = fixture.baseline();

    let builder = || {
        Validator::builder()
            .issuer(issuer())
            .audience(API_CLIENT_ID)
            .jwks_json(fixture.jwks.clone())
    };
    let ours = |validator| {
        BearerAuthLayer::new(validator)
            .require_scopes([SCOPE])
            .require_mfa(MfaPolicy::new().amr_mfa())
            .layer(inner)
    };
    let mut ours_miss = ours(builder().cache_capacity(0).build().expect("valid config"));
    let mut ours_hit = ours(builder().build().expect("valid config"));

    let tenant = TenantConfiguration::static_builder(fixture.jwks.clone())
        .identifier(&issuer())
        .audiences(&[API_CLIENT_ID])
        .build()
        .expect("static tenant");
    let server = runtime
        .block_on(
            OAuth2ResourceServer::<tower_oauth2_resource_server::claims::DefaultClaims>::builder()
                .add_tenant(tenant)
                .build(),
        )
        .expect("peer builds");
    let mut theirs = server.into_layer().layer(inner);
    let mut bare = inner;

    // Sanity: every layer accepts the token (timing a rejection would be meaningless).
    for status in [
        runtime.block_on(ours_miss.ready().await_call(request(&authorization))),
        runtime.block_on(ours_hit.ready().await_call(request(&authorization))),
        runtime.block_on(theirs.ready().await_call(request(&authorization))),
    ] {
        assert_eq!(status, 200);
    }

    let mut group = c.benchmark_group("peer");
    group.bench_function("rs256_aws_lc_preparsed", |b| {
        b.iter(|| {
            baseline.verify();
        });
    });
    group.bench_function("bare_inner", |b| {
        b.iter_batched(
            || request(&authorization),
            |req| runtime.block_on(bare.call(req)),
            HOT,
        );
    });
    group.bench_function("ours_miss", |b| {
        b.iter_batched(
            || request(&authorization),
            |req| runtime.block_on(ours_miss.call(req)),
            HOT,
        );
    });
    group.bench_function("ours_hit", |b| {
        b.iter_batched(
            || request(&authorization),
            |req| runtime.block_on(ours_hit.call(req)),
            HOT,
        );
    });
    group.bench_function("tower_oauth2_resource_server", |b| {
        b.iter_batched(
            || request(&authorization),
            |req| runtime.block_on(theirs.call(req)),
            HOT,
        );
    });
    group.finish();
}

/// `ready().await` then `call`, returning the status (for the sanity checks).
trait AwaitCall {
    async fn await_call(self, req: Request<String>) -> u16;
}

impl<'a, S> AwaitCall for tower::util::Ready<'a, S, Request<String>>
where
    S: Service<Request<String>, Response = Response<String>> + 'a,
    S::Error: std::fmt::Debug,
{
    async fn await_call(self, req: Request<String>) -> u16 {
        let service = self.await.expect("ready");
        service
            .call(req)
            .await
            .expect("infallible")
            .status()
            .as_u16()
    }
}

criterion_group!(benches, peer);
criterion_main!(benches);
