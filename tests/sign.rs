//! Signed tables: a signed table verifies; a tampered, unsigned, or foreign-signed table is
//! refused; rollback protection still applies after verification.
#![cfg(feature = "sign")]

use c2trie::sign::{
    PublicKey, SecretKey, SignError, SignErrorKind, Signature, TrustedKeys, signature_path,
};
use c2trie::swap::{FailMode, LiveTable};
use c2trie::{Compiler, List, Meta};

fn table(version: u64) -> Vec<u8> {
    let mut c = Compiler::new();
    c.list_version(version).created_unix(1_700_000_000);
    c.add(
        List::Global,
        "192.0.2.0/24".parse().unwrap(),
        "c2.txt",
        Meta::tagged("c2"),
    )
    .unwrap();
    c.add(
        List::Global,
        "2001:db8::/32".parse().unwrap(),
        "c2.txt",
        Meta::default(),
    )
    .unwrap();
    c.to_vec().unwrap()
}

fn kind<T>(r: Result<T, SignError>) -> Result<T, SignErrorKind> {
    r.map_err(|e| e.kind())
}

fn trusting(key: &SecretKey) -> TrustedKeys {
    let mut t = TrustedKeys::new();
    t.add(key.public_key());
    t
}

#[test]
fn a_signed_table_verifies_and_loads() {
    let key = SecretKey::generate().unwrap();
    let bytes = table(3);
    let sig = key.sign_table(&bytes);
    assert_eq!(sig.key_id(), key.public_key().key_id());
    let t = trusting(&key).load_table(bytes, &sig.to_string()).unwrap();
    assert_eq!(t.list_version(), 3);
}

#[test]
fn every_tampered_byte_is_refused() {
    let key = SecretKey::generate().unwrap();
    let trusted = trusting(&key);
    let bytes = table(3);
    let sig = key.sign_table(&bytes);
    for i in (0..bytes.len()).step_by(7) {
        let mut b = bytes.clone();
        b[i] ^= 0x01;
        assert!(
            matches!(
                kind(trusted.verify(&b, &sig)),
                Err(SignErrorKind::Untrusted)
            ),
            "byte {i}"
        );
    }
    // Appending or truncating breaks it too.
    let mut longer = bytes.clone();
    longer.push(0);
    assert!(trusted.verify(&longer, &sig).is_err());
    assert!(trusted.verify(&bytes[..bytes.len() - 1], &sig).is_err());
    // A changed signature does not verify the original.
    let mut text = sig.to_string();
    let last = text.pop().unwrap();
    text.push(if last == '0' { '1' } else { '0' });
    let changed = Signature::from_text(&text).unwrap();
    assert!(trusted.verify(&bytes, &changed).is_err());
}

#[test]
fn a_foreign_key_and_an_empty_key_set_are_refused() {
    let vendor = SecretKey::generate().unwrap();
    let attacker = SecretKey::generate().unwrap();
    let bytes = table(3);
    let forged = attacker.sign_table(&bytes);
    let err = trusting(&vendor).verify(&bytes, &forged).unwrap_err();
    assert!(
        err.to_string().contains(&attacker.public_key().key_id()),
        "{err}"
    );
    assert!(matches!(
        kind(TrustedKeys::new().verify(&bytes, &vendor.sign_table(&bytes))),
        Err(SignErrorKind::NoTrustedKeys)
    ));
    // Any of several trusted keys will do (key rotation).
    let mut both = trusting(&vendor);
    both.add(attacker.public_key());
    assert!(both.verify(&bytes, &forged).is_ok());
}

#[test]
fn files_unsigned_refused_signed_accepted_and_rollback_still_refused() {
    let dir = tempfile::tempdir().unwrap();
    let key = SecretKey::generate().unwrap();
    let trusted = trusting(&key);
    let path = dir.path().join("t.c2t");
    std::fs::write(&path, table(5)).unwrap();
    assert!(matches!(
        kind(trusted.read_table(&path)),
        Err(SignErrorKind::Unsigned)
    ));
    let sig = key.sign_table(&std::fs::read(&path).unwrap());
    std::fs::write(signature_path(&path), format!("{sig}\n")).unwrap();
    let live = LiveTable::new(trusted.read_table(&path).unwrap(), FailMode::Open);
    assert_eq!(live.list_version(), Some(5));

    // An older table, properly signed, is a replay: verification passes, the swap refuses.
    let old = table(4);
    std::fs::write(&path, &old).unwrap();
    std::fs::write(signature_path(&path), key.sign_table(&old).to_string()).unwrap();
    let t = trusted.read_table(&path).unwrap();
    assert!(live.replace(t).is_err());
    assert_eq!(live.list_version(), Some(5));

    // A newer table whose signature belongs to another table is refused before any swap.
    std::fs::write(&path, table(6)).unwrap();
    assert!(matches!(
        kind(trusted.read_table(&path)),
        Err(SignErrorKind::Untrusted)
    ));
    // A signed file that is not a table: the signature holds, validation refuses it.
    std::fs::write(&path, b"not a table").unwrap();
    std::fs::write(
        signature_path(&path),
        key.sign_table(b"not a table").to_string(),
    )
    .unwrap();
    assert!(matches!(
        kind(trusted.read_table(&path)),
        Err(SignErrorKind::Load)
    ));
}

#[test]
fn key_and_signature_text() {
    let key = SecretKey::generate().unwrap();
    let hex = key.public_key().to_hex();
    assert_eq!(hex.len(), 64);
    let from_hex = PublicKey::from_text(&format!("# comment\n{hex}\n")).unwrap();
    assert_eq!(from_hex, key.public_key());
    // The same 32 bytes in base64.
    let bytes: Vec<u8> = (0..32)
        .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap())
        .collect();
    let b64 = base64_encode(&bytes);
    assert_eq!(PublicKey::from_text(&b64).unwrap(), key.public_key());
    let again = SecretKey::from_text(&key.to_hex()).unwrap();
    assert_eq!(again.public_key(), key.public_key());

    for bad in ["", "zz", &hex[..62], &format!("{hex}00")] {
        assert!(
            matches!(kind(PublicKey::from_text(bad)), Err(SignErrorKind::BadKey)),
            "{bad:?}"
        );
    }
    let sig = key.sign_table(b"x").to_string();
    assert_eq!(
        Signature::from_text(&format!("\n{sig}\n"))
            .unwrap()
            .to_string(),
        sig
    );
    for bad in [
        String::new(),
        sig.replace("c2trie-ed25519-v1", "c2trie-rsa"),
        sig[..sig.len() - 2].to_owned(),
        format!("{sig} extra"),
    ] {
        assert!(
            matches!(
                kind(Signature::from_text(&bad)),
                Err(SignErrorKind::BadSignature)
            ),
            "{bad:?}"
        );
    }
}

/// A plain base64 encoder, independent of the one the library decodes with.
fn base64_encode(b: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for c in b.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= c.len() {
                out.push(A[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// A not-after time is part of what is signed: within it the table loads, after it the
/// table is refused as expired, and an edited time breaks the signature. Signatures without
/// one are refused only when the product asks for one.
#[test]
fn a_signed_not_after_time_is_enforced() {
    let key = SecretKey::generate().unwrap();
    let bytes = table(4);
    let sig = key.sign_table_until(&bytes, 2_000_000_000);
    let text = sig.to_string();
    assert!(text.starts_with("c2trie-ed25519-v2 "), "{text}");
    let parsed = Signature::from_text(&text).unwrap();
    assert_eq!(parsed, sig);
    assert_eq!(parsed.not_after(), Some(2_000_000_000));
    let trusted = trusting(&key);
    trusted.verify_at(&bytes, &sig, 1_999_999_999).unwrap();
    trusted.verify_at(&bytes, &sig, 2_000_000_000).unwrap();
    match kind(trusted.verify_at(&bytes, &sig, 2_000_000_001)) {
        Err(SignErrorKind::Expired { not_after, now }) => {
            assert_eq!((not_after, now), (2_000_000_000, 2_000_000_001));
        }
        other => panic!("{other:?}"),
    }
    let msg = trusted
        .verify_at(&bytes, &sig, 2_000_000_001)
        .unwrap_err()
        .to_string();
    assert!(msg.contains("2033-05-18T03:33:20"), "{msg}");
    // Moving the time forward (or turning it into a v1 line) breaks the signature.
    for forged in [
        text.replace(" 2000000000 ", " 2100000000 "),
        text.replace("c2trie-ed25519-v2", "c2trie-ed25519-v1")
            .replace(" 2000000000 ", " "),
    ] {
        let f = Signature::from_text(&forged).unwrap();
        assert!(
            matches!(
                kind(trusted.verify_at(&bytes, &f, 1)),
                Err(SignErrorKind::Untrusted)
            ),
            "{forged}"
        );
    }
    // The current clock: a time in the past is refused by `load_table`.
    let old = key.sign_table_until(&bytes, 1_000_000_000).to_string();
    assert!(matches!(
        kind(trusted.load_table(bytes.clone(), &old)),
        Err(SignErrorKind::Expired { .. })
    ));
    // v1 signatures: accepted unless a not-after time is required.
    let v1 = key.sign_table(&bytes);
    let mut strict = trusting(&key);
    strict.verify_at(&bytes, &v1, 1).unwrap();
    strict.require_not_after(true);
    assert!(matches!(
        kind(strict.verify_at(&bytes, &v1, 1)),
        Err(SignErrorKind::NoExpiry)
    ));
    strict.verify_at(&bytes, &sig, 1).unwrap();
    // Malformed times.
    let hexsig = text.rsplit(' ').next().unwrap();
    let id = key.public_key().key_id();
    for bad in [
        format!("c2trie-ed25519-v2 {id} {hexsig}"),
        format!("c2trie-ed25519-v2 {id} -1 {hexsig}"),
        format!("c2trie-ed25519-v2 {id} 99999999999999999999999 {hexsig}"),
        format!("c2trie-ed25519-v2 {id} 12 {hexsig} x"),
    ] {
        assert!(
            matches!(
                kind(Signature::from_text(&bad)),
                Err(SignErrorKind::BadSignature)
            ),
            "{bad}"
        );
    }
}
