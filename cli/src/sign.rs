//! `c2trie keygen`, `c2trie sign` and `c2trie verify --pubkey`: Ed25519 signatures over
//! tables (see `c2trie::sign`).

use std::path::{Path, PathBuf};

use c2trie::sign::{PublicKey, SecretKey, TrustedKeys, signature_path};

use crate::Result;
use crate::output::{self, Access, Existing};

/// Writes a new key pair: the secret key to `out` (created, never overwritten; mode 0600 on
/// Unix) and the public key to `out.pub` (replaced if present). Neither is written through
/// a symbolic link: a link at either path is refused before anything is written.
pub(crate) fn keygen(out: &Path) -> Result<bool> {
    let mut pub_path = out.as_os_str().to_owned();
    pub_path.push(".pub");
    let pub_path = PathBuf::from(pub_path);
    output::refuse_symlink(out)?;
    output::refuse_symlink(&pub_path)?;
    let key = SecretKey::generate()?;
    let public = key.public_key();
    let secret = format!(
        "# c2trie ed25519 secret key {}; keep it secret\n{}\n",
        public.key_id(),
        key.to_hex()
    );
    output::write(out, secret.as_bytes(), Existing::Keep, Access::Private)?;
    let public_text = format!(
        "# c2trie ed25519 public key {}\n{}\n",
        public.key_id(),
        public.to_hex()
    );
    output::write(
        &pub_path,
        public_text.as_bytes(),
        Existing::Replace,
        Access::Default,
    )?;
    println!(
        "wrote {} (secret) and {} (public key {})",
        out.display(),
        pub_path.display(),
        public.key_id()
    );
    Ok(true)
}

/// Signs `table` with the secret key in `key`; writes `TABLE.sig` (never through a symbolic
/// link; atomically, so a reader never sees half a signature). The table is validated
/// first, so a broken table is never signed.
pub(crate) fn sign(key: &Path, table: &Path) -> Result<bool> {
    let key = SecretKey::read_file(key).map_err(|e| format!("{}: {e}", key.display()))?;
    let bytes = std::fs::read(table).map_err(|e| format!("{}: {e}", table.display()))?;
    let t = c2trie::Table::from_bytes(bytes).map_err(|e| format!("{}: {e}", table.display()))?;
    let sig = key.sign_table(t.as_bytes());
    let sig_path = signature_path(table);
    output::write(
        &sig_path,
        format!("{sig}\n").as_bytes(),
        Existing::Replace,
        Access::Default,
    )?;
    println!(
        "wrote {} (key {}, list version {})",
        sig_path.display(),
        sig.key_id(),
        t.list_version()
    );
    Ok(true)
}

/// Verifies `TABLE.sig` against the trusted public keys, then validates the table.
pub(crate) fn verify_signed(pubkeys: &[PathBuf], table: &Path, json: bool) -> Result<bool> {
    let mut trusted = TrustedKeys::new();
    for p in pubkeys {
        trusted.add(PublicKey::read_file(p).map_err(|e| format!("{}: {e}", p.display()))?);
    }
    let result = trusted.read_table(table);
    if json {
        let v = match &result {
            Ok(t) => serde_json::json!({
                "file": table.display().to_string(),
                "valid": true,
                "signature": "verified",
                "list_version": t.list_version(),
                "entries": t.len(),
            }),
            Err(e) => serde_json::json!({
                "file": table.display().to_string(),
                "valid": false,
                "error": e.to_string(),
            }),
        };
        println!("{v}");
    }
    match result {
        Ok(_) if json => Ok(true),
        Err(e) if json => {
            eprintln!("{}: {e}", table.display());
            Ok(false)
        }
        Ok(t) => {
            println!(
                "{}: ok, signature verified (format {}, list version {}, {} entries)",
                table.display(),
                t.format_version(),
                t.list_version(),
                t.len()
            );
            Ok(true)
        }
        Err(e) => {
            eprintln!("{}: {e}", table.display());
            Ok(false)
        }
    }
}
