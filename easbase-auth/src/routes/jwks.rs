//! `GET /.well-known/jwks.json`: the public keys of the project's asymmetric signing keys
//! ([`crate::keys`]), `{"keys": [...]}`; empty while the project signs with HS256 only.
//! Like an email link, it also takes the publishable key as an `apikey` query parameter,
//! for JWKS clients that cannot set headers.

use http::{HeaderValue, header};

use super::{Call, RouteResult, json_response};
use crate::keys::SigningKeys;

pub(crate) async fn jwks(call: &Call<'_>) -> RouteResult {
    let jwks = SigningKeys::new(call.platform).jwks(call.auth.project()).await?;
    let mut res = json_response(200, &jwks);
    // Public keys: caches may keep them briefly (rotation publishes keys ahead of use).
    res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
    Ok(res)
}
