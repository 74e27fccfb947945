//! Asymmetric signing keys for access tokens, by `kid`, with rotation, and the JWKS.
//!
//! Access tokens are HS256 with the project's secret by default. A project may also have
//! asymmetric keys ([`SigningKeys`]), kept in the platform table `auth_signing_keys`
//! (`project_id`, `kid`, algorithm, the private key as PKCS#8 PEM, the public JWK, a
//! status). A key's status moves `standby` → `current` → `previous`:
//!
//! - **standby**: published in `/.well-known/jwks.json` and accepted by verifiers, not
//!   used to sign yet. Add the next key as standby ahead of a rotation so that clients
//!   caching the JWKS (and other processes caching a project's keys, for
//!   [`KeyCacheConfig`](easbase_core::keys::KeyCacheConfig)'s TTL) know it before the
//!   first token signed with it arrives.
//! - **current**: signs new access tokens (header `alg` and `kid`). At most one.
//! - **previous**: the current key before the last rotation; tokens it signed verify
//!   until it is **retired** (deleted), so retire it once they have expired (one access
//!   token lifetime after the rotation).
//!
//! Without a current key, tokens are HS256 again ([`SigningKeys::use_hs256`]); the HS256
//! secret always verifies, so tokens issued before a switch keep working either way.
//!
//! easbase-core's request path learns the keys through [`AuthModule`](crate::AuthModule)'s
//! [`Module::jwt_keys`](easbase_core::module::Module::jwt_keys): every key of the project
//! becomes a [`JwtKey`] pinned to its algorithm and `kid`. Changes made here clear this
//! process's cached keys of the project at once; other processes see them when their
//! cached entry expires.
//!
//! Private keys are stored as the project's HS256 secret is: readable by the platform
//! database's owner, never logged or returned.
//!
//! ```
//! use std::sync::Arc;
//! use easbase_auth::{AuthModule, keys::{KeyAlgorithm, SigningKeys}};
//! use easbase_core::db::{Db, SqliteConfig};
//! use easbase_core::project::{CreateProject, Platform, PlatformConfig};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let db = Db::open_sqlite(SqliteConfig::in_memory())?;
//! let platform =
//!     Platform::open(db, PlatformConfig::new("http://localhost:8080"), vec![Arc::new(AuthModule::default())]).await?;
//! let project = platform.create_project("owner-1", "Shop", CreateProject::default()).await?.project.id;
//!
//! let keys = SigningKeys::new(&platform);
//! let key = keys.generate(&project, KeyAlgorithm::Es256).await?; // standby
//! keys.activate(&project, &key.kid).await?;                       // signs from now on
//! let jwks = keys.jwks(&project).await?;
//! assert_eq!(jwks["keys"][0]["kid"], key.kid.as_str());
//! assert_eq!(jwks["keys"][0]["alg"], "ES256");
//! assert!(jwks["keys"][0].get("d").is_none(), "public parts only");
//! # Ok(())
//! # }
//! ```

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use easbase_core::context::ProjectId;
use easbase_core::context::jwt::JwtKey;
use easbase_core::db::{Db, Row, Scope, Stmt};
use easbase_core::project::{EventKind, Platform, PlatformEvent};
use easbase_core::schema::{Dialect, Ident, Schema};
use jsonwebtoken::jwk::{Jwk, KeyAlgorithm as JwkAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, EncodingKey};
use rand::RngCore;
use sea_query::{Alias, Expr, ExprTrait, IntoTableRef, Order, Query, TableRef};
use serde::Serialize;
use serde_json::{Value, json};

use crate::error::{AuthError, Result};
use crate::time::{now, rfc3339};

const TABLE: &str = "auth_signing_keys";

const SCHEMA: &str = r#"{ "tables": [
  { "name": "auth_signing_keys",
    "comment": "easbase-auth: projects' asymmetric access-token signing keys",
    "columns": [
      { "name": "id", "type": "identity", "primary": true },
      { "name": "project_id", "type": "varchar(40)", "required": true,
        "references": { "table": "projects", "column": "id", "on_delete": "cascade" } },
      { "name": "kid", "type": "varchar(64)", "required": true },
      { "name": "algorithm", "type": "varchar(16)", "required": true },
      { "name": "private_key", "type": "text", "required": true },
      { "name": "public_jwk", "type": "json", "required": true },
      { "name": "status", "type": "varchar(16)", "required": true },
      { "name": "created_at", "type": "bigint", "required": true },
      { "name": "updated_at", "type": "bigint", "required": true }
    ],
    "unique": [ ["project_id", "kid"] ],
    "indexes": [ { "columns": ["project_id"] } ] }
] }"#;

/// The platform table of signing keys.
pub(crate) fn platform_schema() -> Schema {
    Schema::from_json(SCHEMA)
        .unwrap_or_else(|e| unreachable!("the signing-key schema is fixed and valid: {e}"))
}

/// An algorithm for a project's signing key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyAlgorithm {
    /// ECDSA on P-256 with SHA-256 (what Supabase issues by default). [`SigningKeys::generate`]
    /// makes these.
    Es256,
    /// RSASSA-PKCS1-v1_5 with SHA-256 (import a PEM key: [`SigningKeys::import_pem`]).
    Rs256,
    /// Ed25519 (import a PEM key).
    EdDsa,
}

impl KeyAlgorithm {
    fn jwt(self) -> Algorithm {
        match self {
            KeyAlgorithm::Es256 => Algorithm::ES256,
            KeyAlgorithm::Rs256 => Algorithm::RS256,
            KeyAlgorithm::EdDsa => Algorithm::EdDSA,
        }
    }

    /// The JOSE name (`ES256`, `RS256`, `EdDSA`).
    pub fn as_str(self) -> &'static str {
        match self {
            KeyAlgorithm::Es256 => "ES256",
            KeyAlgorithm::Rs256 => "RS256",
            KeyAlgorithm::EdDsa => "EdDSA",
        }
    }

    fn from_name(name: &str) -> Option<KeyAlgorithm> {
        match name {
            "ES256" => Some(KeyAlgorithm::Es256),
            "RS256" => Some(KeyAlgorithm::Rs256),
            "EdDSA" => Some(KeyAlgorithm::EdDsa),
            _ => None,
        }
    }

    fn encoding_key(self, pem: &[u8]) -> Option<EncodingKey> {
        match self {
            KeyAlgorithm::Es256 => EncodingKey::from_ec_pem(pem).ok(),
            KeyAlgorithm::Rs256 => EncodingKey::from_rsa_pem(pem).ok(),
            KeyAlgorithm::EdDsa => EncodingKey::from_ed_pem(pem).ok(),
        }
    }
}

/// A key's place in a rotation (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum KeyStatus {
    /// Published and verifying; not signing yet.
    Standby,
    /// Signing new tokens.
    Current,
    /// Signed tokens before the last rotation; still verifying until retired.
    Previous,
}

impl KeyStatus {
    fn as_str(self) -> &'static str {
        match self {
            KeyStatus::Standby => "standby",
            KeyStatus::Current => "current",
            KeyStatus::Previous => "previous",
        }
    }
}

/// What is shown of a signing key: never its private part.
#[derive(Debug, Clone, Serialize)]
pub struct SigningKeyInfo {
    /// The key id (the `kid` header of the tokens it signs).
    pub kid: String,
    /// Its algorithm.
    pub algorithm: &'static str,
    /// Its status.
    pub status: KeyStatus,
    /// Its public key as a JWK.
    pub public_jwk: Value,
    /// When it was added.
    pub created_at: String,
}

/// A project's current signing key, loaded for signing.
#[derive(Clone)]
pub(crate) struct CurrentKey {
    pub(crate) kid: String,
    pub(crate) algorithm: Algorithm,
    pub(crate) key: EncodingKey,
}

/// Managing projects' signing keys on a platform (see the module docs).
#[derive(Debug, Clone)]
pub struct SigningKeys {
    platform: Platform,
}

fn table(db: &Db, schema: &Ident) -> TableRef {
    match db.dialect() {
        Dialect::Postgres => (Alias::new(schema.as_str()), Alias::new(TABLE)).into_table_ref(),
        _ => Alias::new(TABLE).into_table_ref(),
    }
}

fn select(db: &Db, schema: &Ident, project: &ProjectId) -> sea_query::SelectStatement {
    Query::select()
        .columns(["kid", "algorithm", "private_key", "public_jwk", "status", "created_at"].map(Alias::new))
        .from(table(db, schema))
        .and_where(Expr::col(Alias::new("project_id")).eq(project.as_str()))
        .order_by(Alias::new("created_at"), Order::Asc)
        .order_by(Alias::new("id"), Order::Asc)
        .to_owned()
}

struct KeyRow {
    kid: String,
    algorithm: KeyAlgorithm,
    private_key: String,
    public_jwk: Value,
    status: KeyStatus,
    created_at: i64,
}

fn key_row(row: &Row) -> Result<KeyRow> {
    let corrupt = |c: &str| AuthError::Internal(format!("unexpected value in auth column `{c}`"));
    let algorithm = KeyAlgorithm::from_name(&row.text("algorithm").map_err(|_| corrupt("algorithm"))?)
        .ok_or_else(|| corrupt("algorithm"))?;
    let status = match row.text("status").map_err(|_| corrupt("status"))?.as_str() {
        "standby" => KeyStatus::Standby,
        "current" => KeyStatus::Current,
        "previous" => KeyStatus::Previous,
        _ => return Err(corrupt("status")),
    };
    Ok(KeyRow {
        kid: row.text("kid").map_err(|_| corrupt("kid"))?,
        algorithm,
        private_key: row.text("private_key").map_err(|_| corrupt("private_key"))?,
        public_jwk: serde_json::from_str(&row.text("public_jwk").map_err(|_| corrupt("public_jwk"))?)
            .map_err(|_| corrupt("public_jwk"))?,
        status,
        created_at: row.int("created_at").map_err(|_| corrupt("created_at"))?,
    })
}

async fn rows(db: &Db, schema: &Ident, project: &ProjectId) -> Result<Vec<KeyRow>> {
    db.query(db.stmt(&select(db, schema, project))).await?.iter().map(key_row).collect()
}

/// Every key of `project` as a verification key (core's request path).
pub(crate) async fn verification_keys(
    db: &Db,
    schema: &Ident,
    project: &ProjectId,
) -> easbase_core::Result<Vec<JwtKey>> {
    let rows = rows(db, schema, project).await.map_err(|e| match e {
        AuthError::Core(e) => e,
        other => easbase_core::Error::Config(format!("cannot read the project's signing keys: {other}")),
    })?;
    rows.iter().map(|r| JwtKey::from_jwk(&r.public_jwk.to_string())).collect()
}

/// Bumped by every signing-key change this process makes ([`SigningKeys`]): the
/// project parts [`Auth::project`](crate::Auth::project) cached before it are read again.
/// Other processes' changes are seen after [`AuthConfig::settings_cache_ttl`](crate::AuthConfig::settings_cache_ttl).
static KEYS_EPOCH: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// The current value of [`KEYS_EPOCH`].
pub(crate) fn keys_epoch() -> u64 {
    KEYS_EPOCH.load(std::sync::atomic::Ordering::SeqCst)
}

/// The current key of `project`, if any.
pub(crate) async fn current_key(platform: &Platform, project: &ProjectId) -> Result<Option<CurrentKey>> {
    let rows = rows(platform.db(), &platform.config().platform_schema, project).await?;
    let Some(row) = rows.into_iter().find(|r| r.status == KeyStatus::Current) else { return Ok(None) };
    let key = row
        .algorithm
        .encoding_key(row.private_key.as_bytes())
        .ok_or_else(|| AuthError::Internal("a stored signing key cannot be read".into()))?;
    Ok(Some(CurrentKey { kid: row.kid, algorithm: row.algorithm.jwt(), key }))
}

/// A PKCS#8 PEM document of DER bytes.
fn pem(der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let mut out = String::from("-----BEGIN PRIVATE KEY-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).unwrap_or(""));
        out.push('\n');
    }
    out.push_str("-----END PRIVATE KEY-----\n");
    out
}

/// A new P-256 private key as PKCS#8 PEM: 32 random bytes under the fixed PKCS#8 prefix
/// of an EC P-256 key (no optional public key), checked by parsing it.
fn generate_p256() -> Result<String> {
    const PREFIX: [u8; 35] = [
        0x30, 0x41, 0x02, 0x01, 0x00, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06,
        0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x04, 0x27, 0x30, 0x25, 0x02, 0x01, 0x01, 0x04,
        0x20,
    ];
    // A random scalar is out of range (0 or ≥ the group order) with probability < 2^-32.
    for _ in 0..8 {
        let mut der = PREFIX.to_vec();
        let mut scalar = [0u8; 32];
        rand::rng().fill_bytes(&mut scalar);
        der.extend_from_slice(&scalar);
        let key = EncodingKey::from_ec_der(&der);
        if Jwk::from_encoding_key(&key, Algorithm::ES256).is_ok() {
            return Ok(pem(&der));
        }
    }
    Err(AuthError::Internal("cannot generate a P-256 key".into()))
}

/// The public JWK of a private key, with its `kid`, `alg` and `use`.
fn public_jwk(algorithm: KeyAlgorithm, key: &EncodingKey, kid: &str) -> Result<Value> {
    let mut jwk = Jwk::from_encoding_key(key, algorithm.jwt())
        .map_err(|_| AuthError::ValidationFailed("the key cannot be used with this algorithm".into()))?;
    jwk.common.key_id = Some(kid.to_owned());
    jwk.common.public_key_use = Some(PublicKeyUse::Signature);
    jwk.common.key_algorithm = Some(match algorithm {
        KeyAlgorithm::Es256 => JwkAlgorithm::ES256,
        KeyAlgorithm::Rs256 => JwkAlgorithm::RS256,
        KeyAlgorithm::EdDsa => JwkAlgorithm::EdDSA,
    });
    let mut value =
        serde_json::to_value(&jwk).map_err(|_| AuthError::Internal("cannot encode a JWK".into()))?;
    if let Some(obj) = value.as_object_mut() {
        obj.insert("key_ops".into(), json!(["verify"]));
    }
    Ok(value)
}

impl SigningKeys {
    /// Key management over `platform`'s projects (the platform must have the
    /// [`AuthModule`](crate::AuthModule)).
    pub fn new(platform: &Platform) -> SigningKeys {
        SigningKeys { platform: platform.clone() }
    }

    fn table(&self) -> TableRef {
        table(self.platform.db(), &self.platform.config().platform_schema)
    }

    fn stmt(&self, q: &impl easbase_core::db::BuildStmt) -> Stmt {
        self.platform.db().stmt(q)
    }

    /// The project's keys, oldest first.
    ///
    /// # Errors
    /// [`AuthError::Core`] when the platform database fails.
    pub async fn list(&self, project: &ProjectId) -> Result<Vec<SigningKeyInfo>> {
        let rows = rows(self.platform.db(), &self.platform.config().platform_schema, project).await?;
        Ok(rows
            .into_iter()
            .map(|r| SigningKeyInfo {
                kid: r.kid,
                algorithm: r.algorithm.as_str(),
                status: r.status,
                public_jwk: r.public_jwk,
                created_at: rfc3339(r.created_at),
            })
            .collect())
    }

    /// Generates a new key (ES256 only) as **standby**.
    ///
    /// # Errors
    /// [`AuthError::ValidationFailed`] for another algorithm (import those),
    /// [`AuthError::Core`] for an unknown project.
    pub async fn generate(&self, project: &ProjectId, algorithm: KeyAlgorithm) -> Result<SigningKeyInfo> {
        if algorithm != KeyAlgorithm::Es256 {
            return Err(AuthError::ValidationFailed(format!(
                "only ES256 keys are generated; import a {} key as PEM",
                algorithm.as_str()
            )));
        }
        let pem = generate_p256()?;
        self.import_pem(project, algorithm, &pem).await
    }

    /// Adds a private key (PKCS#8 PEM; PKCS#1 for RSA too) as **standby**.
    ///
    /// # Errors
    /// [`AuthError::ValidationFailed`] when the PEM is not a private key of `algorithm`;
    /// [`AuthError::Core`] for an unknown project.
    pub async fn import_pem(
        &self,
        project: &ProjectId,
        algorithm: KeyAlgorithm,
        private_pem: &str,
    ) -> Result<SigningKeyInfo> {
        self.platform.project(project).await?;
        let key = algorithm.encoding_key(private_pem.as_bytes()).ok_or_else(|| {
            AuthError::ValidationFailed(format!("not a {} private key in PEM", algorithm.as_str()))
        })?;
        let kid = uuid::Uuid::new_v4().to_string();
        let jwk = public_jwk(algorithm, &key, &kid)?;
        let now = now();
        let q = Query::insert()
            .into_table(self.table())
            .columns(
                [
                    "project_id",
                    "kid",
                    "algorithm",
                    "private_key",
                    "public_jwk",
                    "status",
                    "created_at",
                    "updated_at",
                ]
                .map(Alias::new),
            )
            .values_panic([
                project.as_str().into(),
                kid.clone().into(),
                algorithm.as_str().into(),
                private_pem.into(),
                jwk.to_string().into(),
                KeyStatus::Standby.as_str().into(),
                now.into(),
                now.into(),
            ])
            .to_owned();
        self.run(project, vec![self.stmt(&q)]).await?;
        Ok(SigningKeyInfo {
            kid,
            algorithm: algorithm.as_str(),
            status: KeyStatus::Standby,
            public_jwk: jwk,
            created_at: rfc3339(now),
        })
    }

    /// Makes `kid` the **current** key; the current one becomes **previous** (it keeps
    /// verifying until [`SigningKeys::retire`]).
    ///
    /// # Errors
    /// [`AuthError::ValidationFailed`] when the project has no key `kid`.
    pub async fn activate(&self, project: &ProjectId, kid: &str) -> Result<()> {
        self.known(project, kid).await?;
        let now = now();
        let demote = self.set_status(project, None, KeyStatus::Current, KeyStatus::Previous, now);
        let promote = Query::update()
            .table(self.table())
            .values([(Alias::new("status"), "current".into()), (Alias::new("updated_at"), now.into())])
            .and_where(Expr::col(Alias::new("project_id")).eq(project.as_str()))
            .and_where(Expr::col(Alias::new("kid")).eq(kid))
            .to_owned();
        self.run(project, vec![self.stmt(&demote), self.stmt(&promote)]).await
    }

    /// Signs with the HS256 secret again: the current key becomes **previous**.
    ///
    /// # Errors
    /// [`AuthError::Core`] when the platform database fails.
    pub async fn use_hs256(&self, project: &ProjectId) -> Result<()> {
        let demote = self.set_status(project, None, KeyStatus::Current, KeyStatus::Previous, now());
        self.run(project, vec![self.stmt(&demote)]).await
    }

    /// Deletes a key that is not current: tokens it signed stop verifying.
    ///
    /// # Errors
    /// [`AuthError::ValidationFailed`] when the project has no key `kid`, or it is the
    /// current key (activate another or [`SigningKeys::use_hs256`] first).
    pub async fn retire(&self, project: &ProjectId, kid: &str) -> Result<()> {
        if self.known(project, kid).await? == KeyStatus::Current {
            return Err(AuthError::ValidationFailed(
                "the current signing key cannot be retired; activate another key first".into(),
            ));
        }
        let q = Query::delete()
            .from_table(self.table())
            .and_where(Expr::col(Alias::new("project_id")).eq(project.as_str()))
            .and_where(Expr::col(Alias::new("kid")).eq(kid))
            .to_owned();
        self.run(project, vec![self.stmt(&q)]).await
    }

    /// The project's JWKS (`/.well-known/jwks.json`): the public keys of every key
    /// (standby, current, previous). The HS256 secret is never in it.
    ///
    /// # Errors
    /// [`AuthError::Core`] when the platform database fails.
    pub async fn jwks(&self, project: &ProjectId) -> Result<Value> {
        let keys: Vec<Value> = self.list(project).await?.into_iter().map(|k| k.public_jwk).collect();
        Ok(json!({ "keys": keys }))
    }

    async fn known(&self, project: &ProjectId, kid: &str) -> Result<KeyStatus> {
        self.list(project)
            .await?
            .into_iter()
            .find(|k| k.kid == kid)
            .map(|k| k.status)
            .ok_or_else(|| AuthError::ValidationFailed(format!("the project has no signing key `{kid}`")))
    }

    fn set_status(
        &self,
        project: &ProjectId,
        kid: Option<&str>,
        from: KeyStatus,
        to: KeyStatus,
        now: i64,
    ) -> sea_query::UpdateStatement {
        let mut q = Query::update();
        q.table(self.table())
            .values([(Alias::new("status"), to.as_str().into()), (Alias::new("updated_at"), now.into())])
            .and_where(Expr::col(Alias::new("project_id")).eq(project.as_str()))
            .and_where(Expr::col(Alias::new("status")).eq(from.as_str()));
        if let Some(kid) = kid {
            q.and_where(Expr::col(Alias::new("kid")).eq(kid));
        }
        q
    }

    /// Runs statements in one transaction, then drops this process's cached keys of the
    /// project so the request path reads them again.
    async fn run(&self, project: &ProjectId, stmts: Vec<Stmt>) -> Result<()> {
        self.platform.db().transaction(&Scope::default(), stmts).await?;
        KEYS_EPOCH.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.platform.apply_event(&PlatformEvent {
            kind: EventKind::KeyRotated,
            project: project.as_str().to_owned(),
            key_id: None,
            origin: None,
        });
        Ok(())
    }
}
