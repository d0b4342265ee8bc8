//! Taking an instance for oneself, atomically: one configuration key changed only while it
//! still holds the value read, through Incus's ETag (`If-Match` on `PUT`), which Incus checks
//! and applies under the instance's operation lock. Of two claimers of one instance, one wins
//! and the other is told so; neither can take it from the other.

use serde_json::{Map, Value, json};

use crate::api::{Answer, ApiProxy};
use crate::error::{Error, Result};
use crate::resolve::Located;
use crate::url::ApiPath;

/// Sets `key` of `at` to `new` if it is `expected` now: `Ok(true)` when done, `Ok(false)` when
/// the key holds something else, the instance changed meanwhile, or it is gone.
pub fn swap_config(
    proxy: &ApiProxy,
    at: &Located,
    key: &str,
    (expected, new): (&str, &str),
) -> Result<bool> {
    let path = ApiPath::new(&["instances", &at.name]).in_project(Some(&at.project));
    let read = proxy.request(("GET", &path), &[], b"")?;
    match read.status {
        200 => (),
        404 => return Ok(false),
        _ => return Err(refused(at, "read", &read)),
    }
    let Some(etag) = read.etag.clone() else {
        return Err(Error::failure(format!(
            "cannot claim {at}: Incus gave no ETag"
        )));
    };
    let body: Value = serde_json::from_slice(&read.body)
        .map_err(|e| Error::failure(format!("cannot claim {at}: unexpected answer: {e}")))?;
    let meta = &body["metadata"];
    if meta["config"][key].as_str() != Some(expected) {
        return Ok(false);
    }
    let mut config: Map<String, Value> = meta["config"].as_object().cloned().unwrap_or_default();
    config.insert(key.to_owned(), Value::String(new.to_owned()));
    let put = json!({
        "architecture": meta["architecture"],
        "config": config,
        "devices": meta["devices"],
        "ephemeral": meta["ephemeral"],
        "profiles": meta["profiles"],
        "stateful": meta["stateful"],
        "description": meta["description"],
    });
    let headers = [
        ("If-Match", etag.as_str()),
        ("Content-Type", "application/json"),
    ];
    let written = proxy.request(("PUT", &path), &headers, put.to_string().as_bytes())?;
    match written.status {
        200 | 202 => wait(proxy, at, &written).map(|()| true),
        404 | 412 => Ok(false),
        _ => Err(refused(at, "claim", &written)),
    }
}

/// Waits for the operation an answer started, and fails as it failed.
fn wait(proxy: &ApiProxy, at: &Located, answer: &Answer) -> Result<()> {
    let body: Value = serde_json::from_slice(&answer.body).unwrap_or_default();
    let Some(id) = body["operation"]
        .as_str()
        .and_then(|url| url.rsplit('/').next())
        .map(|id| id.split('?').next().unwrap_or(id).to_owned())
    else {
        return Ok(());
    };
    let path = ApiPath::new(&["operations", &id, "wait"]).query("timeout", "30");
    let done = proxy.request(("GET", &path), &[], b"")?;
    let done_body: Value = serde_json::from_slice(&done.body).unwrap_or_default();
    match done_body["metadata"]["status"].as_str() {
        Some("Success") => Ok(()),
        _ => Err(refused(at, "claim", &done)),
    }
}

fn refused(at: &Located, what: &str, answer: &Answer) -> Error {
    let body: Value = serde_json::from_slice(&answer.body).unwrap_or_default();
    let why = body["metadata"]["err"]
        .as_str()
        .or_else(|| body["error"].as_str())
        .map(str::to_owned)
        .unwrap_or_else(|| format!("HTTP status {}", answer.status));
    Error::failure(format!("cannot {what} {at}: {why}"))
}
