//! `c2trie keygen`, `c2trie sign` and `c2trie verify --pubkey`: Ed25519 signatures over
//! tables (see `c2trie::sign`).

use std::io::Write;
use std::path::{Path, PathBuf};

use c2trie::sign::{PublicKey, SecretKey, TrustedKeys, signature_path};

use crate::Result;

/// Writes a new key pair: the secret key to `out` (created, never overwritten; mode 0600 on
/// Unix) and the public key to `out.pub`.
pub(crate) fn keygen(out: &Path) -> Result<bool> {
    let key = SecretKey::generate()?;
    let public = key.public_key();
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut f = opts
        .open(out)
        .map_err(|e| format!("{}: {e}", out.display()))?;
    writeln!(
        f,
        "# c2trie ed25519 secret key {}; keep it secret",
        public.key_id()
    )?;
    writeln!(f, "{}", key.to_hex())?;
    f.sync_all()?;
    let mut pub_path = out.as_os_str().to_owned();
    pub_path.push(".pub");
    let pub_path = PathBuf::from(pub_path);
    std::fs::write(
        &pub_path,
        format!(
            "# c2trie ed25519 public key {}\n{}\n",
            public.key_id(),
            public.to_hex()
        ),
    )
    .map_err(|e| format!("{}: {e}", pub_path.display()))?;
    println!(
        "wrote {} (secret) and {} (public key {})",
        out.display(),
        pub_path.display(),
        public.key_id()
    );
    Ok(true)
}

/// Signs `table` with the secret key in `key`; writes `TABLE.sig`. The table is validated
/// first, so a broken table is never signed.
pub(crate) fn sign(key: &Path, table: &Path) -> Result<bool> {
    let key = SecretKey::read_file(key).map_err(|e| format!("{}: {e}", key.display()))?;
    let bytes = std::fs::read(table).map_err(|e| format!("{}: {e}", table.display()))?;
    let t = c2trie::Table::from_bytes(bytes).map_err(|e| format!("{}: {e}", table.display()))?;
    let sig = key.sign_table(t.as_bytes());
    let sig_path = signature_path(table);
    // Temp file and rename, so a reader never sees half a signature.
    let mut tmp = sig_path.as_os_str().to_owned();
    tmp.push(format!(".tmp{}", std::process::id()));
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, format!("{sig}\n"))
        .and_then(|()| std::fs::rename(&tmp, &sig_path))
        .map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            format!("{}: {e}", sig_path.display())
        })?;
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
