//! An actix-web server mounting EasBase's REST service at `/rest/v1` and its auth
//! service at `/auth/v1` **without tower**: each actix request is converted to an
//! `http::Request<Bytes>` and handed to the services' neutral `handle`, and the
//! `http::Response<Bytes>` they answer is converted back. `createClient(url, key)` from
//! `@supabase/supabase-js` works against it as against the axum example.
//!
//! ```text
//! cargo run -p example-actix-server -- --listen 127.0.0.1:8080
//! ```
//!
//! It opens a platform on an in-memory SQLite database, creates one project with the
//! schema given by `--schema` (default: the axum example's `todos` and `profiles`), and
//! prints the same JSON line as the other servers when it is ready:
//!
//! ```text
//! {"url":"http://127.0.0.1:8080","publishable_key":"eb_pk_…","secret_key":"eb_sk_…","jwt_secret":"…","project_id":"…"}
//! ```
//!
//! Browsers may call it from any origin (a permissive CORS answer, written here in a few
//! lines; a real app would use `actix-cors`). It stops on Ctrl-C or SIGTERM.

mod convert;

use std::net::SocketAddr;

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use easbase_cli::database::{self, DatabaseUrl};
use easbase_cli::host::{self, AUTH_PATH, REST_PATH, Ready, Services};
use easbase_core::project::CreateProject;
use easbase_core::schema::Schema;

const DEFAULT_SCHEMA: &str = include_str!("../../axum-server/schema.json");

const USAGE: &str = "usage: example-actix-server [--listen ADDR] [--schema FILE]

  --listen ADDR   where to listen (default 127.0.0.1:8080; port 0 picks a free one)
  --schema FILE   the project's schema (JSON or TOML; default: todos and profiles)";

struct Args {
    listen: SocketAddr,
    schema: Option<String>,
}

fn args() -> Result<Args, String> {
    let mut args = Args { listen: SocketAddr::from(([127, 0, 0, 1], 8080)), schema: None };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().ok_or_else(|| format!("{name} needs a value\n\n{USAGE}"));
        match arg.as_str() {
            "--listen" => {
                let v = value("--listen")?;
                args.listen = v.parse().map_err(|e| format!("--listen {v}: {e}"))?;
            }
            "--schema" => args.schema = Some(value("--schema")?),
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument `{other}`\n\n{USAGE}")),
        }
    }
    Ok(args)
}

/// Every request: CORS preflights, then REST or auth by prefix.
async fn dispatch(req: HttpRequest, body: web::Bytes, services: web::Data<Services>) -> HttpResponse {
    if req.method() == actix_web::http::Method::OPTIONS {
        return convert::preflight(&req);
    }
    let path = req.path().to_owned();
    let (rest, tail) = match (path.strip_prefix(REST_PATH), path.strip_prefix(AUTH_PATH)) {
        (Some(tail), _) => (true, tail),
        (None, Some(tail)) => (false, tail),
        (None, None) => return HttpResponse::NotFound().finish(),
    };
    let request = match convert::to_http(&req, tail, body) {
        Ok(request) => request,
        Err(e) => return HttpResponse::BadRequest().body(format!("malformed request: {e}")),
    };
    let response =
        if rest { services.rest.handle(request).await } else { services.auth.handle(request).await };
    convert::from_http(response, &req)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = args().unwrap_or_else(|e| {
        eprintln!("{e}");
        std::process::exit(2);
    });
    let schema = match &args.schema {
        Some(path) => Schema::from_path(path)?,
        None => Schema::from_json(DEFAULT_SCHEMA)?,
    };
    // actix-web runs on its own runtime (tokio underneath): the platform is opened on it.
    actix_web::rt::System::new().block_on(async move {
        let listener = std::net::TcpListener::bind(args.listen)?;
        let url = format!("http://{}", listener.local_addr()?);
        let platform = database::open_platform(&DatabaseUrl::SqliteMemory, &url, None).await?;
        let created = platform
            .create_project(
                "example",
                "actix example",
                CreateProject { schema: Some(schema), ..Default::default() },
            )
            .await?;
        let keys = created.keys.ok_or("a new project shows its keys")?;
        let services = web::Data::new(Services::new(&platform, host::dev_auth_config(true))?);
        let server =
            HttpServer::new(move || App::new().app_data(services.clone()).default_service(web::to(dispatch)))
                .workers(2)
                .listen(listener)?
                .run();
        Ready {
            url,
            publishable_key: keys.publishable.secret,
            secret_key: keys.secret.secret,
            jwt_secret: platform.jwt_secret(&created.project.id).await?,
            project_id: created.project.id.to_string(),
        }
        .print()?;
        // actix-web stops gracefully on Ctrl-C and SIGTERM by itself.
        server.await?;
        Ok(())
    })
}
