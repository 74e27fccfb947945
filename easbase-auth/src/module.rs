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
//! | `auth_one_time_tokens` | SHA-256 hashes of one-time link tokens (confirmation, magic link, invite, recovery, email change, phone), HMACs of their short codes, failed attempts, the PKCE flow they belong to |
//! | `auth_mfa_factors` | MFA factors (TOTP): status, the secret (sealed with a pad derived from the project secret), the last accepted time step |
//! | `auth_mfa_challenges` | MFA challenges: factor, creation time, the caller's IP, when verified |
//! | `auth_mfa_recovery_codes` | SHA-256 hashes of MFA recovery codes, when each was used |
//! | `auth_oauth_states` | SHA-256 hashes of pending OAuth `state` values: provider, where to return, the client's PKCE flow state |
//! | `auth_flow_state` | PKCE flows (GoTrue's `flow_state`): code challenge and method, the SHA-256 of the issued auth code, provider, authentication method |
//!
//! And once in the platform database ([`Module::platform_schema`]):
//!
//! | table | holds |
//! |---|---|
//! | `auth_signing_keys` | projects' asymmetric signing keys by `kid` (see [`crate::keys`]) |
//! | `auth_project_settings` | each project's auth settings over the process defaults, OAuth client secrets sealed (see [`crate::settings`]) |
//!
//! Times are `bigint` Unix seconds (portable across SQLite, PostgreSQL and MySQL); JSON
//! is `json`. No table has a policy for `anon` or `authenticated`, so row-level security
//! refuses them every row on PostgreSQL (RLS is enabled and forced), and the flows run as
//! the project's service role. easbase-schema still grants the request roles table
//! privileges, as for every table: **the REST layer must not expose these tables**
//! (exclude [`AuthModule::TABLES`]), on SQLite above all, where no RLS stands behind it.

use async_trait::async_trait;
use easbase_core::Result as CoreResult;
use easbase_core::context::ProjectId;
use easbase_core::context::jwt::JwtKey;
use easbase_core::db::Db;
use easbase_core::module::Module;
use easbase_core::schema::Ident;
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
    pub const TABLES: [&'static str; 10] = [
        "auth_users",
        "auth_identities",
        "auth_sessions",
        "auth_refresh_tokens",
        "auth_one_time_tokens",
        "auth_mfa_factors",
        "auth_mfa_challenges",
        "auth_mfa_recovery_codes",
        "auth_oauth_states",
        "auth_flow_state",
    ];

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

    fn platform_schema(&self) -> Schema {
        crate::settings::platform_schema()
    }

    async fn jwt_keys(
        &self,
        platform: &Db,
        platform_schema: &Ident,
        project: &ProjectId,
    ) -> CoreResult<Vec<JwtKey>> {
        crate::keys::verification_keys(platform, platform_schema, project).await
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
      { "name": "attempts", "type": "integer", "required": true, "default": 0 },
      { "name": "code_hash", "type": "varchar(64)" },
      { "name": "flow_state_id", "type": "uuid" }
    ],
    "indexes": [ { "columns": ["user_id", "kind"] }, { "columns": ["relates_to", "kind"] } ] },
  { "name": "auth_flow_state",
    "comment": "easbase-auth: PKCE flow states (auth codes only as SHA-256)",
    "columns": [
      { "name": "id", "type": "uuid", "primary": true, "default": "gen_random_uuid()" },
      { "name": "user_id", "type": "uuid",
        "references": { "table": "auth_users", "column": "id", "on_delete": "cascade" } },
      { "name": "auth_code_hash", "type": "varchar(64)", "unique": true },
      { "name": "code_challenge", "type": "varchar(128)", "required": true },
      { "name": "code_challenge_method", "type": "varchar(8)", "required": true },
      { "name": "provider_type", "type": "varchar(64)", "required": true },
      { "name": "authentication_method", "type": "varchar(32)", "required": true },
      { "name": "provider_access_token", "type": "text" },
      { "name": "provider_refresh_token", "type": "text" },
      { "name": "auth_code_issued_at", "type": "bigint" },
      { "name": "created_at", "type": "bigint", "required": true },
      { "name": "updated_at", "type": "bigint", "required": true }
    ],
    "indexes": [ { "columns": ["user_id"] } ] },
  { "name": "auth_mfa_factors",
    "comment": "easbase-auth: MFA factors (TOTP secrets sealed)",
    "columns": [
      { "name": "id", "type": "uuid", "primary": true, "default": "gen_random_uuid()" },
      { "name": "user_id", "type": "uuid", "required": true,
        "references": { "table": "auth_users", "column": "id", "on_delete": "cascade" } },
      { "name": "friendly_name", "type": "varchar(255)" },
      { "name": "factor_type", "type": "varchar(16)", "required": true },
      { "name": "status", "type": "varchar(16)", "required": true },
      { "name": "secret", "type": "varchar(255)", "required": true },
      { "name": "last_used_step", "type": "bigint" },
      { "name": "last_challenged_at", "type": "bigint" },
      { "name": "attempts", "type": "integer", "required": true, "default": 0 },
      { "name": "attempts_window_start", "type": "bigint" },
      { "name": "created_at", "type": "bigint", "required": true },
      { "name": "updated_at", "type": "bigint", "required": true }
    ],
    "indexes": [ { "columns": ["user_id"] } ] },
  { "name": "auth_mfa_challenges",
    "comment": "easbase-auth: MFA challenges",
    "columns": [
      { "name": "id", "type": "uuid", "primary": true, "default": "gen_random_uuid()" },
      { "name": "factor_id", "type": "uuid", "required": true,
        "references": { "table": "auth_mfa_factors", "column": "id", "on_delete": "cascade" } },
      { "name": "ip_address", "type": "varchar(64)", "required": true },
      { "name": "created_at", "type": "bigint", "required": true },
      { "name": "verified_at", "type": "bigint" }
    ],
    "indexes": [ { "columns": ["factor_id"] } ] },
  { "name": "auth_mfa_recovery_codes",
    "comment": "easbase-auth: SHA-256 hashes of MFA recovery codes",
    "columns": [
      { "name": "id", "type": "identity", "primary": true },
      { "name": "user_id", "type": "uuid", "required": true,
        "references": { "table": "auth_users", "column": "id", "on_delete": "cascade" } },
      { "name": "code_hash", "type": "varchar(64)", "required": true, "unique": true },
      { "name": "used_at", "type": "bigint" },
      { "name": "created_at", "type": "bigint", "required": true }
    ],
    "indexes": [ { "columns": ["user_id"] } ] },
  { "name": "auth_oauth_states",
    "comment": "easbase-auth: SHA-256 hashes of pending OAuth state values",
    "columns": [
      { "name": "id", "type": "uuid", "primary": true, "default": "gen_random_uuid()" },
      { "name": "state_hash", "type": "varchar(64)", "required": true, "unique": true },
      { "name": "provider", "type": "varchar(64)", "required": true },
      { "name": "redirect_to", "type": "text", "required": true },
      { "name": "flow_state_id", "type": "varchar(40)" },
      { "name": "link_user_id", "type": "uuid" },
      { "name": "created_at", "type": "bigint", "required": true }
    ] }
] }"#;
