//! The quickstart: the seed's user journey, start to finish, on an embedded SQLite
//! database, with no server to start beforehand.
//!
//! ```text
//! cargo run -p example-quickstart              # the journey; exits 0 when every check holds
//! cargo run -p example-quickstart -- --sql     # … and the generated SQL
//! cargo run -p example-quickstart -- --serve   # … then keep serving until Ctrl-C (prints a curl line)
//! ```
//!
//! 1. A platform user signs up: platform accounts are the users of the platform's own
//!    console project, signed up over `POST /auth/v1/signup` ([`console`]).
//! 2. With their console token they create the project "My E-commerce Backend".
//! 3. Its schema (`ecommerce.json`): `customers`, `products`, `orders` with foreign
//!    keys, checks and policies (a user sees and changes only their own orders and
//!    customer row; anyone reads products; only the secret key writes them).
//! 4. Email + password auth is on (auto-confirmed: the quickstart has no mailer).
//! 5. The API URL, endpoints and keys (the secret key shown in full once, then masked).
//! 6. An app integrates over real HTTP against the host this program started on
//!    127.0.0.1 (REST at `/rest/v1`, auth at `/auth/v1`): sign-up, sign-in, create, read,
//!    update, delete; a second user can neither see nor change the first one's orders
//!    ([`integrate`]).
//!
//! Any expectation that does not hold stops it with exit status 1; a bad argument is 2.

mod console;
mod integrate;
mod report;

use std::net::SocketAddr;
use std::process::ExitCode;

use easbase_cli::client::Client;
use easbase_cli::database::{self, DatabaseUrl};
use easbase_cli::host::{self, Running, Services};
use easbase_core::schema::{Dialect, FkAction, Operation, Role, Schema, ValidSchema, ddl};

use report::{Failure, expect, line, mask, step};

const SCHEMA: &str = include_str!("../ecommerce.json");
const PROJECT: &str = "My E-commerce Backend";

const USAGE: &str = "usage: example-quickstart [--sql] [--serve] [--listen ADDR]

  --sql           also print the generated SQL (SQLite, which runs here, and PostgreSQL with RLS)
  --serve         keep serving after the journey until Ctrl-C (prints a curl line)
  --listen ADDR   where the host listens (default 127.0.0.1:0, a free port)";

struct Args {
    sql: bool,
    serve: bool,
    listen: SocketAddr,
}

fn args() -> Result<Args, String> {
    let mut args = Args { sql: false, serve: false, listen: SocketAddr::from(([127, 0, 0, 1], 0)) };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--sql" => args.sql = true,
            "--serve" => args.serve = true,
            "--listen" => {
                let v = it.next().ok_or_else(|| format!("--listen needs an address\n\n{USAGE}"))?;
                args.listen = v.parse().map_err(|e| format!("--listen {v}: {e}\n\n{USAGE}"))?;
            }
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument `{other}`\n\n{USAGE}")),
        }
    }
    Ok(args)
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = match args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    match journey(&args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("\nquickstart failed: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn journey(args: &Args) -> Result<(), Failure> {
    println!("EasBase quickstart: an e-commerce backend, from sign-up to HTTP requests");
    println!("(an embedded SQLite database in memory; the host runs inside this program)");

    let (listener, url) = host::bind(args.listen).await?;
    let platform = database::open_platform(&DatabaseUrl::SqliteMemory, &url, None).await?;
    let services = Services::new(&platform, host::dev_auth_config(false))?;
    let running = Running::spawn(listener, host::router(services));
    let client = Client::new(&url);

    step(1, "A platform user signs up");
    let console = console::Console::open(&platform, &client).await?;
    let founder = console.sign_up("founder@shop.example", "founder-long-passphrase").await?;
    line(format!("signed up {} (platform account {})", founder.email, founder.id));
    let founder = console.sign_in(&founder.email, "founder-long-passphrase").await?;
    line("signed in to the console: an access token for the platform API");

    step(2, "They create a project");
    let schema = Schema::from_json(SCHEMA)?;
    let valid = schema.validate()?;
    let created = console.create_project(&founder.access_token, PROJECT, schema).await?;
    let project = &created.project;
    expect(project.owner == founder.id, "the project belongs to the account that created it")?;
    line(format!(
        "\"{}\" is {} (id {}, slug {})",
        project.name,
        project.status.as_str(),
        project.id,
        project.slug
    ));
    line(format!("owner: {}", founder.email));

    step(3, "They design its tables (ecommerce.json)");
    describe_tables(&valid);
    if args.sql {
        print_sql(&valid);
    } else {
        line("(run with --sql to see the generated SQL)");
    }

    step(4, "They enable email + password sign-in");
    let keys = created.keys.as_ref().ok_or("a new project shows its keys")?;
    let res = client.get("/auth/v1/settings").apikey(&keys.publishable.secret).send().await?;
    let settings = res.json()?;
    expect(
        res.status == 200 && settings["external"]["email"] == true,
        format!("email sign-in is on: {settings}"),
    )?;
    line(format!(
        "✓ GET /auth/v1/settings → {}: email + password on, sign-up open: {}, confirmed at once: {}",
        res.status,
        settings["disable_signup"] == false,
        settings["mailer_autoconfirm"]
    ));
    line("  (the host's auth settings: the quickstart sends no email, so sign-ups are auto-confirmed)");

    step(5, "The API");
    line(format!("API URL          {url}"));
    line("endpoints        (paths under the API URL; `easbase gen endpoints` lists the same)");
    endpoints(&valid, "/rest/v1");
    line(format!("  {:<10} POST /auth/v1/signup  POST /auth/v1/token?grant_type=password", "auth"));
    line(format!("  {:<10} GET|PUT /auth/v1/user  POST /auth/v1/logout", ""));
    line(format!("publishable key  {}", keys.publishable.secret));
    line("                 for browsers and apps: requests act as `anon`, or as the signed-in user");
    line(format!("secret key       {}", keys.secret.secret));
    line("                 shown in full this once: servers only, it bypasses the policies");

    step(6, "An app integrates over HTTP");
    let api_keys = integrate::Keys { publishable: &keys.publishable.secret, secret: &keys.secret.secret };
    integrate::run(&client, &api_keys).await?;

    println!("\nDone: {} checks passed against {url}.", report::checks());
    if args.serve {
        println!("\nServing until Ctrl-C. Try:");
        println!(
            "  curl '{url}/rest/v1/products?select=name,price' -H 'apikey: {}'",
            keys.publishable.secret
        );
        println!("  (secret key {})", mask(&keys.secret.secret));
        use std::io::Write;
        let _ = std::io::stdout().flush();
        host::shutdown_signal().await;
    }
    running.stop().await?;
    Ok(())
}

/// Each table: its columns, references, checks and what its policies let users do.
fn describe_tables(valid: &ValidSchema) {
    for table in valid.tables() {
        let columns: Vec<&str> = table.columns.iter().map(|c| c.name.as_str()).collect();
        line(format!("{:<10} {}", table.name.as_str(), columns.join(", ")));
        for fk in &table.foreign_keys {
            let cols: Vec<&str> = fk.columns.iter().map(|c| c.as_str()).collect();
            let refs: Vec<&str> = fk.referenced.iter().map(|c| c.as_str()).collect();
            let action = if fk.on_delete == FkAction::Cascade { " (on delete cascade)" } else { "" };
            line(format!(
                "{:<10}   → {} references {}.{}{action}",
                "",
                cols.join(", "),
                fk.table.as_str(),
                refs.join(", ")
            ));
        }
        let checks: Vec<String> = table.checks.iter().map(|c| c.expr.to_string()).collect();
        if !checks.is_empty() {
            line(format!("{:<10}   checks: {}", "", checks.join("; ")));
        }
        for op in Operation::ALL {
            let rules: Vec<String> = table
                .policies_for(op, Role::Authenticated)
                .map(|p| {
                    p.using
                        .as_ref()
                        .or(p.check.as_ref())
                        .map_or_else(|| "true".to_owned(), ToString::to_string)
                })
                .collect();
            let rule = if rules.is_empty() { "false".to_owned() } else { rules.join(" or ") };
            line(format!("{:<10}   {:<6} when {rule}", "", op.as_str()));
        }
    }
    line("(policies bind signed-in users and anonymous visitors; the secret key bypasses them)");
}

/// Each table's endpoints, one line per table: collection, then one row by its key.
fn endpoints(valid: &ValidSchema, base: &str) {
    let listing = easbase_codegen::endpoints::listing(valid, base);
    for table in valid.source().tables.iter().map(|t| t.name.as_str()) {
        let mut by_path: Vec<(String, Vec<&str>)> = Vec::new();
        for e in listing.iter().filter(|e| e.table == table) {
            match by_path.iter_mut().find(|(p, _)| *p == e.path) {
                Some((_, methods)) => methods.push(e.method),
                None => by_path.push((e.path.clone(), vec![e.method])),
            }
        }
        let parts: Vec<String> = by_path.iter().map(|(p, m)| format!("{} {p}", m.join("|"))).collect();
        line(format!("  {table:<10} {}", parts.join("  ")));
    }
}

/// The DDL of the engine the quickstart runs on, and PostgreSQL's (with RLS).
fn print_sql(valid: &ValidSchema) {
    for dialect in [Dialect::Sqlite, Dialect::Postgres] {
        println!("\n-- {dialect}");
        match ddl::generate(valid, dialect, &ddl::DdlOptions::default()) {
            Ok(ddl) => print!("{}", ddl.to_sql()),
            Err(errors) => println!("-- not representable on {dialect}: {errors}"),
        }
    }
}
