//! Idempotent `create_project` across processes: several platform handles (each its own
//! pool, as separate processes would have) on one platform database retry one
//! idempotency key at the same moment: one project is made and provisioned once, one
//! caller gets its keys, the others get it without keys, and it ends `ready`.
#![cfg(all(feature = "postgres", feature = "sqlite"))]

#[cfg(feature = "mysql")]
mod common;

use std::collections::HashSet;

use easbase_core::db::{Db, PgConfig};
use easbase_core::project::{CreateProject, CreatedProject, Platform, PlatformConfig, ProjectStatus};
use easbase_core::schema::{Ident, Schema};

const SHOP: &str = r#"{ "tables": [
  { "name": "orders", "columns": [ { "name": "id", "type": "integer", "primary": true },
                                   { "name": "note", "type": "text" } ] },
  { "name": "items", "columns": [ { "name": "id", "type": "integer", "primary": true } ] } ] }"#;

fn options() -> CreateProject {
    CreateProject {
        schema: Some(Schema::from_json(SHOP).unwrap()),
        idempotency_key: Some("checkout-42".into()),
        ..CreateProject::default()
    }
}

/// Every handle calls `create_project` `per_handle` times at once; checks the outcome.
async fn one_project_from_concurrent_retries(handles: &[Platform], per_handle: usize) -> CreatedProject {
    let mut tasks = Vec::new();
    for platform in handles {
        for _ in 0..per_handle {
            let platform = platform.clone();
            tasks.push(tokio::spawn(
                async move { platform.create_project("owner-1", "Shop", options()).await },
            ));
        }
    }
    let mut results = Vec::new();
    for t in tasks {
        results.push(t.await.unwrap().unwrap_or_else(|e| panic!("a concurrent retry failed: {e:?}")));
    }
    let ids: HashSet<_> = results.iter().map(|r| r.project.id.clone()).collect();
    assert_eq!(ids.len(), 1, "one project for one idempotency key");
    let with_keys: Vec<_> = results.iter().filter(|r| r.keys.is_some()).collect();
    assert_eq!(with_keys.len(), 1, "exactly one caller provisions it and sees its keys");
    for r in &results {
        assert!(matches!(r.project.status, ProjectStatus::Ready | ProjectStatus::Provisioning), "{r:?}");
    }
    let winner = (*with_keys[0]).clone();
    assert_eq!(winner.project.status, ProjectStatus::Ready);
    for platform in handles {
        let mine = platform.projects(Some("owner-1")).await.unwrap();
        assert_eq!(mine.len(), 1);
        assert_eq!(mine[0].status, ProjectStatus::Ready);
        // Provisioned once: the schema is there, and its keys work everywhere.
        let key = &winner.keys.as_ref().unwrap().secret.secret;
        platform.resolve(Some(key), None, None).await.unwrap();
        let pdb = platform.project_db(&winner.project.id).await.unwrap();
        assert!(pdb.schema().unwrap().table("orders").is_some());
    }
    // Later retries return it without keys.
    let again = handles[0].create_project("owner-1", "Shop", options()).await.unwrap();
    assert_eq!((again.project.id, again.keys.is_none()), (winner.project.id.clone(), true));
    winner
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_retries_across_processes_make_one_project_on_postgres() {
    let url = std::env::var("EASBASE_PG_URL")
        .unwrap_or_else(|_| "host=127.0.0.1 user=postgres dbname=postgres".into());
    let schema = format!("t_idem_{}", uuid::Uuid::new_v4().simple());
    let mut handles = Vec::new();
    for _ in 0..3 {
        let db = Db::connect_postgres(PgConfig::new(url.clone()).pool_size(3))
            .await
            .unwrap_or_else(|e| panic!("cannot reach PostgreSQL at {url} ({e})"));
        let config = PlatformConfig {
            platform_schema: Ident::new(schema.clone()).unwrap(),
            listen: false,
            ..PlatformConfig::new("http://api.test")
        };
        handles.push(Platform::open(db, config, Vec::new()).await.unwrap());
    }
    let winner = one_project_from_concurrent_retries(&handles, 2).await;
    handles[0].delete_project(&winner.project.id, &winner.project.slug).await.unwrap();
    handles[0].db().execute_script(&[format!("DROP SCHEMA {schema} CASCADE")]).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_claim_of_a_dead_process_is_resumed() {
    let url = std::env::var("EASBASE_PG_URL")
        .unwrap_or_else(|_| "host=127.0.0.1 user=postgres dbname=postgres".into());
    let schema = format!("t_idem_{}", uuid::Uuid::new_v4().simple());
    let db = Db::connect_postgres(PgConfig::new(url.clone()).pool_size(3)).await.unwrap();
    let config = PlatformConfig {
        platform_schema: Ident::new(schema.clone()).unwrap(),
        listen: false,
        ..PlatformConfig::new("http://api.test")
    };
    let platform = Platform::open(db.clone(), config, Vec::new()).await.unwrap();
    let created = platform.create_project("owner-1", "Shop", options()).await.unwrap();
    // As if a process had died while provisioning it, holding a claim.
    let id = created.project.id.as_str();
    let claim = |until: &str| {
        format!(
            "UPDATE {schema}.projects SET status = 'provisioning', lease_owner = 'dead-process', \
             lease_until = {until} WHERE id = '{id}'"
        )
    };
    db.execute_script(&[claim("extract(epoch from now())::bigint + 600")]).await.unwrap();
    let retry = platform.create_project("owner-1", "Shop", options()).await.unwrap();
    assert_eq!((retry.project.status, retry.keys.is_none()), (ProjectStatus::Provisioning, true));
    // The claim expires: the next retry resumes and finishes it.
    db.execute_script(&[claim("extract(epoch from now())::bigint - 10")]).await.unwrap();
    let resumed = platform.create_project("owner-1", "Shop", options()).await.unwrap();
    assert_eq!(resumed.project.status, ProjectStatus::Ready);
    assert!(resumed.keys.is_some());
    platform.delete_project(&created.project.id, &created.project.slug).await.unwrap();
    db.execute_script(&[format!("DROP SCHEMA {schema} CASCADE")]).await.unwrap();
}

#[cfg(feature = "mysql")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_retries_across_processes_make_one_project_on_mariadb() {
    let (db, name) = common::mysql_database(3).await;
    let mut handles =
        vec![Platform::open(db, PlatformConfig::new("http://api.test"), Vec::new()).await.unwrap()];
    // A second "process": its own pool on the same platform database.
    let url = format!("{}/{name}", common::mysql_url().trim_end_matches('/'));
    let db2 = Db::connect_mysql(easbase_core::db::MyConfig::new(url).pool_size(3)).await.unwrap();
    handles.push(Platform::open(db2, PlatformConfig::new("http://api.test"), Vec::new()).await.unwrap());
    let winner = one_project_from_concurrent_retries(&handles, 2).await;
    handles[0].delete_project(&winner.project.id, &winner.project.slug).await.unwrap();
    common::drop_mysql_database(&name, &[]).await;
}
