//! # easbase-rest
//!
//! The CRUD engine speaking PostgREST's URL dialect, so `@supabase/postgrest-js` works
//! unchanged. It is built as a pipeline of one stage per module, each emitting one type:
//!
//! | stage | module | output | status |
//! |---|---|---|---|
//! | parse the HTTP request | [`request`] | [`ApiRequest`](request::ApiRequest) | built |
//! | check it against the project's schema | [`plan`] (+ [`schema_cache`]) | [`ActionPlan`](plan::ActionPlan) | built: tables, columns, JSON paths, casts, aggregates, nested embeds, filters, order, range, writes |
//! | build the statements with bound values | [`sql`] | [`SqlPlan`](sql::SqlPlan) | built: PostgreSQL, SQLite, MySQL/MariaDB |
//! | run them in core's scoped session | [`execute`] | [`DbResult`](execute::DbResult) | built |
//! | shape the HTTP response | [`respond`] | `http::Response<Bytes>` | built: JSON, single object, CSV, OpenAPI at `/` |
//!
//! [`RestService`] ties them together behind credentials (`apikey` / `Authorization`,
//! verified by easbase-core): a neutral `handle(http::Request<Bytes>)` and a
//! `tower_service::Service` with `Error = Infallible` and a bounded body read, so axum's
//! `nest_service("/rest/v1", svc)` mounts it.
//!
//! ## Status
//!
//! Works end to end, tested in process on SQLite, PostgreSQL and MariaDB (feature `mysql`)
//! with one table of cases (`tests/rest.rs`):
//! - `select=` of columns with aliases, JSON paths (`meta->>c`, `meta->0`, keyed as
//!   PostgREST keys them) and casts (`id::text`; the [`Cast`](plan::Cast) targets only, 400
//!   `EB202` otherwise; on SQLite only the casts that give PostgreSQL's answer, 400 `EB203`
//!   otherwise; MySQL likewise); aggregates (`count()`, `id.count()`, `sum`, `avg`, `max`,
//!   `min`, with aliases and casts) grouped by the other selected columns and embedded
//!   resources (ordering only by grouped columns, 400 `42803` otherwise; SQLite sums and
//!   averages integers only, MySQL sums integers and decimals and averages integers, 400
//!   `EB203` otherwise), also inside embedded resources (`orders(amount.sum(),status)`,
//!   grouped by the embed's other columns; `rel(count())` answers one group even when
//!   nothing relates);
//!   embedded resources to any depth (`RequestLimits::max_embed_depth`) through
//!   foreign keys in both directions and many-to-many through a junction table
//!   (`reviews(*)`, `product:products(name,tags(label))`, `!hint`, `!inner`), to-one
//!   spreads (`...products(name)`, 400 `PGRST119` on to-many), with filters, `or`/`and`,
//!   `order`, `limit`, `offset` at any level (`reviews.products.tags.label=eq.x`), each table
//!   under its own policies, all in one statement; `rel=not.is.null` / `rel=is.null` keep the
//!   rows with / without a related row (an anti-join; other operators: 400 `PGRST120`);
//! - filters `eq neq gt gte lt lte like ilike match imatch in is isdistinct`, `(any)`/`(all)`,
//!   `not.`, nested `or`/`and`, on columns and JSON paths (`->` values compare as jsonb:
//!   kinds ordered null < string < number < boolean < array < object, numbers as numbers;
//!   ordering by an array or object is PostgreSQL's only, 400 `EB203` elsewhere); `cs cd` on json/jsonb and `cs cd
//!   ov` on arrays, `fts plfts phfts wfts` with `(config)` (PostgreSQL; on SQLite and MySQL
//!   400 `EB203` naming the operator and the engine); the range operators `sl sr nxr nxl adj` are 404 `42883` as on
//!   PostgreSQL (no column is a range); `order` with nulls first/last (the same order on every
//!   engine), by JSON paths and by a to-one embed's column (`order=products(name).desc`, 400
//!   `PGRST118` on to-many); `limit`/`offset`/`Range`; `Prefer: count=exact|planned|estimated`
//!   (PostgreSQL: `planned` is the planner's estimate from `EXPLAIN`, `estimated` exact up
//!   to `max_rows` then planned; SQLite counts exactly) with `Content-Range`, 206 and 416; the
//!   single-object media type (406 `PGRST116`); CSV;
//! - POST of objects and arrays (`columns=`), upserts (`resolution=merge-duplicates|
//!   ignore-duplicates`, `on_conflict=`), PUT by key, PATCH, DELETE,
//!   `return=representation|minimal|headers-only` (`Location`), the answer of a write with
//!   embeds, JSON paths and casts (subqueries of its `RETURNING`; `!inner` embeds drop rows
//!   of the answer, not of the write), a PATCH that sets nothing (`{}`) updates nothing, `limit`/`offset` with
//!   `order` on PATCH and DELETE (the primary key's order when none is given),
//!   `Prefer: handling=strict, max-affected=n` (more rows roll back, 400 `PGRST124`), and
//!   `Prefer: missing=default` with `columns=` (every engine: on SQLite each run of rows
//!   leaving out the same keys is one INSERT), and the row route
//!   `GET|PUT|PATCH|DELETE /{table}/{key}`, answered as one object (404 `PGRST116` when
//!   there is no such row or the policies hide it);
//! - writes answered as one object (`.single()`) change exactly one row or roll back;
//! - OPTIONS: 200 with the allowed methods in `Allow` (404 `PGRST205` for unknown tables);
//! - `GET /`: the OpenAPI 3.1 document of the exposed tables
//!   (`easbase_codegen::openapi::document`), its server the project's API URL followed by
//!   [`RestConfig::mount_path`] (`Accept: application/openapi+json` or JSON; 406 `PGRST107`
//!   otherwise);
//! - `/rpc/{name}` (GET with arguments in the query string, POST with a JSON object,
//!   `Prefer: params=single-object`) calls async Rust functions the host registers in
//!   [`RestConfig::functions`] ([`rpc`]): they get the request's context, the arguments and
//!   a session running statements under the request's role and claims (read-only on GET),
//!   and answer a scalar, an object, nothing (204) or rows that `select=`, filters,
//!   `order=`, ranges and counts shape like a table's; their errors keep their status and
//!   code (404 `PGRST202` for an unknown name); on PostgreSQL also the database's own
//!   functions in the project's schema (found in `pg_proc` by name and argument names,
//!   called with named arguments under the request's role and claims; set-returning ones
//!   shaped like tables; `RAISE` → 400 `P0001`; overloads that both fit → 300 `PGRST203`);
//! - on PostgreSQL row-level security filters; on SQLite and MySQL the table's policies are
//!   compiled into the statements and written rows are re-checked ([`sql`]); there a
//!   `timestamptz` given with an offset is stored as UTC (SQLite: as one text form whose
//!   order is time order) and every engine answers date-times as PostgreSQL does (`T`,
//!   `+00:00`); date-time text other than ISO 8601 is 400 `EB203` on SQLite and MySQL;
//! - every request of a known project is metered and logged through the platform's sinks
//!   (route by table or function name and method, status, rows read and written; logs
//!   keep query parameter names only), and creates respect the plan's `max_rows` (403
//!   `EB104`); see [`service`](RestService);
//! - errors in PostgREST's body with PostgreSQL's codes (`42703` unknown column, `22P02`
//!   bad value, `23505` → 409, `42501` → 401/403, …).
//!
//! **Not yet**, each refused with 400 `EB200` (never answered wrongly): aggregates in a
//! write's answer, in a spread (`...rel(x.sum())`) or beside embeds inside an embed;
//! schemas other than `public` (406 `PGRST106`: a project has one schema in
//! easbase-core); on MySQL an insert whose rows leave out a key only the database knows
//! before inserting (an `AUTO_INCREMENT` key given in some rows only, a `now()` key, part
//! of a composite key with a default; 400 `EB203`: its rows could not be found again
//! without `RETURNING`; a single-column key is otherwise set per row first: given,
//! its literal default, or a drawn `uuid()`). `Prefer: timezone` and `tx` are ignored, as PostgREST does when lenient. A write
//! answered as one object that changes other than one row rolls back with 406
//! `PGRST116`, as PostgREST does (on SQLite and MySQL the details say "more than 1 rows"
//! without the exact count; likewise for `PGRST124`). Bodies are built from cells with the columns'
//! types; building top-level bodies in the database (`json_agg`, as embeds already are) is
//! the faster path still to take.
//!
//! ## Serving requests
//!
//! ```
//! use bytes::Bytes;
//! use easbase_core::db::{Db, SqliteConfig};
//! use easbase_core::project::{CreateProject, Platform, PlatformConfig};
//! use easbase_rest::{RestConfig, RestService};
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let platform = Platform::open(Db::open_sqlite(SqliteConfig::in_memory())?, PlatformConfig::new("http://localhost"), Vec::new()).await?;
//! let schema = easbase_core::schema::Schema::from_json(r#"{ "tables": [ { "name": "todos", "columns": [
//!     { "name": "id", "type": "integer", "primary": true }, { "name": "title", "type": "text" } ] } ] }"#)?;
//! let created = platform.create_project("me", "Todos", CreateProject { schema: Some(schema), ..Default::default() }).await?;
//! let key = created.keys.unwrap().secret.secret;
//! let rest = RestService::new(platform, RestConfig::default());
//!
//! let post = http::Request::post("/todos").header("apikey", &key).header("prefer", "return=representation")
//!     .body(Bytes::from_static(br#"{"id": 1, "title": "write docs"}"#)).unwrap();
//! let res = rest.handle(post).await;
//! assert_eq!(res.status(), 201);
//! let get = http::Request::get("/todos?select=title&id=eq.1").header("apikey", &key).body(Bytes::new()).unwrap();
//! let res = rest.handle(get).await;
//! assert_eq!(res.headers()["content-range"], "0-0/*");
//! assert_eq!(res.body().as_ref(), br#"[{"title":"write docs"}]"#);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```
//!
//! ## Parsing a request
//!
//! ```
//! use easbase_rest::request::{api_request, Action, Operation, Operator, RequestLimits, SelectItem};
//!
//! // What `supabase.from('countries').select('id, name, cities(id, name)')
//! //   .eq('id', 1).order('name', { ascending: false }).range(0, 9)` sends.
//! let query = "select=id%2Cname%2Ccities%28id%2Cname%29&id=eq.1&order=name.desc&offset=0&limit=10";
//! let req = api_request(
//!     &http::Method::GET,
//!     "/countries",
//!     Some(query),
//!     &http::HeaderMap::new(),
//!     b"",
//!     &RequestLimits::default(),
//! )?;
//! assert_eq!(req.action, Action::Read { headers_only: false });
//! assert!(matches!(&req.query.select[2], SelectItem::Relation { name, .. } if name == "cities"));
//! let filter = &req.query.filters[0];
//! assert_eq!(filter.field.name, "id");
//! assert!(matches!(&filter.expr.operation, Operation::Op { op: Operator::Eq, value, .. } if value == "1"));
//! assert_eq!((req.range.offset, req.range.limit), (0, Some(10)));
//!
//! // Malformed input is a PostgREST-shaped error.
//! let err = api_request(&http::Method::GET, "/countries", Some("id=1"), &http::HeaderMap::new(), b"",
//!     &RequestLimits::default()).unwrap_err();
//! assert_eq!((err.status().as_u16(), err.code()), (400, "PGRST100"));
//! assert_eq!(err.to_body()["message"], "\"failed to parse filter (1)\" (line 1, column 1)");
//! # Ok::<(), easbase_rest::RestError>(())
//! ```
//!
//! On SQLite and MySQL each table's policies are added to the statements, compiled by
//! [`TableDef::policy_condition`](easbase_schema::TableDef::policy_condition).

#![forbid(unsafe_code)]

pub mod error;
pub mod execute;
pub mod plan;
pub mod request;
pub mod respond;
pub mod rpc;
pub mod schema_cache;
pub mod service;
pub mod sql;

pub use easbase_schema as schema;
pub use error::{RangeError, RestError};
pub use service::{RestConfig, RestService};
