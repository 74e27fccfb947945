//! The project lifecycle on SQLite (in memory and files), PostgreSQL (shared and dedicated
//! isolation) and MariaDB (a database per project, on the platform's server or another
//! URL), isolation between projects on PostgreSQL, and deleting a project's rows from the
//! platform tables on every engine.
#![cfg(feature = "sqlite")]

#[cfg(feature = "mysql")]
mod common;

#[cfg(any(feature = "postgres", feature = "mysql"))]
use easbase_core::project::{CreatedProject, Isolation};

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use easbase_core::db::{Db, SqliteConfig, Stmt};
use easbase_core::module::Module;
use easbase_core::project::{CreateProject, Platform, PlatformConfig, ProjectDb, ProjectStatus};
use easbase_core::schema::{Role, Schema};
use easbase_core::{Error, Result};

const SHOP: &str = r#"{ "tables": [ { "name": "orders", "columns": [
    { "name": "id", "type": "integer", "primary": true },
    { "name": "owner_id", "type": "uuid" },
    { "name": "total", "type": "integer", "required": true, "default": 0 } ],
  "policies": { "select": "owner_id = auth.uid", "insert": "owner_id = auth.uid" } } ] }"#;

fn shop() -> Schema {
    Schema::from_json(SHOP).unwrap()
}

async fn sqlite_platform(config: PlatformConfig, modules: Vec<Arc<dyn Module>>) -> Platform {
    let db = Db::open_sqlite(SqliteConfig::in_memory()).unwrap();
    Platform::open(db, config, modules).await.unwrap()
}

fn with_schema() -> CreateProject {
    CreateProject { schema: Some(shop()), ..Default::default() }
}

#[tokio::test]
async fn create_gives_url_keys_and_ready() {
    let platform = sqlite_platform(PlatformConfig::new("http://api.test/"), Vec::new()).await;
    let created = platform.create_project("owner-1", "My E-commerce Backend", with_schema()).await.unwrap();
    let p = &created.project;
    assert_eq!(p.status, ProjectStatus::Ready);
    assert!(p.slug.starts_with("my-e-commerce-backend-"), "{}", p.slug);
    assert_eq!(p.api_url, format!("http://api.test/{}", p.slug));
    assert_eq!(p.schema_version.as_deref(), Some("1"));
    let keys = created.keys.unwrap();
    assert!(keys.publishable.secret.starts_with("eb_pk_") && keys.secret.secret.starts_with("eb_sk_"));

    // Keys are stored as hashes only.
    let stored = platform.keys(&p.id).await.unwrap();
    assert_eq!(stored.len(), 2);
    let dump = format!("{stored:?}");
    assert!(!dump.contains(&keys.secret.secret[7..]), "no secret at rest");

    // Keys resolve to the project and role.
    let anon = platform.resolve(Some(&keys.publishable.secret), None, None).await.unwrap();
    assert_eq!((anon.project(), anon.role()), (&p.id, Role::Anon));
    let service =
        platform.resolve(None, Some(&format!("Bearer {}", keys.secret.secret)), None).await.unwrap();
    assert_eq!(service.role(), Role::Service);

    // The project's tables exist and take rows.
    let pdb = platform.project_db(&p.id).await.unwrap();
    assert!(pdb.schema().unwrap().table("orders").is_some());
    pdb.db()
        .execute(Stmt::raw(
            "insert into orders (id, owner_id) values (1, 'a0000000-0000-4000-8000-000000000000')",
        ))
        .await
        .unwrap();
    assert_eq!(platform.projects(Some("owner-1")).await.unwrap().len(), 1);
    assert_eq!(platform.project_by_slug(&p.slug).await.unwrap().id, p.id);
}

#[tokio::test]
async fn wrong_keys_are_refused() {
    let platform = sqlite_platform(PlatformConfig::new("http://api.test"), Vec::new()).await;
    let created = platform.create_project("o", "A", CreateProject::default()).await.unwrap();
    let good = created.keys.unwrap().publishable.secret;
    let mut tampered = good.clone();
    tampered.pop();
    tampered.push(if good.ends_with('A') { 'B' } else { 'A' });
    for bad in [
        tampered.as_str(),
        "eb_pk_nope",
        "",
        "Bearer",
        "eb_sk_0000000000000000_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
    ] {
        let err = platform.resolve(Some(bad), None, None).await.unwrap_err();
        assert!(matches!(err, Error::InvalidApiKey | Error::MissingCredentials), "{bad}: {err:?}");
    }
    assert!(matches!(platform.resolve(None, None, None).await.unwrap_err(), Error::MissingCredentials));
}

#[tokio::test]
async fn idempotent_retries_and_quotas() {
    let mut config = PlatformConfig::new("http://api.test");
    config.max_projects_per_owner = Some(2);
    let platform = sqlite_platform(config, Vec::new()).await;
    let opts = || CreateProject { idempotency_key: Some("req-42".into()), ..Default::default() };
    let first = platform.create_project("o", "Shop", opts()).await.unwrap();
    let again = platform.create_project("o", "Shop", opts()).await.unwrap();
    assert_eq!(first.project.id, again.project.id);
    assert!(first.keys.is_some() && again.keys.is_none());
    assert_eq!(platform.projects(Some("o")).await.unwrap().len(), 1);
    platform.create_project("o", "Second", CreateProject::default()).await.unwrap();
    let err = platform.create_project("o", "Third", CreateProject::default()).await.unwrap_err();
    assert!(matches!(err, Error::QuotaExceeded { limit: 2, .. }), "{err:?}");
    // Another owner is not limited by o's projects.
    platform.create_project("p", "Other", CreateProject::default()).await.unwrap();
}

#[tokio::test]
async fn bad_input_is_refused_and_stores_nothing() {
    let platform = sqlite_platform(PlatformConfig::new("http://api.test"), Vec::new()).await;
    for name in ["", "   ", "a\nb"] {
        assert!(matches!(
            platform.create_project("o", name, CreateProject::default()).await,
            Err(Error::InvalidName(_))
        ));
    }
    let broken = Schema::from_json(
        r#"{ "tables": [ { "name": "t", "columns": [ { "name": "x", "type": "nope" } ] } ] }"#,
    )
    .unwrap();
    let err = platform
        .create_project("o", "Shop", CreateProject { schema: Some(broken), ..Default::default() })
        .await
        .unwrap_err();
    assert_eq!(err.code(), "schema_invalid", "{err}");
    assert!(platform.projects(None).await.unwrap().is_empty());
}

/// A module whose provisioning fails while `fail` is set.
struct Flaky {
    fail: AtomicBool,
}

#[async_trait::async_trait]
impl Module for Flaky {
    fn name(&self) -> &'static str {
        "flaky"
    }
    fn project_schema(&self) -> Schema {
        Schema::from_json(r#"{ "tables": [ { "name": "flaky_items", "columns": [ { "name": "id", "type": "integer", "primary": true } ] } ] }"#)
            .unwrap()
    }
    async fn provision(&self, project: &ProjectDb) -> Result<()> {
        let table = match project.pg_schema() {
            Some(schema) => format!("{schema}.flaky_items"),
            None => "flaky_items".into(),
        };
        project.db().execute(Stmt::raw(format!("insert into {table} (id) values (1)"))).await?;
        if self.fail.load(Ordering::SeqCst) {
            return Err(Error::Config("flaky module failed on purpose".into()));
        }
        Ok(())
    }
}

#[tokio::test]
async fn failed_provisioning_leaves_nothing_and_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = PlatformConfig::new("http://api.test");
    config.data_dir = Some(dir.path().to_owned());
    let flaky = Arc::new(Flaky { fail: AtomicBool::new(true) });
    let platform = sqlite_platform(config, vec![flaky.clone() as Arc<dyn Module>]).await;
    let opts =
        || CreateProject { idempotency_key: Some("k".into()), schema: Some(shop()), ..Default::default() };
    let err = platform.create_project("o", "Shop", opts()).await.unwrap_err();
    assert!(matches!(&err, Error::Provisioning(m) if m.contains("on purpose")), "{err:?}");
    let listed = platform.projects(Some("o")).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert!(matches!(listed[0].status, ProjectStatus::Failed(ref r) if r.contains("on purpose")));
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "no database file left behind");
    assert!(platform.keys(&listed[0].id).await.unwrap().is_empty(), "no keys for a failed project");

    flaky.fail.store(false, Ordering::SeqCst);
    let resumed = platform.create_project("o", "Shop", opts()).await.unwrap();
    assert_eq!(resumed.project.id, listed[0].id);
    assert_eq!(resumed.project.status, ProjectStatus::Ready);
    assert!(resumed.keys.is_some());
    let pdb = platform.project_db(&resumed.project.id).await.unwrap();
    let schema = pdb.schema().unwrap();
    assert!(schema.table("flaky_items").is_some() && schema.table("orders").is_some());
}

#[tokio::test]
async fn pause_resume_rename_rotate_revoke_delete() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = PlatformConfig::new("http://api.test");
    config.data_dir = Some(dir.path().to_owned());
    let platform = sqlite_platform(config, Vec::new()).await;
    let created = platform.create_project("o", "Shop", with_schema()).await.unwrap();
    let id = created.project.id.clone();
    let keys = created.keys.unwrap();
    let pk = keys.publishable.secret.clone();

    assert_eq!(platform.pause_project(&id).await.unwrap().status, ProjectStatus::Paused);
    assert!(matches!(platform.resolve(Some(&pk), None, None).await.unwrap_err(), Error::ProjectPaused));
    assert!(platform.pause_project(&id).await.is_err(), "pausing twice is refused");
    platform.resume_project(&id).await.unwrap();
    platform.resolve(Some(&pk), None, None).await.unwrap();

    assert_eq!(platform.rename_project(&id, "Shop 2").await.unwrap().name, "Shop 2");

    // Rotation with a grace period: both keys work; with none, the old one stops at once.
    let new = platform.rotate_key(&id, &keys.publishable.id, Duration::from_secs(3600)).await.unwrap();
    platform.resolve(Some(&pk), None, None).await.unwrap();
    platform.resolve(Some(&new.secret), None, None).await.unwrap();
    let newer = platform.rotate_key(&id, &new.id, Duration::ZERO).await.unwrap();
    assert!(matches!(
        platform.resolve(Some(&new.secret), None, None).await.unwrap_err(),
        Error::InvalidApiKey
    ));
    platform.resolve(Some(&newer.secret), None, None).await.unwrap();
    platform.revoke_key(&id, &newer.id).await.unwrap();
    assert!(matches!(
        platform.resolve(Some(&newer.secret), None, None).await.unwrap_err(),
        Error::InvalidApiKey
    ));

    // Schema changes go through the planner; destructive ones need the opt-in.
    let mut v2 = shop();
    v2.tables[0].columns.push(serde_json::from_str(r#"{ "name": "note", "type": "text" }"#).unwrap());
    let report = platform.apply_schema(&id, "2", &v2, false).await.unwrap();
    assert!(!report.plan.is_empty());
    assert!(platform.apply_schema(&id, "2", &v2, false).await.unwrap().already_applied);
    let err = platform.apply_schema(&id, "3", &shop(), false).await.unwrap_err();
    assert_eq!(err.code(), "migration_destructive", "{err}");
    assert_eq!(platform.project(&id).await.unwrap().schema_version.as_deref(), Some("2"));
    assert!(
        platform
            .project_db(&id)
            .await
            .unwrap()
            .schema()
            .unwrap()
            .table("orders")
            .unwrap()
            .column("note")
            .is_some()
    );

    // Delete is guarded by the slug and removes the database file.
    assert!(matches!(platform.delete_project(&id, "wrong").await.unwrap_err(), Error::Guard(_)));
    let slug = platform.project(&id).await.unwrap().slug;
    assert!(dir.path().join(format!("{id}.sqlite")).exists());
    platform.delete_project(&id, &slug).await.unwrap();
    assert!(!dir.path().join(format!("{id}.sqlite")).exists());
    assert!(matches!(platform.project(&id).await.unwrap_err(), Error::ProjectNotFound(_)));
    assert!(platform.resolve(Some(&keys.secret.secret), None, None).await.is_err());
}

#[tokio::test]
async fn open_file_databases_are_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = PlatformConfig::new("http://api.test");
    config.data_dir = Some(dir.path().to_owned());
    config.max_open_databases = 2;
    let platform = sqlite_platform(config, Vec::new()).await;
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(platform.create_project("o", &format!("P{i}"), with_schema()).await.unwrap().project.id);
    }
    for id in &ids {
        let pdb = platform.project_db(id).await.unwrap();
        pdb.db().execute(Stmt::raw("insert into orders (id) values (7)")).await.unwrap();
        assert!(platform.open_databases() <= 2);
    }
    // A closed database reopens with its data.
    let pdb = platform.project_db(&ids[0]).await.unwrap();
    let rows = pdb.db().query(Stmt::raw("select count(*) as n from orders")).await.unwrap();
    assert_eq!(rows[0].int("n").unwrap(), 1);
}

// ---- deleting a project removes its platform rows (every engine) -----------------------------

fn platform_modules() -> Vec<Arc<dyn Module>> {
    use easbase_core::{logs::LogsModule, quota::QuotaModule, usage::UsageModule};
    vec![Arc::new(UsageModule), Arc::new(LogsModule), Arc::new(QuotaModule)]
}

/// Usage counters, request logs and quota counters of two projects; deleting one removes
/// its rows from every platform table and leaves the other's.
async fn delete_removes_the_projects_platform_rows(platform: &Platform) {
    use easbase_core::logs::{self, BatchingLogSink, LogConfig, LogQuery, LogSink, RequestLog};
    use easbase_core::quota::{CounterStore, DbCounters};
    use easbase_core::usage::{self, BatchingSink, PlatformTables, UsageConfig, UsageEvent, UsageSink};

    let tables = PlatformTables::of(platform);
    let doomed = platform.create_project("o", "Doomed", CreateProject::default()).await.unwrap().project;
    let kept = platform.create_project("o", "Kept", CreateProject::default()).await.unwrap().project;
    let usage = BatchingSink::start(tables.clone(), UsageConfig::default()).unwrap();
    let logs = BatchingLogSink::start(tables.clone(), LogConfig::default()).unwrap();
    let counters = DbCounters::new(tables.clone());
    let now = 1_700_000_000;
    for p in [&doomed, &kept] {
        usage.record(UsageEvent::request(&p.id, "/rest/v1/{table}", "GET", 200).at(now));
        logs.record(RequestLog::new(&p.id, "req-1", "GET", "/rest/v1/orders", 200));
        counters.incr(&format!("rpm:{}", p.id), 7, 5, 60).await.unwrap();
    }
    usage.flush().await.unwrap();
    logs.flush().await.unwrap();
    let totals = |id| {
        let tables = tables.clone();
        async move { usage::totals(&tables, &id, now - 60, now + 60).await.unwrap().len() }
    };
    let log_rows = |id| {
        let tables = tables.clone();
        async move { logs::query(&tables, &id, &LogQuery::default()).await.unwrap().entries.len() }
    };
    assert_eq!((totals(doomed.id.clone()).await, log_rows(doomed.id.clone()).await), (1, 1));

    platform.delete_project(&doomed.id, &doomed.slug).await.unwrap();
    assert_eq!((totals(doomed.id.clone()).await, log_rows(doomed.id.clone()).await), (0, 0));
    // The quota counter starts again from nothing; the other project's goes on.
    assert_eq!(counters.incr(&format!("rpm:{}", doomed.id), 7, 1, 60).await.unwrap(), 1);
    assert_eq!(counters.incr(&format!("rpm:{}", kept.id), 7, 1, 60).await.unwrap(), 6);
    assert_eq!((totals(kept.id.clone()).await, log_rows(kept.id.clone()).await), (1, 1));
    assert!(platform.keys(&doomed.id).await.unwrap().is_empty());
    usage.shutdown().await.unwrap();
    logs.shutdown().await.unwrap();
}

/// Twelve concurrent creations, six of them retries of one request: seven projects, all
/// ready, each with its keys shown once. Returns them.
async fn concurrent_creation_and_idempotent_retries(
    platform: &Platform,
) -> Vec<easbase_core::project::Project> {
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..12 {
        let platform = platform.clone();
        tasks.spawn(async move {
            let options = if i % 2 == 0 {
                CreateProject { idempotency_key: Some("same-request".into()), ..with_schema() }
            } else {
                with_schema()
            };
            platform.create_project("owner", "Same Name", options).await
        });
    }
    let mut created = Vec::new();
    while let Some(result) = tasks.join_next().await {
        created.push(result.unwrap().unwrap());
    }
    let ids: std::collections::HashSet<_> = created.iter().map(|c| c.project.id.clone()).collect();
    assert_eq!(ids.len(), 7, "six distinct projects and one for the six retries");
    assert_eq!(created.iter().filter(|c| c.keys.is_some()).count(), 7, "keys are shown once per project");
    let listed = platform.projects(None).await.unwrap();
    assert_eq!(listed.len(), 7);
    assert!(listed.iter().all(|p| p.status == ProjectStatus::Ready), "{listed:?}");
    listed
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_concurrent_creation_and_idempotent_retries_are_safe() {
    let platform = sqlite_platform(PlatformConfig::new("http://api.test"), Vec::new()).await;
    concurrent_creation_and_idempotent_retries(&platform).await;
}

#[tokio::test]
async fn sqlite_delete_removes_the_projects_platform_rows() {
    let platform = sqlite_platform(PlatformConfig::new("http://api.test"), platform_modules()).await;
    delete_removes_the_projects_platform_rows(&platform).await;
}

// ---- MariaDB / MySQL ------------------------------------------------------------------------

#[cfg(feature = "mysql")]
mod mysql {
    use super::*;

    /// A platform in a fresh database; the name to pass to [`cleanup`].
    async fn my_platform(
        modules: Vec<Arc<dyn Module>>,
        configure: impl FnOnce(&mut PlatformConfig),
    ) -> (Platform, String) {
        let (db, name) = common::mysql_database(4).await;
        let mut config = PlatformConfig::new("http://api.test");
        configure(&mut config);
        (Platform::open(db, config, modules).await.unwrap(), name)
    }

    /// Drops the platform's database and every project database it made.
    async fn cleanup(platform: &Platform, name: &str, extra: &[String]) {
        let mut ids: Vec<String> =
            platform.projects(None).await.unwrap().into_iter().map(|p| p.id.to_string()).collect();
        ids.extend_from_slice(extra);
        common::drop_mysql_database(name, &ids).await;
    }

    async fn database_exists(platform: &Platform, id: &str) -> bool {
        let rows = platform
            .db()
            .query(Stmt::new(
                "select count(*) from information_schema.schemata where schema_name = ?",
                sea_query::Values(vec![format!("p_{id}").into()]),
            ))
            .await
            .unwrap();
        rows[0].cells[0].as_i64().unwrap() == 1
    }

    async fn orders(created: &CreatedProject, platform: &Platform) -> i64 {
        let pdb = platform.project_db(&created.project.id).await.unwrap();
        let rows = pdb.db().query(Stmt::raw("select count(*) as n from orders")).await.unwrap();
        rows[0].int("n").unwrap()
    }

    #[tokio::test]
    async fn a_project_is_a_database_of_its_own() {
        let (platform, name) = my_platform(Vec::new(), |_| {}).await;
        let created = platform.create_project("o", "Shop", with_schema()).await.unwrap();
        let id = created.project.id.clone();
        assert_eq!(created.project.status, ProjectStatus::Ready);
        assert_eq!(created.project.schema_version.as_deref(), Some("1"));
        assert!(database_exists(&platform, id.as_str()).await);

        // Keys resolve; the project's tables take rows; its handle knows its schema.
        let keys = created.keys.as_ref().unwrap();
        let ctx = platform.resolve(Some(&keys.publishable.secret), None, None).await.unwrap();
        assert_eq!((ctx.project(), ctx.role()), (&id, Role::Anon));
        let pdb = platform.project_db(&id).await.unwrap();
        assert!(pdb.schema().unwrap().table("orders").is_some());
        assert!(pdb.pg_schema().is_none());
        pdb.db()
            .execute(Stmt::raw(
                "insert into orders (id, owner_id) values (1, 'a0000000-0000-4000-8000-000000000000')",
            ))
            .await
            .unwrap();
        // The scope of a request carries nothing MySQL would use; policies are the caller's.
        let scope = pdb.scope(&ctx, true).unwrap();
        let rows = pdb.db().transaction(&scope, vec![Stmt::raw("select total from orders")]).await.unwrap();
        assert_eq!(rows[0].rows[0].int("total").unwrap(), 0);
        // Another project's tables are another database.
        let other = platform.create_project("o", "Other", with_schema()).await.unwrap();
        assert_eq!((orders(&created, &platform).await, orders(&other, &platform).await), (1, 0));

        // Pause, resume, migrate, delete.
        platform.pause_project(&id).await.unwrap();
        assert!(matches!(
            platform.resolve(Some(&keys.publishable.secret), None, None).await.unwrap_err(),
            Error::ProjectPaused
        ));
        platform.resume_project(&id).await.unwrap();
        let mut v2 = shop();
        v2.tables[0].columns.push(serde_json::from_str(r#"{ "name": "note", "type": "text" }"#).unwrap());
        assert!(!platform.apply_schema(&id, "2", &v2, false).await.unwrap().plan.is_empty());
        let pdb = platform.project_db(&id).await.unwrap();
        assert!(pdb.schema().unwrap().table("orders").unwrap().column("note").is_some());
        pdb.db().execute(Stmt::raw("update orders set note = 'hi'")).await.unwrap();
        let err = platform.apply_schema(&id, "3", &shop(), false).await.unwrap_err();
        assert_eq!(err.code(), "migration_destructive", "{err}");

        let slug = platform.project(&id).await.unwrap().slug;
        assert!(matches!(platform.delete_project(&id, "wrong").await.unwrap_err(), Error::Guard(_)));
        platform.delete_project(&id, &slug).await.unwrap();
        assert!(!database_exists(&platform, id.as_str()).await, "the database is dropped");
        assert!(matches!(platform.project(&id).await.unwrap_err(), Error::ProjectNotFound(_)));
        assert!(platform.resolve(Some(&keys.secret.secret), None, None).await.is_err());
        cleanup(&platform, &name, &[id.to_string()]).await;
    }

    #[tokio::test]
    async fn a_dedicated_project_lives_on_the_server_of_its_url() {
        let (platform, name) = my_platform(Vec::new(), |_| {}).await;
        let url = common::mysql_url();
        let options =
            CreateProject { isolation: Isolation::Dedicated, database_url: Some(url), ..with_schema() };
        let created = platform.create_project("o", "Far", options).await.unwrap();
        let id = created.project.id.clone();
        assert!(database_exists(&platform, id.as_str()).await);
        let pdb = platform.project_db(&id).await.unwrap();
        pdb.db().execute(Stmt::raw("insert into orders (id) values (5)")).await.unwrap();
        assert_eq!(orders(&created, &platform).await, 1);
        drop(pdb);
        // A malformed URL is refused before anything is stored, without echoing it.
        let bad = CreateProject {
            isolation: Isolation::Dedicated,
            database_url: Some("mysql://u:hunter2@[nope".into()),
            ..Default::default()
        };
        let err = platform.create_project("o", "Bad", bad).await.unwrap_err();
        assert!(matches!(err, Error::Config(_)) && !err.to_string().contains("hunter2"), "{err:?}");
        let shared_with_url = CreateProject { database_url: Some(common::mysql_url()), ..Default::default() };
        assert!(matches!(platform.create_project("o", "Bad", shared_with_url).await, Err(Error::Config(_))));
        platform.delete_project(&id, &created.project.slug).await.unwrap();
        assert!(!database_exists(&platform, id.as_str()).await);
        cleanup(&platform, &name, &[id.to_string()]).await;
    }

    #[tokio::test]
    async fn failed_provisioning_leaves_no_database_and_resumes() {
        let flaky = Arc::new(Flaky { fail: AtomicBool::new(true) });
        let (platform, name) = my_platform(vec![flaky.clone() as Arc<dyn Module>], |_| {}).await;
        let opts = || CreateProject {
            idempotency_key: Some("k".into()),
            schema: Some(shop()),
            ..Default::default()
        };
        let err = platform.create_project("o", "Shop", opts()).await.unwrap_err();
        assert!(matches!(&err, Error::Provisioning(m) if m.contains("on purpose")), "{err:?}");
        let failed = platform.projects(Some("o")).await.unwrap().remove(0);
        assert!(matches!(failed.status, ProjectStatus::Failed(_)));
        assert!(!database_exists(&platform, failed.id.as_str()).await, "no database left behind");
        flaky.fail.store(false, Ordering::SeqCst);
        let resumed = platform.create_project("o", "Shop", opts()).await.unwrap();
        assert_eq!((resumed.project.id.clone(), resumed.project.status), (failed.id, ProjectStatus::Ready));
        let pdb = platform.project_db(&resumed.project.id).await.unwrap();
        assert!(pdb.schema().unwrap().table("flaky_items").is_some());
        cleanup(&platform, &name, &[]).await;
    }

    #[tokio::test]
    async fn open_pools_are_bounded() {
        let (platform, name) = my_platform(Vec::new(), |c| c.max_open_databases = 2).await;
        let mut ids = Vec::new();
        for i in 0..4 {
            ids.push(platform.create_project("o", &format!("P{i}"), with_schema()).await.unwrap().project.id);
        }
        for id in &ids {
            let pdb = platform.project_db(id).await.unwrap();
            pdb.db().execute(Stmt::raw("insert into orders (id) values (7)")).await.unwrap();
            drop(pdb);
            assert!(platform.open_databases() <= 2 && platform.open_pools() <= 2);
        }
        let pdb = platform.project_db(&ids[0]).await.unwrap();
        let rows = pdb.db().query(Stmt::raw("select count(*) as n from orders")).await.unwrap();
        assert_eq!(rows[0].int("n").unwrap(), 1, "a closed pool reopens on the same data");
        drop(pdb);
        cleanup(&platform, &name, &[]).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_creation_and_idempotent_retries_are_safe() {
        let (platform, name) = my_platform(Vec::new(), |_| {}).await;
        for p in super::concurrent_creation_and_idempotent_retries(&platform).await {
            assert!(database_exists(&platform, p.id.as_str()).await);
        }
        cleanup(&platform, &name, &[]).await;
    }

    #[tokio::test]
    async fn delete_removes_the_projects_platform_rows() {
        let (platform, name) = my_platform(platform_modules(), |_| {}).await;
        super::delete_removes_the_projects_platform_rows(&platform).await;
        cleanup(&platform, &name, &[]).await;
    }
}

// ---- PostgreSQL ---------------------------------------------------------------------------

#[cfg(feature = "postgres")]
mod postgres {
    use super::*;

    fn pg_url() -> String {
        std::env::var("EASBASE_PG_URL")
            .unwrap_or_else(|_| "host=127.0.0.1 user=postgres dbname=postgres".into())
    }

    async fn pg_platform() -> (Platform, String) {
        pg_platform_with(|_| {}).await
    }

    async fn pg_platform_with(configure: impl FnOnce(&mut PlatformConfig)) -> (Platform, String) {
        pg_platform_full(configure, Vec::new()).await
    }

    async fn pg_platform_full(
        configure: impl FnOnce(&mut PlatformConfig),
        modules: Vec<Arc<dyn Module>>,
    ) -> (Platform, String) {
        use easbase_core::db::PgConfig;
        let db = Db::connect_postgres(PgConfig::new(pg_url())).await.unwrap_or_else(|e| {
            panic!("cannot reach PostgreSQL at {} ({e}); start it: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start", pg_url())
        });
        let schema = format!("t_platform_{}", uuid::Uuid::new_v4().simple());
        let mut config = PlatformConfig::new("http://api.test");
        config.platform_schema = easbase_core::schema::Ident::new(schema.clone()).unwrap();
        configure(&mut config);
        (Platform::open(db, config, modules).await.unwrap(), schema)
    }

    /// The first integer of a query on the platform database.
    async fn count(platform: &Platform, sql: String) -> i64 {
        platform.db().query(Stmt::raw(sql)).await.unwrap()[0].cells[0].as_i64().unwrap()
    }

    fn dedicated() -> CreateProject {
        CreateProject { isolation: Isolation::Dedicated, schema: Some(shop()), ..Default::default() }
    }

    /// Inserts a row as the project's service role and returns the row count it sees.
    async fn insert_and_count(platform: &Platform, created: &CreatedProject, row_id: i64) -> i64 {
        let pdb = platform.project_db(&created.project.id).await.unwrap();
        let ctx =
            platform.resolve(Some(&created.keys.as_ref().unwrap().secret.secret), None, None).await.unwrap();
        let scope = pdb.scope(&ctx, false).unwrap();
        let table = format!("{}.orders", pdb.pg_schema().unwrap());
        let results = pdb
            .db()
            .transaction(
                &scope,
                vec![
                    Stmt::raw(format!("insert into {table} (id) values ({row_id})")),
                    Stmt::raw(format!("select count(*)::bigint as n from {table}")),
                ],
            )
            .await
            .unwrap();
        results[1].rows[0].int("n").unwrap()
    }

    #[tokio::test]
    async fn postgres_dedicated_project_has_its_own_database() {
        let (platform, schema) = pg_platform().await;
        let created = platform.create_project("o", "Dedicated", dedicated()).await.unwrap();
        let id = created.project.id.clone();
        assert_eq!(created.project.isolation, Isolation::Dedicated);
        assert_eq!(created.project.status, ProjectStatus::Ready);
        let database = format!("p_{id}");
        assert_eq!(
            count(&platform, format!("select count(*) from pg_database where datname = '{database}'")).await,
            1
        );
        // Its tables are in its own database, not in the platform's.
        assert_eq!(
            count(&platform, format!("select count(*) from pg_namespace where nspname = '{database}'")).await,
            0
        );
        let pdb = platform.project_db(&id).await.unwrap();
        assert_eq!(pdb.pg_schema().unwrap().as_str(), database, "tables live in its schema p_<id>");
        assert!(pdb.schema().unwrap().table("orders").is_some());
        let who = pdb.db().query(Stmt::raw("select current_database()::text as d")).await.unwrap();
        assert_eq!(who[0].text("d").unwrap(), database);

        // Requests run as its roles, under its policies, and cannot reach the platform's
        // tables (another database).
        assert_eq!(insert_and_count(&platform, &created, 1).await, 1);
        let keys = created.keys.as_ref().unwrap();
        let anon = platform.resolve(Some(&keys.publishable.secret), None, None).await.unwrap();
        let scope = pdb.scope(&anon, true).unwrap();
        let rows = pdb
            .db()
            .transaction(
                &scope,
                vec![Stmt::raw(format!(
                    "select count(*)::bigint as n, current_user::text as r from {database}.orders"
                ))],
            )
            .await
            .unwrap();
        assert_eq!(rows[0].rows[0].int("n").unwrap(), 0, "anon sees no row (owner_id = auth.uid)");
        assert_eq!(rows[0].rows[0].text("r").unwrap(), format!("{database}_anon"));
        for ctx in [&anon, &platform.resolve(Some(&keys.secret.secret), None, None).await.unwrap()] {
            let scope = pdb.scope(ctx, true).unwrap();
            let err = pdb
                .db()
                .transaction(&scope, vec![Stmt::raw(format!("select count(*) from {schema}.api_keys"))])
                .await
                .unwrap_err();
            assert!(matches!(err.sqlstate(), Some("3F000" | "42P01" | "42501")), "{err}");
        }

        // Schema changes go to its database; pause refuses its keys.
        let mut v2 = shop();
        v2.tables[0].columns.push(serde_json::from_str(r#"{ "name": "note", "type": "text" }"#).unwrap());
        platform.apply_schema(&id, "2", &v2, false).await.unwrap();
        drop(pdb);
        let pdb = platform.project_db(&id).await.unwrap();
        assert!(pdb.schema().unwrap().table("orders").unwrap().column("note").is_some());
        pdb.db().query(Stmt::raw(format!("select note from {database}.orders"))).await.unwrap();
        platform.pause_project(&id).await.unwrap();
        assert!(matches!(
            platform.resolve(Some(&keys.secret.secret), None, None).await.unwrap_err(),
            Error::ProjectPaused
        ));

        // Delete terminates its connections (this handle's pool is still open), drops the
        // database and the roles.
        assert!(platform.open_pools() >= 1);
        platform.delete_project(&id, &created.project.slug).await.unwrap();
        drop(pdb);
        assert_eq!(platform.open_pools(), 0);
        assert_eq!(
            count(&platform, format!("select count(*) from pg_database where datname = '{database}'")).await,
            0
        );
        assert_eq!(
            count(&platform, format!("select count(*) from pg_roles where rolname like '{database}\\_%'"))
                .await,
            0
        );
        pg_cleanup(&platform, &schema).await;
    }

    #[tokio::test]
    async fn postgres_dedicated_project_on_another_server() {
        let (platform, schema) = pg_platform().await;
        // The same server, reached through a project's own URL (the scale-out path).
        let options = CreateProject { database_url: Some(pg_url()), ..dedicated() };
        assert!(!format!("{options:?}").contains(&pg_url()), "the URL is not in Debug output");
        let created = platform.create_project("o", "Remote", options).await.unwrap();
        let id = created.project.id.clone();
        assert!(!serde_json::to_string(&created.project).unwrap().contains("127.0.0.1"));
        assert_eq!(insert_and_count(&platform, &created, 1).await, 1);
        let database = format!("p_{id}");
        platform.delete_project(&id, &created.project.slug).await.unwrap();
        assert_eq!(
            count(&platform, format!("select count(*) from pg_database where datname = '{database}'")).await,
            0
        );

        // A URL is only for dedicated projects, and a bad one is refused without echoing it.
        let shared = CreateProject { database_url: Some(pg_url()), ..Default::default() };
        assert!(matches!(platform.create_project("o", "X", shared).await.unwrap_err(), Error::Config(_)));
        let secret_url = "postgres://u:hunter2@[bad/x?sslmode=nope".to_owned();
        let bad = CreateProject { database_url: Some(secret_url), ..dedicated() };
        let err = platform.create_project("o", "X", bad).await.unwrap_err();
        assert!(matches!(&err, Error::Config(m) if !m.contains("hunter2")), "{err:?}");
        pg_cleanup(&platform, &schema).await;
    }

    #[tokio::test]
    async fn postgres_failed_dedicated_provisioning_leaves_nothing() {
        let flaky = Arc::new(Flaky { fail: AtomicBool::new(true) });
        let (platform, schema) = pg_platform_full(|_| {}, vec![flaky.clone() as Arc<dyn Module>]).await;
        let opts = || CreateProject { idempotency_key: Some("k".into()), ..dedicated() };
        let err = platform.create_project("o", "Flaky", opts()).await.unwrap_err();
        assert!(matches!(&err, Error::Provisioning(_)), "{err:?}");
        let failed = platform.projects(Some("o")).await.unwrap().pop().unwrap();
        assert!(matches!(failed.status, ProjectStatus::Failed(_)));
        let database = format!("p_{}", failed.id);
        assert_eq!(
            count(&platform, format!("select count(*) from pg_database where datname = '{database}'")).await,
            0
        );
        assert_eq!(
            count(&platform, format!("select count(*) from pg_roles where rolname like '{database}\\_%'"))
                .await,
            0
        );
        assert_eq!(platform.open_pools(), 0);

        // A retry with the same idempotency key resumes into a ready dedicated project.
        flaky.fail.store(false, Ordering::SeqCst);
        let resumed = platform.create_project("o", "Flaky", opts()).await.unwrap();
        assert_eq!(
            (resumed.project.id.clone(), resumed.project.status.clone()),
            (failed.id, ProjectStatus::Ready)
        );
        let pdb = platform.project_db(&resumed.project.id).await.unwrap();
        let rows = pdb
            .db()
            .query(Stmt::raw(format!("select count(*)::bigint as n from {database}.flaky_items")))
            .await
            .unwrap();
        assert_eq!(rows[0].int("n").unwrap(), 1);
        drop(pdb);
        pg_cleanup(&platform, &schema).await;
    }

    #[tokio::test]
    async fn postgres_dedicated_pools_are_bounded() {
        let (platform, schema) = pg_platform_with(|c| c.max_open_databases = 2).await;
        let mut projects = Vec::new();
        for i in 0..4 {
            projects.push(platform.create_project("o", &format!("D{i}"), dedicated()).await.unwrap());
            assert!(platform.open_pools() <= 2, "{} pools open", platform.open_pools());
        }
        for round in 1..=3 {
            for (i, created) in projects.iter().enumerate() {
                let n = insert_and_count(&platform, created, round * 10 + i as i64).await;
                assert_eq!(n, round, "a reopened pool sees the project's earlier rows");
                assert!(platform.open_pools() <= 2, "{} pools open", platform.open_pools());
                assert!(platform.open_databases() <= 2);
            }
        }
        // Evicted pools are closed: at most two of the databases still have sessions.
        let names: Vec<String> = projects.iter().map(|p| format!("'p_{}'", p.project.id)).collect();
        let sql = format!(
            "select count(distinct datname) from pg_stat_activity where datname in ({})",
            names.join(", ")
        );
        let mut open = i64::MAX;
        for _ in 0..40 {
            open = count(&platform, sql.clone()).await;
            if open <= 2 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(open <= 2, "{open} dedicated databases still have sessions");
        pg_cleanup(&platform, &schema).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn postgres_concurrent_creation_is_safe() {
        let (platform, schema) = pg_platform().await;
        let limit = Arc::new(tokio::sync::Semaphore::new(8));
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..30 {
            let (platform, limit) = (platform.clone(), limit.clone());
            tasks.spawn(async move {
                let _permit = limit.acquire_owned().await.unwrap();
                // Half of them share one name: slugs must still be unique.
                let name = if i % 2 == 0 { "Same Name".to_owned() } else { format!("Project {i}") };
                platform.create_project(&format!("owner-{}", i % 3), &name, with_schema()).await
            });
        }
        let mut created = Vec::new();
        while let Some(result) = tasks.join_next().await {
            created.push(result.unwrap().unwrap());
        }
        assert_eq!(created.len(), 30);
        let slugs: std::collections::HashSet<_> = created.iter().map(|c| c.project.slug.clone()).collect();
        assert_eq!(slugs.len(), 30, "no duplicate slugs");
        let listed = platform.projects(None).await.unwrap();
        assert_eq!(listed.len(), 30);
        assert!(listed.iter().all(|p| p.status == ProjectStatus::Ready));
        for c in &created {
            let id = &c.project.id;
            assert_eq!(
                count(
                    &platform,
                    format!(
                        "select count(*) from pg_tables where schemaname = 'p_{id}' and tablename = 'orders'"
                    )
                )
                .await,
                1
            );
            assert_eq!(
                count(&platform, format!("select count(*) from pg_roles where rolname like 'p\\_{id}\\_%'"))
                    .await,
                3
            );
            platform.resolve(Some(&c.keys.as_ref().unwrap().publishable.secret), None, None).await.unwrap();
        }
        pg_cleanup(&platform, &schema).await;
    }

    #[tokio::test]
    async fn postgres_delete_removes_the_projects_platform_rows() {
        let (platform, schema) = pg_platform_full(|_| {}, platform_modules()).await;
        super::delete_removes_the_projects_platform_rows(&platform).await;
        pg_cleanup(&platform, &schema).await;
    }

    async fn pg_cleanup(platform: &Platform, schema: &str) {
        for p in platform.projects(None).await.unwrap() {
            platform.delete_project(&p.id, &p.slug).await.unwrap();
        }
        platform.db().execute_script(&[format!("DROP SCHEMA {schema} CASCADE")]).await.unwrap();
    }

    #[tokio::test]
    async fn postgres_projects_are_isolated() {
        let (platform, schema) = pg_platform().await;
        let a = platform.create_project("o", "A", with_schema()).await.unwrap();
        let b = platform.create_project("o", "B", with_schema()).await.unwrap();
        let (pa, pb) = (
            platform.project_db(&a.project.id).await.unwrap(),
            platform.project_db(&b.project.id).await.unwrap(),
        );
        let table = |p: &ProjectDb| format!("{}.orders", p.pg_schema().unwrap());
        // Seed both projects as their service role.
        let svc_a =
            platform.resolve(Some(&a.keys.as_ref().unwrap().secret.secret), None, None).await.unwrap();
        let svc_b =
            platform.resolve(Some(&b.keys.as_ref().unwrap().secret.secret), None, None).await.unwrap();
        let uid = "a0000000-0000-4000-8000-000000000001";
        for (p, ctx) in [(&pa, &svc_a), (&pb, &svc_b)] {
            let scope = p.scope(ctx, false).unwrap();
            let sql = format!(
                "insert into {} (id, owner_id) select g, '{uid}' from generate_series(1, 50) g",
                table(p)
            );
            p.db().transaction(&scope, vec![Stmt::raw(sql)]).await.unwrap();
        }
        // A's contexts can touch nothing of B: not read, count, update nor delete.
        let anon_a =
            platform.resolve(Some(&a.keys.as_ref().unwrap().publishable.secret), None, None).await.unwrap();
        for ctx in [&anon_a, &svc_a] {
            let scope = pa.scope(ctx, false).unwrap();
            for sql in [
                format!("select * from {}", table(&pb)),
                format!("select count(*) from {}", table(&pb)),
                format!("update {} set total = 1", table(&pb)),
                format!("delete from {}", table(&pb)),
                format!("select count(*) from {}.{}", schema, "api_keys"),
                format!("select count(*) from {}.{}", schema, "projects"),
            ] {
                let err = pa.db().transaction(&scope, vec![Stmt::raw(sql.clone())]).await.unwrap_err();
                assert_eq!(err.sqlstate(), Some("42501"), "{sql}: {err}");
            }
            // The other project's context cannot be used with this project's handle.
            assert!(pb.scope(ctx, true).is_err());
        }
        // Within A: service sees all 50, anon none (policy owner_id = auth.uid).
        let count = |ctx: &easbase_core::context::RequestContext| {
            let scope = pa.scope(ctx, true).unwrap();
            let db = pa.db().clone();
            let sql = format!("select count(*)::bigint as n from {}", table(&pa));
            async move { db.transaction(&scope, vec![Stmt::raw(sql)]).await.unwrap()[0].rows[0].int("n").unwrap() }
        };
        assert_eq!(count(&svc_a).await, 50);
        assert_eq!(count(&anon_a).await, 0);
        assert_eq!(
            platform
                .db()
                .query(Stmt::raw(format!("select count(*)::bigint as n from {}", table(&pb))))
                .await
                .unwrap()[0]
                .int("n")
                .unwrap(),
            50,
            "B's rows are untouched"
        );
        pg_cleanup(&platform, &schema).await;
    }

    #[tokio::test]
    async fn postgres_lifecycle_and_failure_cleanup() {
        let (platform, schema) = pg_platform().await;
        let created = platform.create_project("o", "Shop", with_schema()).await.unwrap();
        let id = created.project.id.clone();
        let pdb = platform.project_db(&id).await.unwrap();
        let pg_schema = pdb.pg_schema().unwrap().to_string();
        let exists = |sql: String| {
            let db = platform.db().clone();
            async move { db.query(Stmt::raw(sql)).await.unwrap()[0].int("n").unwrap() }
        };
        assert_eq!(
            exists(format!("select count(*)::bigint as n from pg_namespace where nspname = '{pg_schema}'"))
                .await,
            1
        );
        assert_eq!(
            exists(format!(
                "select count(*)::bigint as n from pg_roles where rolname like '{pg_schema}\\_%'"
            ))
            .await,
            3
        );
        // Request roles own nothing.
        assert_eq!(
            exists(format!(
                "select count(*)::bigint as n from pg_class c join pg_roles r on r.oid = c.relowner where r.rolname like '{pg_schema}\\_%'"
            ))
            .await,
            0
        );
        let mut v2 = shop();
        v2.tables[0].columns.push(serde_json::from_str(r#"{ "name": "note", "type": "text" }"#).unwrap());
        platform.apply_schema(&id, "2", &v2, false).await.unwrap();
        let slug = created.project.slug.clone();
        platform.delete_project(&id, &slug).await.unwrap();
        assert_eq!(
            exists(format!("select count(*)::bigint as n from pg_namespace where nspname = '{pg_schema}'"))
                .await,
            0
        );
        assert_eq!(
            exists(format!(
                "select count(*)::bigint as n from pg_roles where rolname like '{pg_schema}\\_%'"
            ))
            .await,
            0
        );

        // A schema that fails on the engine (not in validation): nothing is left.
        let bad = Schema::from_json(
            r#"{ "tables": [ { "name": "t", "columns": [ { "name": "id", "type": "integer", "primary": true },
                 { "name": "x", "type": "integer", "check": "x > 0", "default": -1, "required": true } ] } ] }"#,
        )
        .unwrap();
        let flaky = platform
            .create_project("o", "Bad", CreateProject { schema: Some(bad), ..Default::default() })
            .await;
        if let Err(Error::Provisioning(_)) = flaky {
            let p = platform.projects(Some("o")).await.unwrap().pop().unwrap();
            let ps = format!("p_{}", p.id);
            assert_eq!(
                exists(format!("select count(*)::bigint as n from pg_namespace where nspname = '{ps}'"))
                    .await,
                0
            );
        }
        pg_cleanup(&platform, &schema).await;
    }
}
