//! Caller input never panics the flows (DESIGN.md invariant 4): arbitrary email and
//! password strings, tokens and metadata give `Ok` or an `AuthError`.

mod common;

use common::{Engine, Fixture, autoconfirm};
use proptest::prelude::*;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_credentials_never_panic(
        email in prop_oneof![any::<String>(), "[a-zA-Z0-9.+ ]{0,20}@[a-z]{1,8}\\.[a-z]{2,3}", ".{0,300}"],
        password in prop_oneof![any::<String>(), ".{0,80}", ".{1000,1100}"],
        token in any::<String>(),
    ) {
        let rt = runtime();
        rt.block_on(async {
            let fx = Fixture::new(Engine::Sqlite, autoconfirm()).await;
            let _ = fx.auth.signup(&email, &password, None).await;
            let _ = fx.auth.password_grant(&email, &password).await;
            let _ = fx.auth.refresh(&token).await;
            let _ = fx.auth.confirm_email(&token).await;
            let _ = fx.auth.verify_recovery(&token).await;
            let _ = fx.auth.recover(&email).await;
            fx.cleanup().await;
        });
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// The passwordless, phone, PKCE and code paths and the parsers under them.
    #[test]
    fn arbitrary_otp_input_never_panics(
        email in prop_oneof![any::<String>(), "[a-z]{1,8}@[a-z]{1,8}\\.[a-z]{2,3}"],
        phone in prop_oneof![any::<String>(), "\\+?[0-9 ()-]{0,20}"],
        code in prop_oneof![any::<String>(), "[0-9]{0,12}"],
        challenge in prop_oneof![any::<String>(), "[A-Za-z0-9._~-]{40,130}"],
        method in prop_oneof![any::<String>(), Just("s256".to_owned()), Just("plain".to_owned())],
        template in any::<String>(),
    ) {
        let _ = easbase_auth::normalize_phone(&phone);
        if let Ok(Some(c)) = easbase_auth::PkceChallenge::parse(Some(&challenge), Some(&method)) {
            let _ = c.verify(&code);
        }
        let t = easbase_auth::mail::EmailTemplate { subject: template.clone(), html: template.clone(), text: template };
        let _ = t.render(&easbase_auth::mail::TemplateData { token: code.clone(), ..Default::default() });
        let rt = runtime();
        rt.block_on(async {
            let config = easbase_auth::AuthConfig { phone_enabled: true, ..autoconfirm() };
            let fx = Fixture::new(Engine::Sqlite, config).await;
            let auth = &fx.auth;
            let _ = auth.send_email_otp(&email, true, None, None).await;
            let _ = auth.send_phone_otp(&phone, true, None).await;
            let _ = auth.signup_phone(&phone, &code, None).await;
            for kind in ["signup", "email", "sms", "recovery", "invite", "magiclink", "email_change"] {
                let kind = easbase_auth::VerifyType::parse(kind).unwrap();
                let _ = auth.verify_otp(kind, easbase_auth::OtpSecret::Code { recipient: &email, code: &code }).await;
                let _ = auth.verify_otp(kind, easbase_auth::OtpSecret::Link(&challenge)).await;
            }
            let _ = auth.exchange_code_for_session(&challenge, &code).await;
            let _ = auth.admin_get_user(&code).await;
            fx.cleanup().await;
        });
    }
}
