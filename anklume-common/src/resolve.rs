//! Instance name → Incus project.
//!
//! Instance names are unique across projects in anklume, so a bare name designates one
//! instance. One `incus query /1.0/instances?all-projects=true` per remote lists them all (about
//! 20 ms at 300 instances, where `incus list --all-projects` takes over a second); the answer is
//! kept for the rest of the process.

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;

use crate::error::{Error, Object, Result, shell_word};
use crate::incus::Incus;
use crate::instance::InstanceInfo;
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
        match project {
            Some(project) => {
                let located = Located {
                    remote: instance.remote.clone(),
                    project: project.to_owned(),
                    name: instance.name.clone(),
                };
                match self.incus.check_instance(&located) {
                    Ok(()) => Ok(located),
                    Err(error) => Err(self.explain_missing(error, instance, project)),
                }
            }
            None => Ok(Located {
                remote: instance.remote.clone(),
                project: self.only_project_of(instance)?,
                name: instance.name.clone(),
            }),
        }
    }

    /// Like [`Resolver::locate`], with the instance's description. With `project` given, that
    /// one request is also the existence check.
    pub fn describe(
        &self,
        instance: &InstanceRef,
        project: Option<&str>,
    ) -> Result<(Located, InstanceInfo)> {
        let located = match project {
            Some(project) => Located {
                remote: instance.remote.clone(),
                project: project.to_owned(),
                name: instance.name.clone(),
            },
            None => self.locate(instance, None)?,
        };
        match self.incus.instance(&located) {
            Ok(info) => Ok((located, info)),
            Err(error) => Err(self.explain_missing(error, instance, &located.project)),
        }
    }

    /// Every project that holds an instance named like `instance`, sorted.
    pub fn projects_of(&self, instance: &InstanceRef) -> Result<Vec<String>> {
        let key = instance.remote.clone().unwrap_or_default();
        if !self.listings.borrow().contains_key(&key) {
            let listing = self.incus.all_instances(instance.remote.as_deref())?;
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

    /// The first of `candidates` that no project of `remote` uses (names are unique across
    /// projects here), at the time of asking: creating it may still find it taken by a
    /// competitor, which the caller handles as [`Fault::AlreadyExists`](crate::Fault).
    pub fn free_name(
        &self,
        remote: Option<&str>,
        candidates: impl IntoIterator<Item = String>,
    ) -> Result<Option<String>> {
        for name in candidates {
            let reference = InstanceRef {
                remote: remote.map(str::to_owned),
                name,
            };
            if self.projects_of(&reference)?.is_empty() {
                return Ok(Some(reference.name));
            }
        }
        Ok(None)
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

    /// Tells a missing project from a missing instance, in the user's terms.
    fn explain_missing(&self, error: Error, instance: &InstanceRef, project: &str) -> Error {
        match error.fault() {
            Some(crate::Fault::NotFound(Object::Project)) => Error::failure(format!(
                "project '{project}' does not exist{}",
                on_remote(instance)
            ))
            .with_hint(format!(
                "list the projects with `incus project list {}`",
                remote_prefix(instance)
            )),
            Some(crate::Fault::NotFound(_)) => Error::failure(format!(
                "instance '{instance}' not found in project '{project}'"
            ))
            .with_hint(format!(
                "leave out --project to search every project, or check `incus list {}--project {}`",
                remote_prefix(instance),
                shell_word(project)
            )),
            _ => error,
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
