//! The shared library of the anklume tools.
//!
//! - [`incus`]: the only code that runs the `incus` client;
//! - [`api`] and [`sftp`]: an instance's files with owners, modes and times, through
//!   `incus remote proxy` and Incus's SFTP endpoint;
//! - [`reference`]: `[remote:]instance[:/path]` references and Incus's name rules;
//! - [`resolve`]: instance name → project, in one query;
//! - [`infra`]: defaults from `infra.yml`;
//! - [`interrupt`]: SIGINT/SIGTERM/SIGHUP as a flag, so that tools clean up before exiting;
//! - [`error`]: the error type, its exit status and the `run` helper of every `main`;
//! - [`progress`]: a progress line on stderr, for people only.

pub mod api;
pub mod error;
pub mod incus;
pub mod infra;
pub mod interrupt;
pub mod progress;
pub mod reference;
pub mod resolve;
pub mod sftp;

pub use api::ApiProxy;
pub use error::{Error, ErrorKind, Result, run};
pub use incus::{Call, Incus, Pipes, Stream};
pub use infra::Infra;
pub use interrupt::{Interrupt, InterruptibleReader};
pub use reference::{InstanceRef, PathRef};
pub use resolve::{Located, Resolver};
pub use sftp::Sftp;
