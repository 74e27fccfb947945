//! Named schemas (PostgREST's profiles): applied, listed, migrated and dropped on SQLite
//! (in memory and files), PostgreSQL (shared and dedicated) and MariaDB; isolation
//! between projects on PostgreSQL; deleting a project drops them; another platform
//! instance sees a named schema applied by the first.
#![cfg(feature = "sqlite")]

#[cfg(feature = "mysql")]
mod common;

use easbase_core::Error;
use easbase_core::db::{Db, SqliteConfig, Stmt};
use easbase_core::project::{CreateProject, CreatedProject, Platform, PlatformConfig, ProjectDb};
use easbase_core::schema::Schema;

const EVENTS: &str = r#"{ "tables": [ { "name": "events", "columns": [
    { "name": "id", "type": "integer", "primary": true },
    { "name": "owner_id", "type": "uuid" },
    { "name": "kind", "type": "varchar(40)", "required": true } ],
  "policies": { "select": "owner_id = auth.uid", "insert": "owner_id = auth.uid" } } ] }"#;

const SHOP: &str = r#"{ "tables": [ { "name": "orders", "columns": [
    { "name": "id", "type": "integer", "primary": true },
    { "name": "total", "type": "integer", "required": true, "default": 0 } ] } ] }"#;

fn events() -> Schema {
    Schema::from_json(EVENTS).unwrap()
}

fn events_v2() -> Schema {
    let mut v2 = events();
    v2.tables[0].columns.push(serde_json::from_str(r#"{ "name": "note", "type": "text" }"#).unwrap());
    v2
}

fn with_shop() -> CreateProject {
    CreateProject { schema: Some(Schema::from_json(SHOP).unwrap()), ..Default::default() }
}

/// The table `table` of a handle, qualified on PostgreSQL.
fn qualified(pdb: &ProjectDb, table: &str) -> String {
    match pdb.pg_schema() {
        Some(s) => format!("{s}.{table}"),
        None => table.to_owned(),
    }
}

async fn rows_in(pdb: &ProjectDb, table: &str) -> i64 {
    let sql = format!("select count(*) as n from {}", qualified(pdb, table));
    pdb.db().query(Stmt::raw(sql)).await.unwrap()[0].cells[0].as_i64().unwrap()
}

/// What every engine must do: apply, list, open, migrate, refuse, drop, delete.
async fn lifecycle(platform: &Platform) -> CreatedProject {
    let created = platform.create_project("o", "Shop", with_shop()).await.unwrap();
    let id = created.project.id.clone();
    assert!(platform.named_schemas(&id).await.unwrap().is_empty());
    assert_eq!(platform.project_db(&id).await.unwrap().profiles(), ["public"]);

    // Bad names and `public` are refused before anything is made.
    for bad in ["public", "Analytics", "pg_x", "easbase_x", "a-b", "_x", "x234567890123456789012345"] {
        let err = platform.apply_schema_named(&id, bad, "1", &events(), false).await.unwrap_err();
        assert!(matches!(err, Error::InvalidName(_)), "{bad}: {err:?}");
    }
    assert!(matches!(platform.drop_schema_named(&id, "public").await.unwrap_err(), Error::Guard(_)));
    assert!(matches!(platform.project_db_named(&id, "analytics").await.unwrap_err(), Error::Config(_)));
    // An invalid schema makes nothing.
    let broken = Schema::from_json(r#"{ "tables": [ { "name": "t", "columns": [] } ] }"#).unwrap();
    assert!(platform.apply_schema_named(&id, "analytics", "1", &broken, false).await.is_err());
    assert!(platform.named_schemas(&id).await.unwrap().is_empty());

    // Two named schemas, listed by name after `public`.
    let report = platform.apply_schema_named(&id, "zeta", "1", &events(), false).await.unwrap();
    assert!(!report.plan.is_empty());
    platform.apply_schema_named(&id, "analytics", "1", &events(), false).await.unwrap();
    let names: Vec<String> = platform.named_schemas(&id).await.unwrap().into_iter().map(|s| s.name).collect();
    assert_eq!(names, ["analytics", "zeta"]);
    let public = platform.project_db(&id).await.unwrap();
    assert_eq!(public.profiles(), ["public", "analytics", "zeta"]);
    assert_eq!(public.profile(), "public");
    assert!(public.schema().unwrap().table("events").is_none(), "public keeps its own tables");

    // Its own handle: its tables only, the project's id and roles.
    let analytics = platform.project_db_named(&id, "analytics").await.unwrap();
    assert_eq!((analytics.profile(), analytics.project()), ("analytics", &id));
    assert_eq!(analytics.roles(), public.roles());
    let schema = analytics.schema().unwrap();
    assert!(schema.table("events").is_some() && schema.table("orders").is_none());
    assert_eq!(platform.project_db_named(&id, "public").await.unwrap().profile(), "public");
    let insert = format!("insert into {} (id, kind) values (1, 'click')", qualified(&analytics, "events"));
    analytics.db().execute(Stmt::raw(insert)).await.unwrap();
    assert_eq!(rows_in(&analytics, "events").await, 1);
    let zeta = platform.project_db_named(&id, "zeta").await.unwrap();
    assert_eq!(rows_in(&zeta, "events").await, 0, "the same table name in another schema is another table");

    // Migrations: same version again is a no-op, a new version adds the column and keeps
    // the rows, a destructive one needs the opt-in, drift is refused.
    assert!(
        platform.apply_schema_named(&id, "analytics", "1", &events(), false).await.unwrap().already_applied
    );
    platform.apply_schema_named(&id, "analytics", "2", &events_v2(), false).await.unwrap();
    let analytics = platform.project_db_named(&id, "analytics").await.unwrap();
    assert!(analytics.schema().unwrap().table("events").unwrap().column("note").is_some());
    assert_eq!(rows_in(&analytics, "events").await, 1);
    let err = platform.apply_schema_named(&id, "analytics", "3", &events(), false).await.unwrap_err();
    assert_eq!(err.code(), "migration_destructive", "{err}");
    let err = platform.apply_schema_named(&id, "analytics", "1", &events_v2(), false).await.unwrap_err();
    assert!(matches!(err, Error::Schema(_)), "{err:?}");
    let listed = platform.named_schemas(&id).await.unwrap();
    assert_eq!(listed[0].version.as_deref(), Some("2"));
    drop((analytics, zeta, public));

    // Dropped: unlisted, unreachable; applying it again starts empty.
    platform.drop_schema_named(&id, "zeta").await.unwrap();
    assert!(matches!(platform.drop_schema_named(&id, "zeta").await.unwrap_err(), Error::Config(_)));
    assert_eq!(platform.project_db(&id).await.unwrap().profiles(), ["public", "analytics"]);
    assert!(platform.project_db_named(&id, "zeta").await.is_err());
    platform.apply_schema_named(&id, "zeta", "1", &events(), false).await.unwrap();
    let zeta = platform.project_db_named(&id, "zeta").await.unwrap();
    assert_eq!(rows_in(&zeta, "events").await, 0);
    created
}

async fn sqlite_platform(data_dir: Option<std::path::PathBuf>) -> Platform {
    let db = Db::open_sqlite(SqliteConfig::in_memory()).unwrap();
    let mut config = PlatformConfig::new("http://api.test");
    config.data_dir = data_dir;
    Platform::open(db, config, Vec::new()).await.unwrap()
}

#[tokio::test]
async fn sqlite_in_memory_named_schemas() {
    let platform = sqlite_platform(None).await;
    let created = lifecycle(&platform).await;
    let id = created.project.id.clone();
    platform.delete_project(&id, &created.project.slug).await.unwrap();
    assert_eq!(platform.open_databases(), 0, "the project's handles, named ones included, are gone");
    assert!(platform.named_schemas(&id).await.unwrap().is_empty());
}

#[tokio::test]
async fn sqlite_file_named_schemas_are_files_beside_the_projects() {
    let dir = std::env::temp_dir().join(format!("easbase-named-{}", uuid::Uuid::new_v4().simple()));
    let platform = sqlite_platform(Some(dir.clone())).await;
    let created = lifecycle(&platform).await;
    let id = created.project.id.clone();
    let file = dir.join(format!("{id}__analytics.sqlite"));
    assert!(file.exists());
    assert!(!dir.join(format!("{id}__nothing.sqlite")).exists());
    platform.delete_project(&id, &created.project.slug).await.unwrap();
    assert!(!file.exists() && !dir.join(format!("{id}__zeta.sqlite")).exists(), "deleted with the project");
    assert!(!dir.join(format!("{id}.sqlite")).exists());
    let _ = std::fs::remove_dir_all(&dir);
}

// ---- MariaDB / MySQL ------------------------------------------------------------------------

#[cfg(feature = "mysql")]
#[tokio::test]
async fn mysql_named_schemas_are_databases() {
    let (db, name) = common::mysql_database(4).await;
    let platform = Platform::open(db, PlatformConfig::new("http://api.test"), Vec::new()).await.unwrap();
    let created = lifecycle(&platform).await;
    let id = created.project.id.clone();
    let exists = |database: String| {
        let platform = platform.clone();
        async move {
            let sql = Stmt::new(
                "select count(*) from information_schema.schemata where schema_name = ?",
                sea_query::Values(vec![database.into()]),
            );
            platform.db().query(sql).await.unwrap()[0].cells[0].as_i64().unwrap() == 1
        }
    };
    assert!(exists(format!("p_{id}__analytics")).await);
    platform.delete_project(&id, &created.project.slug).await.unwrap();
    assert!(!exists(format!("p_{id}__analytics")).await && !exists(format!("p_{id}__zeta")).await);
    common::drop_mysql_database(&name, &[]).await;
}

/// MariaDB: another instance hears of a named schema through the polled events table.
#[cfg(feature = "mysql")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_another_instance_sees_a_named_schema() {
    use std::time::{Duration, Instant};
    let (first, name) = common::mysql_database(4).await;
    let url = format!("{}/{name}", common::mysql_url().trim_end_matches('/'));
    let instance = |db: Db| async move {
        let mut config = PlatformConfig::new("http://api.test");
        config.event_poll_interval = Duration::from_millis(50);
        Platform::open(db, config, Vec::new()).await.unwrap()
    };
    let a = instance(first).await;
    let b = instance(Db::connect_mysql(easbase_core::db::MyConfig::new(url)).await.unwrap()).await;
    let created = a.create_project("o", "Shop", with_shop()).await.unwrap();
    let id = created.project.id.clone();
    assert_eq!(b.project_db(&id).await.unwrap().profiles(), ["public"]);
    a.apply_schema_named(&id, "analytics", "1", &events(), false).await.unwrap();
    let start = Instant::now();
    while !b.project_db(&id).await.unwrap().has_profile("analytics") {
        assert!(start.elapsed() < Duration::from_secs(5), "B sees the named schema");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let pdb = b.project_db_named(&id, "analytics").await.unwrap();
    assert!(pdb.schema().unwrap().table("events").is_some());
    drop(pdb);
    a.delete_project(&id, &created.project.slug).await.unwrap();
    common::drop_mysql_database(&name, &[]).await;
}

// ---- PostgreSQL -----------------------------------------------------------------------------

#[cfg(feature = "postgres")]
mod postgres {
    use std::time::{Duration, Instant};

    use easbase_core::Result;
    use easbase_core::context::RequestContext;
    use easbase_core::project::Isolation;

    use super::*;

    fn pg_url() -> String {
        std::env::var("EASBASE_PG_URL")
            .unwrap_or_else(|_| "host=127.0.0.1 user=postgres dbname=postgres".into())
    }

    async fn instance(schema: &str, listen: bool) -> Platform {
        use easbase_core::db::PgConfig;
        let db = Db::connect_postgres(PgConfig::new(pg_url()).pool_size(4)).await.unwrap_or_else(|e| {
            panic!("cannot reach PostgreSQL at {} ({e}); start it: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start", pg_url())
        });
        let mut config = PlatformConfig::new("http://api.test");
        config.platform_schema = easbase_core::schema::Ident::new(schema).unwrap();
        config.listen = listen;
        Platform::open(db, config, Vec::new()).await.unwrap()
    }

    fn platform_schema() -> String {
        format!("t_platform_{}", uuid::Uuid::new_v4().simple())
    }

    async fn cleanup(platform: &Platform, schema: &str) {
        for p in platform.projects(None).await.unwrap() {
            platform.delete_project(&p.id, &p.slug).await.unwrap();
        }
        platform.db().execute_script(&[format!("DROP SCHEMA {schema} CASCADE")]).await.unwrap();
    }

    async fn count(db: &Db, sql: String) -> i64 {
        db.query(Stmt::raw(sql)).await.unwrap()[0].cells[0].as_i64().unwrap()
    }

    async fn as_ctx(
        pdb: &ProjectDb,
        ctx: &RequestContext,
        sql: String,
    ) -> Result<Vec<easbase_core::db::StmtResult>> {
        pdb.db().transaction(&pdb.scope(ctx, false)?, vec![Stmt::raw(sql)]).await
    }

    #[tokio::test]
    async fn postgres_named_schemas_are_schemas_with_the_projects_roles() {
        let schema = platform_schema();
        let platform = instance(&schema, false).await;
        let a = lifecycle(&platform).await;
        let id = a.project.id.clone();
        let storage = format!("p_{id}__analytics");
        let nsp = |name: String| format!("select count(*) from pg_namespace where nspname = '{name}'");
        assert_eq!(count(platform.db(), nsp(storage.clone())).await, 1);
        let analytics = platform.project_db_named(&id, "analytics").await.unwrap();
        assert_eq!(analytics.pg_schema().unwrap().as_str(), storage);

        // RLS is forced as in `public`: the owner sees their rows, anon none.
        let keys = a.keys.as_ref().unwrap();
        let service = platform.resolve(Some(&keys.secret.secret), None, None).await.unwrap();
        let anon = platform.resolve(Some(&keys.publishable.secret), None, None).await.unwrap();
        let uid = "a0000000-0000-4000-8000-000000000001";
        let user = RequestContext::new(
            id.clone(),
            easbase_core::schema::Role::Authenticated,
            serde_json::json!({ "sub": uid, "role": "authenticated" }).as_object().unwrap().clone(),
            None,
        );
        as_ctx(
            &analytics,
            &service,
            format!("insert into {storage}.events (id, owner_id, kind) values (10, '{uid}', 'k')"),
        )
        .await
        .unwrap();
        let seen = |ctx: RequestContext| {
            let analytics = analytics.clone();
            let sql = format!("select count(*)::bigint from {storage}.events");
            async move { as_ctx(&analytics, &ctx, sql).await.unwrap()[0].rows[0].cells[0].as_i64().unwrap() }
        };
        assert_eq!(seen(service.clone()).await, 2);
        assert_eq!(seen(user.clone()).await, 1);
        assert_eq!(seen(anon.clone()).await, 0);
        let forced = format!(
            "select count(*) from pg_class c join pg_namespace n on n.oid = c.relnamespace \
             where n.nspname = '{storage}' and c.relname = 'events' and c.relrowsecurity and c.relforcerowsecurity"
        );
        assert_eq!(count(platform.db(), forced).await, 1);

        // Project B's roles reach nothing of A's named schema.
        let b = platform.create_project("o", "B", with_shop()).await.unwrap();
        let pb = platform.project_db(&b.project.id).await.unwrap();
        let b_keys = b.keys.as_ref().unwrap();
        for key in [&b_keys.secret.secret, &b_keys.publishable.secret] {
            let ctx = platform.resolve(Some(key), None, None).await.unwrap();
            for sql in [
                format!("select count(*) from {storage}.events"),
                format!("update {storage}.events set kind = 'x'"),
                format!("delete from {storage}.events"),
            ] {
                let err = as_ctx(&pb, &ctx, sql.clone()).await.unwrap_err();
                assert_eq!(err.sqlstate(), Some("42501"), "{sql}: {err}");
            }
            assert!(analytics.scope(&ctx, true).is_err(), "B's context cannot use A's handle");
        }

        // Deleting the project drops its named schemas.
        drop(analytics);
        platform.delete_project(&id, &a.project.slug).await.unwrap();
        assert_eq!(count(platform.db(), nsp(storage)).await, 0);
        assert_eq!(count(platform.db(), nsp(format!("p_{id}__zeta"))).await, 0);
        cleanup(&platform, &schema).await;
    }

    #[tokio::test]
    async fn postgres_dedicated_named_schemas_live_in_its_database() {
        let schema = platform_schema();
        let platform = instance(&schema, false).await;
        let options = CreateProject { isolation: Isolation::Dedicated, ..with_shop() };
        let created = platform.create_project("o", "Dedicated", options).await.unwrap();
        let id = created.project.id.clone();
        platform.apply_schema_named(&id, "analytics", "1", &events(), false).await.unwrap();
        let analytics = platform.project_db_named(&id, "analytics").await.unwrap();
        let database = analytics.db().query(Stmt::raw("select current_database()::text as d")).await.unwrap();
        assert_eq!(database[0].text("d").unwrap(), format!("p_{id}"));
        let storage = format!("p_{id}__analytics");
        assert_eq!(
            count(analytics.db(), format!("select count(*) from pg_namespace where nspname = '{storage}'"))
                .await,
            1
        );
        assert_eq!(
            count(platform.db(), format!("select count(*) from pg_namespace where nspname = '{storage}'"))
                .await,
            0
        );
        let service =
            platform.resolve(Some(&created.keys.as_ref().unwrap().secret.secret), None, None).await.unwrap();
        as_ctx(&analytics, &service, format!("insert into {storage}.events (id, kind) values (1, 'k')"))
            .await
            .unwrap();
        assert_eq!(rows_in(&analytics, "events").await, 1);
        platform.drop_schema_named(&id, "analytics").await.unwrap();
        assert_eq!(
            count(analytics.db(), format!("select count(*) from pg_namespace where nspname = '{storage}'"))
                .await,
            0
        );
        drop(analytics);
        cleanup(&platform, &schema).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn another_instance_sees_a_named_schema() {
        let schema = platform_schema();
        let a = instance(&schema, true).await;
        let b = instance(&schema, true).await;
        let start = Instant::now();
        while !(a.is_listening() && b.is_listening()) {
            assert!(start.elapsed() < Duration::from_secs(5), "the listeners connect");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let created = a.create_project("o", "Shop", with_shop()).await.unwrap();
        let id = created.project.id.clone();
        // B caches the project's handle (no named schema yet).
        assert_eq!(b.project_db(&id).await.unwrap().profiles(), ["public"]);
        a.apply_schema_named(&id, "analytics", "1", &events(), false).await.unwrap();
        let start = Instant::now();
        while !b.project_db(&id).await.unwrap().has_profile("analytics") {
            assert!(start.elapsed() < Duration::from_secs(5), "B sees the named schema");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let pdb = b.project_db_named(&id, "analytics").await.unwrap();
        assert!(pdb.schema().unwrap().table("events").unwrap().column("note").is_none());
        // A migration and a drop reach B too.
        a.apply_schema_named(&id, "analytics", "2", &events_v2(), false).await.unwrap();
        let start = Instant::now();
        loop {
            let pdb = b.project_db_named(&id, "analytics").await.unwrap();
            if pdb.schema().unwrap().table("events").unwrap().column("note").is_some() {
                break;
            }
            assert!(start.elapsed() < Duration::from_secs(5), "B sees the migration");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        a.drop_schema_named(&id, "analytics").await.unwrap();
        let start = Instant::now();
        while b.project_db_named(&id, "analytics").await.is_ok() {
            assert!(start.elapsed() < Duration::from_secs(5), "B sees the drop");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        drop(pdb);
        cleanup(&a, &schema).await;
    }
}
