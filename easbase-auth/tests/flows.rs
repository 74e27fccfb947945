//! Every flow on SQLite and PostgreSQL (`cargo test -p easbase-auth --all-features`).

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{Engine, Fixture, autoconfirm, config};
use easbase_auth::{
    AuthConfig, AuthError, AuthModule, ClaimsHookInput, CustomClaimsHook, LogoutScope, SignupOutcome,
    UserUpdate, WeakPasswordReason,
};
use easbase_core::context::jwt::{JwtConfig, JwtKey, JwtVerifier};
use easbase_core::db::Cell;
use easbase_core::schema::Role;
use serde_json::{Map, Value, json};

const PASSWORD: &str = "correct horse battery";

async fn signed_up(fx: &Fixture, email: &str) -> easbase_auth::Session {
    match fx.auth.signup(email, PASSWORD, None).await.unwrap() {
        SignupOutcome::Session(s) => *s,
        other => panic!("expected a session, got {other:?}"),
    }
}

async fn signup_login_and_jwt(engine: Engine) {
    let fx = Fixture::new(engine, autoconfirm()).await;
    let meta = json!({ "name": "Ada" }).as_object().cloned();
    let SignupOutcome::Session(first) = fx.auth.signup(" Ada@Example.com ", PASSWORD, meta).await.unwrap()
    else {
        panic!("autoconfirm gives a session")
    };
    assert_eq!(first.user.email, "ada@example.com");
    let session = fx.auth.password_grant("ada@example.com", PASSWORD).await.unwrap();

    // The token response has GoTrue's shape.
    let body = serde_json::to_value(&session).unwrap();
    let mut keys: Vec<&str> = body.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["access_token", "expires_at", "expires_in", "refresh_token", "token_type", "user"]);
    assert_eq!(body["token_type"], "bearer");
    assert_eq!(body["expires_in"], 3600);
    let user = &body["user"];
    for key in [
        "id",
        "aud",
        "role",
        "email",
        "email_confirmed_at",
        "phone",
        "confirmed_at",
        "last_sign_in_at",
        "app_metadata",
        "user_metadata",
        "identities",
        "created_at",
        "updated_at",
        "is_anonymous",
    ] {
        assert!(user.get(key).is_some(), "user.{key} missing in {user}");
    }
    assert_eq!(user["aud"], "authenticated");
    assert_eq!(user["phone"], "");
    assert_eq!(user["app_metadata"], json!({ "provider": "email", "providers": ["email"] }));
    assert_eq!(user["user_metadata"], json!({ "name": "Ada" }));
    assert_eq!(user["identities"][0]["provider"], "email");
    assert_eq!(user["identities"][0]["identity_data"]["email_verified"], true);
    assert!(user["created_at"].as_str().unwrap().ends_with('Z'));
    assert!(!format!("{session:?}").contains(&session.refresh_token), "Debug hides tokens");

    // Core's resolver accepts the token: role authenticated, sub = user id.
    let ctx = fx.ctx(&session).await;
    assert_eq!(ctx.role(), Role::Authenticated);
    assert_eq!(ctx.uid(), Some(session.user.id.as_str()));
    let claims = ctx.claims();
    assert_eq!(claims["aud"], "authenticated");
    assert_eq!(claims["role"], "authenticated");
    assert_eq!(claims["email"], "ada@example.com");
    assert_eq!(claims["phone"], "");
    assert_eq!(claims["aal"], "aal1");
    assert_eq!(claims["amr"][0]["method"], "password");
    assert_eq!(claims["is_anonymous"], false);
    assert_eq!(claims["iss"], format!("{}/auth/v1", fx.api_url));
    assert_eq!(claims["app_metadata"]["provider"], "email");
    assert_eq!(claims["exp"].as_i64().unwrap(), session.expires_at);
    assert!(claims["session_id"].as_str().is_some());

    // And so does a verifier built the default way from the project's secret.
    let secret = fx.platform.jwt_secret(&fx.project).await.unwrap();
    let verifier =
        JwtVerifier::new(vec![JwtKey::hs256(secret.as_bytes()).unwrap()], JwtConfig::default()).unwrap();
    assert_eq!(verifier.verify(&session.access_token).unwrap().sub(), Some(session.user.id.as_str()));

    // PostgreSQL: the request roles see no row of the auth tables (RLS, no policy for them).
    if engine == Engine::Postgres {
        let anon = fx.platform.resolve(Some(&fx.publishable), None, None).await.unwrap();
        let pdb = fx.platform.project_db(&fx.project).await.unwrap();
        for c in [&ctx, &anon] {
            for table in AuthModule::TABLES {
                let stmt =
                    easbase_core::db::Stmt::raw(format!("select count(*) from {}", fx.table(table).await));
                let results = pdb.db().transaction(&pdb.scope(c, true).unwrap(), vec![stmt]).await.unwrap();
                assert_eq!(
                    results[0].rows[0].cells[0].as_i64(),
                    Some(0),
                    "{table} is hidden from {:?}",
                    c.role()
                );
            }
        }
    }

    let user = fx.auth.get_user(&ctx).await.unwrap();
    assert_eq!(user.id, session.user.id);
    assert!(user.last_sign_in_at.is_some());
    fx.cleanup().await;
}

async fn same_error_for_unknown_email_and_wrong_password(engine: Engine) {
    let fx = Fixture::new(engine, autoconfirm()).await;
    signed_up(&fx, "bob@example.com").await;
    let wrong = fx.auth.password_grant("bob@example.com", "not the password").await.unwrap_err();
    let unknown = fx.auth.password_grant("nobody@example.com", PASSWORD).await.unwrap_err();
    let malformed = fx.auth.password_grant("not an email", PASSWORD).await.unwrap_err();
    for e in [&wrong, &unknown, &malformed] {
        assert!(matches!(e, AuthError::InvalidCredentials), "{e:?}");
        assert_eq!(
            (e.code(), e.status(), e.to_string()),
            ("invalid_credentials", 400, "Invalid login credentials".into())
        );
    }
    fx.cleanup().await;
}

async fn weak_password_and_bad_email(engine: Engine) {
    let mut cfg = autoconfirm();
    cfg.password.required_characters = vec!["0123456789".into()];
    let fx = Fixture::new(engine, cfg).await;
    let e = fx.auth.signup("carol@example.com", "abc", None).await.unwrap_err();
    let AuthError::WeakPassword { reasons, .. } = &e else { panic!("{e:?}") };
    assert_eq!(reasons, &[WeakPasswordReason::Length, WeakPasswordReason::Characters]);
    assert_eq!((e.code(), e.status()), ("weak_password", 422));
    assert!(matches!(
        fx.auth.signup("carol@example.com", "long enough", None).await,
        Err(AuthError::WeakPassword { .. })
    ));
    let e = fx.auth.signup("carol", "long enough 1", None).await.unwrap_err();
    assert_eq!((e.code(), e.status()), ("validation_failed", 400));
    assert!(fx.auth.signup("carol@example.com", "long enough 1", None).await.is_ok());
    fx.cleanup().await;
}

async fn duplicate_email(engine: Engine) {
    let fx = Fixture::new(engine, autoconfirm()).await;
    signed_up(&fx, "dave@example.com").await;
    let e = fx.auth.signup("DAVE@example.com", "another password", None).await.unwrap_err();
    assert!(matches!(e, AuthError::UserAlreadyExists));
    assert_eq!((e.code(), e.status()), ("user_already_exists", 422));
    fx.cleanup().await;

    // Without auto-confirmation a registered address gets a look-alike answer.
    let fx = Fixture::new(engine, config()).await;
    let SignupOutcome::ConfirmationRequired { confirmation: Some(token), user } =
        fx.auth.signup("erin@example.com", PASSWORD, None).await.unwrap()
    else {
        panic!("a confirmation is needed")
    };
    fx.auth.confirm_email(&token.token).await.unwrap();
    let SignupOutcome::ConfirmationRequired { user: fake, confirmation: None } =
        fx.auth.signup("erin@example.com", "a different one", None).await.unwrap()
    else {
        panic!("a look-alike answer")
    };
    assert_ne!(fake.id, user.id);
    assert!(fake.identities.is_empty());
    // The real password still works, the new one does not.
    fx.auth.password_grant("erin@example.com", PASSWORD).await.unwrap();
    assert!(fx.auth.password_grant("erin@example.com", "a different one").await.is_err());
    fx.cleanup().await;
}

async fn confirmation_required(engine: Engine) {
    let fx = Fixture::new(engine, config()).await;
    let SignupOutcome::ConfirmationRequired { user, confirmation: Some(token) } =
        fx.auth.signup("fay@example.com", PASSWORD, None).await.unwrap()
    else {
        panic!("autoconfirm is off")
    };
    assert!(user.email_confirmed_at.is_none() && user.confirmation_sent_at.is_some());
    assert!(!format!("{token:?}").contains(&token.token));
    let e = fx.auth.password_grant("fay@example.com", PASSWORD).await.unwrap_err();
    assert!(matches!(e, AuthError::EmailNotConfirmed));
    assert_eq!((e.code(), e.status()), ("email_not_confirmed", 400));
    // Signing up again (unconfirmed) issues a new token; the old one no longer works.
    let SignupOutcome::ConfirmationRequired { confirmation: Some(second), .. } =
        fx.auth.signup("fay@example.com", PASSWORD, None).await.unwrap()
    else {
        panic!()
    };
    assert!(matches!(fx.auth.confirm_email(&token.token).await, Err(AuthError::OtpExpired)));
    let session = fx.auth.confirm_email(&second.token).await.unwrap();
    assert!(session.user.email_confirmed_at.is_some());
    assert_eq!(fx.ctx(&session).await.claims()["amr"][0]["method"], "email/signup");
    let e = fx.auth.confirm_email(&second.token).await.unwrap_err();
    assert_eq!((e.code(), e.status()), ("otp_expired", 403));
    assert!(matches!(fx.auth.confirm_email("").await, Err(AuthError::OtpExpired)));
    fx.auth.password_grant("fay@example.com", PASSWORD).await.unwrap();
    fx.cleanup().await;

    // An expired token is refused.
    let fx = Fixture::new(engine, AuthConfig { otp_lifetime: Duration::ZERO, ..config() }).await;
    let SignupOutcome::ConfirmationRequired { confirmation: Some(token), .. } =
        fx.auth.signup("gus@example.com", PASSWORD, None).await.unwrap()
    else {
        panic!()
    };
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert!(matches!(fx.auth.confirm_email(&token.token).await, Err(AuthError::OtpExpired)));
    fx.cleanup().await;
}

async fn refresh_rotates(engine: Engine) {
    let fx = Fixture::new(engine, autoconfirm()).await;
    let s1 = signed_up(&fx, "hal@example.com").await;
    let s2 = fx.auth.refresh(&s1.refresh_token).await.unwrap();
    assert_ne!(s2.refresh_token, s1.refresh_token);
    assert_eq!(s2.refresh_token.len(), 43);
    let s3 = fx.auth.refresh(&s2.refresh_token).await.unwrap();
    assert_ne!(s3.refresh_token, s2.refresh_token);
    let ctx = fx.ctx(&s3).await;
    assert_eq!(ctx.claims()["session_id"], fx.ctx(&s1).await.claims()["session_id"]);
    assert_eq!(ctx.claims()["amr"][0]["method"], "password");
    let e = fx.auth.refresh("no-such-token").await.unwrap_err();
    assert_eq!((e.code(), e.status()), ("refresh_token_not_found", 400));
    assert!(matches!(fx.auth.refresh("").await, Err(AuthError::ValidationFailed(_))));
    fx.cleanup().await;
}

async fn reuse_after_grace_revokes_the_session(engine: Engine) {
    let cfg = AuthConfig { refresh_token_reuse_interval: Duration::from_secs(1), ..autoconfirm() };
    let fx = Fixture::new(engine, cfg).await;
    let s1 = signed_up(&fx, "ida@example.com").await;
    let other = fx.auth.password_grant("ida@example.com", PASSWORD).await.unwrap();
    let s2 = fx.auth.refresh(&s1.refresh_token).await.unwrap();
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let e = fx.auth.refresh(&s1.refresh_token).await.unwrap_err();
    assert!(matches!(e, AuthError::RefreshTokenAlreadyUsed), "{e:?}");
    assert_eq!((e.code(), e.status()), ("refresh_token_already_used", 400));
    // The whole session is gone: its live token fails too, and so does its access token.
    assert!(fx.auth.refresh(&s2.refresh_token).await.is_err());
    assert!(fx.auth.refresh(&s1.refresh_token).await.is_err());
    assert!(matches!(fx.auth.get_user(&fx.ctx(&s2).await).await, Err(AuthError::SessionNotFound)));
    // Other sessions of the user live on.
    fx.auth.refresh(&other.refresh_token).await.unwrap();
    fx.cleanup().await;
}

async fn concurrent_refresh_within_grace(engine: Engine) {
    let fx = Fixture::new(engine, autoconfirm()).await;
    let s1 = signed_up(&fx, "jo@example.com").await;
    let (a, b) = tokio::join!(fx.auth.refresh(&s1.refresh_token), fx.auth.refresh(&s1.refresh_token));
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.refresh_token, b.refresh_token, "both get the session's current token");
    // Within the interval the old token still leads to the current one, even two steps on.
    let c = fx.auth.refresh(&a.refresh_token).await.unwrap();
    let again = fx.auth.refresh(&s1.refresh_token).await.unwrap();
    assert_eq!(again.refresh_token, c.refresh_token);
    fx.auth.refresh(&c.refresh_token).await.unwrap();
    fx.cleanup().await;
}

async fn logout_scopes(engine: Engine) {
    let fx = Fixture::new(engine, autoconfirm()).await;
    signed_up(&fx, "kim@example.com").await;
    let login = || fx.auth.password_grant("kim@example.com", PASSWORD);
    let (a, b, c) = (login().await.unwrap(), login().await.unwrap(), login().await.unwrap());
    let ctx_b = fx.ctx(&b).await;
    fx.auth.logout(&ctx_b, LogoutScope::Others).await.unwrap();
    assert!(fx.auth.refresh(&a.refresh_token).await.is_err());
    assert!(fx.auth.refresh(&c.refresh_token).await.is_err());
    let b2 = fx.auth.refresh(&b.refresh_token).await.unwrap();
    fx.auth.logout(&ctx_b, LogoutScope::Local).await.unwrap();
    assert!(fx.auth.refresh(&b2.refresh_token).await.is_err());
    assert!(matches!(fx.auth.get_user(&ctx_b).await, Err(AuthError::SessionNotFound)));
    fx.auth.logout(&ctx_b, LogoutScope::Local).await.unwrap(); // idempotent

    let (d, e) = (login().await.unwrap(), login().await.unwrap());
    fx.auth.logout(&fx.ctx(&d).await, LogoutScope::Global).await.unwrap();
    assert!(fx.auth.refresh(&d.refresh_token).await.is_err());
    assert!(fx.auth.refresh(&e.refresh_token).await.is_err());
    let err = fx.auth.get_user(&fx.ctx(&e).await).await.unwrap_err();
    assert_eq!((err.code(), err.status()), ("session_not_found", 403));

    // A key-only context is not a user.
    let anon = fx.platform.resolve(Some(&fx.publishable), None, None).await.unwrap();
    assert!(matches!(fx.auth.logout(&anon, LogoutScope::Global).await, Err(AuthError::BadJwt(_))));
    fx.cleanup().await;
}

async fn recovery(engine: Engine) {
    let fx = Fixture::new(engine, autoconfirm()).await;
    let first = signed_up(&fx, "lee@example.com").await;
    assert!(fx.auth.recover("nobody@example.com").await.unwrap().is_none());
    let token = fx.auth.recover("LEE@example.com").await.unwrap().unwrap();
    let session = fx.auth.verify_recovery(&token.token).await.unwrap();
    assert!(matches!(fx.auth.verify_recovery(&token.token).await, Err(AuthError::OtpExpired)));
    let ctx = fx.ctx(&session).await;
    assert_eq!(ctx.claims()["amr"][0]["method"], "recovery");
    let e = fx.auth.update_password(&ctx, PASSWORD).await.unwrap_err();
    assert_eq!((e.code(), e.status()), ("same_password", 422));
    assert!(matches!(fx.auth.update_password(&ctx, "x").await, Err(AuthError::WeakPassword { .. })));
    fx.auth.update_password(&ctx, "a brand new secret").await.unwrap();
    assert!(matches!(
        fx.auth.password_grant("lee@example.com", PASSWORD).await,
        Err(AuthError::InvalidCredentials)
    ));
    fx.auth.password_grant("lee@example.com", "a brand new secret").await.unwrap();
    // The password change signed out the other sessions, not the recovery session.
    assert!(fx.auth.refresh(&first.refresh_token).await.is_err());
    fx.auth.refresh(&session.refresh_token).await.unwrap();
    fx.cleanup().await;
}

async fn anonymous_sign_in(engine: Engine) {
    let fx = Fixture::new(engine, autoconfirm()).await;
    let e = fx.auth.sign_in_anonymously(None).await.unwrap_err();
    assert_eq!((e.code(), e.status()), ("anonymous_provider_disabled", 422));
    fx.cleanup().await;

    let fx = Fixture::new(engine, AuthConfig { anonymous_enabled: true, ..autoconfirm() }).await;
    let session = fx.auth.sign_in_anonymously(json!({ "theme": "dark" }).as_object().cloned()).await.unwrap();
    assert!(session.user.is_anonymous);
    assert_eq!(session.user.email, "");
    assert!(session.user.identities.is_empty());
    assert_eq!(session.user.app_metadata["provider"], "anonymous");
    let ctx = fx.ctx(&session).await;
    assert_eq!(ctx.role(), Role::Authenticated);
    assert_eq!(ctx.claims()["role"], "authenticated");
    assert_eq!(ctx.claims()["is_anonymous"], true);
    assert_eq!(ctx.claims()["amr"][0]["method"], "anonymous");
    // Linking an address (auto-confirmed here) ends the anonymity.
    let mut update = UserUpdate::new();
    update.email = Some("mo@example.com".into());
    update.password = Some(PASSWORD.into());
    let out = fx.auth.update_user(&ctx, update).await.unwrap();
    assert!(!out.user.is_anonymous);
    assert_eq!(out.user.email, "mo@example.com");
    assert_eq!(out.user.identities.len(), 1);
    let login = fx.auth.password_grant("mo@example.com", PASSWORD).await.unwrap();
    assert_eq!(login.user.id, session.user.id);
    assert_eq!(login.user.app_metadata["providers"], json!(["anonymous", "email"]));
    fx.cleanup().await;
}

async fn update_user_and_email_change(engine: Engine) {
    let fx = Fixture::new(engine, config()).await;
    let SignupOutcome::ConfirmationRequired { confirmation: Some(t), .. } = fx
        .auth
        .signup("ned@example.com", PASSWORD, json!({ "a": 1, "b": 2 }).as_object().cloned())
        .await
        .unwrap()
    else {
        panic!()
    };
    let session = fx.auth.confirm_email(&t.token).await.unwrap();
    let SignupOutcome::ConfirmationRequired { confirmation: Some(t2), .. } =
        fx.auth.signup("other@example.com", PASSWORD, None).await.unwrap()
    else {
        panic!()
    };
    fx.auth.confirm_email(&t2.token).await.unwrap();
    let ctx = fx.ctx(&session).await;
    let mut update = UserUpdate::new();
    update.data = json!({ "a": null, "c": 3 }).as_object().cloned();
    let out = fx.auth.update_user(&ctx, update).await.unwrap();
    assert_eq!(Value::Object(out.user.user_metadata), json!({ "b": 2, "c": 3 }));

    let mut taken = UserUpdate::new();
    taken.email = Some("other@example.com".into());
    let e = fx.auth.update_user(&ctx, taken).await.unwrap_err();
    assert_eq!((e.code(), e.status()), ("email_exists", 422));

    let mut change = UserUpdate::new();
    change.email = Some("ned2@example.com".into());
    let out = fx.auth.update_user(&ctx, change).await.unwrap();
    assert_eq!(out.user.email, "ned@example.com");
    assert_eq!(out.user.new_email.as_deref(), Some("ned2@example.com"));
    let token = out.email_change.unwrap();
    let s = fx.auth.confirm_email_change(&token.token).await.unwrap();
    assert_eq!(s.user.email, "ned2@example.com");
    assert!(s.user.new_email.is_none());
    fx.auth.password_grant("ned2@example.com", PASSWORD).await.unwrap();
    assert_eq!(
        fx.auth.get_user(&fx.ctx(&s).await).await.unwrap().identities[0].email.as_deref(),
        Some("ned2@example.com")
    );
    fx.cleanup().await;
}

async fn bcrypt_import_is_rehashed(engine: Engine) {
    let fx = Fixture::new(engine, autoconfirm()).await;
    let id = uuid::Uuid::new_v4().to_string();
    let hash = bcrypt::hash_with_salt("imported secret", 4, [3u8; 16])
        .unwrap()
        .format_for_version(bcrypt::Version::TwoA);
    let users = fx.table("auth_users").await;
    let p = |n| fx.placeholder(n);
    let now = 1_700_000_000i64;
    fx.exec(
        format!(
            "insert into {users} (id, email, encrypted_password, email_confirmed_at, raw_app_meta_data, raw_user_meta_data, is_anonymous, created_at, updated_at) \
             values ({}, {}, {}, {}, '{{\"provider\":\"email\",\"providers\":[\"email\"]}}', '{{}}', false, {}, {})",
            p(1), p(2), p(3), p(4), p(5), p(6)
        ),
        vec![id.clone().into(), "old@example.com".into(), hash.into(), now.into(), now.into(), now.into()],
    )
    .await;
    assert!(fx.auth.password_grant("old@example.com", "wrong").await.is_err());
    let session = fx.auth.password_grant("old@example.com", "imported secret").await.unwrap();
    assert_eq!(session.user.id, id);
    let stored = fx
        .scalar(format!("select encrypted_password from {users} where id = {}", p(1)), vec![id.into()])
        .await;
    let Cell::Text(stored) = stored else { panic!("{stored:?}") };
    assert!(stored.starts_with("$argon2id$v=19$"), "rehashed: {stored}");
    fx.auth.password_grant("old@example.com", "imported secret").await.unwrap();
    fx.cleanup().await;
}

async fn no_plaintext_secret_at_rest(engine: Engine) {
    let fx = Fixture::new(engine, config()).await;
    let SignupOutcome::ConfirmationRequired { confirmation: Some(c), .. } =
        fx.auth.signup("oz@example.com", PASSWORD, None).await.unwrap()
    else {
        panic!()
    };
    let s1 = fx.auth.confirm_email(&c.token).await.unwrap();
    let s2 = fx.auth.refresh(&s1.refresh_token).await.unwrap();
    let recovery = fx.auth.recover("oz@example.com").await.unwrap().unwrap();
    let mut change = UserUpdate::new();
    change.email = Some("oz2@example.com".into());
    let pending = fx.auth.update_user(&fx.ctx(&s2).await, change).await.unwrap().email_change.unwrap();
    let secrets = [
        PASSWORD,
        &c.token,
        &s1.refresh_token,
        &s2.refresh_token,
        &s1.access_token,
        &recovery.token,
        &pending.token,
    ];
    let mut cells = 0;
    for table in AuthModule::TABLES {
        for cell in fx.dump(table).await {
            cells += 1;
            for secret in secrets {
                assert!(!cell.contains(secret), "a plain secret is stored in {table}");
            }
        }
    }
    assert!(cells > 20, "the tables were read ({cells} cells)");
    assert!(!fx.dump("auth_refresh_tokens").await.is_empty());
    assert!(!fx.dump("auth_one_time_tokens").await.is_empty());
    fx.cleanup().await;
}

struct OrgHook;

#[async_trait::async_trait]
impl CustomClaimsHook for OrgHook {
    async fn customize(
        &self,
        input: &ClaimsHookInput<'_>,
        claims: &mut Map<String, Value>,
    ) -> Result<(), AuthError> {
        claims.insert("org_id".into(), json!(format!("org-{}", &input.user.id[..8])));
        claims.insert("sub".into(), json!("someone-else"));
        claims.insert("role".into(), json!("service_role"));
        claims.remove("session_id");
        Ok(())
    }
}

async fn custom_claims_hook(engine: Engine) {
    let fx = Fixture::with_hook(engine, autoconfirm(), Some(Arc::new(OrgHook))).await;
    let session = signed_up(&fx, "pat@example.com").await;
    let ctx = fx.ctx(&session).await;
    assert_eq!(ctx.role(), Role::Authenticated);
    assert_eq!(ctx.uid(), Some(session.user.id.as_str()));
    assert_eq!(ctx.claims()["org_id"], format!("org-{}", &session.user.id[..8]));
    assert!(ctx.claims()["session_id"].is_string());
    fx.cleanup().await;
}

async fn banned_and_disabled(engine: Engine) {
    let fx = Fixture::new(engine, AuthConfig { signup_enabled: false, ..autoconfirm() }).await;
    let e = fx.auth.signup("q@example.com", PASSWORD, None).await.unwrap_err();
    assert_eq!((e.code(), e.status()), ("signup_disabled", 422));
    fx.cleanup().await;

    let fx = Fixture::new(engine, autoconfirm()).await;
    let s = signed_up(&fx, "rue@example.com").await;
    let users = fx.table("auth_users").await;
    fx.exec(format!("update {users} set banned_until = {}", fx.placeholder(1)), vec![i64::MAX.into()]).await;
    let e = fx.auth.password_grant("rue@example.com", PASSWORD).await.unwrap_err();
    assert_eq!(e.code(), "user_banned");
    assert!(matches!(fx.auth.refresh(&s.refresh_token).await, Err(AuthError::UserBanned)));
    // A wrong password for a banned user is still just invalid credentials.
    assert!(matches!(
        fx.auth.password_grant("rue@example.com", "nope").await,
        Err(AuthError::InvalidCredentials)
    ));
    fx.cleanup().await;
}

on_both_engines!(
    signup_login_and_jwt,
    same_error_for_unknown_email_and_wrong_password,
    weak_password_and_bad_email,
    duplicate_email,
    confirmation_required,
    refresh_rotates,
    reuse_after_grace_revokes_the_session,
    concurrent_refresh_within_grace,
    logout_scopes,
    recovery,
    anonymous_sign_in,
    update_user_and_email_change,
    bcrypt_import_is_rehashed,
    no_plaintext_secret_at_rest,
    custom_claims_hook,
    banned_and_disabled,
);
