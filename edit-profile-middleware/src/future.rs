//! The response future of [`BearerAuth`](crate::BearerAuth).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use pin_project_lite::pin_project;

type BoxedFuture<O> = Pin<Box<dyn Future<Output = O> + Send>>;

pin_project! {
    /// Response future for [`BearerAuth`](crate::BearerAuth).
    ///
    /// ```
    /// # use std::convert::Infallible;
    /// # use http::{Request, Response};
    /// use edit_profile_middleware::{BearerAuth, ResponseFuture};
    /// use tower::Service;
    ///
    /// # fn f<S>(mut service: BearerAuth<S>, request: Request<String>)
    /// # where S: Service<Request<String>, Response = Response<String>, Error = Infallible>
    /// #     + Clone + Send + 'static, S::Future: Send + 'static {
    /// let future: ResponseFuture<S::Future> = service.call(request);
    /// # drop(future);
    /// # }
    /// ```
    ///
    /// Requests whose token is cached or whose signing key is loaded never box: they resolve to
    /// the inner service's future or to a ready rejection. Only a request that has to wait for a
    /// JWKS fetch is boxed.
    pub struct ResponseFuture<F>
    where
        F: Future,
    {
        #[pin]
        state: State<F>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<F>
    where
        F: Future,
    {
        Inner { #[pin] future: F },
        Ready { output: Option<F::Output> },
        Waiting { future: BoxedFuture<F::Output> },
    }
}

impl<F: Future> ResponseFuture<F> {
    pub(crate) fn inner(future: F) -> Self {
        Self {
            state: State::Inner { future },
        }
    }

    pub(crate) fn ready(output: F::Output) -> Self {
        Self {
            state: State::Ready {
                output: Some(output),
            },
        }
    }

    pub(crate) fn waiting(future: BoxedFuture<F::Output>) -> Self {
        Self {
            state: State::Waiting { future },
        }
    }
}

impl<F: Future> Future for ResponseFuture<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().state.project() {
            StateProj::Inner { future } => future.poll(cx),
            StateProj::Ready { output } => match output.take() {
                Some(output) => Poll::Ready(output),
                // Polling a completed future is a caller bug; tower-http panics here too.
                None => panic!("ResponseFuture polled after completion"),
            },
            StateProj::Waiting { future } => Poll::Ready(ready!(future.as_mut().poll(cx))),
        }
    }
}

impl<F: Future> std::fmt::Debug for ResponseFuture<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}
