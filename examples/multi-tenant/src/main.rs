//! A multi-tenant platform: several projects on one platform database, each reached only
//! with its own keys.
//!
//! ```text
//! cargo run -p example-multi-tenant                       # SQLite: a file per project in a temp folder
//! DATABASE_URL=postgres://postgres@127.0.0.1/postgres \
//!   cargo run -p example-multi-tenant --features postgres # PostgreSQL: a schema or a database per project
//! ```
//!
//! 1. Three tenants: `acme` and `globex` with `Shared` isolation, `initech` with
//!    `Dedicated` isolation (on PostgreSQL a schema of the platform database vs a database
//!    of its own; on SQLite every project is its own file).
//! 2. Each tenant writes its own rows; each key reads only its own project's rows, and a
//!    user's token from one tenant is refused by another.
//! 3. Key rotation with a grace period: the old secret key keeps working for the grace,
//!    then is refused while the new one works; a revoked key is refused at once.
//! 4. Everything is deleted again (files, schemas, roles, databases).
//!
//! It exits 0 when every expectation holds, 1 otherwise.

use std::process::ExitCode;
use std::time::Duration;

use easbase_cli::client::Client;
use easbase_cli::database::{self, DatabaseUrl};
use easbase_cli::host::{self, Running, Services};
use easbase_core::keys::KeyKind;
use easbase_core::project::{CreateProject, Isolation, Platform, Project};
use easbase_core::schema::Schema;
use serde_json::json;

/// Every tenant's schema: documents its users own.
const SCHEMA: &str = r#"{ "tables": [ { "name": "documents", "columns": [
    { "name": "id", "type": "identity", "primary": true },
    { "name": "owner_id", "type": "uuid", "default": "auth.uid" },
    { "name": "title", "type": "text", "required": true } ],
  "policies": { "select": "owner_id = auth.uid", "insert": "owner_id = auth.uid",
                "update": "owner_id = auth.uid", "delete": "owner_id = auth.uid" } } ] }"#;

/// How long a rotated key keeps working here (short, for the demo).
const GRACE: Duration = Duration::from_secs(2);

type Failure = Box<dyn std::error::Error>;

fn check(holds: bool, what: &str) -> Result<(), Failure> {
    if !holds {
        return Err(format!("expectation failed: {what}").into());
    }
    println!("   ✓ {what}");
    Ok(())
}

/// One tenant: its project and keys.
struct Tenant {
    project: Project,
    publishable: String,
    secret: String,
}

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("\nmulti-tenant failed: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), Failure> {
    let folder = tempfile::tempdir()?;
    let (url, platform_schema) = match std::env::var("DATABASE_URL") {
        Ok(u) if u.starts_with("postgres://") || u.starts_with("postgresql://") => {
            (u.parse::<DatabaseUrl>()?, Some(format!("mt_{}", uuid::Uuid::new_v4().simple())))
        }
        _ => (DatabaseUrl::SqliteFile(folder.path().join("platform.db")), None),
    };
    let (listener, base_url) = host::bind("127.0.0.1:0".parse()?).await?;
    let platform = database::open_platform(&url, &base_url, platform_schema.as_deref()).await?;
    let running =
        Running::spawn(listener, host::router(Services::new(&platform, host::dev_auth_config(false))?));
    let client = Client::new(&base_url);
    println!("A platform on {url} serving every tenant at {base_url}");

    let result = tenants(&platform, &client).await;
    running.stop().await?;
    if let Some(schema) = platform_schema {
        // The projects are gone; the platform's own tables go too.
        platform.db().execute_script(&[format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE")]).await?;
    }
    result
}

async fn tenants(platform: &Platform, client: &Client) -> Result<(), Failure> {
    println!("\n1. Three tenants");
    let mut tenants = Vec::new();
    for (name, isolation) in
        [("acme", Isolation::Shared), ("globex", Isolation::Shared), ("initech", Isolation::Dedicated)]
    {
        let options =
            CreateProject { schema: Some(Schema::from_json(SCHEMA)?), isolation, ..Default::default() };
        let created = platform.create_project(&format!("owner-{name}"), name, options).await?;
        let keys = created.keys.ok_or("a new project shows its keys")?;
        let where_ = match (platform.db().dialect(), isolation) {
            (easbase_core::schema::Dialect::Postgres, Isolation::Shared) => {
                format!("schema p_{} of the platform database", created.project.id)
            }
            (easbase_core::schema::Dialect::Postgres, _) => {
                format!("database p_{} of its own", created.project.id)
            }
            _ => format!("its own file {}.sqlite", created.project.id),
        };
        println!("   {name:<8} {:<9} → {where_}", isolation.as_str());
        tenants.push(Tenant {
            project: created.project,
            publishable: keys.publishable.secret,
            secret: keys.secret.secret,
        });
    }

    println!("\n2. Each key reaches its own tenant's rows only");
    let mut tokens = Vec::new();
    for t in &tenants {
        let name = &t.project.name;
        let body = json!({ "email": format!("admin@{name}.example"), "password": "correct horse battery" });
        let session =
            client.post("/auth/v1/signup").apikey(&t.publishable).json(&body).send().await?.expect(&[200])?;
        let token = session["access_token"].as_str().ok_or("a session")?.to_owned();
        for title in ["roadmap", "payroll"] {
            client
                .post("/rest/v1/documents")
                .apikey(&t.publishable)
                .bearer(&token)
                .json(&json!({ "title": format!("{name} {title}") }))
                .send()
                .await?
                .expect(&[201])?;
        }
        tokens.push(token);
    }
    for (i, t) in tenants.iter().enumerate() {
        let name = &t.project.name;
        let rows = client
            .get("/rest/v1/documents?select=title&order=id")
            .apikey(&t.secret)
            .send()
            .await?
            .expect(&[200])?;
        let titles: Vec<&str> =
            rows.as_array().into_iter().flatten().filter_map(|r| r["title"].as_str()).collect();
        check(
            titles == [format!("{name} roadmap"), format!("{name} payroll")],
            &format!("{name}'s secret key reads {name}'s 2 documents and nothing else: {titles:?}"),
        )?;
        let other = &tenants[(i + 1) % tenants.len()];
        let res =
            client.get("/rest/v1/documents").apikey(&other.publishable).bearer(&tokens[i]).send().await?;
        check(
            res.status == 401,
            &format!(
                "{name}'s user token is refused by {} (401 {})",
                other.project.name,
                res.json()?["message"]
            ),
        )?;
    }

    println!("\n3. Key rotation with a grace period of {} s", GRACE.as_secs());
    let acme = &tenants[0];
    let secret_id = platform
        .keys(&acme.project.id)
        .await?
        .into_iter()
        .find(|k| k.kind == KeyKind::Secret && !k.revoked)
        .ok_or("acme has a secret key")?
        .id;
    let new = platform.rotate_key(&acme.project.id, &secret_id, GRACE).await?;
    println!("   acme's secret key {secret_id} rotated: new key {}", new.id);
    let status = |key: String| async move {
        Ok::<u16, Failure>(client.get("/rest/v1/documents?select=id").apikey(&key).send().await?.status)
    };
    check(status(acme.secret.clone()).await? == 200, "during the grace period the old key still works")?;
    check(status(new.secret.clone()).await? == 200, "and so does the new one")?;
    tokio::time::sleep(GRACE + Duration::from_millis(500)).await;
    check(status(acme.secret.clone()).await? == 401, "after the grace period the old key is refused (401)")?;
    check(status(new.secret.clone()).await? == 200, "the new key works")?;
    let globex = &tenants[1];
    let publishable_id = platform
        .keys(&globex.project.id)
        .await?
        .into_iter()
        .find(|k| k.kind == KeyKind::Publishable)
        .ok_or("globex has a publishable key")?
        .id;
    platform.revoke_key(&globex.project.id, &publishable_id).await?;
    check(
        status(globex.publishable.clone()).await? == 401,
        "globex's revoked publishable key is refused at once",
    )?;
    check(status(globex.secret.clone()).await? == 200, "globex's secret key is untouched")?;
    check(status(tenants[2].publishable.clone()).await? == 200, "initech is unaffected")?;

    println!("\n4. Deleting the tenants");
    for t in &tenants {
        platform.delete_project(&t.project.id, &t.project.slug).await?;
        println!("   deleted {} ({})", t.project.name, t.project.isolation.as_str());
    }
    check(platform.projects(None).await?.is_empty(), "no project is left")?;
    check(status(tenants[2].secret.clone()).await? == 401, "a deleted tenant's keys are refused")?;
    println!("\nDone: tenants stayed apart, rotation and revocation behaved.");
    Ok(())
}
