//! [`HttpClient`]: how providers are called, replaceable by the host (to add TLS, a
//! proxy, timeouts of its own), and [`HyperClient`], a plain-HTTP default over hyper
//! (feature `http-client`; no TLS is forced on hosts: real providers are `https://`, so
//! production hosts give a client with their TLS stack, e.g. over `reqwest`).

use async_trait::async_trait;
use bytes::Bytes;
use http::{Request, Response};

/// Sends one HTTP request and returns the whole response.
///
/// ```
/// use bytes::Bytes;
/// use easbase_auth::oauth::HttpClient;
///
/// /// A client that answers every request itself (e.g. in tests).
/// struct Canned;
/// #[async_trait::async_trait]
/// impl HttpClient for Canned {
///     async fn send(&self, _request: http::Request<Bytes>) -> Result<http::Response<Bytes>, String> {
///         Ok(http::Response::new(Bytes::from_static(b"{}")))
///     }
/// }
/// ```
#[async_trait]
pub trait HttpClient: Send + Sync {
    /// Sends `request` (an absolute URI) and reads the response body.
    ///
    /// # Errors
    /// A message for the logs when the request cannot be sent or the response read
    /// (never including the request's secrets).
    async fn send(&self, request: Request<Bytes>) -> Result<Response<Bytes>, String>;
}

#[cfg(feature = "http-client")]
pub use hyper_client::HyperClient;

#[cfg(feature = "http-client")]
mod hyper_client {
    use std::time::Duration;

    use async_trait::async_trait;
    use bytes::Bytes;
    use http::{Request, Response};
    use http_body_util::{BodyExt, Full, Limited};
    use hyper_util::client::legacy::Client;
    use hyper_util::client::legacy::connect::HttpConnector;
    use hyper_util::rt::TokioExecutor;

    use super::HttpClient;

    /// A plain-HTTP [`HttpClient`] over hyper's pooled client (feature `http-client`):
    /// `http://` only, a timeout per request, response bodies up to 1 MiB.
    #[derive(Clone, Debug)]
    pub struct HyperClient {
        client: Client<HttpConnector, Full<Bytes>>,
        timeout: Duration,
    }

    impl HyperClient {
        /// A client with a 10-second timeout per request. Call inside a tokio runtime.
        pub fn new() -> HyperClient {
            HyperClient {
                client: Client::builder(TokioExecutor::new()).build_http(),
                timeout: Duration::from_secs(10),
            }
        }

        /// The same client with another timeout.
        pub fn with_timeout(mut self, timeout: Duration) -> HyperClient {
            self.timeout = timeout;
            self
        }
    }

    impl Default for HyperClient {
        fn default() -> HyperClient {
            HyperClient::new()
        }
    }

    const MAX_BODY: usize = 1024 * 1024;

    #[async_trait]
    impl HttpClient for HyperClient {
        async fn send(&self, request: Request<Bytes>) -> Result<Response<Bytes>, String> {
            if request.uri().scheme_str() != Some("http") {
                return Err("the default HTTP client speaks plain http only; give a TLS client".into());
            }
            let request = request.map(Full::new);
            let call = async {
                let response =
                    self.client.request(request).await.map_err(|e| format!("request failed: {e}"))?;
                let (parts, body) = response.into_parts();
                let body = Limited::new(body, MAX_BODY)
                    .collect()
                    .await
                    .map_err(|e| format!("cannot read the response: {e}"))?
                    .to_bytes();
                Ok(Response::from_parts(parts, body))
            };
            tokio::time::timeout(self.timeout, call).await.map_err(|_| "the request timed out".to_owned())?
        }
    }
}
