//! API keys: format, parsing, verification, rotation, the cache.

use std::collections::HashSet;
use std::time::{Duration, SystemTime};

use easbase_core::Error;
use easbase_core::context::ProjectId;
use easbase_core::keys::{
    self, GeneratedKey, KEY_LEN, KeyCache, KeyCacheConfig, KeyKind, PUBLISHABLE_PREFIX, SECRET_PREFIX,
    StoredKey,
};
use easbase_core::schema::Role;
use proptest::prelude::*;

fn project() -> ProjectId {
    ProjectId::new("acme").unwrap()
}

fn stored(kind: KeyKind) -> (GeneratedKey, StoredKey) {
    let g = keys::generate(kind);
    let s = g.to_stored(project(), SystemTime::now());
    (g, s)
}

fn is_invalid(r: Result<impl std::fmt::Debug, Error>) -> bool {
    matches!(r, Err(Error::InvalidApiKey))
}

#[test]
fn format_is_prefix_id_secret() {
    for kind in [KeyKind::Publishable, KeyKind::Secret] {
        let g = keys::generate(kind);
        assert_eq!(g.secret.len(), KEY_LEN);
        assert!(g.secret.starts_with(kind.prefix()));
        let rest = &g.secret[kind.prefix().len()..];
        let (id, secret) = rest.split_once('_').unwrap();
        assert_eq!(id, g.id);
        assert_eq!(id.len(), 16);
        assert!(id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()));
        assert_eq!(secret.len(), 43);
        assert!(secret.bytes().all(|b| b.is_ascii_alphanumeric()));
    }
    assert_eq!(KeyKind::Publishable.prefix(), PUBLISHABLE_PREFIX);
    assert_eq!(KeyKind::Secret.prefix(), SECRET_PREFIX);
}

#[test]
fn generated_keys_are_distinct() {
    let mut ids = HashSet::new();
    let mut secrets = HashSet::new();
    for _ in 0..1000 {
        let g = keys::generate(KeyKind::Secret);
        assert!(ids.insert(g.id.clone()));
        assert!(secrets.insert(g.secret.clone()));
    }
}

#[test]
fn round_trip_and_roles() {
    let now = SystemTime::now();
    let (pk, pks) = stored(KeyKind::Publishable);
    let (sk, sks) = stored(KeyKind::Secret);
    let p = keys::parse(&pk.secret).unwrap();
    let s = keys::parse(&sk.secret).unwrap();
    assert_eq!(p.kind(), KeyKind::Publishable);
    assert_eq!(s.kind(), KeyKind::Secret);
    assert_eq!(p.id(), pk.id);
    assert_eq!(p.hash(), pks.hash);
    assert_eq!(keys::verify(&p, &pks, now).unwrap(), Role::Anon);
    assert_eq!(keys::verify(&s, &sks, now).unwrap(), Role::Service);
    // A key against another key's stored form.
    assert!(is_invalid(keys::verify(&p, &sks, now)));
    assert!(is_invalid(keys::verify(&s, &pks, now)));
}

#[test]
fn secrets_never_in_debug() {
    let (g, s) = stored(KeyKind::Secret);
    let secret_part = &g.secret[KEY_LEN - 43..];
    let parsed = keys::parse(&g.secret).unwrap();
    for text in [format!("{g:?}"), format!("{parsed:?}"), format!("{s:?}")] {
        assert!(!text.contains(secret_part), "{text}");
    }
    assert!(format!("{g:?}").contains(&g.id));
    // Errors carry nothing of the input either.
    let err = keys::parse(&format!("{}x", g.secret)).unwrap_err();
    assert!(!err.to_string().contains(secret_part));
    assert_eq!(err.code(), "invalid_api_key");
}

#[test]
fn tampered_keys_are_refused() {
    let now = SystemTime::now();
    let (g, s) = stored(KeyKind::Secret);
    let bytes = g.secret.as_bytes();
    // Change each secret character in turn: still well-formed, never verifies.
    for i in (KEY_LEN - 43)..KEY_LEN {
        let mut t = bytes.to_vec();
        t[i] = if t[i] == b'a' { b'b' } else { b'a' };
        let t = String::from_utf8(t).unwrap();
        let parsed = keys::parse(&t).unwrap();
        assert!(is_invalid(keys::verify(&parsed, &s, now)), "position {i}");
    }
    // Same id and secret under the other prefix: well-formed, refused (kind and hash differ).
    let swapped = g.secret.replacen("eb_sk_", "eb_pk_", 1);
    let parsed = keys::parse(&swapped).unwrap();
    assert!(is_invalid(keys::verify(&parsed, &s, now)));
    // A stored key whose id differs from the presented one.
    let mut other_id = s.clone();
    other_id.id = "zzzzzzzzzzzzzzzz".into();
    assert!(is_invalid(keys::verify(&keys::parse(&g.secret).unwrap(), &other_id, now)));
}

#[test]
fn malformed_keys_are_refused_without_panic() {
    let g = keys::generate(KeyKind::Publishable);
    let huge = "eb_pk_".to_string() + &"a".repeat(1 << 20);
    let non_ascii = format!("{}é", &g.secret[..KEY_LEN - 2]); // right byte length, not ASCII
    assert_eq!(non_ascii.len(), KEY_LEN);
    let upper_id = format!("eb_pk_{}{}", g.id.to_uppercase(), &g.secret[22..]);
    let bad_sep = format!("{}-{}", &g.secret[..22], &g.secret[23..]);
    let bad_secret_char = format!("{}-", &g.secret[..KEY_LEN - 1]);
    let cases = [
        "",
        "eb_pk_",
        "eb_sk_",
        &g.secret[..KEY_LEN - 1],
        &format!("{}a", g.secret),
        &format!(" {}", &g.secret[1..]),
        &huge,
        &non_ascii,
        "ééééééééééééééééééééééééééééééééé",
        &upper_id,
        &bad_sep,
        &bad_secret_char,
        &g.secret.replacen("eb_pk_", "eb_xk_", 1),
        &g.secret.replacen("eb_pk_", "EB_PK_", 1),
        "Bearer eb_pk_x",
        "\0\0\0",
    ];
    for case in cases {
        assert!(is_invalid(keys::parse(case)), "{case:?}");
    }
}

#[test]
fn rotation_grace_period() {
    let t0 = SystemTime::now();
    let (g, s) = stored(KeyKind::Secret);
    let old = keys::parse(&g.secret).unwrap();
    let grace = Duration::from_secs(600);
    let (new, retired) = keys::rotate(&s, grace, t0);
    assert_eq!(new.kind, KeyKind::Secret);
    assert_ne!(new.id, s.id);
    assert_eq!(retired.id, s.id);
    assert_eq!(retired.expires_at, Some(t0 + grace));
    // The old key works until the end of the grace period, then is refused.
    assert_eq!(keys::verify(&old, &retired, t0).unwrap(), Role::Service);
    assert!(keys::verify(&old, &retired, t0 + grace - Duration::from_secs(1)).is_ok());
    assert!(is_invalid(keys::verify(&old, &retired, t0 + grace)));
    assert!(is_invalid(keys::verify(&old, &retired, t0 + grace * 2)));
    // The new key works.
    let new_stored = new.to_stored(project(), t0);
    let parsed_new = keys::parse(&new.secret).unwrap();
    assert_eq!(keys::verify(&parsed_new, &new_stored, t0 + grace * 2).unwrap(), Role::Service);
    // Rotating again with a longer grace never extends an expiry.
    let (_, again) = keys::rotate(&retired, grace * 10, t0);
    assert_eq!(again.expires_at, Some(t0 + grace));
    // Zero grace retires at once.
    let (_, now_gone) = keys::rotate(&s, Duration::ZERO, t0);
    assert!(is_invalid(keys::verify(&old, &now_gone, t0)));
}

#[test]
fn revoked_keys_are_refused() {
    let (g, mut s) = stored(KeyKind::Publishable);
    let parsed = keys::parse(&g.secret).unwrap();
    assert!(keys::verify(&parsed, &s, SystemTime::now()).is_ok());
    s.revoked = true;
    assert!(is_invalid(keys::verify(&parsed, &s, SystemTime::now())));
}

#[test]
fn parsed_key_equality() {
    let g = keys::generate(KeyKind::Publishable);
    let h = keys::generate(KeyKind::Publishable);
    assert_eq!(keys::parse(&g.secret).unwrap(), keys::parse(&g.secret).unwrap());
    assert_ne!(keys::parse(&g.secret).unwrap(), keys::parse(&h.secret).unwrap());
}

#[test]
fn hash_hex_round_trip() {
    let g = keys::generate(KeyKind::Secret);
    let hex = keys::hash_to_hex(&g.hash);
    assert_eq!(hex.len(), 64);
    assert_eq!(keys::hash_from_hex(&hex), Some(g.hash));
    assert_eq!(keys::hash_from_hex(&hex.to_uppercase()), Some(g.hash));
    for bad in ["", "00", &hex[1..], &format!("{}g", &hex[1..]), &format!("{}é", &hex[2..])] {
        assert_eq!(keys::hash_from_hex(bad), None, "{bad:?}");
    }
}

#[test]
fn kind_names() {
    for kind in [KeyKind::Publishable, KeyKind::Secret] {
        assert_eq!(KeyKind::from_name(kind.as_str()), Some(kind));
    }
    assert_eq!(KeyKind::from_name("service"), None);
    assert_eq!(KeyKind::Publishable.role(), Role::Anon);
    assert_eq!(KeyKind::Secret.role(), Role::Service);
}

// ---- cache -------------------------------------------------------------------------

#[test]
fn cache_hit_and_invalidate() {
    let cache: KeyCache = KeyCache::new(KeyCacheConfig::default());
    let (_, s) = stored(KeyKind::Secret);
    assert!(cache.get(&s.id).is_none());
    cache.insert(s.id.clone(), s.clone());
    assert_eq!(cache.get(&s.id).as_deref(), Some(&s));
    assert_eq!(cache.len(), 1);
    assert!(cache.invalidate(&s.id));
    assert!(!cache.invalidate(&s.id));
    assert!(cache.get(&s.id).is_none());
    assert!(cache.is_empty());
}

#[test]
fn cache_invalidate_if_and_clear() {
    let cache: KeyCache = KeyCache::default();
    let mut other = stored(KeyKind::Secret).1;
    other.project_id = ProjectId::new("other").unwrap();
    for _ in 0..3 {
        let (_, s) = stored(KeyKind::Publishable);
        cache.insert(s.id.clone(), s);
    }
    cache.insert(other.id.clone(), other.clone());
    assert_eq!(cache.invalidate_if(|_, k| k.project_id.as_str() == "acme"), 3);
    assert_eq!(cache.len(), 1);
    assert!(cache.get(&other.id).is_some());
    cache.clear();
    assert!(cache.is_empty());
}

#[test]
fn cache_ttl() {
    let cache: KeyCache<u32> = KeyCache::new(KeyCacheConfig { capacity: 10, ttl: Duration::from_millis(30) });
    cache.insert("a", 1);
    assert_eq!(cache.get("a").as_deref(), Some(&1));
    std::thread::sleep(Duration::from_millis(60));
    assert!(cache.get("a").is_none());
    // Re-inserting renews.
    cache.insert("a", 2);
    assert_eq!(cache.get("a").as_deref(), Some(&2));
}

#[test]
fn cache_is_bounded_fifo() {
    let cache: KeyCache<usize> = KeyCache::new(KeyCacheConfig { capacity: 3, ttl: Duration::from_secs(60) });
    for i in 0..3 {
        cache.insert(format!("k{i}"), i);
    }
    cache.insert("k3", 3);
    assert_eq!(cache.len(), 3);
    assert!(cache.get("k0").is_none(), "the oldest entry is evicted");
    for i in 1..4 {
        assert_eq!(cache.get(&format!("k{i}")).as_deref(), Some(&i));
    }
    // Many re-insertions of the same ids keep it bounded and correct.
    for round in 0..1000 {
        cache.insert(format!("k{}", round % 5), round);
        assert!(cache.len() <= 3);
    }
    assert_eq!(cache.get("k4").as_deref(), Some(&999));
}

#[test]
fn cache_capacity_zero_keeps_nothing() {
    let cache: KeyCache<u8> = KeyCache::new(KeyCacheConfig { capacity: 0, ttl: Duration::from_secs(60) });
    assert_eq!(*cache.insert("a", 1), 1);
    assert!(cache.get("a").is_none());
}

proptest! {
    #[test]
    fn parse_never_panics(s in any::<String>()) {
        let _ = keys::parse(&s);
    }

    #[test]
    fn parse_of_prefixed_junk_never_panics(s in "eb_[ps]k_[a-z0-9_é]{0,70}") {
        if let Ok(k) = keys::parse(&s) {
            prop_assert_eq!(k.id().len(), 16);
        }
    }
}
