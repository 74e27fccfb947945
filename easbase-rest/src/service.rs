//! The HTTP surface: [`RestService`], a neutral `async fn handle(http::Request<Bytes>)`
//! and a `tower_service::Service` with `Error = Infallible` (axum's `nest_service`
//! mounts it; every failure is a response).
//!
//! One request, end to end: credentials (`apikey`, `Authorization`) → core's
//! [`RequestContext`] → the project's database handle and schema snapshot → `request` →
//! `plan` → `sql` → `execute` → `respond`.
//!
//! Every request whose project was resolved is recorded through the platform's sinks
//! ([`Platform::record_request`]): a usage counter labelled `"{METHOD} {route} {status}"`
//! (the route is `{mount_path}/{table}`, `{mount_path}/{table}/{key}`,
//! `{mount_path}/rpc/{function}` or `{mount_path}/` once the name is known to exist, else
//! a template such as `{mount_path}/{table}`, so clients cannot mint labels), the rows read
//! or written (label: the table, or `rpc/{function}`), and a request log (method, path
//! with query parameter names only, status, duration, role, user, request id, error
//! code). A request whose credentials name no project is not recorded.
//!
//! **Row quota.** When a configured plan has `max_rows`, a create (POST, PUT) is checked
//! right after its action plan with easbase-core's `quota::check_rows` against the
//! project's row count: an exact `count(*)` over the tables REST exposes in every profile
//! (as the service role), cached per project for 30 s and adjusted by the rows this process inserts and
//! deletes meanwhile (other processes' writes are seen at the next count). Each row of an
//! upsert counts as added. Over the limit: 403 `EB104` (`RestError::RowQuotaExceeded`).
//!
//! **Profiles.** A project exposes `public` (its own schema) and its named schemas
//! (easbase-core's `Platform::apply_schema_named`). `Accept-Profile` (GET, HEAD, OPTIONS)
//! or `Content-Profile` (POST, PUT, PATCH, DELETE, and POST `/rpc`) chooses one; the
//! request then runs against that schema's handle (`Platform::project_db_named`) and its
//! own schema snapshot (tables, embeds, OpenAPI). A profile the project does not expose is
//! 406 `PGRST106` listing those it does. When it exposes several, every answer carries
//! `Content-Profile: <profile>`, as PostgREST's does with several schemas. Host functions
//! (`/rpc`) answer in every profile; PostgreSQL functions are looked up in the profile's
//! schema. Hidden tables (auth's) are hidden in `public`; named schemas hide only
//! `_easbase*`.
//!
//! Credential errors: no key → 401 `EB300`; unknown / revoked key → 401 `EB301`; bad
//! token → 401 `PGRST301`, expired → 401 `PGRST303`; a paused project → 503 `EB302`
//! (the project exists but does not serve now; 503 tells clients to retry later rather
//! than that their key is wrong).

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::Mutex;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use easbase_core::context::{ProjectId, RequestContext};
use easbase_core::project::{DEFAULT_PROFILE, Plan, Platform, ProjectDb};
use easbase_core::usage::{RequestOutcome, UsageEvent};
use http::{HeaderMap, Request, Response};
use http_body_util::{BodyExt, Full, Limited};
use tracing::Instrument;

use crate::error::RestError;
use crate::plan::{PlanConfig, action_plan};
use crate::request::{RequestLimits, api_request};
use crate::respond::{error_response, respond};
use crate::schema_cache::SchemaCache;
use crate::sql::{SqlTarget, TemplateStats, Templates};

/// What a host configures.
#[derive(Debug, Clone)]
pub struct RestConfig {
    /// Bounds on one request (body size, filters, …).
    pub limits: RequestLimits,
    /// Tables never exposed (besides every `_easbase*` table), e.g. auth's tables.
    pub hidden_tables: Vec<String>,
    /// Allow PATCH and DELETE without any filter (default: refused with 400 `21000`).
    pub allow_unfiltered_writes: bool,
    /// Most rows one read returns (`None`: no cap).
    pub max_rows: Option<u64>,
    /// Functions callable at `/rpc/{name}`.
    pub functions: crate::rpc::Functions,
    /// Where the host mounts the service under each project's API URL (default
    /// `/rest/v1`): the OpenAPI document at `/` names `{api_url}{mount_path}` as its server.
    pub mount_path: String,
}

impl Default for RestConfig {
    fn default() -> Self {
        RestConfig {
            limits: RequestLimits::default(),
            hidden_tables: Vec::new(),
            allow_unfiltered_writes: false,
            max_rows: None,
            functions: crate::rpc::Functions::default(),
            mount_path: "/rest/v1".to_owned(),
        }
    }
}

/// The REST engine of a platform's projects. Cheap to clone.
#[derive(Clone)]
pub struct RestService {
    inner: Arc<Inner>,
}

struct Inner {
    platform: Platform,
    config: RestConfig,
    cache: SchemaCache,
    /// Statement templates per read shape (`sql::cache`).
    templates: Templates,
    /// Whether a configured plan limits rows (else creates are not checked).
    row_limits: bool,
    /// Projects' plans and row counts for the row quota.
    row_counts: Mutex<HashMap<ProjectId, RowCount>>,
}

/// How long a project's counted rows are trusted (adjusted by this process's writes).
const ROW_COUNT_TTL: Duration = Duration::from_secs(30);
/// The most projects whose row counts are kept (expired ones dropped first).
const MAX_ROW_COUNTS: usize = 10_000;

/// A project's plan and row count, as last read.
#[derive(Clone)]
struct RowCount {
    at: Instant,
    plan: Plan,
    rows: i64,
}

impl std::fmt::Debug for RestService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RestService").field("config", &self.inner.config).finish_non_exhaustive()
    }
}

/// `apikey` (a static name: looking a `&str` name up parses it on every request).
const APIKEY: http::HeaderName = http::HeaderName::from_static("apikey");
/// `x-request-id`.
const X_REQUEST_ID: http::HeaderName = http::HeaderName::from_static("x-request-id");

fn header(headers: &HeaderMap, name: http::HeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The route of a request, as its usage label names it (see the module docs); rendered
/// once, when the request is recorded.
enum Route {
    /// Before its name is known to exist: `{mount}/`, `{mount}/rpc/{function}` or
    /// `{mount}/{table}`.
    Template(&'static str),
    /// A name known to exist: `{mount}/{table}`, `{mount}/{table}/{key}`,
    /// `{mount}/rpc/{function}`.
    Known { name: String, suffix: &'static str },
}

impl Route {
    /// The template of a path whose name is not known to exist yet.
    fn template(path: &str) -> Route {
        let path = path.trim_matches('/');
        Route::Template(if path.is_empty() {
            "/"
        } else if path == "rpc" || path.starts_with("rpc/") {
            "/rpc/{function}"
        } else {
            "/{table}"
        })
    }

    fn render(&self, mount: &str) -> String {
        match self {
            Route::Template(t) => format!("{mount}{t}"),
            Route::Known { name, suffix } => format!("{mount}/{name}{suffix}"),
        }
    }
}

/// `Content-Profile` on an answer when the project exposes several profiles (as
/// PostgREST does when several schemas are configured).
fn with_profile(mut res: Response<Bytes>, meter: &Meter) -> Response<Bytes> {
    if let Some(value) = meter.profile.as_deref().and_then(|p| http::HeaderValue::from_str(p).ok()) {
        res.headers_mut().insert("content-profile", value);
    }
    res
}

/// What one request did, filled in as the pipeline goes, for metering.
#[derive(Default)]
struct Meter {
    /// The resolved context (nothing is recorded without one).
    ctx: Option<RequestContext>,
    /// The route (see the module docs); `None` until the target is parsed.
    route: Option<Route>,
    rows_read: u64,
    rows_written: u64,
    /// The profile answered in `Content-Profile` (set when the project exposes several).
    profile: Option<String>,
}

impl RestService {
    /// A service over `platform`'s projects.
    pub fn new(platform: Platform, config: RestConfig) -> RestService {
        let cache = SchemaCache::new(config.hidden_tables.clone());
        let row_limits = platform.config().plans.iter().any(|p| p.max_rows.is_some());
        let row_counts = Mutex::new(HashMap::new());
        let templates = Templates::default();
        RestService { inner: Arc::new(Inner { platform, config, cache, templates, row_limits, row_counts }) }
    }

    /// The configuration.
    pub fn config(&self) -> &RestConfig {
        &self.inner.config
    }

    /// How often reads were answered from a statement template (see easbase-rest's
    /// `sql` module): for tests and benchmarks.
    pub fn template_stats(&self) -> TemplateStats {
        self.inner.templates.stats()
    }

    /// Answers one request. The URI's path is the part after the mount point
    /// (`/products`, `/products/42`). Never fails: errors are PostgREST-shaped responses.
    pub async fn handle(&self, request: Request<Bytes>) -> Response<Bytes> {
        let span = easbase_core::logs::http_request_span("rest", request.method().as_str());
        let res = self.handle_metered(request).instrument(span.clone()).await;
        span.record("status", res.status().as_u16());
        res
    }

    /// [`RestService::handle`] inside its request span: the answer, metered when the
    /// platform meters.
    async fn handle_metered(&self, request: Request<Bytes>) -> Response<Bytes> {
        let platform = &self.inner.platform;
        if !platform.is_metering() {
            let mut meter = Meter::default();
            return match self.try_handle(request, &mut meter).await {
                Ok(res) => with_profile(res, &meter),
                Err(e) => error_response(&e),
            };
        }
        let started = Instant::now();
        let started_ms = easbase_core::logs::now_ms();
        let method = request.method().clone();
        let uri = request.uri().clone();
        let mut meter = Meter::default();
        let (res, error) = match self.try_handle(request, &mut meter).await {
            Ok(res) => (with_profile(res, &meter), None),
            Err(e) => (error_response(&e), Some(e)),
        };
        let Some(ctx) = &meter.ctx else { return res };
        let mount = self.inner.config.mount_path.trim_end_matches('/');
        let route = match &meter.route {
            Some(route) => route.render(mount),
            None => format!("{mount}/{{invalid}}"),
        };
        let path = match uri.query() {
            Some(q) => format!("{mount}{}?{q}", uri.path()),
            None => format!("{mount}{}", uri.path()),
        };
        platform.record_request(&RequestOutcome {
            ctx,
            method: method.as_str(),
            route: &route,
            path: &path,
            status: res.status().as_u16(),
            started_ms,
            duration: started.elapsed(),
            error_code: error.as_ref().map(RestError::code),
        });
        // The rows' label: the table, or `rpc/{function}`, once known to exist.
        if let Some(Route::Known { name: label, .. }) = &meter.route {
            let at = started_ms.div_euclid(1000);
            if meter.rows_read > 0 {
                platform.record_usage(UsageEvent::rows_read(ctx.project(), label, meter.rows_read).at(at));
            }
            if meter.rows_written > 0 {
                platform
                    .record_usage(UsageEvent::rows_written(ctx.project(), label, meter.rows_written).at(at));
            }
        }
        res
    }

    async fn try_handle(
        &self,
        request: Request<Bytes>,
        meter: &mut Meter,
    ) -> Result<Response<Bytes>, RestError> {
        let (parts, body) = request.into_parts();
        let inner = &self.inner;
        // Credentials first, then the plan's request limit: a refused (429) request of a
        // known project is still metered.
        let ctx = inner
            .platform
            .resolver()
            .resolve_headers(
                header(&parts.headers, APIKEY),
                header(&parts.headers, http::header::AUTHORIZATION),
                header(&parts.headers, X_REQUEST_ID),
            )
            .await
            .map_err(|e| RestError::from_core(&e, false))?;
        let Meter { ctx: slot, route, rows_read, rows_written, profile: profile_slot } = meter;
        let ctx: &RequestContext = slot.insert(ctx);
        easbase_core::logs::record_context(&tracing::Span::current(), ctx);
        *route = Some(Route::template(parts.uri.path()));
        // Once a name is known to exist it becomes the route (and names the rows' label).
        let mut known = |name: String, suffix: &'static str| *route = Some(Route::Known { name, suffix });
        inner.platform.admit(ctx.project()).await.map_err(|e| RestError::from_core(&e, false))?;
        let mut req = api_request(
            &parts.method,
            parts.uri.path(),
            parts.uri.query(),
            &parts.headers,
            &body,
            &inner.config.limits,
        )?;
        let pdb =
            inner.platform.project_db(ctx.project()).await.map_err(|e| RestError::from_core(&e, false))?;
        // The profile: `public` unless `Accept-Profile` / `Content-Profile` names another
        // schema the project exposes (anything else is 406 PGRST106). From here on the
        // request runs against that schema's handle and snapshot.
        let unacceptable = |schema: String, pdb: &ProjectDb| RestError::UnacceptableSchema {
            exposed: pdb.profiles().iter().filter(|p| **p != schema).cloned().collect(),
            schema,
        };
        let pdb = match req.profile.take() {
            Some(name) if name != DEFAULT_PROFILE => {
                if !pdb.has_profile(&name) {
                    return Err(unacceptable(name, &pdb));
                }
                match inner.platform.project_db_named(ctx.project(), &name).await {
                    Ok(named) => named,
                    // Dropped meanwhile.
                    Err(easbase_core::Error::Config(_)) => return Err(unacceptable(name, &pdb)),
                    Err(e) => return Err(RestError::from_core(&e, false)),
                }
            }
            _ => pdb,
        };
        if pdb.profiles().len() > 1 {
            *profile_slot = Some(pdb.profile().to_owned());
        }
        if req.action == crate::request::Action::Info {
            // OPTIONS: the methods the resource allows (a table must exist and be exposed).
            if let crate::request::Target::Relation { name, .. } = &req.target {
                let exists = pdb
                    .schema()
                    .map(|schema| inner.cache.snapshot_profile(ctx.project().as_str(), pdb.profile(), schema))
                    .is_some_and(|snapshot| snapshot.table(name).is_some());
                if exists {
                    known(name.clone(), "");
                } else {
                    return Err(RestError::TableNotFound { table: name.clone() });
                }
            }
            return Ok(crate::respond::options(&req.target));
        }
        if let crate::request::Target::Function { name } = &req.target {
            // Host functions answer in every profile (with that profile's handle);
            // PostgreSQL functions are looked up in the profile's schema.
            let output = crate::rpc::call(&inner.config.functions, name, &req, &pdb, ctx).await;
            if !matches!(output, Err(RestError::FunctionNotFound { .. })) {
                known(format!("rpc/{name}"), "");
            }
            let output = output?;
            if let crate::rpc::RpcOutput::Rows(rows) = &output {
                *rows_read = rows.len() as u64;
            }
            let mut res = crate::respond::respond_rpc(&req, name, output, inner.config.max_rows)?;
            if let Ok(id) = http::HeaderValue::from_str(ctx.request_id()) {
                res.headers_mut().insert(X_REQUEST_ID, id);
            }
            return Ok(res);
        }
        let Some(schema) = pdb.schema() else {
            return Err(match &req.target {
                crate::request::Target::Relation { name, .. } => {
                    RestError::TableNotFound { table: name.clone() }
                }
                _ => {
                    RestError::NotSupported { what: "this request on a project without a schema".to_owned() }
                }
            });
        };
        let snapshot = inner.cache.snapshot_profile(ctx.project().as_str(), pdb.profile(), schema);
        if let crate::request::Target::Relation { name, key } = &req.target
            && snapshot.table(name).is_some()
        {
            known(name.clone(), if key.is_some() { "/{key}" } else { "" });
        }
        if let (crate::request::Target::Root, crate::request::Action::Read { headers_only }) =
            (&req.target, &req.action)
        {
            // The OpenAPI document of the chosen profile.
            let project =
                inner.platform.project(ctx.project()).await.map_err(|e| RestError::from_core(&e, false))?;
            let server = format!("{}{}", project.api_url.trim_end_matches('/'), inner.config.mount_path);
            let doc = crate::respond::openapi::document(&snapshot, &project.name, &server);
            return crate::respond::openapi::respond(req.accept, &doc, *headers_only);
        }
        let plan_config = PlanConfig {
            max_rows: inner.config.max_rows,
            allow_unfiltered_writes: inner.config.allow_unfiltered_writes,
        };
        let plan = action_plan(&req, &snapshot, &plan_config)?;
        if let crate::plan::CrudPlan::Insert(insert) = &plan.crud
            && inner.row_limits
        {
            inner.check_rows(&pdb, &snapshot, insert.rows.len() as u64).await?;
        }
        let auth = ctx.auth_context();
        let target =
            SqlTarget { dialect: pdb.dialect(), pg_schema: pdb.pg_schema(), role: ctx.role(), auth: &auth };
        let sql = inner.templates.build(&plan, &target)?;
        // The row route: no such row (or none the policies let this request see) is a 404.
        let not_found = |e: RestError| match e {
            RestError::NotSingular { rows: Some(0) } if plan.by_key => RestError::RowNotFound,
            other => other,
        };
        let result = crate::execute::execute(&pdb, ctx, sql, plan.max_affected).await.map_err(not_found)?;
        if plan.is_read() {
            *rows_read = result.main.rows.len() as u64;
        } else {
            *rows_written = result.main.affected.max(result.main.rows.len() as u64);
            let delta = i64::try_from(*rows_written).unwrap_or(i64::MAX);
            match &plan.crud {
                crate::plan::CrudPlan::Insert(_) => inner.adjust_rows(ctx.project(), delta),
                crate::plan::CrudPlan::Delete(_) => inner.adjust_rows(ctx.project(), -delta),
                _ => {}
            }
        }
        let mut res = respond(&plan, &req.preferences, result).map_err(not_found)?;
        if let Ok(id) = http::HeaderValue::from_str(ctx.request_id()) {
            res.headers_mut().insert(X_REQUEST_ID, id);
        }
        Ok(res)
    }
}

impl Inner {
    /// Refuses a create of `adding` rows that would take the project past its plan's
    /// `max_rows` (see the module docs).
    async fn check_rows(
        &self,
        pdb: &ProjectDb,
        snapshot: &crate::schema_cache::SchemaSnapshot,
        adding: u64,
    ) -> Result<(), RestError> {
        let project = pdb.project();
        let cached = {
            let counts = self.row_counts.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            counts.get(project).filter(|c| c.at.elapsed() < ROW_COUNT_TTL).cloned()
        };
        let count = match cached {
            Some(count) => count,
            None => {
                let at = Instant::now();
                let plan =
                    self.platform.plan_of(project).await.map_err(|e| RestError::from_core(&e, false))?;
                let rows =
                    if plan.max_rows.is_some() { self.count_all_rows(pdb, snapshot).await? } else { 0 };
                let count = RowCount { at, plan, rows };
                let mut counts = self.row_counts.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                if counts.len() >= MAX_ROW_COUNTS {
                    counts.retain(|_, c| c.at.elapsed() < ROW_COUNT_TTL);
                    if counts.len() >= MAX_ROW_COUNTS {
                        counts.clear();
                    }
                }
                counts.insert(project.clone(), count.clone());
                count
            }
        };
        let rows = u64::try_from(count.rows).unwrap_or(0);
        easbase_core::quota::check_rows(rows, adding, &count.plan).map_err(|e| match e {
            easbase_core::Error::QuotaExceeded { limit, .. } => {
                RestError::RowQuotaExceeded { limit, rows, adding }
            }
            other => RestError::from_core(&other, false),
        })
    }

    /// The rows of every table REST exposes in every profile of the project (`snapshot`
    /// is `pdb`'s).
    async fn count_all_rows(
        &self,
        pdb: &ProjectDb,
        snapshot: &crate::schema_cache::SchemaSnapshot,
    ) -> Result<i64, RestError> {
        let mut total = count_rows(pdb, snapshot).await?;
        for profile in pdb.profiles().iter().filter(|p| p.as_str() != pdb.profile()) {
            let other = match self.platform.project_db_named(pdb.project(), profile).await {
                Ok(other) => other,
                // Dropped meanwhile.
                Err(easbase_core::Error::Config(_)) => continue,
                Err(e) => return Err(RestError::from_core(&e, false)),
            };
            let Some(schema) = other.schema() else { continue };
            let snapshot = self.cache.snapshot_profile(pdb.project().as_str(), profile, schema);
            total = total.saturating_add(count_rows(&other, &snapshot).await?);
        }
        Ok(total)
    }

    /// Adds `delta` rows to the project's cached count, if it has one.
    fn adjust_rows(&self, project: &ProjectId, delta: i64) {
        if !self.row_limits {
            return;
        }
        let mut counts = self.row_counts.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(count) = counts.get_mut(project) {
            count.rows = count.rows.saturating_add(delta).max(0);
        }
    }
}

/// The rows of every table REST exposes in the project, counted exactly in one statement
/// run as the service role (PostgreSQL's forced row security lets it see every row).
async fn count_rows(
    pdb: &ProjectDb,
    snapshot: &crate::schema_cache::SchemaSnapshot,
) -> Result<i64, RestError> {
    use easbase_core::schema::ddl::quote_ident;
    let dialect = pdb.dialect();
    let qualified = |table: &str| match pdb.pg_schema() {
        Some(schema) => format!("{}.{}", quote_ident(dialect, schema.as_str()), quote_ident(dialect, table)),
        None => quote_ident(dialect, table),
    };
    // Only validated identifiers, quoted, reach this SQL.
    let counts: Vec<String> = snapshot
        .schema()
        .tables()
        .iter()
        .filter(|t| !snapshot.is_hidden(t.name.as_str()))
        .map(|t| format!("(SELECT COUNT(*) FROM {})", qualified(t.name.as_str())))
        .collect();
    if counts.is_empty() {
        return Ok(0);
    }
    let sql = format!("SELECT {} AS n", counts.join(" + "));
    let ctx = RequestContext::new(
        pdb.project().clone(),
        easbase_core::schema::Role::Service,
        serde_json::Map::new(),
        None,
    );
    let scope = pdb.scope(&ctx, true).map_err(|e| RestError::from_core(&e, false))?;
    let results = pdb
        .db()
        .transaction(&scope, vec![easbase_core::db::Stmt::raw(sql)])
        .await
        .map_err(|e| RestError::from_core(&e, false))?;
    let n = results.first().and_then(|r| r.rows.first()).and_then(|row| row.cells.first());
    Ok(n.and_then(|c| c.as_i64().or_else(|| c.as_str().and_then(|s| s.parse().ok()))).unwrap_or(0))
}

impl<B> tower_service::Service<Request<B>> for RestService
where
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let this = self.clone();
        Box::pin(async move {
            let limit = this.inner.config.limits.max_body_bytes;
            let (parts, body) = request.into_parts();
            // A bounded read: at most `max_body_bytes` (+1 to tell "too large") are buffered.
            let res = match Limited::new(body, limit).collect().await {
                Ok(collected) => this.handle(Request::from_parts(parts, collected.to_bytes())).await,
                Err(e) if e.downcast_ref::<http_body_util::LengthLimitError>().is_some() => {
                    let size = header(&parts.headers, http::header::CONTENT_LENGTH)
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(limit.saturating_add(1));
                    error_response(&RestError::BodyTooLarge { size, limit })
                }
                Err(_) => error_response(&RestError::InvalidBody {
                    message: "The request body could not be read".to_owned(),
                    details: None,
                }),
            };
            Ok(res.map(Full::new))
        })
    }
}
