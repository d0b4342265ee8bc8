//! The shared library of the anklume tools.
//!
//! - [`incus`]: the only code that runs the `incus` client (and [`closing`], which tells its
//!   closing `Error:` line from what it passes through);
//! - [`api`] and [`sftp`]: an instance's files with owners, modes and times, through
//!   `incus remote proxy` and Incus's SFTP endpoint;
//! - [`cluster`]: a cluster's members, the client's remotes, `--target` and `--spread`;
//! - [`claim`]: an instance taken atomically (Incus's ETag);
//! - [`instance`] and [`server`]: the Incus vocabulary — instance operations, and look-ups of
//!   projects, pools, volumes and image aliases — in types, with typed [`Fault`]s;
//! - [`url`]: the one builder (and decoder) of Incus REST paths, every part encoded;
//! - [`reference`]: `[remote:]instance[:/path]` references and Incus's name rules;
//! - [`resolve`]: instance name → project, in one query;
//! - [`infra`]: defaults from `infra.yml`;
//! - [`interrupt`]: SIGINT/SIGTERM/SIGHUP as a flag, so that tools clean up before exiting;
//! - [`error`]: the error type, its exit status and the `run` helper of every `main`;
//! - [`progress`]: a progress line on stderr, for people only, and sizes for people;
//! - [`pump`]: the one byte pump, with progress and interruption;
//! - [`args`]: the clap value parsers of instance names, references and projects;
//! - [`session`]: the prologue every tool runs (signals caught, the runner and resolver);
//! - [`table`]: listings as aligned columns or CSV;
//! - [`temp`]: temporary names, checked free.

pub mod api;
pub mod args;
pub mod claim;
pub mod closing;
pub mod cluster;
pub mod error;
pub mod incus;
pub mod infra;
pub mod instance;
pub mod interrupt;
pub mod pristine;
pub mod progress;
pub mod pump;
pub mod reference;
pub mod resolve;
pub mod server;
pub mod session;
pub mod sftp;
pub mod table;
pub mod temp;
pub mod url;

pub use api::ApiProxy;
pub use cluster::Member;
pub use error::{Error, ErrorKind, Fault, Object, Result, run};
pub use incus::{Call, Incus, Pipes, Stream};
pub use infra::Infra;
pub use instance::{Exec, Export, InstanceInfo, NewInstance, Origin, Stop};
pub use interrupt::{Interrupt, InterruptibleReader};
pub use reference::{InstanceRef, PathRef};
pub use resolve::{Located, Resolver};
pub use server::{StoragePool, Volume};
pub use session::Session;
pub use sftp::Sftp;
pub use url::ApiPath;
