//! OAuth 2 / OpenID Connect sign-in (GoTrue's `/authorize` and `/callback`): the
//! [`Provider`] trait with [`ProviderConfig`]'s Google, GitHub and generic OIDC
//! providers (configured endpoints, or [`ProviderConfig::discover`] from the issuer's
//! discovery document), the [`HttpClient`] they talk through (replaceable by the host; a plain-HTTP
//! default over hyper behind the `http-client` feature), and [`OAuthSettings`], which
//! [`AuthServiceConfig::oauth`](crate::AuthServiceConfig::oauth) holds.
//!
//! The flow ([`crate::flows::oauth`]):
//!
//! 1. `GET /authorize?provider=github&redirect_to=…` (optionally `code_challenge` and
//!    `code_challenge_method`: the client's PKCE, as supabase-js sends in its `pkce` flow,
//!    or `skip_http_redirect=true` for `{"url": …}` instead of a redirect). `redirect_to`
//!    is checked against the project's allow-list (else the site URL). A `state` is made
//!    (`{project id}.{256 random bits}`), stored as a SHA-256 hash with the provider, the
//!    redirect and the client's PKCE flow state; the browser is sent to the provider with
//!    it and a PKCE challenge towards the provider whose verifier is
//!    `HMAC-SHA256(project secret, state)`, so no verifier is stored.
//! 2. `GET /callback?code=…&state=…`: the state is consumed (single use, at most
//!    [`OAuthSettings::state_lifetime`] old); the code is exchanged, the user's profile
//!    fetched; the identity `(provider, provider id)` signs in its user, or is linked to
//!    the user with the provider's address **only when the provider says it is
//!    verified**, or a new user is made (with that address if verified, else without
//!    one, so an unverified address can neither take over nor squat an account). The
//!    browser goes back to the redirect with the session in the fragment (implicit
//!    flow) or with `?code=` to exchange at `/token?grant_type=pkce` (PKCE flow); a
//!    provider error goes back as `error`, `error_code`, `error_description`.
//! 3. Linking (`GET /user/identities/authorize`, auth-js `linkIdentity`, with the user's
//!    token): the same, and the callback adds the account to that user (refused with
//!    `identity_already_exists` when another user has it); an anonymous user stops being
//!    anonymous and gets the provider's address when it is verified and free.

mod client;
mod provider;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use easbase_core::context::ProjectId;

pub use client::HttpClient;
#[cfg(feature = "http-client")]
pub use client::HyperClient;
pub use provider::{Provider, ProviderConfig, ProviderKind, ProviderUser};

/// The OAuth providers of a service and how they are reached.
#[derive(Clone)]
pub struct OAuthSettings {
    /// Providers every project may use, by name (`google`, `github`, …).
    pub providers: HashMap<String, Arc<dyn Provider>>,
    /// Providers of one project, by name; they take precedence over `providers`.
    pub project_providers: HashMap<ProjectId, HashMap<String, Arc<dyn Provider>>>,
    /// The client for token exchanges and profile fetches.
    pub http: Arc<dyn HttpClient>,
    /// The URL providers send the browser back to (registered with them). `None`:
    /// [`AuthServiceConfig::external_url`](crate::AuthServiceConfig::external_url)
    /// followed by `/callback`, else the project's `{api_url}/auth/v1/callback`.
    pub callback_url: Option<String>,
    /// The project of a `/authorize` request without an API key (a browser navigation
    /// cannot send one): hosts serving one project set it. `/callback` needs none (the
    /// state names the project).
    pub default_project: Option<ProjectId>,
    /// How long a started sign-in may take to come back (default 10 minutes).
    pub state_lifetime: Duration,
}

impl OAuthSettings {
    /// Settings with no provider yet, over `http`.
    pub fn new(http: Arc<dyn HttpClient>) -> OAuthSettings {
        OAuthSettings {
            providers: HashMap::new(),
            project_providers: HashMap::new(),
            http,
            callback_url: None,
            default_project: None,
            state_lifetime: Duration::from_secs(600),
        }
    }

    /// Adds a provider for every project, under its [`Provider::name`].
    pub fn with_provider(mut self, provider: impl Provider + 'static) -> OAuthSettings {
        self.providers.insert(provider.name().to_owned(), Arc::new(provider));
        self
    }

    /// The provider `name` of `project`, if configured.
    pub fn provider(&self, project: &ProjectId, name: &str) -> Option<Arc<dyn Provider>> {
        self.project_providers
            .get(project)
            .and_then(|p| p.get(name))
            .or_else(|| self.providers.get(name))
            .cloned()
    }

    /// Whether `project` has the provider `name` (for `/settings`).
    pub fn has_provider(&self, project: &ProjectId, name: &str) -> bool {
        self.provider(project, name).is_some()
    }

    /// The names of `project`'s providers, sorted.
    pub fn provider_names(&self, project: &ProjectId) -> Vec<String> {
        let mut names: Vec<String> = self.providers.keys().cloned().collect();
        if let Some(own) = self.project_providers.get(project) {
            names.extend(own.keys().cloned());
        }
        names.sort();
        names.dedup();
        names
    }
}

impl std::fmt::Debug for OAuthSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut names: Vec<&String> = self.providers.keys().collect();
        names.sort();
        f.debug_struct("OAuthSettings")
            .field("providers", &names)
            .field("callback_url", &self.callback_url)
            .field("default_project", &self.default_project)
            .field("state_lifetime", &self.state_lifetime)
            .finish_non_exhaustive()
    }
}
