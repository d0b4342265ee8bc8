//! Instance name → Incus project.
//!
//! Instance names are unique across projects in anklume, so a bare name designates one
//! instance. One `incus query /1.0/instances?all-projects=true` per remote lists them all (about
//! 20 ms at 300 instances, where `incus list --all-projects` takes over a second); the answer is
//! kept for the rest of the process.

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;

use serde::de::{DeserializeOwned, IgnoredAny};

use crate::api::encode;
use crate::error::{Error, Result};
use crate::incus::Incus;
use crate::reference::InstanceRef;

/// An instance together with the project it lives in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    pub remote: Option<String>,
    pub project: String,
    pub name: String,
}

impl Located {
    /// The name as the `incus` command line takes it: `remote:name` or `name`.
    pub fn incus_name(&self) -> String {
        match &self.remote {
            Some(remote) => format!("{remote}:{}", self.name),
            None => self.name.clone(),
        }
    }
}

impl fmt::Display for Located {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (project {})", self.incus_name(), self.project)
    }
}

/// Finds the project of an instance, with one Incus query per remote and process.
#[derive(Debug)]
pub struct Resolver {
    incus: Incus,
    /// remote ("" for the local one) → (instance name, project) of every instance.
    listings: RefCell<HashMap<String, Vec<(String, String)>>>,
}

impl Resolver {
    pub fn new(incus: Incus) -> Self {
        Self {
            incus,
            listings: RefCell::new(HashMap::new()),
        }
    }

    pub fn incus(&self) -> &Incus {
        &self.incus
    }

    /// The project of `instance`: `project` when given (the instance must exist there),
    /// else the only project that holds an instance of that name.
    pub fn locate(&self, instance: &InstanceRef, project: Option<&str>) -> Result<Located> {
        let remote = instance.remote.as_deref();
        let project = match project {
            Some(project) => {
                self.fetch_in::<IgnoredAny>(instance, project, "")?;
                project.to_owned()
            }
            None => self.only_project_of(instance)?,
        };
        Ok(Located {
            remote: remote.map(str::to_owned),
            project,
            name: instance.name.clone(),
        })
    }

    /// Like [`Resolver::locate`], with the instance's full description
    /// (`GET /1.0/instances/NAME?recursion=1`: config, devices, snapshots, state). With
    /// `project` given, that one request is also the existence check.
    pub fn describe<T: DeserializeOwned>(
        &self,
        instance: &InstanceRef,
        project: Option<&str>,
    ) -> Result<(Located, T)> {
        let located = match project {
            Some(project) => Located {
                remote: instance.remote.clone(),
                project: project.to_owned(),
                name: instance.name.clone(),
            },
            None => self.locate(instance, None)?,
        };
        let details = self.fetch_in(instance, &located.project, "&recursion=1")?;
        Ok((located, details))
    }

    /// Every project that holds an instance named like `instance`, sorted.
    pub fn projects_of(&self, instance: &InstanceRef) -> Result<Vec<String>> {
        let key = instance.remote.clone().unwrap_or_default();
        if !self.listings.borrow().contains_key(&key) {
            let urls: Vec<String> = self.incus.query(
                instance.remote.as_deref(),
                "/1.0/instances?all-projects=true",
            )?;
            let listing = urls
                .iter()
                .filter_map(|url| parse_instance_url(url))
                .collect();
            self.listings.borrow_mut().insert(key.clone(), listing);
        }
        let listings = self.listings.borrow();
        let mut projects: Vec<String> = listings[&key]
            .iter()
            .filter(|(name, _)| *name == instance.name)
            .map(|(_, project)| project.clone())
            .collect();
        projects.sort();
        Ok(projects)
    }

    fn only_project_of(&self, instance: &InstanceRef) -> Result<String> {
        let mut projects = self.projects_of(instance)?;
        match projects.len() {
            1 => Ok(projects.remove(0)),
            0 => Err(Error::failure(format!(
                "instance '{instance}' not found in any project{}",
                on_remote(instance)
            ))
            .with_hint(format!(
                "check the name with `incus list {}--all-projects`",
                remote_prefix(instance)
            ))),
            _ => Err(Error::failure(format!(
                "instance '{instance}' exists in several projects: {}",
                projects.join(", ")
            ))
            .with_hint(format!(
                "name the project with --project (one of: {})",
                projects.join(", ")
            ))),
        }
    }

    /// `GET /1.0/instances/NAME?project=P{extra}`, its failures told in the user's terms.
    fn fetch_in<T: DeserializeOwned>(
        &self,
        instance: &InstanceRef,
        project: &str,
        extra: &str,
    ) -> Result<T> {
        let path = format!(
            "/1.0/instances/{}?project={}{extra}",
            instance.name,
            encode(project)
        );
        match self.incus.query::<T>(instance.remote.as_deref(), &path) {
            Ok(details) => Ok(details),
            Err(error) => {
                let incus_says = error.incus_message().unwrap_or_default();
                if incus_says.contains("Project not found") {
                    Err(Error::failure(format!(
                        "project '{project}' does not exist{}",
                        on_remote(instance)
                    ))
                    .with_hint(format!(
                        "list the projects with `incus project list {}`",
                        remote_prefix(instance)
                    )))
                } else if incus_says.contains("not found") {
                    Err(Error::failure(format!(
                        "instance '{instance}' not found in project '{project}'"
                    ))
                    .with_hint(format!(
                        "leave out --project to search every project, or check `incus list {}--project {project}`",
                        remote_prefix(instance)
                    )))
                } else {
                    Err(error)
                }
            }
        }
    }
}

fn on_remote(instance: &InstanceRef) -> String {
    match &instance.remote {
        Some(remote) => format!(" on remote '{remote}'"),
        None => String::new(),
    }
}

fn remote_prefix(instance: &InstanceRef) -> String {
    match &instance.remote {
        Some(remote) => format!("{remote}: "),
        None => String::new(),
    }
}

/// `/1.0/instances/NAME[?project=P]` → (NAME, P), P being `default` when absent.
fn parse_instance_url(url: &str) -> Option<(String, String)> {
    let rest = url.strip_prefix("/1.0/instances/")?;
    let (name, query) = rest.split_once('?').unwrap_or((rest, ""));
    let project = query
        .split('&')
        .find_map(|pair| pair.strip_prefix("project="))
        .map(percent_decode)
        .unwrap_or_else(|| "default".to_owned());
    Some((percent_decode(name), project))
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instance_urls_give_name_and_project() {
        assert_eq!(
            parse_instance_url("/1.0/instances/web"),
            Some(("web".into(), "default".into()))
        );
        assert_eq!(
            parse_instance_url("/1.0/instances/web?project=lab"),
            Some(("web".into(), "lab".into()))
        );
        assert_eq!(
            parse_instance_url("/1.0/instances/web?project=my%20lab"),
            Some(("web".into(), "my lab".into()))
        );
        assert_eq!(parse_instance_url("/1.0/images/abc"), None);
    }

    #[test]
    fn percent_encoding_round_trips() {
        for text in ["lab", "my lab", "a&b=c", "été"] {
            assert_eq!(percent_decode(&encode(text)), text);
        }
        assert_eq!(encode("a b&c"), "a%20b%26c");
    }
}
