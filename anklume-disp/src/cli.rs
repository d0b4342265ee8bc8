//! The command line of anklume-disp.

use std::time::Duration;

use clap::Parser;

use crate::specs::{self, Limits, Mount, Network, Publish, User};

/// Disposable Incus instances: a shell or one command in a fresh instance, destroyed afterwards.
///
/// The instance is launched with Incus's --ephemeral, so stopping it destroys it; anklume-disp
/// also destroys it when the shell or command ends, on errors, and on SIGINT, SIGTERM or SIGHUP.
#[derive(Debug, Parser)]
#[command(name = "anklume-disp", version, about, long_about)]
#[command(
    after_help = "Exit status: the command's or shell's own (128+N if it died of signal N); \
1 when anklume-disp itself fails; 2 on a usage error; 130/143/129 after SIGINT/SIGTERM/SIGHUP."
)]
pub struct Cli {
    /// Image to launch [default: global.default_os_image from infra.yml, else images:debian/13]
    #[arg(short, long, value_name = "IMAGE", conflicts_with = "from", value_parser = anklume_common::args::image_name)]
    pub image: Option<String>,

    /// Incus project to launch in [default: the first domain of infra.yml with trust_level:
    /// disposable, else default]
    #[arg(short, long, value_name = "DOMAIN", visible_alias = "project", value_parser = anklume_common::args::project_name)]
    pub domain: Option<String>,

    /// Run CMD with `sh -c` inside the instance, then destroy it
    #[arg(short, long, value_name = "CMD", conflicts_with = "command")]
    pub cmd: Option<String>,

    /// Attach to the instance's console instead of a shell (detach: Ctrl+a q), then destroy it
    #[arg(long, conflicts_with_all = ["cmd", "command", "no_attach"])]
    pub console: bool,

    /// Launch in the background: print the instance name on stdout (REMOTE:NAME on another
    /// remote) and return
    #[arg(long)]
    pub no_attach: bool,

    /// A virtual machine instead of a container
    #[arg(long, conflicts_with = "from")]
    pub vm: bool,

    /// Start from GOLDEN's `pristine` snapshot (an ephemeral copy-on-write clone) instead of an
    /// image; the clone goes to GOLDEN's project unless --domain is given. PROJECT/GOLDEN picks
    /// among namesakes of several projects; REMOTE:GOLDEN takes it on that remote
    #[arg(long, value_name = "[REMOTE:][PROJECT/]GOLDEN")]
    pub from: Option<String>,

    /// Launch on this Incus remote (`incus remote list`) [default: the client's default remote]
    #[arg(long, value_name = "REMOTE", value_parser = anklume_common::args::remote_name)]
    pub remote: Option<String>,

    /// Launch on this member of the remote's cluster (`incus cluster list REMOTE:`); a member
    /// that is not online is refused before anything is made
    #[arg(long, value_name = "MEMBER", value_parser = anklume_common::args::member_name)]
    pub target: Option<String>,

    /// Share a host folder, file or unix socket at PATH (default /mnt/host); repeatable.
    /// `:ro` makes it read-only (Incus enforces it). The command runs in the first one. What
    /// the instance writes belongs to the folder's owner, who may not be root, or with --user
    /// to that user
    #[arg(long, value_name = "HOST_PATH[:PATH][:ro|:rw]", value_parser = specs::parse_mount,
          conflicts_with_all = ["no_attach", "vm"])]
    pub mount: Vec<Mount>,

    /// Publish PORT of the instance on HOST_ADDR:HOST_PORT of this host (default address
    /// 127.0.0.1, not every interface); repeatable
    #[arg(long, value_name = "[HOST_ADDR:]HOST_PORT:PORT[/tcp|/udp]", value_parser = specs::parse_publish)]
    pub publish: Vec<Publish>,

    /// Run the shell or command as this user (and group; default: the UID); with --mount, what
    /// it writes belongs to that UID on the host
    #[arg(short, long, value_name = "UID[:GID]", value_parser = specs::parse_user)]
    pub user: Option<User>,

    /// Set an environment variable for the shell or command; repeatable
    #[arg(short, long, value_name = "KEY=VALUE", value_parser = specs::parse_env)]
    pub env: Vec<(String, String)>,

    /// `none`: no network (only lo inside); else this Incus network instead of the profile's
    /// [default: the domain's `network` in infra.yml, else the profile's]
    #[arg(long, value_name = "none|NETWORK", value_parser = specs::parse_network)]
    pub network: Option<Network>,

    /// Limit the instance's CPUs and memory (limits.cpu, limits.memory); repeatable [default:
    /// the domain's `limits` in infra.yml]
    #[arg(long, value_name = "cpu=N,memory=SIZE", value_parser = specs::parse_limits)]
    pub limit: Vec<Limits>,

    /// With --no-attach: destroy the instance after DURATION (e.g. 90s, 30m, 2h, 1h30m), even
    /// after anklume-disp has exited
    #[arg(long, value_name = "DURATION", requires = "no_attach", value_parser = parse_duration)]
    pub ttl: Option<Duration>,

    /// Name of the instance [default: disp-YYYYMMDD-HHMMSS, with -2, -3... when taken]
    #[arg(long, value_name = "NAME", value_parser = anklume_common::args::instance_name)]
    pub name: Option<String>,

    /// Storage pool of the instance
    #[arg(short, long, value_name = "POOL")]
    pub storage: Option<String>,

    /// Profile to apply (repeatable; replaces the default profile)
    #[arg(short, long = "profile", value_name = "PROFILE")]
    pub profiles: Vec<String>,

    /// Keep N started, unused disposables of this specification ready (the source, --domain,
    /// --profile, --storage, --vm, --network, --limit): a run with the same options takes one
    /// instead of launching; 0 removes them. Prints their names
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(0..=64),
          conflicts_with_all = [
        "cmd", "command", "console", "no_attach", "ttl", "name", "mount", "publish", "user",
        "env", "preload_list",
    ])]
    pub preload: Option<u32>,

    /// List the preloaded disposables of every domain
    #[arg(long, conflicts_with_all = [
        "cmd", "command", "console", "no_attach", "ttl", "name", "mount", "publish", "user",
        "env", "image", "from", "vm",
    ])]
    pub preload_list: bool,

    /// Output format of --preload-list
    #[arg(long, value_enum, value_name = "FORMAT", default_value_t = Format::Table)]
    pub format: Format,

    /// Internal: a refill of the preloaded disposables of this specification, started by a run.
    #[arg(long, hide = true, conflicts_with = "preload")]
    pub refill: bool,

    /// Say nothing on stderr but errors
    #[arg(short, long)]
    pub quiet: bool,

    /// Run COMMAND directly (no shell) inside the instance, then destroy it
    #[arg(last = true, value_name = "COMMAND")]
    pub command: Vec<String>,

    /// Internal: the background process that destroys an instance when its --ttl ends.
    #[arg(long, hide = true, value_name = "UUID", requires_all = ["name", "domain", "ttl"])]
    pub reap: Option<String>,

    /// Internal: the watchdog that destroys the disposable should anklume-disp die first.
    #[arg(long, hide = true)]
    pub watch: bool,
}

/// Output formats of a listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Json,
    Csv,
}

/// `90s`, `30m`, `2h`, `1d`, `1h30m`; a bare number is seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let bad = || format!("'{text}' is not a duration like 90s, 30m, 2h or 1h30m");
    if let Ok(seconds) = text.parse::<u64>() {
        return (seconds > 0)
            .then(|| Duration::from_secs(seconds))
            .ok_or_else(bad);
    }
    let mut total = 0u64;
    let mut number = String::new();
    for c in text.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            _ => return Err(bad()),
        };
        let value: u64 = number.parse().map_err(|_| bad())?;
        total = value
            .checked_mul(unit)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(bad)?;
        number.clear();
    }
    if !number.is_empty() || total == 0 {
        return Err(bad());
    }
    Ok(Duration::from_secs(total))
}

impl Cli {
    /// The command line, or exit 2 saying what is wrong. A word where no option takes one is
    /// most often a command given without `--` (`anklume-disp -d lab ls /`): said so.
    pub fn parse_or_exit() -> Self {
        use clap::error::{ContextKind, ContextValue, ErrorKind};
        Self::try_parse().unwrap_or_else(|error| {
            let stray = match (error.kind(), error.get(ContextKind::InvalidArg)) {
                (ErrorKind::UnknownArgument, Some(ContextValue::String(arg))) => {
                    Some(arg.clone()).filter(|a| !a.starts_with('-'))
                }
                _ => None,
            };
            let Some(word) = stray else { error.exit() };
            let usage = anklume_common::Error::usage(format!("unexpected argument '{word}'"))
                .with_hint(format!(
                    "a command goes after --: anklume-disp [OPTIONS] -- {word} ..."
                ));
            let _ = anklume_common::error::report("anklume-disp", &usage, &mut std::io::stderr());
            std::process::exit(2)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("30m"), Ok(Duration::from_secs(1800)));
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7200)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("1d"), Ok(Duration::from_secs(86_400)));
        assert_eq!(parse_duration("45"), Ok(Duration::from_secs(45)));
        for bad in ["", "0", "0s", "m", "10x", "1h30", "-5m", "1.5h"] {
            assert!(parse_duration(bad).is_err(), "{bad:?} accepted");
        }
    }
}
