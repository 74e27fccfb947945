//! # easbase-rest
//!
//! The CRUD engine speaking PostgREST's URL dialect, so `@supabase/postgrest-js` works
//! unchanged. It is built as a pipeline of one stage per module, each emitting one type:
//!
//! | stage | module | output | status |
//! |---|---|---|---|
//! | parse the HTTP request | [`request`] | [`ApiRequest`](request::ApiRequest) | **built** |
//! | check it against the project's schema | `plan/` | `ActionPlan` | not yet |
//! | build one statement with bound values | `sql/` | statement + values | not yet |
//! | run it in core's scoped session | `execute` | `DbResult` | not yet |
//! | shape the HTTP response | `respond/` | `http::Response` | not yet |
//!
//! **Status: only the request stage exists.** It turns a method, path, query string,
//! headers and body into the client's intent — select tree, filters, logic trees, order,
//! ranges, preferences, negotiated media type, parsed body — knowing nothing of any schema
//! or database. Every malformed input is refused with PostgREST's status and `PGRST1xx`
//! code ([`RestError`]), within the bounds of [`RequestLimits`](request::RequestLimits).
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
//! On SQLite and MySQL the later stages will add each table's policies to the statement,
//! compiled by [`easbase_schema::policy::to_sea_query`].

#![forbid(unsafe_code)]

pub mod error;
pub mod request;

pub use easbase_schema as schema;
pub use error::{RangeError, RestError};
