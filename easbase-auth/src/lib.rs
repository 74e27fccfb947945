//! # easbase-auth (not built yet)
//!
//! Auth flows compatible with Supabase Auth (GoTrue): email + password, magic link,
//! email / phone OTP, OAuth, TOTP MFA, sessions with rotating refresh tokens, served as a
//! tower service so `@supabase/auth-js` works unchanged. Its tables will be an
//! [`easbase_schema::Schema`] provisioned through easbase-core's `Module` trait.
//!
//! **Status:** nothing is implemented here yet; see `ARCHITECTURE.md`.

#![forbid(unsafe_code)]

pub use easbase_schema as schema;
