//! [`AuthModule`]: the auth tables, added to every project through easbase-core's
//! [`Module`] trait.
//!
//! The tables live in the project's own schema next to the project's tables, so their
//! names carry the prefix `auth_` ([`AuthModule::TABLES`]); a project table of the same
//! name is a validation error when the project's schema is applied. (`_easbase…` is kept
//! by the schema validator for the platform itself.)
//!
//! | table | holds |
//! |---|---|
//! | `auth_users` | users: email, phone, Argon2id (or imported bcrypt) hash, confirmation times, metadata |
//! | `auth_identities` | provider accounts of users, unique per `(provider, provider_id)` |
//! | `auth_sessions` | sign-ins: user, `aal`, `amr`, time box |
//! | `auth_refresh_tokens` | SHA-256 hashes of refresh tokens, their parent's hash, revoked flag |
//! | `auth_one_time_tokens` | SHA-256 hashes of confirmation / recovery / email-change tokens |
//!
//! Times are `bigint` Unix seconds (portable across SQLite, PostgreSQL and MySQL); JSON
//! is `json`. No table has a policy for `anon` or `authenticated`, so row-level security
//! refuses them every row on PostgreSQL (RLS is enabled and forced), and the flows run as
//! the project's service role. easbase-schema still grants the request roles table
//! privileges, as for every table: **the REST layer must not expose these tables**
//! (exclude [`AuthModule::TABLES`]), on SQLite above all, where no RLS stands behind it.

use async_trait::async_trait;
use easbase_core::module::Module;
use easbase_core::schema::Schema;

/// The auth module: tables in every project (see the module docs).
///
/// ```
/// use easbase_auth::AuthModule;
/// use easbase_core::module::Module;
/// let schema = AuthModule::default().project_schema();
/// assert!(schema.validate().is_ok());
/// assert_eq!(schema.tables.len(), AuthModule::TABLES.len());
/// ```
#[derive(Debug, Clone, Default)]
pub struct AuthModule {
    _private: (),
}

impl AuthModule {
    /// The names of the auth tables, for layers that list or expose a project's tables
    /// (REST must exclude them).
    pub const TABLES: [&'static str; 5] =
        ["auth_users", "auth_identities", "auth_sessions", "auth_refresh_tokens", "auth_one_time_tokens"];

    /// Whether `table` is one of the auth tables.
    ///
    /// ```
    /// assert!(easbase_auth::AuthModule::is_auth_table("auth_users"));
    /// assert!(!easbase_auth::AuthModule::is_auth_table("products"));
    /// ```
    pub fn is_auth_table(table: &str) -> bool {
        AuthModule::TABLES.contains(&table)
    }

    /// The auth tables as a schema description.
    pub fn schema() -> Schema {
        Schema::from_json(SCHEMA).unwrap_or_else(|e| unreachable!("the auth schema is fixed and valid: {e}"))
    }
}

#[async_trait]
impl Module for AuthModule {
    fn name(&self) -> &'static str {
        "auth"
    }

    fn project_schema(&self) -> Schema {
        AuthModule::schema()
    }
}

const SCHEMA: &str = r#"{ "tables": [
  { "name": "auth_users",
    "comment": "easbase-auth: users (secrets only as hashes)",
    "columns": [
      { "name": "id", "type": "uuid", "primary": true, "default": "gen_random_uuid()" },
      { "name": "email", "type": "varchar(255)", "unique": true },
      { "name": "phone", "type": "varchar(32)", "unique": true },
      { "name": "encrypted_password", "type": "text" },
      { "name": "email_confirmed_at", "type": "bigint" },
      { "name": "phone_confirmed_at", "type": "bigint" },
      { "name": "confirmation_sent_at", "type": "bigint" },
      { "name": "recovery_sent_at", "type": "bigint" },
      { "name": "email_change", "type": "varchar(255)" },
      { "name": "last_sign_in_at", "type": "bigint" },
      { "name": "raw_app_meta_data", "type": "json", "required": true },
      { "name": "raw_user_meta_data", "type": "json", "required": true },
      { "name": "is_anonymous", "type": "boolean", "required": true, "default": false },
      { "name": "banned_until", "type": "bigint" },
      { "name": "created_at", "type": "bigint", "required": true },
      { "name": "updated_at", "type": "bigint", "required": true },
      { "name": "deleted_at", "type": "bigint" }
    ] },
  { "name": "auth_identities",
    "comment": "easbase-auth: provider accounts of users",
    "columns": [
      { "name": "id", "type": "uuid", "primary": true, "default": "gen_random_uuid()" },
      { "name": "provider", "type": "varchar(64)", "required": true },
      { "name": "provider_id", "type": "varchar(255)", "required": true },
      { "name": "user_id", "type": "uuid", "required": true,
        "references": { "table": "auth_users", "column": "id", "on_delete": "cascade" } },
      { "name": "identity_data", "type": "json", "required": true },
      { "name": "email", "type": "varchar(255)" },
      { "name": "last_sign_in_at", "type": "bigint" },
      { "name": "created_at", "type": "bigint", "required": true },
      { "name": "updated_at", "type": "bigint", "required": true }
    ],
    "unique": [ ["provider", "provider_id"] ],
    "indexes": [ { "columns": ["user_id"] } ] },
  { "name": "auth_sessions",
    "comment": "easbase-auth: signed-in sessions",
    "columns": [
      { "name": "id", "type": "uuid", "primary": true, "default": "gen_random_uuid()" },
      { "name": "user_id", "type": "uuid", "required": true,
        "references": { "table": "auth_users", "column": "id", "on_delete": "cascade" } },
      { "name": "aal", "type": "varchar(8)", "required": true, "default": "aal1" },
      { "name": "factor_id", "type": "uuid" },
      { "name": "amr", "type": "json", "required": true },
      { "name": "created_at", "type": "bigint", "required": true },
      { "name": "updated_at", "type": "bigint", "required": true },
      { "name": "refreshed_at", "type": "bigint" },
      { "name": "not_after", "type": "bigint" }
    ],
    "indexes": [ { "columns": ["user_id"] } ] },
  { "name": "auth_refresh_tokens",
    "comment": "easbase-auth: SHA-256 hashes of refresh tokens",
    "columns": [
      { "name": "id", "type": "identity", "primary": true },
      { "name": "token_hash", "type": "varchar(64)", "required": true, "unique": true },
      { "name": "session_id", "type": "uuid", "required": true,
        "references": { "table": "auth_sessions", "column": "id", "on_delete": "cascade" } },
      { "name": "parent", "type": "varchar(64)" },
      { "name": "revoked", "type": "boolean", "required": true, "default": false },
      { "name": "created_at", "type": "bigint", "required": true },
      { "name": "updated_at", "type": "bigint", "required": true }
    ],
    "indexes": [ { "columns": ["session_id"] } ] },
  { "name": "auth_one_time_tokens",
    "comment": "easbase-auth: SHA-256 hashes of confirmation, recovery and email-change tokens",
    "columns": [
      { "name": "id", "type": "uuid", "primary": true, "default": "gen_random_uuid()" },
      { "name": "user_id", "type": "uuid", "required": true,
        "references": { "table": "auth_users", "column": "id", "on_delete": "cascade" } },
      { "name": "kind", "type": "varchar(32)", "required": true },
      { "name": "token_hash", "type": "varchar(64)", "required": true, "unique": true },
      { "name": "relates_to", "type": "varchar(255)", "required": true },
      { "name": "created_at", "type": "bigint", "required": true },
      { "name": "attempts", "type": "integer", "required": true, "default": 0 }
    ],
    "indexes": [ { "columns": ["user_id", "kind"] } ] }
] }"#;
