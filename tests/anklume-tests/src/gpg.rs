//! A throwaway GnuPG home, for the tests where GnuPG is the independent OpenPGP peer.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{ScratchDir, unique_name};

/// A throwaway GnuPG home with one key pair (ed25519 / cv25519, no passphrase).
pub struct Gpg {
    /// The GnuPG home directory (mode 0700).
    pub home: ScratchDir,
    /// The key's e-mail address.
    pub email: String,
}

impl Gpg {
    pub fn with_new_key() -> Self {
        let home = ScratchDir::new("gpg");
        fs::set_permissions(home.path(), fs::Permissions::from_mode(0o700)).unwrap();
        let email = format!("{}@example.org", unique_name("owner"));
        let gpg = Self { home, email };
        let uid = format!("Backup Owner <{}>", gpg.email);
        gpg.ok(&[
            "--pinentry-mode",
            "loopback",
            "--passphrase",
            "",
            "--quick-gen-key",
            &uid,
            "future-default",
            "default",
            "never",
        ]);
        gpg
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new("gpg");
        command
            .arg("--batch")
            .arg("--yes")
            .args(args)
            .env("GNUPGHOME", self.home.path());
        command
    }

    pub fn ok(&self, args: &[&str]) -> Vec<u8> {
        let out = self.command(args).output().unwrap();
        assert!(out.status.success(), "gpg {args:?}: {}", text(&out.stderr));
        out.stdout
    }

    /// The public certificate, exported to a file.
    pub fn public_cert(&self, dir: &Path) -> PathBuf {
        let path = dir.join("owner.pub.asc");
        fs::write(&path, self.ok(&["--armor", "--export", &self.email])).unwrap();
        path
    }

    /// The secret key, exported to a file.
    pub fn secret_key(&self, dir: &Path) -> PathBuf {
        let path = dir.join("owner.sec.asc");
        let key = self.ok(&[
            "--pinentry-mode",
            "loopback",
            "--passphrase",
            "",
            "--armor",
            "--export-secret-keys",
            &self.email,
        ]);
        fs::write(&path, key).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        path
    }
}

impl Drop for Gpg {
    fn drop(&mut self) {
        let _ = Command::new("gpgconf")
            .args(["--kill", "gpg-agent"])
            .env("GNUPGHOME", self.home.path())
            .status();
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}
