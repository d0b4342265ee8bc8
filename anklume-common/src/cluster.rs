//! Clusters and remotes: the members of a clustered remote and whether they are online, the
//! remotes the client knows, and where new instances go (`--target MEMBER`, `--spread`).
//!
//! A member is checked before anything is made on it, so that `--target` of a member that is
//! down fails at once with its name, rather than with Incus's connection error after a create.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::error::{Error, Fault, Object, Result};
use crate::incus::{Call, Incus};
use crate::url::ApiPath;

/// A member of a cluster, as `GET /1.0/cluster/members?recursion=1` describes it.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct Member {
    #[serde(rename = "server_name")]
    pub name: String,
    /// `Online`, `Offline`, `Evacuated`, ...
    pub status: String,
    /// Why, in Incus's words (`No heartbeat for 11s`).
    #[serde(default)]
    pub message: String,
}

impl Member {
    pub fn is_online(&self) -> bool {
        self.status == "Online"
    }
}

/// "remote 'NAME'" or "the default remote", for messages.
pub fn remote_words(remote: Option<&str>) -> String {
    match remote {
        Some(remote) => format!("remote '{remote}'"),
        None => "the default remote".to_owned(),
    }
}

/// `NAME:` or nothing, as the `incus` command line takes a remote.
pub fn remote_prefix(remote: Option<&str>) -> String {
    remote.map(|r| format!("{r}:")).unwrap_or_default()
}

impl Incus {
    /// The members of `remote`'s cluster in name order; empty when the server is not clustered.
    pub fn cluster_members(&self, remote: Option<&str>) -> Result<Vec<Member>> {
        #[derive(Deserialize)]
        struct Cluster {
            #[serde(default)]
            enabled: bool,
        }
        let cluster: Cluster = self.query(remote, &ApiPath::new(&["cluster"]))?;
        if !cluster.enabled {
            return Ok(Vec::new());
        }
        let path = ApiPath::new(&["cluster", "members"]).recursive();
        let mut members: Vec<Member> = self.query(remote, &path)?;
        members.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(members)
    }

    /// `Ok` when `member` is an online member of `remote`'s cluster; otherwise an error naming
    /// it, with the members that would do.
    pub fn check_member(&self, remote: Option<&str>, member: &str) -> Result<()> {
        let members = self.cluster_members(remote)?;
        let place = remote_words(remote);
        let online: Vec<&str> = members
            .iter()
            .filter(|m| m.is_online())
            .map(|m| m.name.as_str())
            .collect();
        let list = format!("`incus cluster list {}`", remote_prefix(remote));
        match members.iter().find(|m| m.name == member) {
            _ if members.is_empty() => Err(Error::usage(format!(
                "--target {member}: {place} is not a cluster"
            ))
            .with_hint("leave out --target: a standalone server has no members to choose")),
            None => Err(Error::refused(
                Fault::NotFound(Object::Member),
                format!("no cluster member '{member}' on {place}"),
            )
            .with_hint(format!("choose one of: {} (see {list})", online.join(", ")))),
            Some(found) if !found.is_online() => Err(Error::refused(
                Fault::Unreachable,
                format!(
                    "cluster member '{member}' of {place} is {}: {}",
                    found.status.to_lowercase(),
                    found.message
                ),
            )
            .with_hint(match online.is_empty() {
                true => format!("no member is online: check {list}"),
                false => format!(
                    "choose an online member ({}), or bring {member} back first",
                    online.join(", ")
                ),
            })),
            Some(_) => Ok(()),
        }
    }

    /// The remotes of the client that are Incus servers (not image servers), in name order.
    pub fn remotes(&self) -> Result<Vec<String>> {
        #[derive(Deserialize)]
        struct Remote {
            #[serde(rename = "Protocol", default)]
            protocol: String,
        }
        let call = Call::new("list the remotes", ["remote", "list", "--format", "json"]);
        let remotes: BTreeMap<String, Remote> = serde_json::from_slice(&self.output(&call)?)
            .map_err(|e| Error::failure(format!("cannot read incus remote list: {e}")))?;
        Ok(remotes
            .into_iter()
            .filter(|(_, remote)| remote.protocol == "incus")
            .map(|(name, _)| name)
            .collect())
    }
}

/// Where each of `count` new instances goes, round-robin over `members` (in their order).
pub fn spread(members: &[String], count: usize) -> Vec<String> {
    (0..count)
        .map(|i| members[i % members.len()].clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spread_goes_round_robin() {
        let members = ["m1".to_owned(), "m2".to_owned()];
        assert_eq!(spread(&members, 3), ["m1", "m2", "m1"]);
        assert_eq!(spread(&members[..1], 2), ["m1", "m1"]);
    }

    #[test]
    fn members_read_from_incus() {
        let json =
            r#"[{"server_name":"m2","status":"Offline","message":"No heartbeat","roles":[]}]"#;
        let members: Vec<Member> = serde_json::from_str(json).unwrap();
        assert_eq!(members[0].name, "m2");
        assert!(!members[0].is_online());
    }
}
