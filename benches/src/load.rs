//! The closed-loop load generator: `connections` HTTP/1.1 keep-alive connections over
//! loopback, each sending its next request as soon as the previous answer is read, for a
//! fixed duration; every latency is kept, so percentiles are exact.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderName, HeaderValue, Method, Request};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::error::{Error, Result};

/// A request path: fixed, or with a number cycling through `1..=modulo` between a
/// prefix and a suffix (`/items?id=eq.` 1…10000), so requests ask for different rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathPattern {
    /// The path up to the number (all of it when there is none).
    pub prefix: String,
    /// The number's modulus and what follows the number.
    pub cycle: Option<(u64, String)>,
}

impl PathPattern {
    /// Always the same path.
    pub fn fixed(path: impl Into<String>) -> PathPattern {
        PathPattern { prefix: path.into(), cycle: None }
    }

    /// `prefix`, a number from 1 to `modulo`, `suffix`.
    pub fn cycling(prefix: impl Into<String>, modulo: u64, suffix: impl Into<String>) -> PathPattern {
        PathPattern { prefix: prefix.into(), cycle: Some((modulo.max(1), suffix.into())) }
    }

    /// The path of request number `n`.
    pub fn at(&self, n: u64) -> String {
        match &self.cycle {
            None => self.prefix.clone(),
            Some((modulo, suffix)) => format!("{}{}{}", self.prefix, n % modulo + 1, suffix),
        }
    }
}

/// What one kind of request looks like: method, path, headers, body and the status that
/// counts as a success.
#[derive(Debug, Clone)]
pub struct Workload {
    /// The HTTP method.
    pub method: Method,
    /// The path and query (request `n` of connection `c` uses number `c * 7919 + n`).
    pub path: PathPattern,
    /// Headers sent with every request.
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// The body sent with every request (empty for none).
    pub body: Bytes,
    /// The status of a successful answer.
    pub expect: u16,
}

impl Workload {
    /// A `GET` of `path`, expecting 200.
    pub fn get(path: PathPattern) -> Workload {
        Workload { method: Method::GET, path, headers: Vec::new(), body: Bytes::new(), expect: 200 }
    }

    /// A `POST` of a JSON `body` to `path`, expecting `expect`.
    pub fn post_json(path: &str, body: &serde_json::Value, expect: u16) -> Workload {
        Workload {
            method: Method::POST,
            path: PathPattern::fixed(path),
            headers: vec![(http::header::CONTENT_TYPE, HeaderValue::from_static("application/json"))],
            body: Bytes::from(body.to_string()),
            expect,
        }
    }

    /// The same workload with one more header.
    ///
    /// # Errors
    /// [`Error::Setup`] when `value` is not a valid header value.
    pub fn header(mut self, name: &'static str, value: &str) -> Result<Workload> {
        let value = HeaderValue::from_str(value)
            .map_err(|e| Error::Setup(format!("header {name}: invalid value ({e})")))?;
        self.headers.push((HeaderName::from_static(name), value));
        Ok(self)
    }

    /// The same workload expecting another status.
    pub fn expecting(mut self, status: u16) -> Workload {
        self.expect = status;
        self
    }

    fn request(&self, n: u64) -> Result<Request<Full<Bytes>>> {
        let mut builder = Request::builder()
            .method(self.method.clone())
            .uri(self.path.at(n))
            .header(http::header::HOST, "127.0.0.1");
        for (name, value) in &self.headers {
            builder = builder.header(name, value);
        }
        builder.body(Full::new(self.body.clone())).map_err(|e| Error::Setup(format!("bad request: {e}")))
    }
}

/// How a run is shaped.
#[derive(Debug, Clone, Copy)]
pub struct RunConfig {
    /// Open connections, each with one request in flight.
    pub connections: usize,
    /// How long requests are sent.
    pub duration: Duration,
}

/// What one run measured.
#[derive(Debug, Clone, Default)]
pub struct Sample {
    /// Answers with the expected status.
    pub ok: u64,
    /// Failed requests and answers with another status.
    pub errors: u64,
    /// The first failure, to say what went wrong.
    pub first_error: Option<String>,
    /// The run's wall time.
    pub elapsed: Duration,
    /// Latency of every successful request, in microseconds, sorted.
    pub latencies_us: Vec<u32>,
}

impl Sample {
    /// Successful requests per second.
    pub fn rps(&self) -> f64 {
        if self.elapsed.is_zero() { 0.0 } else { self.ok as f64 / self.elapsed.as_secs_f64() }
    }

    /// The latency at quantile `q` (0–1), in milliseconds (0 without requests).
    pub fn percentile_ms(&self, q: f64) -> f64 {
        percentile(&self.latencies_us, q) as f64 / 1000.0
    }
}

/// The value at quantile `q` of sorted `values` (nearest rank; 0 when empty).
pub fn percentile(sorted: &[u32], q: f64) -> u32 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = (q.clamp(0.0, 1.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Runs `workload` over `config.connections` connections to `addr` for
/// `config.duration`, on the current runtime (the caller's: keep it apart from the
/// server's).
///
/// # Errors
/// [`Error::Load`] when no connection can be opened.
pub async fn run(addr: SocketAddr, workload: &Workload, config: RunConfig) -> Result<Sample> {
    let start = Instant::now();
    let deadline = start + config.duration;
    let mut tasks = Vec::with_capacity(config.connections);
    for c in 0..config.connections {
        let workload = workload.clone();
        tasks.push(tokio::spawn(async move { connection(addr, workload, c as u64, deadline).await }));
    }
    let mut sample = Sample::default();
    let mut connect_errors = Vec::new();
    for task in tasks {
        match task.await {
            Ok(Ok(s)) => {
                sample.ok += s.ok;
                sample.errors += s.errors;
                if sample.first_error.is_none() {
                    sample.first_error = s.first_error;
                }
                sample.latencies_us.extend(s.latencies_us);
            }
            Ok(Err(e)) => connect_errors.push(e.to_string()),
            Err(e) => connect_errors.push(format!("a connection task failed: {e}")),
        }
    }
    sample.elapsed = start.elapsed();
    if connect_errors.len() == config.connections {
        return Err(Error::Load(format!("no connection to {addr}: {}", connect_errors[0])));
    }
    sample.errors += connect_errors.len() as u64;
    if sample.first_error.is_none() {
        sample.first_error = connect_errors.into_iter().next();
    }
    sample.latencies_us.sort_unstable();
    Ok(sample)
}

async fn connection(addr: SocketAddr, workload: Workload, number: u64, deadline: Instant) -> Result<Sample> {
    let mut sample = Sample::default();
    let mut sender = None;
    // Spread the connections over the rows: connection c starts at row c * 7919.
    let mut n = number * 7919;
    while Instant::now() < deadline {
        let s = match &mut sender {
            Some(s) => s,
            None => {
                let stream = TcpStream::connect(addr).await.map_err(|e| Error::Load(e.to_string()))?;
                stream.set_nodelay(true).map_err(|e| Error::Load(e.to_string()))?;
                let (s, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
                    .await
                    .map_err(|e| Error::Load(e.to_string()))?;
                tokio::spawn(conn);
                sender.insert(s)
            }
        };
        let request = workload.request(n)?;
        n += 1;
        let sent = Instant::now();
        let outcome = match s.send_request(request).await {
            Ok(response) => {
                let status = response.status().as_u16();
                match response.into_body().collect().await {
                    Ok(_) if status == workload.expect => Ok(()),
                    Ok(body) => Err(format!(
                        "status {status} (expected {}): {}",
                        workload.expect,
                        String::from_utf8_lossy(&body.to_bytes())
                    )),
                    Err(e) => Err(format!("reading the body: {e}")),
                }
            }
            Err(e) => Err(format!("sending: {e}")),
        };
        let latency = sent.elapsed();
        match outcome {
            Ok(()) => {
                sample.ok += 1;
                sample.latencies_us.push(u32::try_from(latency.as_micros()).unwrap_or(u32::MAX));
            }
            Err(e) => {
                sample.errors += 1;
                sample.first_error.get_or_insert(e);
                // Start over on a fresh connection (the server may have closed this one).
                sender = None;
            }
        }
    }
    Ok(sample)
}
