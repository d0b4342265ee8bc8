//! Direct access to the Incus REST API, for what the `incus` command line does not expose (the
//! SFTP endpoint of an instance: owners, modes, times, exact symlinks, on stopped containers too).
//!
//! `incus remote proxy REMOTE: SOCKET` does the connecting (unix socket, HTTPS, client
//! certificate, `incus-user`), so every remote the user configured works and this module only
//! speaks plain HTTP on a private unix socket. The socket lives in a fresh 0700 directory that is
//! removed, with the proxy, when the [`ApiProxy`] is dropped.

use std::fs::{self, DirBuilder};
use std::io::{self, Read, Write};
use std::os::unix::fs::DirBuilderExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::incus::{Call, Incus, Pipes, Stream};
use crate::url::ApiPath;

/// How long `incus remote proxy` may take to open its socket (it usually takes 20 ms).
const PROXY_START_LIMIT: Duration = Duration::from_secs(15);

/// A running `incus remote proxy`, reachable on a private unix socket.
#[derive(Debug)]
pub struct ApiProxy {
    socket: PathBuf,
    // Held for their Drop, in this order: the proxy is killed, then its directory removed.
    _process: Stream,
    _dir: PrivateDir,
}

impl ApiProxy {
    /// Starts a proxy to `remote`, or to the default remote when `None`.
    pub fn start(incus: &Incus, remote: Option<&str>) -> Result<Self> {
        let remote = match remote {
            Some(remote) => remote.to_owned(),
            None => incus.default_remote()?,
        };
        let dir = PrivateDir::create()?;
        let socket = dir.0.join("api.socket");
        let target = format!("{remote}:");
        let call = Call::new(
            format!("open the API of remote '{remote}'"),
            [
                "remote".as_ref(),
                "proxy".as_ref(),
                target.as_ref(),
                socket.as_os_str(),
            ],
        );
        let process = incus.stream(&call, Pipes::Neither)?;
        let process = wait_for_socket(incus, process, &socket, &remote)?;
        Ok(Self {
            socket,
            _process: process,
            _dir: dir,
        })
    }

    /// `GET path` with `Upgrade: protocol`; on `101 Switching Protocols` the connection is
    /// handed over to that protocol. `what` names the target in messages.
    pub fn upgrade(&self, path: &ApiPath, protocol: &str, what: &str) -> Result<UnixStream> {
        let failed = |e: io::Error| Error::io(format!("cannot reach the files of {what}"), e);
        let mut conn = UnixStream::connect(&self.socket).map_err(failed)?;
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: incus\r\nConnection: Upgrade\r\nUpgrade: {protocol}\r\n\r\n"
        );
        conn.write_all(request.as_bytes()).map_err(failed)?;
        let head = read_head(&mut conn).map_err(failed)?;
        let status = status_of(&head);
        if status == 101 {
            return Ok(conn);
        }
        let length = header(&head, "content-length")
            .and_then(|value| value.parse::<u64>().ok())
            .unwrap_or(0);
        let mut body = Vec::new();
        conn.take(length.min(64 * 1024))
            .read_to_end(&mut body)
            .map_err(failed)?;
        Err(Error::failure(format!(
            "cannot reach the files of {what}: {}",
            api_error(&body).unwrap_or_else(|| format!("HTTP status {status}"))
        )))
    }
}

/// An answer of the API: its status, its `ETag` and its body.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub etag: Option<String>,
    pub body: Vec<u8>,
}

impl ApiProxy {
    /// `METHOD path` with `headers` and `body`, in HTTP/1.0, so that the answer ends with the
    /// connection (never chunked): for what needs HTTP itself, as `If-Match`.
    pub fn request(
        &self,
        (method, path): (&str, &ApiPath),
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<Answer> {
        let failed = |e: io::Error| Error::io(format!("cannot {method} {path}"), e);
        let mut conn = UnixStream::connect(&self.socket).map_err(failed)?;
        let mut request = format!("{method} {path} HTTP/1.0\r\nHost: incus\r\n");
        for (name, value) in headers {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
        request.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
        conn.write_all(request.as_bytes()).map_err(failed)?;
        conn.write_all(body).map_err(failed)?;
        let head = read_head(&mut conn).map_err(failed)?;
        let (status, etag) = (status_of(&head), header(&head, "etag"));
        let mut answer = Vec::new();
        conn.take(64 << 20)
            .read_to_end(&mut answer)
            .map_err(failed)?;
        Ok(Answer {
            status,
            etag,
            body: answer,
        })
    }
}

/// The status code of an answer's head (0 when unreadable).
fn status_of(head: &str) -> u16 {
    head.split(' ')
        .nth(1)
        .and_then(|code| code.parse::<u16>().ok())
        .unwrap_or(0)
}

/// The value of header `name` (any case) in an answer's head.
fn header(head: &str, name: &str) -> Option<String> {
    head.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        key.eq_ignore_ascii_case(name)
            .then(|| value.trim().to_owned())
    })
}

/// Waits until the proxy accepts connections; if it exits instead, its error is Incus's.
fn wait_for_socket(
    incus: &Incus,
    mut process: Stream,
    socket: &Path,
    remote: &str,
) -> Result<Stream> {
    let started = Instant::now();
    loop {
        if let Some(interrupt) = incus.interrupt() {
            interrupt.check()?;
        }
        if UnixStream::connect(socket).is_ok() {
            return Ok(process);
        }
        if process.has_exited() {
            process.finish()?;
            return Err(Error::failure(format!(
                "cannot open the API of remote '{remote}': incus remote proxy exited"
            )));
        }
        if started.elapsed() > PROXY_START_LIMIT {
            return Err(Error::failure(format!(
                "cannot open the API of remote '{remote}': no answer after {PROXY_START_LIMIT:?}"
            ))
            .with_hint(format!("check that `incus info {remote}:` answers")));
        }
        thread::sleep(Duration::from_millis(2));
    }
}

/// A new directory only we can enter, removed on drop: in `$XDG_RUNTIME_DIR` (memory) when
/// set, else in the temporary directory.
#[derive(Debug)]
struct PrivateDir(PathBuf);

impl PrivateDir {
    fn create() -> Result<Self> {
        let base = std::env::var_os("XDG_RUNTIME_DIR")
            .map(PathBuf::from)
            .filter(|dir| dir.is_dir())
            .unwrap_or_else(std::env::temp_dir);
        let dir = base.join(format!("anklume-{}", crate::temp::unique_suffix()));
        DirBuilder::new()
            .mode(0o700)
            .create(&dir)
            .map_err(|e| Error::io(format!("cannot create {}", dir.display()), e))?;
        Ok(Self(dir))
    }
}

impl Drop for PrivateDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// Reads an HTTP response head, byte by byte so that nothing after it is consumed.
fn read_head(conn: &mut UnixStream) -> io::Result<String> {
    let mut head = Vec::new();
    let mut byte = [0u8];
    while !head.ends_with(b"\r\n\r\n") {
        if conn.read(&mut byte)? == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the connection closed before an answer",
            ));
        }
        head.push(byte[0]);
        if head.len() > 64 * 1024 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "answer head too long",
            ));
        }
    }
    Ok(String::from_utf8_lossy(&head).into_owned())
}

/// The `error` field of an Incus error answer.
fn api_error(body: &[u8]) -> Option<String> {
    #[derive(Deserialize)]
    struct Answer {
        error: String,
    }
    serde_json::from_slice::<Answer>(body)
        .ok()
        .map(|answer| answer.error)
        .filter(|error| !error.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn incus_error_answers_give_their_message() {
        let body = br#"{"type":"error","error":"Instance not found","error_code":404}"#;
        assert_eq!(api_error(body).as_deref(), Some("Instance not found"));
        assert_eq!(api_error(b"<html>"), None);
    }
}
