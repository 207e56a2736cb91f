//! Runs one bench path `n` times, for deterministic instruction counts under callgrind:
//!
//! ```text
//! valgrind --tool=callgrind --callgrind-out-file=/dev/null target/release/instructions miss 0
//! valgrind --tool=callgrind --callgrind-out-file=/dev/null target/release/instructions miss 1000
//! ```
//!
//! (instructions(1000) − instructions(0)) / 1000 is the cost of one operation; the ratios between
//! paths do not depend on machine noise. `benches/README.md` records the results.

use std::convert::Infallible;
use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use benches::{API_CLIENT_ID, Fixture, SCOPE, issuer};
use edit_profile_middleware::{BearerAuthLayer, MfaPolicy, Validator};
use http::{Request, Response, header};
use tower::{Layer, Service, service_fn};

fn ready<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(output) => output,
        Poll::Pending => unreachable!("bench futures complete synchronously"),
    }
}

fn request(authorization: &str) -> Request<String> {
    Request::get("/users/update")
        .header(header::AUTHORIZATION, authorization)
        .body(String::new())
        .expect("valid request")
}

fn main() {
    let mut args = std::env::args().skip(1);
    let path = args.next().unwrap_or_else(|| "miss".to_owned());
    let n: u32 = args.next().and_then(|n| n.parse().ok()).unwrap_or(1000);

    if path == "print-token" {
        #[expect(clippy::print_stdout, reason = "a command-line tool")]
        {
            println!("{}", Fixture::sign().token);
        }
        return;
    }
    let fixture = Fixture::new();
    let authorization = format!("Bearer {}", fixture.token);
    let baseline = fixture.baseline();
    let inner = service_fn(|_req: Request<String>| async {
        Ok::<_, Infallible>(Response::new(String::new()))
    });
    let builder = || {
        Validator::builder()
            .issuer(issuer())
            .audience(API_CLIENT_ID)
            .jwks_json(fixture.jwks.clone())
            // The default clock reads `CLOCK_REALTIME_COARSE` through rustix's vDSO lookup,
            // which faults under valgrind (it parses the vDSO image valgrind does not map).
            .time_fn(std::time::SystemTime::now)
    };
    let validator = match path.as_str() {
        "miss" => builder().cache_capacity(0).build().expect("valid config"),
        "noop" => {
            let template = builder().build().expect("valid config");
            Validator::__insecure_noop(&template, &fixture.claims_json).expect("claims")
        }
        _ => builder().build().expect("valid config"),
    };
    let mut layered = BearerAuthLayer::new(validator)
        .require_scopes([SCOPE])
        .require_mfa(MfaPolicy::new().amr_mfa())
        .layer(inner);
    let mut bare = inner;
    // Warm the cache (and everything else) outside the counted iterations.
    let warm = ready(layered.call(request(&authorization))).expect("infallible");
    assert_eq!(warm.status(), 200);

    if path == "verify" {
        for _ in 0..n {
            baseline.verify();
        }
        return;
    }
    if path == "validate" {
        // The validator alone (no tower, no request), cache disabled.
        let validator = builder().cache_capacity(0).build().expect("valid config");
        for _ in 0..n {
            black_box(ready(validator.validate(black_box(&fixture.token))).expect("valid token"));
        }
        return;
    }
    // Requests are built before the loop; building them is in both counts and cancels out
    // between paths that take a request (bare, noop, hit, miss).
    let requests: Vec<_> = (0..n).map(|_| request(&authorization)).collect();
    for req in requests {
        match path.as_str() {
            "bare" => {
                black_box(ready(bare.call(req)).expect("infallible"));
            }
            _ => {
                black_box(ready(layered.call(req)).expect("infallible"));
            }
        }
    }
}
