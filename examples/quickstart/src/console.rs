//! The platform console's accounts: the people who create projects are users of the
//! platform's own "EasBase Console" project, signed up and signed in through the same
//! `/auth/v1` routes every project has. Creating a project takes a console access token:
//! the token is verified like any request's, and its user id becomes the project's owner.

use easbase_cli::client::Client;
use easbase_core::project::{CreateProject, CreatedProject, Platform};
use easbase_core::schema::{Role, Schema};

use crate::report::Failure;

/// The owner of the console project itself.
const CONSOLE_OWNER: &str = "easbase-platform";

/// The console: its project's publishable key, for the account routes.
pub(crate) struct Console {
    platform: Platform,
    client: Client,
    key: String,
}

/// A signed-in platform account.
pub(crate) struct Account {
    pub(crate) id: String,
    pub(crate) email: String,
    pub(crate) access_token: String,
}

impl Console {
    /// Opens the console: its project is created once (idempotency key `console`).
    pub(crate) async fn open(platform: &Platform, client: &Client) -> Result<Console, Failure> {
        let create = CreateProject { idempotency_key: Some("console".into()), ..Default::default() };
        let created = platform.create_project(CONSOLE_OWNER, "EasBase Console", create).await?;
        let keys = created.keys.ok_or("the console project was created before: its keys are gone")?;
        Ok(Console { platform: platform.clone(), client: client.clone(), key: keys.publishable.secret })
    }

    /// `POST /auth/v1/signup` on the console project.
    pub(crate) async fn sign_up(&self, email: &str, password: &str) -> Result<Account, Failure> {
        let body = serde_json::json!({ "email": email, "password": password });
        let res = self.client.post("/auth/v1/signup").apikey(&self.key).json(&body).send().await?;
        session(res, "sign-up")
    }

    /// `POST /auth/v1/token?grant_type=password` on the console project.
    pub(crate) async fn sign_in(&self, email: &str, password: &str) -> Result<Account, Failure> {
        let body = serde_json::json!({ "email": email, "password": password });
        let res = self
            .client
            .post("/auth/v1/token?grant_type=password")
            .apikey(&self.key)
            .json(&body)
            .send()
            .await?;
        session(res, "sign-in")
    }

    /// Creates a project owned by the account whose console token this is.
    pub(crate) async fn create_project(
        &self,
        access_token: &str,
        name: &str,
        schema: Schema,
    ) -> Result<CreatedProject, Failure> {
        let bearer = format!("Bearer {access_token}");
        let ctx = self.platform.resolve(Some(&self.key), Some(&bearer), None).await?;
        let owner = match (ctx.role(), ctx.uid()) {
            (Role::Authenticated, Some(uid)) => uid.to_owned(),
            _ => return Err("creating a project needs a signed-in platform account".into()),
        };
        let create = CreateProject { schema: Some(schema), ..Default::default() };
        Ok(self.platform.create_project(&owner, name, create).await?)
    }
}

fn session(res: easbase_cli::client::Response, what: &str) -> Result<Account, Failure> {
    let body = res.json()?;
    if res.status != 200 {
        return Err(format!("console {what} answered {}: {body}", res.status).into());
    }
    let text = |v: &serde_json::Value| v.as_str().map(str::to_owned);
    match (text(&body["user"]["id"]), text(&body["user"]["email"]), text(&body["access_token"])) {
        (Some(id), Some(email), Some(access_token)) => Ok(Account { id, email, access_token }),
        _ => Err(format!("console {what}: no session in {body}").into()),
    }
}
