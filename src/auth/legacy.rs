//! Password hashes from the platform accounts are imported from (Django): kept as they are,
//! checked at login, and replaced by kadro's Argon2id after the first successful one.
//!
//! Accepted: kadro's own `$argon2…` PHC strings, Django's `argon2$argon2…` (the same PHC string
//! behind a prefix, stored without it), `pbkdf2_sha256$<iterations>$<salt>$<base64 hash>`, and
//! Django's two bcrypt hashers: `bcrypt_sha256$$2b$…` (bcrypt of the hex SHA-256 of the
//! password, Django's recommended one) and `bcrypt$$2b$…` (bcrypt of the password itself).

use argon2::password_hash::PasswordHash;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

const PBKDF2_PREFIX: &str = "pbkdf2_sha256$";
const BCRYPT_SHA256_PREFIX: &str = "bcrypt_sha256$";
const BCRYPT_PREFIX: &str = "bcrypt$";

/// Highest bcrypt cost a stored hash may ask for (Django's default is 12; each step doubles a
/// login's work).
const MAX_BCRYPT_COST: u32 = 16;

/// Most PBKDF2 iterations a stored hash may ask for: a login costs at most this much.
const MAX_ITERATIONS: u32 = 5_000_000;

/// The hash to store for an imported `password_hash`, or why it is refused.
pub fn import_hash(value: &str) -> Result<String, &'static str> {
    let value = value.trim();
    if let Some(phc) = value
        .strip_prefix("argon2")
        .filter(|p| p.starts_with("$argon2"))
    {
        return import_hash(phc);
    }
    if value.starts_with("$argon2") {
        return match PasswordHash::new(value) {
            Ok(parsed) if parsed.salt.is_some() && parsed.hash.is_some() => Ok(value.to_owned()),
            _ => Err("Invalid Argon2 hash."),
        };
    }
    if value.starts_with(PBKDF2_PREFIX) {
        return match parse_pbkdf2(value) {
            Some(_) => Ok(value.to_owned()),
            None => Err("Invalid pbkdf2_sha256 hash."),
        };
    }
    if let Some((_, bcrypt_hash)) = split_bcrypt(value) {
        return match bcrypt_hash.parse::<bcrypt::HashParts>() {
            Ok(parts) if parts.get_cost() <= MAX_BCRYPT_COST => Ok(value.to_owned()),
            Ok(_) => Err("Invalid bcrypt hash: its cost is above 16."),
            Err(_) => Err("Invalid bcrypt hash."),
        };
    }
    Err("Unknown password hash format: use argon2 or pbkdf2_sha256 or bcrypt_sha256.")
}

/// Whether a stored hash is one kadro replaces at the next successful login.
pub fn is_legacy(hash: &str) -> bool {
    hash.starts_with(PBKDF2_PREFIX) || split_bcrypt(hash).is_some()
}

/// A Django bcrypt hash: whether the password is first turned into its hex SHA-256
/// (`bcrypt_sha256`), and the bcrypt hash itself (`$2b$<cost>$…`).
fn split_bcrypt(hash: &str) -> Option<(bool, &str)> {
    if let Some(rest) = hash.strip_prefix(BCRYPT_SHA256_PREFIX) {
        return Some((true, rest));
    }
    hash.strip_prefix(BCRYPT_PREFIX).map(|rest| (false, rest))
}

struct Pbkdf2<'a> {
    iterations: u32,
    salt: &'a str,
    expected: Vec<u8>,
}

fn parse_pbkdf2(hash: &str) -> Option<Pbkdf2<'_>> {
    let mut parts = hash.strip_prefix(PBKDF2_PREFIX)?.split('$');
    let iterations: u32 = parts.next()?.parse().ok()?;
    let salt = parts.next()?;
    let expected = STANDARD.decode(parts.next()?).ok()?;
    let ok = parts.next().is_none()
        && (1..=MAX_ITERATIONS).contains(&iterations)
        && !salt.is_empty()
        && expected.len() == 32;
    ok.then_some(Pbkdf2 {
        iterations,
        salt,
        expected,
    })
}

/// Checks `password` against a legacy hash (blocking: run it on a hashing thread).
pub fn verify_legacy(password: &str, hash: &str) -> bool {
    if let Some((prehashed, bcrypt_hash)) = split_bcrypt(hash) {
        let too_costly = bcrypt_hash
            .parse::<bcrypt::HashParts>()
            .map_or(true, |parts| parts.get_cost() > MAX_BCRYPT_COST);
        if too_costly {
            return false;
        }
        let verified = if prehashed {
            bcrypt::verify(
                hex::encode(Sha256::digest(password.as_bytes())),
                bcrypt_hash,
            )
        } else {
            bcrypt::verify(password, bcrypt_hash)
        };
        return verified.unwrap_or(false);
    }
    let Some(p) = parse_pbkdf2(hash) else {
        return false;
    };
    let derived = pbkdf2_sha256(password.as_bytes(), p.salt.as_bytes(), p.iterations);
    bool::from(derived.as_slice().ct_eq(&p.expected))
}

/// PBKDF2-HMAC-SHA256 with a 32-byte output (one block), as Django derives it.
fn pbkdf2_sha256(password: &[u8], salt: &[u8], iterations: u32) -> [u8; 32] {
    let mac = Hmac::<Sha256>::new_from_slice(password)
        .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
    let mut first = mac.clone();
    first.update(salt);
    first.update(&1u32.to_be_bytes());
    let mut u: [u8; 32] = first.finalize().into_bytes().into();
    let mut out = u;
    for _ in 1..iterations {
        let mut next = mac.clone();
        next.update(&u);
        u = next.finalize().into_bytes().into();
        out.iter_mut().zip(u).for_each(|(o, b)| *o ^= b);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const BCRYPT_SHA256: &str =
        "bcrypt_sha256$$2b$04$xv9R0jrZ.zB1zQM7347lyuGXF5NNYre1opIoOIwr.WXNCRruTd2Fi";
    const BCRYPT: &str = "bcrypt$$2b$04$5R8Vh0TE2PVBUp.xmovlgePhIRJrBGGNQ5qp5rR6Adb6g.AS7YiQm";

    #[test]
    fn rfc_7914_vector() {
        // RFC 7914 §11: PBKDF2-HMAC-SHA256 ("passwd", "salt", 1), first 32 bytes.
        let out = pbkdf2_sha256(b"passwd", b"salt", 1);
        assert_eq!(
            hex::encode(out),
            "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc"
        );
    }

    #[test]
    fn django_hashes() {
        let hash = format!(
            "pbkdf2_sha256$1000$pepper${}",
            STANDARD.encode(pbkdf2_sha256(b"s3cret pass", b"pepper", 1000))
        );
        assert_eq!(import_hash(&hash).as_deref(), Ok(hash.as_str()));
        assert!(is_legacy(&hash));
        assert!(verify_legacy("s3cret pass", &hash));
        assert!(!verify_legacy("s3cret Pass", &hash));
        assert!(import_hash("pbkdf2_sha256$0$s$AAAA").is_err());
        assert!(import_hash("bcrypt$x").is_err());
        assert!(import_hash("bcrypt_sha256$$2b$04$short").is_err());
        assert!(import_hash("md5$a$b").is_err());
        let ours = crate::auth::password::hash_now("x").unwrap();
        assert_eq!(import_hash(&format!("argon2{ours}")), Ok(ours.clone()));
        assert_eq!(import_hash(&ours), Ok(ours.clone()));
        assert!(!is_legacy(&ours));
        // Django's bcrypt hashers, computed with Python's `bcrypt` as Django calls it (cost 4).
        for (hash, password) in [
            (BCRYPT_SHA256, "imported-pass-9"),
            (BCRYPT, "imported-pass-9"),
        ] {
            assert_eq!(import_hash(hash).as_deref(), Ok(hash));
            assert!(is_legacy(hash));
            assert!(verify_legacy(password, hash), "{hash}");
            assert!(!verify_legacy("imported-pass-8", hash), "{hash}");
        }
        // The SHA-256 step matters: the plain password does not match a bcrypt_sha256 hash.
        let swapped = BCRYPT.replace("bcrypt$", "bcrypt_sha256$");
        assert!(!verify_legacy("imported-pass-9", &swapped));
        let costly = "bcrypt_sha256$$2b$17$xv9R0jrZ.zB1zQM7347lyuGXF5NNYre1opIoOIwr.WXNCRruTd2Fi";
        assert!(import_hash(costly).is_err());
        // Cut at its first comma (an unquoted CSV cell), an Argon2 hash is refused.
        assert!(import_hash("$argon2id$v=19$m=19456").is_err());
    }
}
