//! The command line of anklume-golden.

use std::net::Ipv4Addr;

use anklume_common::InstanceRef;
use anklume_common::args::{instance_name, instance_ref, member_name, project_name, remote_colon};
use clap::{Args, Parser, Subcommand, ValueEnum};

/// Golden images: instances with a `pristine` snapshot, cloned copy-on-write.
///
/// A golden image is an instance whose `pristine` snapshot is the reference state. `create`
/// takes (or atomically replaces) that snapshot, `derive` clones it into new instances,
/// `publish` turns it into an Incus image, `list` shows every golden image.
#[derive(Debug, Parser)]
#[command(name = "anklume-golden", version, about, long_about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Errors only: nothing on stderr but them
    #[arg(short, long, global = true)]
    pub quiet: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Stop NAME ([REMOTE:]NAME) cleanly and take its `pristine` snapshot (replacing the previous one atomically,
    /// never expiring); NAME stays stopped
    Create(CreateArgs),
    /// Create each NEW as a copy of NAME's `pristine` snapshot, in NAME's project
    Derive(DeriveArgs),
    /// Publish NAME's `pristine` snapshot as an Incus image under ALIAS
    Publish(PublishArgs),
    /// List the golden images (instances with a `pristine` snapshot)
    List(ListArgs),
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// The instance to make golden, [REMOTE:]NAME
    #[arg(value_parser = instance_ref)]
    pub name: InstanceRef,
    /// Its project [default: found from the name]
    #[arg(long, value_name = "P", value_parser = project_name)]
    pub project: Option<String>,
    /// Force the stop when a clean stop does not end within --timeout
    #[arg(long)]
    pub force: bool,
    /// How long a clean stop may take (at least 1: Incus takes 0 as "force the stop now")
    #[arg(long, value_name = "SECONDS", default_value_t = 60,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub timeout: u32,
}

#[derive(Debug, Args)]
pub struct DeriveArgs {
    /// The golden instance, [REMOTE:]NAME
    #[arg(value_parser = instance_ref)]
    pub name: InstanceRef,
    /// Names of the new instances (on NAME's remote)
    #[arg(required = true, value_name = "NEW", value_parser = instance_name)]
    pub new: Vec<String>,
    /// The golden instance's project [default: found from the name]
    #[arg(long, value_name = "P", value_parser = project_name)]
    pub project: Option<String>,
    /// Static IPv4 address of the clone, replacing the template's (only with one NEW)
    #[arg(long, value_name = "ADDRESS")]
    pub ipv4: Option<Ipv4Addr>,
    /// Start the new instances
    #[arg(long)]
    pub start: bool,
    /// Make the clones on this member of NAME's cluster
    #[arg(long, value_name = "MEMBER", value_parser = member_name, conflicts_with = "spread")]
    pub target: Option<String>,
    /// Place the clones round-robin over the members of NAME's cluster that are online
    #[arg(long)]
    pub spread: bool,
}

#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("alias_name").required(true).args(["alias", "alias_positional"]))]
pub struct PublishArgs {
    /// The golden instance, [REMOTE:]NAME (the image is made on that remote)
    #[arg(value_parser = instance_ref)]
    pub name: InstanceRef,
    /// Alias of the image
    #[arg(long, value_name = "ALIAS")]
    pub alias: Option<String>,
    /// Alias of the image (same as --alias)
    #[arg(value_name = "ALIAS", conflicts_with = "alias")]
    pub alias_positional: Option<String>,
    /// The golden instance's project [default: found from the name]
    #[arg(long, value_name = "P", value_parser = project_name)]
    pub project: Option<String>,
    /// Replace the image an existing ALIAS points to
    #[arg(long)]
    pub reuse: bool,
    /// Make the image public (readable by untrusted clients)
    #[arg(long)]
    pub public: bool,
}

impl PublishArgs {
    pub fn alias(&self) -> &str {
        self.alias
            .as_deref()
            .or(self.alias_positional.as_deref())
            .unwrap_or_default()
    }
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// List the golden images of this remote [default: the default remote]
    #[arg(value_name = "REMOTE:", value_parser = remote_colon, conflicts_with = "all_remotes")]
    pub remote: Option<String>,
    /// List the golden images of every Incus remote of the client, with a REMOTE column; a
    /// remote that does not answer is a row saying so
    #[arg(long)]
    pub all_remotes: bool,
    /// Only this project [default: all projects]
    #[arg(long, value_name = "P", value_parser = project_name)]
    pub project: Option<String>,
    /// Output format
    #[arg(long, value_name = "FORMAT", value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Table,
    Json,
    Csv,
}
