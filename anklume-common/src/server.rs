//! Look-ups of what a server holds besides instances: projects, storage pools and their
//! volumes, image aliases, drivers, remotes. Each answers in types; "does not exist" is a
//! `false` or a [`Fault::NotFound`](crate::Fault), never text to match.

use serde::Deserialize;
use serde::de::IgnoredAny;

use crate::error::{Error, Fault, Object, Result};
use crate::incus::{Call, Incus};
use crate::url::{ApiPath, parse_object_url};

/// A storage pool.
#[derive(Debug, Clone, Deserialize)]
pub struct StoragePool {
    pub name: String,
    pub driver: String,
}

impl StoragePool {
    /// Whether copies on this pool share blocks with their source.
    pub fn copy_on_write(&self) -> bool {
        matches!(
            self.driver.as_str(),
            "btrfs" | "zfs" | "lvm" | "lvmcluster" | "ceph"
        )
    }
}

/// A storage volume (of an instance, a snapshot, an image or custom).
#[derive(Debug, Clone, Deserialize)]
pub struct Volume {
    /// `NAME`, or `NAME/SNAPSHOT` for a snapshot.
    pub name: String,
    /// `container`, `virtual-machine`, `image`, `custom`.
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub project: String,
    pub created_at: String,
}

impl Volume {
    /// Whether it belongs to an instance (or is the snapshot of one).
    pub fn is_instance(&self) -> bool {
        matches!(self.kind.as_str(), "container" | "virtual-machine")
    }
}

/// `Ok(true)` when the query answers, `Ok(false)` when Incus says it does not exist.
fn exists(incus: &Incus, remote: Option<&str>, path: &ApiPath) -> Result<bool> {
    match incus.query::<IgnoredAny>(remote, path) {
        Ok(_) => Ok(true),
        // An unknown remote is no answer about the object.
        Err(e) if e.is(Fault::NotFound(Object::Remote)) => Err(e),
        Err(e) if e.is_not_found() => Ok(false),
        Err(e) => Err(e),
    }
}

impl Incus {
    pub fn project_exists(&self, remote: Option<&str>, project: &str) -> Result<bool> {
        exists(self, remote, &ApiPath::new(&["projects", project]))
    }

    /// Whether network `name` exists for `project`.
    pub fn network_exists(&self, remote: Option<&str>, project: &str, name: &str) -> Result<bool> {
        let path = ApiPath::new(&["networks", name]).in_project(Some(project));
        exists(self, remote, &path)
    }

    pub fn storage_pool_exists(&self, remote: Option<&str>, pool: &str) -> Result<bool> {
        exists(self, remote, &ApiPath::new(&["storage-pools", pool]))
    }

    /// Whether image alias `alias` exists in `project`.
    pub fn image_alias_exists(
        &self,
        remote: Option<&str>,
        project: &str,
        alias: &str,
    ) -> Result<bool> {
        let path = ApiPath::new(&["images", "aliases", alias]).in_project(Some(project));
        exists(self, remote, &path)
    }

    pub fn storage_pool(&self, remote: Option<&str>, name: &str) -> Result<StoragePool> {
        self.query(remote, &ApiPath::new(&["storage-pools", name]))
    }

    pub fn storage_pools(&self, remote: Option<&str>) -> Result<Vec<StoragePool>> {
        self.query(remote, &ApiPath::new(&["storage-pools"]).recursive())
    }

    /// The volumes of `pool` in `project`, or in every project for `None`.
    pub fn volumes(
        &self,
        remote: Option<&str>,
        pool: &str,
        project: Option<&str>,
    ) -> Result<Vec<Volume>> {
        let path = ApiPath::new(&["storage-pools", pool, "volumes"])
            .in_project(project)
            .recursive();
        self.query(remote, &path)
    }

    /// (name, project) of every instance of every project.
    pub fn all_instances(&self, remote: Option<&str>) -> Result<Vec<(String, String)>> {
        let path = ApiPath::new(&["instances"]).in_project(None);
        let urls: Vec<String> = self.query(remote, &path)?;
        Ok(urls
            .iter()
            .filter_map(|url| parse_object_url(url, "instances"))
            .collect())
    }

    /// Names of the instances of `project`.
    pub fn instances_in(&self, remote: Option<&str>, project: &str) -> Result<Vec<String>> {
        let path = ApiPath::new(&["instances"]).in_project(Some(project));
        let urls: Vec<String> = self.query(remote, &path)?;
        Ok(urls
            .iter()
            .filter_map(|url| parse_object_url(url, "instances"))
            .map(|(name, _)| name)
            .collect())
    }

    /// Every instance of `project` described, or of every project for `None`: one query.
    pub fn instances_described(
        &self,
        remote: Option<&str>,
        project: Option<&str>,
    ) -> Result<Vec<crate::instance::InstanceInfo>> {
        let path = ApiPath::new(&["instances"]).in_project(project).recursive();
        self.query(remote, &path)
    }

    /// The fingerprint of the image that alias `alias` of `project` names now; `None` when
    /// there is no such alias (a remote image, a fingerprint).
    pub fn image_alias_target(
        &self,
        remote: Option<&str>,
        project: &str,
        alias: &str,
    ) -> Result<Option<String>> {
        #[derive(Deserialize)]
        struct Alias {
            target: String,
        }
        let path = ApiPath::new(&["images", "aliases", alias]).in_project(Some(project));
        match self.query::<Alias>(remote, &path) {
            Ok(found) => Ok(Some(found.target)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The `user.*` configuration of project `project`.
    pub fn project_config(
        &self,
        remote: Option<&str>,
        project: &str,
    ) -> Result<std::collections::BTreeMap<String, String>> {
        #[derive(Deserialize)]
        struct Project {
            #[serde(default)]
            config: std::collections::BTreeMap<String, String>,
        }
        let found: Project = self.query(remote, &ApiPath::new(&["projects", project]))?;
        Ok(found.config)
    }

    /// Sets (or with `None`, unsets) configuration `key` of project `project`.
    pub fn set_project_config(
        &self,
        remote: Option<&str>,
        project: &str,
        key: &str,
        value: Option<&str>,
    ) -> Result<()> {
        let project_ref = match remote {
            Some(remote) => format!("{remote}:{project}"),
            None => project.to_owned(),
        };
        let args: Vec<String> = match value {
            Some(value) => vec![
                "project".into(),
                "set".into(),
                project_ref,
                format!("{key}={value}"),
            ],
            None => vec!["project".into(), "unset".into(), project_ref, key.into()],
        };
        let call = Call::new(format!("configure project '{project}'"), args);
        self.output(&call).map(drop)
    }

    /// The `volatile.uuid` of each instance of `project`, by name: one query for them all.
    pub fn uuids_in(
        &self,
        remote: Option<&str>,
        project: &str,
    ) -> Result<std::collections::BTreeMap<String, String>> {
        #[derive(Deserialize)]
        struct Listed {
            name: String,
            #[serde(default)]
            config: std::collections::BTreeMap<String, String>,
        }
        let path = ApiPath::new(&["instances"])
            .in_project(Some(project))
            .recursive();
        let listed: Vec<Listed> = self.query(remote, &path)?;
        Ok(listed
            .into_iter()
            .filter_map(|i| Some((i.name, i.config.get("volatile.uuid")?.clone())))
            .collect())
    }

    /// The instance drivers the server offers (`lxc`, `qemu`).
    pub fn drivers(&self, remote: Option<&str>) -> Result<Vec<String>> {
        #[derive(Deserialize)]
        struct Server {
            environment: Environment,
        }
        #[derive(Deserialize)]
        struct Environment {
            #[serde(default)]
            driver: String,
        }
        let server: Server = self.query(remote, &ApiPath::new(&[]))?;
        Ok(server
            .environment
            .driver
            .split('|')
            .map(|d| d.trim().to_owned())
            .filter(|d| !d.is_empty())
            .collect())
    }

    /// Whether the default remote is this host's daemon (a unix socket): only there does a
    /// path of this host mean the same to the daemon.
    pub fn default_remote_is_local(&self) -> Result<bool> {
        #[derive(Deserialize)]
        struct Remote {
            #[serde(rename = "Addr", default)]
            addr: String,
        }
        let default = self.default_remote()?;
        let call = Call::new("list the remotes", ["remote", "list", "--format", "json"]);
        let remotes: std::collections::BTreeMap<String, Remote> =
            serde_json::from_slice(&self.output(&call)?)
                .map_err(|e| Error::failure(format!("cannot read incus remote list: {e}")))?;
        Ok(remotes
            .get(&default)
            .is_some_and(|remote| remote.addr.starts_with("unix:")))
    }

    /// The remote that bare instance names refer to (`incus remote get-default`).
    pub fn default_remote(&self) -> Result<String> {
        let call = Call::new("find the default remote", ["remote", "get-default"]);
        let name = String::from_utf8_lossy(&self.output(&call)?)
            .trim()
            .to_owned();
        if name.is_empty() {
            return Err(Error::failure("incus remote get-default printed nothing"));
        }
        Ok(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_on_write_drivers() {
        let pool = |driver: &str| StoragePool {
            name: "p".into(),
            driver: driver.into(),
        };
        assert!(pool("btrfs").copy_on_write() && pool("zfs").copy_on_write());
        assert!(!pool("dir").copy_on_write());
    }
}
