//! Cross-process cache invalidation on PostgreSQL (`LISTEN/NOTIFY`) and MariaDB (a polled
//! events table): several platform instances — in this process, and in a second process —
//! share one platform schema; a change made through one is seen by the others at once,
//! although they cached the key or the schema it changes.
//!
//! Waits are bounded polls (a change must be seen within a few seconds; the caches would
//! otherwise serve it for their 60-second TTL), never performance claims.
#![cfg(all(feature = "postgres", feature = "sqlite"))]

#[cfg(feature = "mysql")]
mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use easbase_core::db::{Db, PgConfig};
use easbase_core::project::{CreateProject, CreatedProject, Platform, PlatformConfig};
use easbase_core::schema::{Ident, Schema};
use easbase_core::{Error, Result};

const SHOP: &str = r#"{ "tables": [ { "name": "orders", "columns": [
    { "name": "id", "type": "integer", "primary": true },
    { "name": "owner_id", "type": "uuid" } ],
  "policies": { "select": "owner_id = auth.uid" } } ] }"#;

/// How long a change may take to reach another instance in these tests.
const WITHIN: Duration = Duration::from_secs(5);

fn shop() -> Schema {
    Schema::from_json(SHOP).unwrap()
}

fn shop_v2() -> Schema {
    let mut v2 = shop();
    v2.tables[0].columns.push(serde_json::from_str(r#"{ "name": "note", "type": "text" }"#).unwrap());
    v2
}

fn pg_url() -> String {
    std::env::var("EASBASE_PG_URL").unwrap_or_else(|_| "host=127.0.0.1 user=postgres dbname=postgres".into())
}

/// A platform instance on `schema` (as another process would open it).
async fn instance(schema: &str, listen: bool) -> Platform {
    let db = Db::connect_postgres(PgConfig::new(pg_url()).pool_size(4)).await.unwrap_or_else(|e| {
        panic!(
            "cannot reach PostgreSQL at {} ({e}); start it: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start",
            pg_url()
        )
    });
    let mut config = PlatformConfig::new("http://api.test");
    config.platform_schema = Ident::new(schema).unwrap();
    config.listen = listen;
    Platform::open(db, config, Vec::new()).await.unwrap()
}

/// Polls `check` until it holds, for at most [`WITHIN`].
async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while !check().await {
        assert!(start.elapsed() < WITHIN, "not seen within {WITHIN:?}: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn listening(platform: &Platform) {
    eventually("the listener connects", || async { platform.is_listening() }).await;
}

async fn cleanup(platform: &Platform, schema: &str) {
    for p in platform.projects(None).await.unwrap() {
        platform.delete_project(&p.id, &p.slug).await.unwrap();
    }
    platform.db().execute_script(&[format!("DROP SCHEMA {schema} CASCADE")]).await.unwrap();
}

fn is_paused(r: Result<easbase_core::context::RequestContext>) -> bool {
    matches!(r, Err(Error::ProjectPaused))
}

fn is_refused(r: Result<easbase_core::context::RequestContext>) -> bool {
    matches!(r, Err(Error::InvalidApiKey))
}

async fn has_note(platform: &Platform, created: &CreatedProject) -> bool {
    let pdb = platform.project_db(&created.project.id).await.unwrap();
    pdb.schema().unwrap().table("orders").unwrap().column("note").is_some()
}

/// A change made through `a` is seen by `b` although `b` cached what it changes, while
/// `deaf` (which does not listen) keeps serving its cache.
async fn changes_reach_the_other_instance(a: &Platform, b: &Platform, deaf: &Platform) {
    let created = a
        .create_project("o", "Shop", CreateProject { schema: Some(shop()), ..Default::default() })
        .await
        .unwrap();
    let id = created.project.id.clone();
    let keys = created.keys.clone().unwrap();
    let (pk, sk) = (keys.publishable.secret.clone(), keys.secret.secret.clone());
    // B and the control cache the keys and the project's schema.
    for p in [b, deaf] {
        p.resolve(Some(&pk), None, None).await.unwrap();
        p.resolve(Some(&sk), None, None).await.unwrap();
        assert!(!has_note(p, &created).await);
    }

    // Paused in A: refused by B, while the deaf instance still serves its cached state.
    a.pause_project(&id).await.unwrap();
    eventually("B refuses a paused project's key", || async {
        is_paused(b.resolve(Some(&pk), None, None).await)
    })
    .await;
    deaf.resolve(Some(&pk), None, None).await.expect("the control serves its cache (the TTL has not passed)");
    a.resume_project(&id).await.unwrap();
    eventually("B accepts a resumed project's key", || async {
        b.resolve(Some(&pk), None, None).await.is_ok()
    })
    .await;

    // Revoked in A: refused by B.
    a.revoke_key(&id, &keys.publishable.id).await.unwrap();
    eventually("B refuses a revoked key", || async { is_refused(b.resolve(Some(&pk), None, None).await) })
        .await;
    deaf.resolve(Some(&pk), None, None).await.expect("the control still serves its cache");

    // Rotated in A without grace: B refuses the old key and accepts the new one.
    let new = a.rotate_key(&id, &keys.secret.id, Duration::ZERO).await.unwrap();
    eventually("B refuses a rotated key", || async { is_refused(b.resolve(Some(&sk), None, None).await) })
        .await;
    b.resolve(Some(&new.secret), None, None).await.unwrap();

    // Schema applied in A: B's handle shows the new column (reloaded on its own pool).
    a.apply_schema(&id, "2", &shop_v2(), false).await.unwrap();
    eventually("B sees the new column", || has_note(b, &created)).await;
    assert!(!has_note(deaf, &created).await, "the control keeps its cached schema");

    // Deleted in A: B refuses its keys and forgets its handle.
    a.delete_project(&id, &created.project.slug).await.unwrap();
    eventually("B refuses a deleted project's key", || async {
        b.resolve(Some(&new.secret), None, None).await.is_err()
    })
    .await;
    eventually("B forgets the deleted project's handle", || async { b.open_databases() == 0 }).await;
    assert!(matches!(b.project_db(&id).await.unwrap_err(), Error::ProjectNotFound(_)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_in_one_instance_reach_the_others() {
    let schema = format!("t_platform_{}", uuid::Uuid::new_v4().simple());
    let a = instance(&schema, true).await;
    let b = instance(&schema, true).await;
    // A control instance that does not listen: it keeps serving its cache.
    let deaf = instance(&schema, false).await;
    listening(&a).await;
    listening(&b).await;
    changes_reach_the_other_instance(&a, &b, &deaf).await;

    // Dropping a platform stops its listener (its session ends).
    assert_eq!(listeners(&deaf, &schema).await, 2, "A and B listen");
    drop(b);
    eventually("B's listener stops when B is dropped", || async { listeners(&deaf, &schema).await == 1 })
        .await;
    cleanup(&a, &schema).await;
}

/// MariaDB has no `NOTIFY`: the same changes travel through the `platform_events` table,
/// polled by every instance.
#[cfg(feature = "mysql")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_reach_the_others_on_mysql() {
    let (first, name) = common::mysql_database(4).await;
    let url = format!("{}/{name}", common::mysql_url().trim_end_matches('/'));
    let instance = |db: Db, listen: bool| async move {
        let mut config = PlatformConfig::new("http://api.test");
        config.listen = listen;
        config.event_poll_interval = Duration::from_millis(50);
        Platform::open(db, config, Vec::new()).await.unwrap()
    };
    let connect = || async { Db::connect_mysql(easbase_core::db::MyConfig::new(url.clone())).await.unwrap() };
    let a = instance(first, true).await;
    let b = instance(connect().await, true).await;
    let deaf = instance(connect().await, false).await;
    listening(&a).await;
    listening(&b).await;
    assert!(!deaf.is_listening());
    changes_reach_the_other_instance(&a, &b, &deaf).await;
    let ids: Vec<String> = a.projects(None).await.unwrap().into_iter().map(|p| p.id.to_string()).collect();
    common::drop_mysql_database(&name, &ids).await;
}

/// The sessions listening on `schema`'s channel.
async fn listeners(platform: &Platform, schema: &str) -> i64 {
    let sql = format!(
        "select count(*)::bigint as n from pg_stat_activity where query like 'LISTEN %{schema}_events%'"
    );
    platform.db().query(easbase_core::db::Stmt::raw(sql)).await.unwrap()[0].int("n").unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_listener_reconnects_and_catches_up() {
    let schema = format!("t_platform_{}", uuid::Uuid::new_v4().simple());
    let a = instance(&schema, false).await;
    let b = instance(&schema, true).await;
    listening(&b).await;
    let created = a.create_project("o", "Shop", CreateProject::default()).await.unwrap();
    let pk = created.keys.clone().unwrap().publishable.secret;
    b.resolve(Some(&pk), None, None).await.unwrap();

    // B's listening session is killed; the pause is made while it is away, so its notice
    // is lost: B must clear its caches once it listens again.
    let kill = format!(
        "select count(pg_terminate_backend(pid))::bigint as n from pg_stat_activity where query like 'LISTEN %{schema}_events%'"
    );
    assert_eq!(a.db().query(easbase_core::db::Stmt::raw(kill)).await.unwrap()[0].int("n").unwrap(), 1);
    a.pause_project(&created.project.id).await.unwrap();
    eventually("B refuses the key of a project paused while it was not listening", || async {
        is_paused(b.resolve(Some(&pk), None, None).await)
    })
    .await;
    listening(&b).await;
    assert_eq!(listeners(&a, &schema).await, 1, "B listens again");
    cleanup(&a, &schema).await;
}

#[tokio::test]
async fn sqlite_platforms_need_no_listener() {
    // One process owns a SQLite platform: `listen` is a no-op and nothing is sent.
    let db = Db::open_sqlite(easbase_core::db::SqliteConfig::in_memory()).unwrap();
    let platform = Platform::open(db, PlatformConfig::new("http://api.test"), Vec::new()).await.unwrap();
    platform.listen().unwrap();
    assert!(!platform.is_listening());
    let created = platform.create_project("o", "Shop", CreateProject::default()).await.unwrap();
    let pk = created.keys.unwrap().publishable;
    platform.resolve(Some(&pk.secret), None, None).await.unwrap();
    platform.revoke_key(&created.project.id, &pk.id).await.unwrap();
    assert!(is_refused(platform.resolve(Some(&pk.secret), None, None).await));
}

// ---- a real second process --------------------------------------------------------------

const CHILD_ENV: &str = "EASBASE_INVALIDATION_CHILD";

/// The second process: this test binary run again with [`CHILD_ENV`] set to
/// `<platform schema> <project id> <publishable key>`. It opens its own platform
/// instance, caches the key and the schema, then reports what it sees on stdout. Without
/// the variable (a normal test run) it does nothing.
#[test]
fn child_process() {
    let Ok(args) = std::env::var(CHILD_ENV) else { return };
    let args: Vec<&str> = args.split(' ').collect();
    let [schema, id, key] = args[..] else { panic!("bad {CHILD_ENV}") };
    let id = easbase_core::context::ProjectId::new(id).unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(async {
        let platform = instance(schema, true).await;
        listening(&platform).await;
        platform.resolve(Some(key), None, None).await.unwrap();
        let schema = platform.project_db(&id).await.unwrap().schema().cloned().unwrap();
        assert!(schema.table("orders").unwrap().column("note").is_none());
        println!("CHILD ready");
        let start = Instant::now();
        while !is_paused(platform.resolve(Some(key), None, None).await) {
            assert!(start.elapsed() < WITHIN * 4, "the pause never reached the child");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        println!("CHILD paused-seen");
        let start = Instant::now();
        loop {
            let pdb = platform.project_db(&id).await.unwrap();
            if pdb.schema().unwrap().table("orders").unwrap().column("note").is_some() {
                break;
            }
            assert!(start.elapsed() < WITHIN * 4, "the schema never reached the child");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        println!("CHILD schema-seen");
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_reach_another_process() {
    let schema = format!("t_platform_{}", uuid::Uuid::new_v4().simple());
    let a = instance(&schema, true).await;
    let created = a
        .create_project("o", "Shop", CreateProject { schema: Some(shop()), ..Default::default() })
        .await
        .unwrap();
    let id = created.project.id.clone();
    let pk = created.keys.clone().unwrap().publishable.secret;

    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["child_process", "--exact", "--nocapture", "--test-threads", "1"])
        .env(CHILD_ENV, format!("{schema} {id} {pk}"))
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        // libtest may print `test child_process ... ` on the same line first.
        for line in BufReader::new(stdout).lines().map_while(std::result::Result::ok) {
            if let Some(at) = line.find("CHILD ")
                && tx.send(line[at..].to_owned()).is_err()
            {
                return;
            }
        }
    });
    // The child may take a while to start (it is a whole test binary); its waits are
    // bounded, and so are these.
    let expect = |what: &str| {
        let line = lines.recv_timeout(Duration::from_secs(60));
        assert_eq!(
            line.as_deref(),
            Ok(format!("CHILD {what}").as_str()),
            "the child did not report `{what}`"
        );
    };
    expect("ready");
    a.pause_project(&id).await.unwrap();
    expect("paused-seen");
    a.resume_project(&id).await.unwrap();
    a.apply_schema(&id, "2", &shop_v2(), false).await.unwrap();
    expect("schema-seen");
    let status = child.wait().unwrap();
    assert!(status.success(), "the child failed: {status}");
    cleanup(&a, &schema).await;
}
