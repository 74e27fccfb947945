//! A project that serves an existing PostgreSQL schema (`CreateProject::adopt`): its
//! tables with their own row-level security, under roles created if missing, the schema
//! description introspected (and refreshed), and nothing of it dropped on delete.
#![cfg(all(feature = "postgres", feature = "sqlite"))]

use easbase_core::Error;
use easbase_core::context::RequestContext;
use easbase_core::db::{Db, PgConfig, SqliteConfig, Stmt};
use easbase_core::project::{AdoptSchema, CreateProject, Isolation, Platform, PlatformConfig, ProjectDb};
use easbase_core::schema::{Ident, Role, Schema};

const ALICE: &str = "a0000000-0000-4000-8000-00000000000a";

fn pg_url() -> String {
    std::env::var("EASBASE_PG_URL").unwrap_or_else(|_| "host=127.0.0.1 user=postgres dbname=postgres".into())
}

async fn ids_as(pdb: &ProjectDb, role: Role, sub: Option<&str>) -> Vec<i64> {
    let mut claims = serde_json::Map::new();
    if let Some(sub) = sub {
        claims.insert("sub".into(), sub.into());
    }
    let ctx = RequestContext::new(pdb.project().clone(), role, claims, None);
    let schema = pdb.pg_schema().unwrap();
    let sql = format!("select id from \"{schema}\".notes order by id");
    let mut results =
        pdb.db().transaction(&pdb.scope(&ctx, true).unwrap(), vec![Stmt::raw(sql)]).await.unwrap();
    results.pop().unwrap().rows.iter().map(|r| r.int("id").unwrap()).collect()
}

async fn count(db: &Db, sql: &str, arg: &str) -> i64 {
    let rows = db.query(Stmt::new(sql, sea_query::Values(vec![arg.to_owned().into()]))).await.unwrap();
    rows[0].cells[0].as_i64().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_adopted_schema_is_served_with_its_own_policies_and_kept_on_delete() {
    let db = Db::connect_postgres(PgConfig::new(pg_url()).pool_size(4))
        .await
        .unwrap_or_else(|e| panic!("cannot reach PostgreSQL at {} ({e})", pg_url()));
    let tag = uuid::Uuid::new_v4().simple().to_string();
    let (schema, platform_schema) = (format!("t_app_{tag}"), format!("t_adoptp_{tag}"));
    let roles = [format!("t_an_{tag}"), format!("t_au_{tag}"), format!("t_sr_{tag}")];
    // A schema made by hand, as for PostgREST: a table, row-level security, policies.
    db.execute_script(&[
        format!("CREATE SCHEMA {schema}"),
        format!(
            "CREATE TABLE {schema}.notes (id int PRIMARY KEY, owner_id uuid, body text NOT NULL, \
             published boolean NOT NULL DEFAULT false)"
        ),
        format!("ALTER TABLE {schema}.notes ENABLE ROW LEVEL SECURITY"),
        format!("CREATE POLICY public_notes ON {schema}.notes FOR SELECT USING (published)"),
        format!(
            "CREATE POLICY own_notes ON {schema}.notes FOR SELECT USING \
             (owner_id = (current_setting('request.jwt.claims', true)::json->>'sub')::uuid)"
        ),
        format!(
            "INSERT INTO {schema}.notes VALUES (1, '{ALICE}', 'public', true), (2, '{ALICE}', 'alice only', false), \
             (3, NULL, 'nobody', false)"
        ),
    ])
    .await
    .unwrap();

    let config = PlatformConfig {
        platform_schema: Ident::new(platform_schema.clone()).unwrap(),
        listen: false,
        ..PlatformConfig::new("http://api.test")
    };
    let platform = Platform::open(db.clone(), config, Vec::new()).await.unwrap();
    let adopt = AdoptSchema {
        schema: schema.clone(),
        anon_role: roles[0].clone(),
        authenticated_role: roles[1].clone(),
        service_role: roles[2].clone(),
    };

    // Refusals: a missing schema (nothing is left behind), a bad name, a schema with it.
    let missing = platform
        .create_project(
            "owner",
            "Missing",
            CreateProject { adopt: Some(AdoptSchema::new(format!("t_none_{tag}"))), ..Default::default() },
        )
        .await
        .unwrap_err();
    assert!(matches!(missing, Error::Provisioning(ref m) if m.contains("no schema")), "{missing:?}");
    for (bad, what) in [
        (AdoptSchema::new("bad name;"), "not a valid name"),
        (AdoptSchema::new("pg_catalog"), "reserved"),
        (AdoptSchema::new(platform_schema.as_str()), "cannot be served"),
    ] {
        let err = platform
            .create_project("owner", "Bad", CreateProject { adopt: Some(bad), ..Default::default() })
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Config(ref m) if m.contains(what)), "{err:?}");
    }
    let with_schema =
        CreateProject { adopt: Some(adopt.clone()), schema: Some(Schema::default()), ..Default::default() };
    assert!(matches!(platform.create_project("owner", "Both", with_schema).await, Err(Error::Config(_))));
    let dedicated =
        CreateProject { adopt: Some(adopt.clone()), isolation: Isolation::Dedicated, ..Default::default() };
    assert!(matches!(platform.create_project("owner", "Both", dedicated).await, Err(Error::Config(_))));

    let created = platform
        .create_project(
            "owner",
            "Adopted",
            CreateProject { adopt: Some(adopt.clone()), ..Default::default() },
        )
        .await
        .unwrap();
    let id = created.project.id.clone();
    let pdb = platform.project_db(&id).await.unwrap();
    assert_eq!(pdb.pg_schema().unwrap().as_str(), schema);
    assert_eq!(pdb.roles().anon.as_str(), roles[0]);
    // The description is the database's own.
    let notes = pdb.schema().unwrap().table("notes").expect("the existing table is described");
    assert!(notes.column("published").is_some());

    // The table's own policies apply to each role.
    assert_eq!(ids_as(&pdb, Role::Anon, None).await, vec![1]);
    assert_eq!(ids_as(&pdb, Role::Authenticated, Some(ALICE)).await, vec![1, 2]);
    assert_eq!(ids_as(&pdb, Role::Service, None).await, vec![1, 2, 3]);
    // Through the request path too: the publishable key acts as the adopted anon role.
    let key = created.keys.unwrap().publishable.secret;
    let ctx = platform.resolve(Some(&key), None, None).await.unwrap();
    assert_eq!(pdb.scope(&ctx, true).unwrap().role.unwrap().as_str(), roles[0]);

    // A table added in the database is seen after a refresh; apply_schema is refused.
    db.execute_script(&[format!("CREATE TABLE {schema}.tags (id int PRIMARY KEY)")]).await.unwrap();
    platform.refresh_schema(&id).await.unwrap();
    let pdb = platform.project_db(&id).await.unwrap();
    assert!(pdb.schema().unwrap().table("tags").is_some());
    let refused = platform.apply_schema(&id, "2", &Schema::default(), false).await.unwrap_err();
    assert!(matches!(refused, Error::Config(ref m) if m.contains("refresh_schema")), "{refused:?}");
    drop(pdb);

    // Deleting the project keeps the schema, its rows and the roles.
    platform.delete_project(&id, &created.project.slug).await.unwrap();
    assert_eq!(count(&db, "select count(*) from pg_namespace where nspname = $1", &schema).await, 1);
    let rows = db.query(Stmt::raw(format!("select count(*) from {schema}.notes"))).await.unwrap();
    assert_eq!(rows[0].cells[0].as_i64(), Some(3));
    for role in &roles {
        assert_eq!(count(&db, "select count(*) from pg_roles where rolname = $1", role).await, 1);
    }

    let mut cleanup =
        vec![format!("DROP SCHEMA {schema} CASCADE"), format!("DROP SCHEMA {platform_schema} CASCADE")];
    for role in &roles {
        cleanup.push(format!("DROP OWNED BY {role}"));
        cleanup.push(format!("DROP ROLE {role}"));
    }
    db.execute_script(&cleanup).await.unwrap();
}

#[tokio::test]
async fn adopting_is_for_postgres() {
    let db = Db::open_sqlite(SqliteConfig::in_memory()).unwrap();
    let platform = Platform::open(db, PlatformConfig::new("http://api.test"), Vec::new()).await.unwrap();
    let err = platform
        .create_project(
            "owner",
            "X",
            CreateProject { adopt: Some(AdoptSchema::new("app")), ..Default::default() },
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Config(ref m) if m.contains("PostgreSQL")), "{err:?}");
}
