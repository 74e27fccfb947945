//! `/rpc/{name}`: functions the host registers in Rust — the embeddable counterpart of
//! PostgREST's stored functions.
//!
//! On PostgreSQL the database's own functions in the project's schema are callable too
//! (`pg.rs`), when no host function has the name.
//!
//! A host registers an async function under a name ([`Functions::register`], held by
//! [`RestConfig::functions`](crate::RestConfig::functions)). A call gets an [`RpcCall`]:
//! the request's [`RequestContext`], its arguments as a JSON object (`GET /rpc/f?a=1&b=x`
//! gives strings, repeated keys an array; `POST` a JSON object; `Prefer:
//! params=single-object` the whole body under the key `""`), and an [`RpcSession`] that
//! runs statements in the project's database under the request's role and claims (RLS
//! on PostgreSQL, compiled policies are the caller's to add on SQLite), read-only on GET.
//! It answers an [`RpcOutput`]: a scalar, an object, nothing (204), or rows, to which
//! `select=`, filters (`eq neq gt gte lt lte like ilike match imatch in is isdistinct`,
//! `not.`, `or`/`and`), `order=`, `limit`/`offset`/`Range` and `Prefer: count=exact`
//! apply as on a table (`rows.rs`). Failures are [`RpcError`]s, rendered in PostgREST's
//! body with the status and code the function chose.
//!
//! ```
//! use easbase_rest::rpc::{Functions, RpcError, RpcOutput};
//! let mut functions = Functions::default();
//! functions.register("add", |call| async move {
//!     let n = |k: &str| call.arg(k).and_then(|v| v.as_f64().or_else(|| v.as_str()?.parse().ok()));
//!     match (n("a"), n("b")) {
//!         (Some(a), Some(b)) => Ok(RpcOutput::Scalar((a + b).into())),
//!         _ => Err(RpcError::invalid_argument("a and b must be numbers")),
//!     }
//! });
//! assert!(functions.get("add").is_some());
//! ```

mod pg;
mod rows;

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use easbase_core::context::RequestContext;
use easbase_core::db::{Stmt, StmtResult};
use easbase_core::project::ProjectDb;
use easbase_schema::{Dialect, Ident};
use http::StatusCode;
use serde_json::{Map, Value as Json};

use crate::error::RestError;

pub(crate) use self::rows::shape_rows;

/// What a function answers.
#[derive(Debug, Clone, PartialEq)]
pub enum RpcOutput {
    /// One JSON value (a number, a string, …), answered as is.
    Scalar(Json),
    /// One JSON object.
    Object(Map<String, Json>),
    /// Rows, which `select=`, filters, `order=` and ranges shape like a table's.
    Rows(Vec<Map<String, Json>>),
    /// Nothing: 204 No Content.
    Void,
}

/// A function's failure, in PostgREST's error body: its status, `code`, `message`,
/// `details` and `hint`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RpcError {
    /// The HTTP status (4xx for the caller's mistakes, 5xx for the host's).
    pub status: StatusCode,
    /// The `code` (a SQLSTATE-like or the host's own; `P0001` is PostgreSQL's RAISE).
    pub code: String,
    /// The one-sentence `message`.
    pub message: String,
    /// More detail, if any.
    pub details: Option<String>,
    /// How to fix it, if known.
    pub hint: Option<String>,
}

impl RpcError {
    /// An error with its status, code and message.
    pub fn new(status: StatusCode, code: impl Into<String>, message: impl Into<String>) -> RpcError {
        RpcError { status, code: code.into(), message: message.into(), details: None, hint: None }
    }

    /// A bad argument: 400 `22023` (PostgreSQL's invalid_parameter_value).
    pub fn invalid_argument(message: impl Into<String>) -> RpcError {
        RpcError::new(StatusCode::BAD_REQUEST, "22023", message)
    }

    /// An application error as PostgreSQL's `RAISE` gives it: 400 `P0001`.
    pub fn raise(message: impl Into<String>) -> RpcError {
        RpcError::new(StatusCode::BAD_REQUEST, "P0001", message)
    }

    /// With `details`.
    pub fn with_details(mut self, details: impl Into<String>) -> RpcError {
        self.details = Some(details.into());
        self
    }

    /// With a `hint`.
    pub fn with_hint(mut self, hint: impl Into<String>) -> RpcError {
        self.hint = Some(hint.into());
        self
    }
}

impl From<RestError> for RpcError {
    fn from(e: RestError) -> RpcError {
        RpcError {
            status: e.status(),
            code: e.code().to_owned(),
            message: e.message(),
            details: e.details(),
            hint: e.hint(),
        }
    }
}

/// The database, as a function sees it: statements run in one transaction under the
/// request's role and claims (PostgreSQL: `SET LOCAL ROLE`, `request.jwt.claims`, so
/// row-level security applies), read-only for GET and HEAD.
#[derive(Debug, Clone)]
pub struct RpcSession {
    pdb: ProjectDb,
    ctx: RequestContext,
    read_only: bool,
}

impl RpcSession {
    /// The project database's dialect (to build statements with sea-query).
    pub fn dialect(&self) -> Dialect {
        self.pdb.dialect()
    }

    /// PostgreSQL: the project's schema, to qualify table names with.
    pub fn pg_schema(&self) -> Option<&Ident> {
        self.pdb.pg_schema()
    }

    /// Whether writes are refused (a GET or HEAD call).
    pub fn read_only(&self) -> bool {
        self.read_only
    }

    /// Runs `statements` in one transaction in the request's scope.
    ///
    /// # Errors
    /// The database's error, mapped as for tables (`23505` → 409, `42501` → 401/403, …).
    pub async fn run(&self, statements: Vec<Stmt>) -> Result<Vec<StmtResult>, RpcError> {
        let authenticated = self.ctx.role() == easbase_schema::Role::Authenticated;
        let map = |e: easbase_core::Error| RpcError::from(RestError::from_core(&e, authenticated));
        let scope = self.pdb.scope(&self.ctx, self.read_only).map_err(map)?;
        self.pdb.db().transaction(&scope, statements).await.map_err(map)
    }
}

/// One call of a registered function.
#[derive(Debug, Clone)]
pub struct RpcCall {
    /// Who calls (project, role, claims, request id).
    pub ctx: RequestContext,
    /// The arguments by name.
    pub args: Map<String, Json>,
    /// The database in the request's scope.
    pub session: RpcSession,
}

impl RpcCall {
    /// The argument named `name`, if given.
    pub fn arg(&self, name: &str) -> Option<&Json> {
        self.args.get(name)
    }
}

/// The future a function returns.
pub type RpcFuture = Pin<Box<dyn Future<Output = Result<RpcOutput, RpcError>> + Send>>;

/// A function callable at `/rpc/{name}`; any `Fn(RpcCall) -> impl Future` is one.
pub trait RpcFunction: Send + Sync + 'static {
    /// Runs one call.
    fn call(&self, call: RpcCall) -> RpcFuture;
}

impl<F, Fut> RpcFunction for F
where
    F: Fn(RpcCall) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<RpcOutput, RpcError>> + Send + 'static,
{
    fn call(&self, call: RpcCall) -> RpcFuture {
        Box::pin(self(call))
    }
}

/// The host's functions by name. Cheap to clone.
#[derive(Clone, Default)]
pub struct Functions {
    map: BTreeMap<String, Arc<dyn RpcFunction>>,
}

impl std::fmt::Debug for Functions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.map.keys()).finish()
    }
}

impl Functions {
    /// Registers the async function `function` under `name` (replacing any function of
    /// that name).
    pub fn register<F, Fut>(&mut self, name: impl Into<String>, function: F) -> &mut Functions
    where
        F: Fn(RpcCall) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<RpcOutput, RpcError>> + Send + 'static,
    {
        self.register_function(name, function)
    }

    /// Registers any [`RpcFunction`] (e.g. a struct holding the host's state).
    pub fn register_function(
        &mut self,
        name: impl Into<String>,
        function: impl RpcFunction,
    ) -> &mut Functions {
        self.map.insert(name.into(), Arc::new(function));
        self
    }

    /// The function named `name`.
    pub fn get(&self, name: &str) -> Option<&Arc<dyn RpcFunction>> {
        self.map.get(name)
    }

    /// The registered names, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.map.keys().map(String::as_str)
    }
}

/// The arguments of a call: the query string's (GET/HEAD) or the body's (POST).
pub(crate) fn arguments(req: &crate::request::ApiRequest) -> Result<Map<String, Json>, RestError> {
    use crate::request::Payload;
    if req.preferences.single_object_params {
        let body = match &req.payload {
            Some(Payload::Object(o)) => Json::Object(o.clone()),
            Some(Payload::Array(a)) => Json::Array(a.iter().cloned().map(Json::Object).collect()),
            _ => Json::Null,
        };
        let mut args = Map::new();
        args.insert(String::new(), body);
        return Ok(args);
    }
    match &req.payload {
        Some(Payload::Object(o)) => Ok(o.clone()),
        Some(Payload::Array(_)) => Err(RestError::InvalidBody {
            message: "Arguments of a function call must be a JSON object".to_owned(),
            details: Some("send Prefer: params=single-object to pass an array as one argument".to_owned()),
        }),
        Some(Payload::Raw { bytes, .. }) => {
            let mut args = Map::new();
            args.insert(String::new(), Json::String(String::from_utf8_lossy(bytes).into_owned()));
            Ok(args)
        }
        None => {
            let mut args = Map::new();
            for (k, v) in &req.query.args {
                match args.get_mut(k) {
                    Some(Json::Array(values)) => values.push(Json::String(v.clone())),
                    Some(first) => *first = Json::Array(vec![first.take(), Json::String(v.clone())]),
                    None => {
                        args.insert(k.clone(), Json::String(v.clone()));
                    }
                }
            }
            Ok(args)
        }
    }
}

/// Calls the host function `name` for `req`.
pub(crate) async fn call(
    functions: &Functions,
    name: &str,
    req: &crate::request::ApiRequest,
    pdb: &ProjectDb,
    ctx: &RequestContext,
) -> Result<RpcOutput, RestError> {
    let args = arguments(req)?;
    let read_only = matches!(req.action, crate::request::Action::Call { read_only: true, .. });
    let Some(function) = functions.get(name) else {
        if pdb.dialect() == Dialect::Postgres
            && let Some(output) = pg::call(name, &args, read_only, pdb, ctx).await?
        {
            return Ok(output);
        }
        let names: Vec<&str> = args.keys().map(String::as_str).collect();
        return Err(RestError::FunctionNotFound { name: name.to_owned(), args: names.join(", ") });
    };
    let session = RpcSession { pdb: pdb.clone(), ctx: ctx.clone(), read_only };
    function.call(RpcCall { ctx: ctx.clone(), args, session }).await.map_err(|e| RestError::Function {
        status: e.status,
        code: e.code,
        message: e.message,
        details: e.details,
        hint: e.hint,
    })
}
