//! Caller input never panics the MFA and OAuth paths (DESIGN.md invariant 4): arbitrary
//! factor and challenge ids, codes, names, issuers, recovery codes, OAuth states and
//! callback parameters give `Ok`, an `AuthError` or an error response.

mod common;

use std::sync::Arc;

use bytes::Bytes;
use common::{Engine, Fixture, autoconfirm};
use easbase_auth::oauth::{HttpClient, OAuthSettings, ProviderConfig};
use easbase_auth::{Auth, AuthService, AuthServiceConfig, EnrollFactor, SignupOutcome};
use proptest::prelude::*;

/// A provider client that answers every call with `body` (arbitrary provider output).
struct Canned(Bytes);

#[async_trait::async_trait]
impl HttpClient for Canned {
    async fn send(&self, _request: http::Request<Bytes>) -> Result<http::Response<Bytes>, String> {
        Ok(http::Response::new(self.0.clone()))
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

fn encode(s: &str) -> String {
    s.bytes().map(|b| format!("%{b:02X}")).collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_mfa_and_oauth_input_never_panics(
        id in prop_oneof![any::<String>(), Just(uuid::Uuid::new_v4().to_string())],
        code in prop_oneof![any::<String>(), "[0-9]{0,8}", "[A-Z0-9 -]{0,30}"],
        name in prop_oneof![any::<String>(), ".{200,300}"],
        state in prop_oneof![any::<String>(), "[a-z0-9]{1,40}\\.[A-Za-z0-9_-]{0,60}"],
        provider_body in prop_oneof![any::<String>(), Just(r#"{"access_token":"t","sub":7,"email":1}"#.to_owned())],
    ) {
        let rt = runtime();
        rt.block_on(async {
            let fx = Fixture::new(Engine::Sqlite, autoconfirm()).await;
            let SignupOutcome::Session(s) = fx.auth.signup("ada@example.com", "correct horse battery", None).await.unwrap()
            else { unreachable!() };
            let ctx = fx.ctx(&s).await;
            let mut enroll = EnrollFactor::totp(Some(&name));
            enroll.issuer = Some(name.clone());
            let _ = fx.auth.enroll_factor(&ctx, enroll).await;
            let mut other = EnrollFactor::totp(None);
            other.factor_type = name.clone();
            let _ = fx.auth.enroll_factor(&ctx, other).await;
            let _ = fx.auth.challenge_factor(&ctx, &id, &name).await;
            let _ = fx.auth.verify_factor(&ctx, &id, &id, &code, &name).await;
            let _ = fx.auth.unenroll_factor(&ctx, &id).await;
            let _ = fx.auth.verify_recovery_code(&ctx, &code).await;

            let oidc = ProviderConfig::oidc("oidc", "http://idp.test", ["http://idp.test/a", "http://idp.test/t", "http://idp.test/u"], "c", "s");
            let mut settings = OAuthSettings::new(Arc::new(Canned(Bytes::from(provider_body.clone()))))
                .with_provider(oidc)
                .with_provider(ProviderConfig::github("c", "s"));
            settings.default_project = Some(fx.project.clone());
            let svc = AuthService::with_config(
                fx.platform.clone(),
                Arc::new(Auth::new(autoconfirm(), None).unwrap()),
                AuthServiceConfig { oauth: Some(Arc::new(settings)), ..AuthServiceConfig::default() },
            );
            let get = |uri: String| svc.handle(http::Request::get(uri).body(Bytes::new()).unwrap());
            let res = get(format!("/callback?code={}&state={}", encode(&code), encode(&state))).await;
            assert!(res.status().is_client_error() || res.status().is_redirection(), "{}", res.status());
            let _ = get(format!("/authorize?provider={}&redirect_to={}&scopes={}", encode(&name), encode(&state), encode(&code))).await;
            // A real state, then arbitrary provider output at the callback.
            for provider in ["oidc", "github"] {
                let res = get(format!("/authorize?provider={provider}&skip_http_redirect=true")).await;
                let url: serde_json::Value = serde_json::from_slice(res.body()).unwrap();
                let url = url["url"].as_str().unwrap().to_owned();
                let real_state = url.split("state=").nth(1).unwrap().split('&').next().unwrap().to_owned();
                let res = get(format!("/callback?code={}&state={real_state}", encode(&code))).await;
                assert!(res.status().is_redirection(), "{}", res.status());
            }
            fx.cleanup().await;
        });
    }
}
