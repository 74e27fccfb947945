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
