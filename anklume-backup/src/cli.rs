//! The command line of anklume-backup.

use std::path::PathBuf;

use anklume_common::InstanceRef;
use anklume_common::args::{instance_ref, project_name, remote_name};
use clap::{Args, Parser, Subcommand, ValueEnum};

/// Streaming, natively encrypted backups and restores of Incus instances.
///
/// `create` streams `incus export` through OpenPGP encryption into a file that appears only
/// when complete; `restore` authenticates and streams a backup into `incus import` without ever
/// writing it decrypted to disk; `verify` checks a backup end to end without Incus; `list`
/// shows the backups of a directory.
#[derive(Debug, Parser)]
#[command(name = "anklume-backup", version, about, long_about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Back INSTANCE up into DIR (or stdout), encrypted to each --gpg recipient or a passphrase
    Create(CreateArgs),
    /// Restore a backup (plain or encrypted, recognised by content) as an instance
    Restore(RestoreArgs),
    /// Check that a backup is intact (decryption, compression, archive, index) and describe it
    Verify(VerifyArgs),
    /// List the backups in DIR
    List(ListArgs),
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// The instance to back up: [REMOTE:]INSTANCE
    #[arg(value_name = "INSTANCE", value_parser = instance_ref)]
    pub instance: InstanceRef,
    /// Its project [default: found from the name]
    #[arg(long, value_name = "P", value_parser = project_name)]
    pub project: Option<String>,
    /// Directory of the backup file, created 0700 if missing; `-` writes to stdout
    #[arg(short, long, value_name = "DIR", default_value = "backups")]
    pub output: PathBuf,
    /// Replace a backup file of the same name
    #[arg(long)]
    pub force: bool,
    /// Leave the instance's snapshots out
    #[arg(long)]
    pub instance_only: bool,
    /// Compression of the archive, done by Incus
    #[arg(long, value_name = "ALGORITHM", value_enum, default_value_t = Compression::Zstd)]
    pub compression: Compression,
    /// Encrypt to this OpenPGP certificate (fingerprint, key ID or e-mail), looked up in the
    /// --recipient-file certificates, then in your GnuPG keyring; repeatable
    #[arg(long = "gpg", visible_alias = "gpg-recipient", value_name = "ID")]
    pub recipients: Vec<String>,
    /// OpenPGP certificates to encrypt to (all of them, unless --gpg picks some); repeatable
    #[arg(long, value_name = "FILE")]
    pub recipient_file: Vec<PathBuf>,
    /// Encrypt with the passphrase in FILE (its first line), instead of or as well as keys
    #[arg(long, value_name = "FILE")]
    pub passphrase_file: Option<PathBuf>,
    /// Sign with this key (fingerprint, key ID or e-mail), from --key-file, else your GnuPG
    /// agent [default: the first --gpg recipient whose secret key is at hand]
    #[arg(long, value_name = "ID", conflicts_with = "unsigned")]
    pub sign_with: Option<String>,
    /// Secret key to sign with (armored or binary, not passphrase-protected); repeatable
    #[arg(long, value_name = "FILE")]
    pub key_file: Vec<PathBuf>,
    /// Write an encrypted backup without a signature, on purpose (restore then needs
    /// --allow-unsigned)
    #[arg(long)]
    pub unsigned: bool,
    /// No progress line
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("input").required(true).args(["file", "file_positional"]))]
pub struct RestoreArgs {
    /// The backup file; `-` reads stdin
    #[arg(value_name = "FILE")]
    pub file_positional: Option<PathBuf>,
    /// The backup file (same as FILE)
    #[arg(long, value_name = "FILE", conflicts_with = "file_positional")]
    pub file: Option<PathBuf>,
    /// Name of the restored instance, on that Incus remote if REMOTE: is given [default: the
    /// name recorded in the backup]
    #[arg(long, value_name = "[REMOTE:]NEW", value_parser = instance_ref)]
    pub name: Option<InstanceRef>,
    /// Restore on this Incus remote (`incus remote list`), keeping the name [default: the
    /// client's default remote]
    #[arg(long, value_name = "REMOTE", value_parser = remote_name)]
    pub remote: Option<String>,
    /// Project to restore into
    #[arg(long, value_name = "P", default_value = "default", value_parser = project_name)]
    pub project: String,
    /// Storage pool of the restored instance [default: the one recorded, else the profile's]
    #[arg(long, value_name = "POOL")]
    pub storage: Option<String>,
    /// Replace an existing instance of that name, once the backup has been imported
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub keys: KeyArgs,
    /// No progress line
    #[arg(short, long)]
    pub quiet: bool,
}

impl RestoreArgs {
    pub fn input(&self) -> &PathBuf {
        self.file
            .as_ref()
            .or(self.file_positional.as_ref())
            .expect("clap requires FILE or --file")
    }
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The backup file; `-` reads stdin
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    #[command(flatten)]
    pub keys: KeyArgs,
}

/// What opens an encrypted backup and whose signature is trusted: `restore` and `verify`.
#[derive(Debug, Args)]
pub struct KeyArgs {
    /// Secret key to decrypt with (armored or binary); repeatable. Without it, your GnuPG
    /// agent is asked, then the passphrase
    #[arg(long, value_name = "FILE")]
    pub key_file: Vec<PathBuf>,
    /// Passphrase (first line of FILE) of a passphrase-encrypted backup or of a --key-file
    #[arg(long, value_name = "FILE")]
    pub passphrase_file: Option<PathBuf>,
    /// Trust signatures by this certificate: a file, or the full fingerprint of one of your
    /// GnuPG keyring; repeatable [default: the key that decrypts the backup]
    #[arg(long, value_name = "FINGERPRINT|FILE")]
    pub signer: Vec<String>,
    /// Accept an encrypted backup that no trusted signer signed
    #[arg(long)]
    pub allow_unsigned: bool,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// The directory of backups
    #[arg(value_name = "DIR", default_value = "backups")]
    pub dir: PathBuf,
    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

/// Compression algorithms of `incus export`, with the file extension each gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Compression {
    Zstd,
    Gzip,
    Xz,
    None,
}

impl Compression {
    /// The value of `incus export --compression`.
    pub fn incus_name(self) -> &'static str {
        match self {
            Self::Zstd => "zstd",
            Self::Gzip => "gzip",
            Self::Xz => "xz",
            Self::None => "none",
        }
    }

    /// The file extension of such an archive.
    pub fn extension(self) -> &'static str {
        match self {
            Self::Zstd => "tar.zst",
            Self::Gzip => "tar.gz",
            Self::Xz => "tar.xz",
            Self::None => "tar",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Table,
    Json,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn options_may_follow_the_instance_name() {
        let cli = Cli::try_parse_from([
            "anklume-backup",
            "create",
            "web",
            "--gpg",
            "alice@example.org",
            "--gpg-recipient",
            "RECOVERY",
            "-o",
            "-",
            "--compression",
            "gzip",
        ])
        .unwrap();
        let Command::Create(args) = cli.command else {
            panic!("not create")
        };
        assert_eq!(args.instance.name, "web");
        assert_eq!(args.recipients, ["alice@example.org", "RECOVERY"]);
        assert_eq!(args.output, PathBuf::from("-"));
        assert_eq!(args.compression, Compression::Gzip);
    }

    #[test]
    fn restore_takes_the_file_as_argument_or_option_not_both() {
        let parse =
            |args: &[&str]| Cli::try_parse_from([&["anklume-backup", "restore"], args].concat());
        assert!(parse(&["b.tar.zst", "--name", "web2"]).is_ok());
        assert!(parse(&["--file", "b.tar.zst"]).is_ok());
        assert!(parse(&["a", "--file", "b"]).is_err());
        assert!(parse(&["--name", "x"]).is_err());
        assert!(parse(&["-", "--name", "lab:web2", "--remote", "lab"]).is_ok());
        assert!(parse(&["-", "--remote", "lab:"]).is_err());
    }
}
