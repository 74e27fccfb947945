//! # easbase-cli: the `easbase` command and the host it serves
//!
//! The binary is `easbase` (see `src/main.rs` and `easbase --help`): schema files
//! (`schema check | sql | plan | apply | json-schema`), projects on a platform database
//! (`project create | list | keys | pause | resume | delete`) and `serve`, a ready-to-use
//! server for a schema file or, with `--introspect SCHEMA_NAME`, for the existing tables of
//! a PostgreSQL schema (served as PostgREST serves them, under their own row-level
//! security). Several `serve` processes may share one PostgreSQL platform database: keys
//! revoked or rotated, schemas applied and projects paused by any process reach them all
//! (`tests/multiprocess.rs`). This
//! library holds what the command, the quickstart and the server examples share, so a
//! host is assembled one way:
//!
//! | module | what |
//! |---|---|
//! | [`database`] | [`DatabaseUrl`](database::DatabaseUrl) (`postgres://`, `mysql://`, `sqlite://FILE`, `sqlite::memory:`) and [`open_platform`](database::open_platform) |
//! | [`host`] | REST at `/rest/v1` and auth at `/auth/v1`: [`Services`](host::Services) for any framework, an axum [`router`](host::router), [`Running`](host::Running), the [`Ready`](host::Ready) JSON line |
//! | [`migrate`] | bring a project to a schema through the migration planner (destructive steps opt-in) |
//! | [`serve`] | find or create the project of a schema across restarts, migrate it, keep its keys; [`provision_adopted`](serve::provision_adopted) for an existing PostgreSQL schema |
//! | [`client`] | a small loopback HTTP client (examples and tests) |
//! | [`error`] | [`Error`] and its exit status |
//!
//! ```no_run
//! # async fn demo() -> easbase_cli::Result<()> {
//! use easbase_cli::{database, host, serve};
//!
//! let url: database::DatabaseUrl = "sqlite://.easbase/easbase.db".parse()?;
//! let (listener, base_url) = host::bind("127.0.0.1:0".parse().unwrap()).await?;
//! let platform = database::open_platform(&url, &base_url, None).await?;
//! let wanted = serve::ServeProject {
//!     name: "shop".into(),
//!     schema: easbase_core::schema::Schema::from_path("schema.json")?,
//!     allow_destructive: false,
//!     state_dir: url.state_dir(),
//!     // Keys of an existing project: its keys file, unless given or reissued here.
//!     keys: serve::KeyOptions::default(),
//! };
//! let project = serve::provision(&platform, &wanted, &mut |line| eprintln!("{line}")).await?;
//! let services = host::Services::new(&platform, host::dev_auth_config(false))?;
//! host::Ready {
//!     url: base_url,
//!     publishable_key: project.keys.publishable_key,
//!     secret_key: project.keys.secret_key,
//!     jwt_secret: project.jwt_secret,
//!     project_id: project.project.id.to_string(),
//! }
//! .print()?;
//! host::serve_until_signal(listener, host::router(services)).await
//! # }
//! ```
//!
//! ## Feature flags
//!
//! | feature | default | what it adds |
//! |---|---|---|
//! | `postgres` | yes | platforms on PostgreSQL (`--database-url postgres://…`); SQLite is always there |
//! | `mysql` | no | platforms on MySQL / MariaDB (`--database-url mysql://USER@HOST/DB`) |

#![forbid(unsafe_code)]

pub mod client;
pub mod database;
pub mod error;
pub mod host;
pub mod migrate;
pub mod serve;

pub use error::{Error, Result};
