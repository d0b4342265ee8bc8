//! The command line of anklume-backup.

use std::path::PathBuf;

use anklume_common::InstanceRef;
use anklume_common::args::{instance_ref, member_name, project_name, remote_name};
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
    /// List the backups in DIR, or the snapshots of a repository
    List(ListArgs),
    /// Create a repository (restic's format) whose random key is sealed to --gpg recipients
    Init(InitArgs),
    /// Print a repository's unsealed password, or change who may open it (add/remove)
    Key(KeyCmdArgs),
    /// Forget the snapshots a retention policy does not keep, and free the space they held
    Prune(PruneArgs),
}

/// A repository (`--repo`): a folder, sftp:USER@HOST:/PATH, rest:URL, s3:URL.
const REPO_HELP: &str = "Repository in restic's format: a folder, sftp:USER@HOST:/PATH, rest:http://HOST:PORT/ or s3:https://HOST/BUCKET/PATH [env: ANKLUME_BACKUP_REPO]";

#[derive(Debug, Args)]
pub struct InitArgs {
    #[arg(long, value_name = "LOCATION", help = REPO_HELP)]
    pub repo: Option<String>,
    /// Seal the repository's key to this OpenPGP certificate (fingerprint, key ID or e-mail),
    /// looked up in the --recipient-file certificates, then in your GnuPG keyring; repeatable
    #[arg(
        long = "gpg",
        value_name = "ID",
        required_unless_present = "recipient_file"
    )]
    pub recipients: Vec<String>,
    /// OpenPGP certificates to seal the key to (all of them, unless --gpg picks some)
    #[arg(long, value_name = "FILE")]
    pub recipient_file: Vec<PathBuf>,
    /// Sign the sealed key with this key [default: the first --gpg recipient whose secret key
    /// is at hand]; a sealed key is always signed
    #[arg(long, value_name = "ID")]
    pub sign_with: Option<String>,
    /// Secret key to sign with (armored or binary, not passphrase-protected); repeatable
    #[arg(long, value_name = "FILE")]
    pub key_file: Vec<PathBuf>,
    /// Errors only
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = false)]
pub struct KeyCmdArgs {
    #[command(subcommand)]
    pub action: Option<KeyAction>,
    #[arg(long, value_name = "LOCATION", help = REPO_HELP)]
    pub repo: Option<String>,
    #[command(flatten)]
    pub keys: KeyArgs,
    /// Errors only
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(Debug, Subcommand)]
pub enum KeyAction {
    /// Seal a new key to the current recipients and these (nothing else is rewritten)
    Add(KeyChange),
    /// Seal a new key to the current recipients but these; the old key opens nothing any more
    Remove(KeyChange),
}

#[derive(Debug, Args)]
pub struct KeyChange {
    /// The certificate to add or remove (fingerprint, key ID or e-mail); repeatable
    #[arg(long = "gpg", value_name = "ID", required = true)]
    pub recipients: Vec<String>,
    #[arg(long, value_name = "LOCATION", help = REPO_HELP)]
    pub repo: Option<String>,
    /// OpenPGP certificates of recipients that are not in your GnuPG keyring
    #[arg(long, value_name = "FILE")]
    pub recipient_file: Vec<PathBuf>,
    /// Sign the new sealed key with this key [default: the first recipient whose secret key
    /// is at hand]
    #[arg(long, value_name = "ID")]
    pub sign_with: Option<String>,
    /// Errors only
    #[arg(short, long)]
    pub quiet: bool,
    #[command(flatten)]
    pub keys: KeyArgs,
}

#[derive(Debug, Args)]
pub struct PruneArgs {
    #[arg(long, value_name = "LOCATION", help = REPO_HELP)]
    pub repo: Option<String>,
    /// Only the snapshots of this instance
    #[arg(long, value_name = "NAME")]
    pub instance: Option<String>,
    /// Keep the N latest snapshots (of each instance)
    #[arg(long, value_name = "N")]
    pub keep_last: Option<u32>,
    /// Keep the latest snapshot of each of the N last hours with one
    #[arg(long, value_name = "N")]
    pub keep_hourly: Option<u32>,
    /// Keep the latest snapshot of each of the N last days with one
    #[arg(long, value_name = "N")]
    pub keep_daily: Option<u32>,
    /// Keep the latest snapshot of each of the N last weeks with one
    #[arg(long, value_name = "N")]
    pub keep_weekly: Option<u32>,
    /// Keep the latest snapshot of each of the N last months with one
    #[arg(long, value_name = "N")]
    pub keep_monthly: Option<u32>,
    /// Keep the latest snapshot of each of the N last years with one
    #[arg(long, value_name = "N")]
    pub keep_yearly: Option<u32>,
    /// List what would be forgotten (IDs on stdout), change nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Delete unused data at once, not after a day (only when nothing else writes to the
    /// repository meanwhile)
    #[arg(long)]
    pub instant: bool,
    #[command(flatten)]
    pub keys: KeyArgs,
    /// Errors only
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// The instance to back up: [REMOTE:]INSTANCE
    #[arg(value_name = "INSTANCE", value_parser = instance_ref)]
    pub instance: InstanceRef,
    /// Its project [default: found from the name]
    #[arg(long, value_name = "P", value_parser = project_name)]
    pub project: Option<String>,
    /// Directory of the backup file, created 0700 if missing, or the file itself when named as
    /// one (`web.tar.zst.gpg`); `-` writes to stdout [default: $ANKLUME_BACKUP_DIR, else
    /// backups]
    #[arg(short, long, value_name = "DIR|FILE", conflicts_with = "repo")]
    pub output: Option<PathBuf>,
    /// Back up into a new snapshot of this repository instead of a file (restic's format:
    /// a folder, sftp:USER@HOST:/PATH, rest:URL, s3:URL) [env: ANKLUME_BACKUP_REPO]
    #[arg(long, value_name = "LOCATION")]
    pub repo: Option<String>,
    /// Replace a backup file of the same name; with `-o -`, write even to a terminal
    #[arg(long)]
    pub force: bool,
    /// Leave the instance's snapshots out
    #[arg(long)]
    pub instance_only: bool,
    /// Compression of the archive, done by Incus
    /// [default: zstd]
    #[arg(long, value_name = "ALGORITHM", value_enum)]
    pub compression: Option<Compression>,
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
    /// Secret key to sign with (armored or binary, not passphrase-protected), or to open the
    /// --repo repository's key with; repeatable
    #[arg(long, value_name = "FILE")]
    pub key_file: Vec<PathBuf>,
    /// Write an encrypted backup without a signature, on purpose (restore then needs
    /// --allow-unsigned)
    #[arg(long)]
    pub unsigned: bool,
    /// With --repo: trust a sealed key signed by this certificate (a file, or the full
    /// fingerprint of one of your GnuPG keyring); repeatable [default: the key that opens it]
    #[arg(long, value_name = "FINGERPRINT|FILE")]
    pub signer: Vec<String>,
    /// No progress line
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("input").required(true).args(["file", "file_positional"]))]
pub struct RestoreArgs {
    /// The backup file (`-` reads stdin); with --repo, INSTANCE (its latest snapshot),
    /// INSTANCE@SNAPSHOT or @SNAPSHOT
    #[arg(value_name = "FILE|INSTANCE[@SNAPSHOT]")]
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
    /// Restore on this member of the remote's cluster (`incus cluster list REMOTE:`); a member
    /// that is not online is refused before any data moves
    #[arg(long, value_name = "MEMBER", value_parser = member_name)]
    pub target: Option<String>,
    /// Project to restore into [default: the snapshot's project if it exists, else default]
    #[arg(long, value_name = "P", value_parser = project_name)]
    pub project: Option<String>,
    /// Restore a snapshot of this repository [env: ANKLUME_BACKUP_REPO]
    #[arg(long, value_name = "LOCATION", conflicts_with = "file")]
    pub repo: Option<String>,
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
#[command(group = clap::ArgGroup::new("what").args(["file", "repo"]))]
pub struct VerifyArgs {
    /// The backup file; `-` reads stdin
    #[arg(value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// Check this repository instead [env: ANKLUME_BACKUP_REPO]
    #[arg(long, value_name = "LOCATION")]
    pub repo: Option<String>,
    /// With --repo: re-read and authenticate every byte of data, not only the structure
    #[arg(long, conflicts_with = "file")]
    pub read_data: bool,
    /// Errors only: no report; the exit status says whether the backup is intact
    #[arg(short, long)]
    pub quiet: bool,
    /// Format of the report
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
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
    /// The directory of backups [default: backups]
    #[arg(value_name = "DIR", conflicts_with = "repo")]
    pub dir: Option<PathBuf>,
    /// List the snapshots of this repository [env: ANKLUME_BACKUP_REPO]
    #[arg(long, value_name = "LOCATION")]
    pub repo: Option<String>,
    #[command(flatten)]
    pub keys: KeyArgs,
    /// Errors only (the listing is data: it is still written)
    #[arg(short, long)]
    pub quiet: bool,
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
    Csv,
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
        assert_eq!(args.output, Some(PathBuf::from("-")));
        assert_eq!(args.compression, Some(Compression::Gzip));
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
