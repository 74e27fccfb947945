//! A small HTTP/1.1 client (hyper-util's, plain HTTP, no TLS) for talking to a host over
//! loopback: what the quickstart, the examples and the tests use to call `/rest/v1` and
//! `/auth/v1` the way supabase-js does.
//!
//! ```no_run
//! # async fn demo() -> easbase_cli::Result<()> {
//! use easbase_cli::client::Client;
//!
//! let client = Client::new("http://127.0.0.1:8080");
//! let res = client.get("/rest/v1/products?select=name").apikey("eb_pk_…").send().await?;
//! assert_eq!(res.status, 200);
//! println!("{}", res.json()?);
//! # Ok(()) }
//! ```

use bytes::Bytes;
pub use http::Method;
use http::{HeaderMap, HeaderName, HeaderValue, Request};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use crate::error::{Error, Result};

/// A client for one base URL (`http://127.0.0.1:PORT`). Cheap to clone.
#[derive(Debug, Clone)]
pub struct Client {
    base: String,
    inner: HyperClient<HttpConnector, Full<Bytes>>,
}

/// An answer: status, headers and the whole body.
#[derive(Debug, Clone)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// The headers.
    pub headers: HeaderMap,
    /// The body.
    pub body: Bytes,
}

impl Response {
    /// The body as JSON (`null` for an empty body).
    ///
    /// # Errors
    /// [`Error::Http`] when the body is not JSON.
    pub fn json(&self) -> Result<serde_json::Value> {
        if self.body.is_empty() {
            return Ok(serde_json::Value::Null);
        }
        serde_json::from_slice(&self.body).map_err(|e| {
            Error::Http(format!("the body is not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
        })
    }

    /// The JSON body when the status is one of `expected`, else an [`Error::Http`] with
    /// the status and the whole body (what a test or a demo wants to see when it fails).
    ///
    /// # Errors
    /// [`Error::Http`] for another status or a body that is not JSON.
    pub fn expect(&self, expected: &[u16]) -> Result<serde_json::Value> {
        let body = self.json()?;
        if !expected.contains(&self.status) {
            return Err(Error::Http(format!("expected HTTP {expected:?}, got {}: {body}", self.status)));
        }
        Ok(body)
    }

    /// A header's value as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// A request being built; [`Call::send`] sends it.
#[derive(Debug)]
#[must_use = "a call does nothing until it is sent"]
pub struct Call<'a> {
    client: &'a Client,
    method: Method,
    path: String,
    headers: Vec<(HeaderName, String)>,
    body: Bytes,
}

impl Client {
    /// A client for `base_url` (`http://host:port`, no trailing slash needed).
    pub fn new(base_url: impl Into<String>) -> Client {
        let base = base_url.into().trim_end_matches('/').to_owned();
        Client { base, inner: HyperClient::builder(TokioExecutor::new()).build_http() }
    }

    /// The base URL.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// A request of `method` to `path` (which starts with `/` and may carry a query).
    pub fn request(&self, method: Method, path: impl Into<String>) -> Call<'_> {
        Call { client: self, method, path: path.into(), headers: Vec::new(), body: Bytes::new() }
    }

    /// A `GET`.
    pub fn get(&self, path: impl Into<String>) -> Call<'_> {
        self.request(Method::GET, path)
    }

    /// A `POST`.
    pub fn post(&self, path: impl Into<String>) -> Call<'_> {
        self.request(Method::POST, path)
    }

    /// A `PATCH`.
    pub fn patch(&self, path: impl Into<String>) -> Call<'_> {
        self.request(Method::PATCH, path)
    }

    /// A `DELETE`.
    pub fn delete(&self, path: impl Into<String>) -> Call<'_> {
        self.request(Method::DELETE, path)
    }
}

impl Call<'_> {
    /// Adds a header.
    pub fn header(mut self, name: HeaderName, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    /// The project's API key, as the `apikey` header.
    pub fn apikey(self, key: &str) -> Self {
        self.header(HeaderName::from_static("apikey"), key)
    }

    /// A user's access token, as `Authorization: Bearer …`.
    pub fn bearer(self, token: &str) -> Self {
        self.header(http::header::AUTHORIZATION, format!("Bearer {token}"))
    }

    /// A `Prefer` header (`return=representation`, `count=exact`, …).
    pub fn prefer(self, prefer: &str) -> Self {
        self.header(HeaderName::from_static("prefer"), prefer)
    }

    /// A JSON body.
    pub fn json(mut self, body: &serde_json::Value) -> Self {
        self.body = Bytes::from(body.to_string());
        self.header(http::header::CONTENT_TYPE, "application/json")
    }

    /// Sends it and reads the whole answer.
    ///
    /// # Errors
    /// [`Error::Http`] when the request cannot be built or the server cannot be reached.
    pub async fn send(self) -> Result<Response> {
        let uri = format!("{}{}", self.client.base, self.path);
        let mut builder = Request::builder().method(self.method.clone()).uri(&uri);
        for (name, value) in &self.headers {
            let value = HeaderValue::from_str(value)
                .map_err(|e| Error::Http(format!("header {name} of {} {uri}: {e}", self.method)))?;
            builder = builder.header(name, value);
        }
        let request = builder
            .body(Full::new(self.body))
            .map_err(|e| Error::Http(format!("{} {uri}: {e}", self.method)))?;
        let response = self
            .client
            .inner
            .request(request)
            .await
            .map_err(|e| Error::Http(format!("{} {uri}: {e}", self.method)))?;
        let (parts, body) = response.into_parts();
        let body = body
            .collect()
            .await
            .map_err(|e| Error::Http(format!("{} {uri}: reading the body: {e}", self.method)))?
            .to_bytes();
        Ok(Response { status: parts.status.as_u16(), headers: parts.headers, body })
    }
}
