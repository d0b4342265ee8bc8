//! Defaults read from anklume's `infra.yml`.
//!
//! Where it is looked for, first match wins:
//! 1. `ANKLUME_INFRA`: a file, or a directory holding `base.yml` (directory mode);
//! 2. `./infra.yml`;
//! 3. `./infra/base.yml` (directory mode).
//!
//! In directory mode, each `domains/NAME.yml` beside `base.yml` describes the domain NAME (the
//! same keys as an entry under `domains:`), read in file-name order after the domains of
//! `base.yml`. A file that cannot be read or parsed is an error naming it and the line: a
//! silent fallback would launch in the wrong domain.

use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde::de::{MapAccess, Visitor};

use crate::error::{Error, Result};
use crate::reference::{
    check_cpu_limit, check_image_name, check_memory_limit, check_network_name, check_project_name,
};

/// Environment variable naming the infra file or directory.
pub const INFRA_ENV: &str = "ANKLUME_INFRA";

/// What the tools take from `infra.yml`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Infra {
    /// The file the settings came from (`base.yml` in directory mode).
    pub source: PathBuf,
    pub default_os_image: Option<String>,
    /// Domains in the order they are written.
    pub domains: Vec<Domain>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Domain {
    pub name: String,
    pub trust_level: Option<String>,
    /// `network:` for its disposables: `none`, or an Incus network instead of the profile's.
    pub network: Option<String>,
    /// `limits: {cpu: N, memory: SIZE}` for its disposables.
    pub limits_cpu: Option<String>,
    pub limits_memory: Option<String>,
}

impl Infra {
    /// Reads the infra found from `ANKLUME_INFRA` or the current directory; `None` when there is
    /// none to read.
    pub fn load() -> Result<Option<Self>> {
        let cwd = std::env::current_dir()
            .map_err(|e| Error::io("cannot read the current directory", e))?;
        let setting = std::env::var_os(INFRA_ENV).filter(|v| !v.is_empty());
        Self::load_from(setting.as_deref().map(Path::new), &cwd)
    }

    /// Like [`Infra::load`], with the `ANKLUME_INFRA` value and the directory given.
    pub fn load_from(setting: Option<&Path>, cwd: &Path) -> Result<Option<Self>> {
        if let Some(path) = setting {
            return match fs::metadata(path) {
                Ok(meta) if meta.is_dir() => Self::read_dir_mode(path).map(Some),
                Ok(_) => Self::read_file(path).map(Some),
                Err(e) => Err(Error::io(
                    format!("cannot read {INFRA_ENV}={}", path.display()),
                    e,
                )
                .with_hint(format!(
                    "point {INFRA_ENV} at an infra.yml file or a directory holding base.yml, or unset it"
                ))),
            };
        }
        let file = cwd.join("infra.yml");
        if file.is_file() {
            return Self::read_file(&file).map(Some);
        }
        let dir = cwd.join("infra");
        if dir.join("base.yml").is_file() {
            return Self::read_dir_mode(&dir).map(Some);
        }
        Ok(None)
    }

    /// The first domain with `trust_level: disposable`.
    pub fn first_disposable_domain(&self) -> Option<&Domain> {
        self.domains
            .iter()
            .find(|d| d.trust_level.as_deref() == Some("disposable"))
    }

    fn read_file(path: &Path) -> Result<Self> {
        let file: InfraFile = parse(path)?;
        for (name, _) in &file.domains.0 {
            // Checked as --domain is: an empty name would mean Incus's `default`.
            check_project_name(name).map_err(|e| {
                let place = line_of_key(path, name).map_or(path.display().to_string(), |l| {
                    format!("{}:{l}", path.display())
                });
                Error::failure(format!("{place}: domain {name:?}: {e}"))
                    .with_hint(format!("fix the domain's name in {}", path.display()))
            })?;
        }
        Ok(Self {
            source: path.to_owned(),
            default_os_image: file.global.default_os_image,
            domains: file
                .domains
                .0
                .into_iter()
                .map(|(n, d)| d.named(n))
                .collect(),
        })
    }

    fn read_dir_mode(dir: &Path) -> Result<Self> {
        let mut infra = Self::read_file(&dir.join("base.yml"))?;
        let domains_dir = dir.join("domains");
        let entries = match fs::read_dir(&domains_dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(infra),
            Err(e) => {
                return Err(Error::io(
                    format!("cannot read {}", domains_dir.display()),
                    e,
                ));
            }
        };
        let mut files = Vec::new();
        for entry in entries {
            let path = entry
                .map_err(|e| Error::io(format!("cannot read {}", domains_dir.display()), e))?
                .path();
            if path
                .extension()
                .is_some_and(|ext| ext == "yml" || ext == "yaml")
            {
                files.push(path);
            }
        }
        files.sort();
        for path in files {
            let name = path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            check_project_name(&name).map_err(|e| {
                Error::failure(format!("{}: domain {name:?}: {e}", path.display()))
                    .with_hint("name the file after the domain: domains/NAME.yml")
            })?;
            let spec: Option<DomainSpec> = parse(&path)?;
            infra.domains.push(spec.unwrap_or_default().named(name));
        }
        Ok(infra)
    }
}

/// The line (from 1) where `key` is written as a mapping key in the file at `path`.
fn line_of_key(path: &Path, key: &str) -> Option<usize> {
    let text = fs::read_to_string(path).ok()?;
    let spellings = [
        format!("{key}:"),
        format!("\"{key}\":"),
        format!("'{key}':"),
    ];
    text.lines()
        .position(|line| {
            spellings
                .iter()
                .any(|s| line.trim_start().starts_with(s.as_str()))
        })
        .map(|index| index + 1)
}

fn parse<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T> {
    let text = fs::read_to_string(path)
        .map_err(|e| Error::io(format!("cannot read {}", path.display()), e))?;
    serde_yaml::from_str(&text).map_err(|e| {
        let place = match e.location() {
            Some(at) => format!("{}:{}:{}", path.display(), at.line(), at.column()),
            None => path.display().to_string(),
        };
        Error::failure(format!("{place}: {}", strip_location(&e.to_string())))
            .with_hint(format!("fix the YAML in {}", path.display()))
    })
}

/// serde_yaml appends " at line L column C"; we already put the place first.
fn strip_location(message: &str) -> &str {
    message
        .find(" at line ")
        .map_or(message, |at| &message[..at])
}

#[derive(Debug, Default, Deserialize)]
struct InfraFile {
    #[serde(default)]
    global: Global,
    #[serde(default)]
    domains: Domains,
}

#[derive(Debug, Default, Deserialize)]
struct Global {
    #[serde(default, deserialize_with = "image_name")]
    default_os_image: Option<String>,
}

/// `default_os_image`, checked as `--image` is: nothing from a file reaches `incus` as a flag.
fn image_name<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<String>, D::Error> {
    let image = Option::<String>::deserialize(deserializer)?;
    if let Some(image) = &image {
        check_image_name(image).map_err(serde::de::Error::custom)?;
    }
    Ok(image)
}

#[derive(Debug, Default, Deserialize)]
struct DomainSpec {
    trust_level: Option<String>,
    #[serde(default, deserialize_with = "network_name")]
    network: Option<String>,
    #[serde(default)]
    limits: LimitsSpec,
}

/// `limits:` of a domain, each checked as `--limit` is.
#[derive(Debug, Default, Deserialize)]
struct LimitsSpec {
    #[serde(default, deserialize_with = "cpu_limit")]
    cpu: Option<String>,
    #[serde(default, deserialize_with = "memory_limit")]
    memory: Option<String>,
}

impl DomainSpec {
    fn named(self, name: String) -> Domain {
        Domain {
            name,
            trust_level: self.trust_level,
            network: self.network,
            limits_cpu: self.limits.cpu,
            limits_memory: self.limits.memory,
        }
    }
}

/// A scalar as text: `cpu: 2` is a number in YAML.
fn scalar<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    let value = Option::<serde_yaml::Value>::deserialize(deserializer)?;
    match value {
        None | Some(serde_yaml::Value::Null) => Ok(None),
        Some(serde_yaml::Value::String(text)) => Ok(Some(text)),
        Some(serde_yaml::Value::Number(number)) => Ok(Some(number.to_string())),
        Some(_) => Err(serde::de::Error::custom("expected a number or a string")),
    }
}

fn checked<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
    check: fn(&str) -> std::result::Result<(), String>,
) -> Result<Option<String>, D::Error> {
    let value = scalar(deserializer)?;
    if let Some(value) = &value {
        check(value).map_err(serde::de::Error::custom)?;
    }
    Ok(value)
}

fn network_name<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    checked(d, check_network_name)
}

fn cpu_limit<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    checked(d, check_cpu_limit)
}

fn memory_limit<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    checked(d, check_memory_limit)
}

/// The `domains:` mapping, in file order (the first disposable domain is the default one).
#[derive(Debug, Default)]
struct Domains(Vec<(String, DomainSpec)>);

impl<'de> Deserialize<'de> for Domains {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct InOrder;
        impl<'de> Visitor<'de> for InOrder {
            type Value = Domains;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a mapping of domain names to domains")
            }
            fn visit_unit<E>(self) -> Result<Domains, E> {
                Ok(Domains::default())
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Domains, A::Error> {
                let mut domains = Vec::new();
                while let Some((name, spec)) = map.next_entry::<String, Option<DomainSpec>>()? {
                    domains.push((name, spec.unwrap_or_default()));
                }
                Ok(Domains(domains))
            }
        }
        deserializer.deserialize_any(InOrder)
    }
}
