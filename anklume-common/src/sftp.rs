//! The files of an instance, through Incus's SFTP endpoint (`/1.0/instances/NAME/sftp`).
//!
//! Unlike `incus file pull/push`, SFTP gives owners, modes and times, reads symlinks exactly
//! (the REST file API answers with the resolved target), sets all of these on write, renames
//! atomically, and works the same on a stopped container and through a remote. This is an SFTP
//! version 3 client (draft-ietf-secsh-filexfer-02), with reads and writes pipelined so that a
//! transfer is not bound by the round-trip time, in bounded memory.

use std::collections::{HashMap, VecDeque};
use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use crate::api::ApiProxy;
use crate::error::{Error, Fault, Object, Result};
use crate::interrupt::Interrupt;
use crate::resolve::Located;
use crate::url::ApiPath;

const SSH_FXP_INIT: u8 = 1;
const SSH_FXP_VERSION: u8 = 2;
const SSH_FXP_OPEN: u8 = 3;
const SSH_FXP_CLOSE: u8 = 4;
const SSH_FXP_READ: u8 = 5;
const SSH_FXP_WRITE: u8 = 6;
const SSH_FXP_LSTAT: u8 = 7;
const SSH_FXP_SETSTAT: u8 = 9;
const SSH_FXP_FSETSTAT: u8 = 10;
const SSH_FXP_OPENDIR: u8 = 11;
const SSH_FXP_READDIR: u8 = 12;
const SSH_FXP_REMOVE: u8 = 13;
const SSH_FXP_MKDIR: u8 = 14;
const SSH_FXP_STAT: u8 = 17;
const SSH_FXP_READLINK: u8 = 19;
const SSH_FXP_SYMLINK: u8 = 20;
const SSH_FXP_STATUS: u8 = 101;
const SSH_FXP_HANDLE: u8 = 102;
const SSH_FXP_DATA: u8 = 103;
const SSH_FXP_NAME: u8 = 104;
const SSH_FXP_ATTRS: u8 = 105;
const SSH_FXP_EXTENDED: u8 = 200;

const SSH_FX_OK: u32 = 0;
const SSH_FX_EOF: u32 = 1;
const SSH_FX_NO_SUCH_FILE: u32 = 2;
const SSH_FX_PERMISSION_DENIED: u32 = 3;

const ATTR_SIZE: u32 = 0x1;
const ATTR_UIDGID: u32 = 0x2;
const ATTR_PERMISSIONS: u32 = 0x4;
const ATTR_ACMODTIME: u32 = 0x8;
const ATTR_EXTENDED: u32 = 0x8000_0000;

const OPEN_READ: u32 = 0x1;
const OPEN_WRITE: u32 = 0x2;
const OPEN_CREAT: u32 = 0x8;
const OPEN_TRUNC: u32 = 0x10;
const OPEN_EXCL: u32 = 0x20;

/// Bytes per READ or WRITE request: the most Incus's server (Go's pkg/sftp) moves at once.
const CHUNK: usize = 32 * 1024;
/// Requests in flight per transfer: 2 MiB, enough to hide the round trip, bounded memory.
const WINDOW: usize = 64;
/// Longest packet accepted from the server.
const MAX_PACKET: usize = 256 * 1024;
/// How often a blocked read or write looks at the signal flag.
const POLL: Duration = Duration::from_millis(200);

const S_IFMT: u32 = 0o170_000;
const S_IFDIR: u32 = 0o040_000;
const S_IFREG: u32 = 0o100_000;
const S_IFLNK: u32 = 0o120_000;

/// What an entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    File,
    Directory,
    Symlink,
    /// A device, socket or FIFO: not transferred.
    Other,
}

/// Owner, permissions, modification time and size of an entry, as the instance sees them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Attrs {
    pub size: Option<u64>,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    /// `st_mode`: type bits and permissions.
    pub mode: Option<u32>,
    /// Seconds since the epoch.
    pub mtime: Option<u32>,
}

impl Attrs {
    pub fn kind(&self) -> Kind {
        match self.mode.unwrap_or(0) & S_IFMT {
            S_IFREG => Kind::File,
            S_IFDIR => Kind::Directory,
            S_IFLNK => Kind::Symlink,
            _ => Kind::Other,
        }
    }

    /// Permission bits, setuid/setgid/sticky included.
    pub fn permissions(&self) -> u32 {
        self.mode.unwrap_or(0) & 0o7777
    }
}

/// Why an SFTP request failed: the server's status code and message.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Status {
    code: u32,
    message: String,
}

impl Status {
    fn is_not_found(&self) -> bool {
        self.code == SSH_FX_NO_SUCH_FILE
    }

    /// A reason in the words of `ls` and `cp`.
    fn reason(&self) -> String {
        match self.code {
            SSH_FX_NO_SUCH_FILE => "no such file or directory".into(),
            SSH_FX_PERMISSION_DENIED => "permission denied".into(),
            _ if !self.message.is_empty() => self.message.to_lowercase(),
            code => format!("SFTP error {code}"),
        }
    }
}

/// The outcome of one request inside this module: transport trouble is an [`Error`]; the
/// server refusing is a [`Status`], which [`Sftp::named`] turns into an error about the file.
type Reply<T> = Result<std::result::Result<T, Status>>;

/// An SFTP session with one instance.
pub struct Sftp {
    conn: UnixStream,
    next_id: u32,
    interrupt: Option<Interrupt>,
    /// `remote:instance` for messages.
    label: String,
    /// The instance's project, for hints that show a command.
    project: String,
}

impl std::fmt::Debug for Sftp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sftp").field("label", &self.label).finish()
    }
}

/// A server answer: its type and body after the request id.
struct Packet {
    kind: u8,
    body: Vec<u8>,
}

impl Sftp {
    /// Opens an SFTP session with `instance` through `proxy`.
    pub fn open(
        proxy: &ApiProxy,
        instance: &Located,
        interrupt: Option<Interrupt>,
    ) -> Result<Self> {
        let label = instance.incus_name();
        let path = ApiPath::new(&["instances", &instance.name, "sftp"])
            .in_project(Some(&instance.project));
        let conn = proxy.upgrade(&path, "sftp", &label)?;
        for timeout in [
            conn.set_read_timeout(Some(POLL)),
            conn.set_write_timeout(Some(POLL)),
        ] {
            timeout.map_err(|e| Error::io("cannot set a socket timeout", e))?;
        }
        let mut sftp = Self {
            conn,
            next_id: 0,
            interrupt,
            label,
            project: instance.project.clone(),
        };
        let mut init = Vec::new();
        put_u32(&mut init, 3);
        sftp.send_raw(SSH_FXP_INIT, &init)?;
        let (kind, _) = sftp.receive_raw()?;
        if kind != SSH_FXP_VERSION {
            return Err(sftp.protocol_error("no SFTP version answer"));
        }
        Ok(sftp)
    }

    /// `remote:instance`, for messages.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// The instance's project.
    pub fn project(&self) -> &str {
        &self.project
    }

    /// Attributes of `path` itself (a symlink is not followed); `None` if it does not exist.
    pub fn lstat(&mut self, path: &str) -> Result<Option<Attrs>> {
        let reply = self.stat_with(SSH_FXP_LSTAT, path);
        self.named("examine", path, reply)
    }

    /// Attributes of `path`, symlinks followed; `None` if it does not exist.
    pub fn stat(&mut self, path: &str) -> Result<Option<Attrs>> {
        let reply = self.stat_with(SSH_FXP_STAT, path);
        self.named("examine", path, reply)
    }

    fn stat_with(&mut self, request: u8, path: &str) -> Reply<Option<Attrs>> {
        let mut body = Vec::new();
        put_str(&mut body, path.as_bytes());
        let packet = self.call(request, &body)?;
        match expect_attrs(packet) {
            Ok(attrs) => Ok(Ok(Some(attrs))),
            Err(status) if status.is_not_found() => Ok(Ok(None)),
            Err(status) => Ok(Err(status)),
        }
    }

    /// The entries of directory `path` (without `.` and `..`), sorted by name.
    pub fn read_dir(&mut self, path: &str) -> Result<Vec<(String, Attrs)>> {
        let reply = self.read_dir_reply(path);
        self.named("read directory", path, reply)
    }

    fn read_dir_reply(&mut self, path: &str) -> Reply<Vec<(String, Attrs)>> {
        let mut body = Vec::new();
        put_str(&mut body, path.as_bytes());
        let handle = match expect_handle(self.call(SSH_FXP_OPENDIR, &body)?) {
            Ok(handle) => handle,
            Err(status) => return Ok(Err(status)),
        };
        let mut entries = Vec::new();
        let outcome = loop {
            let mut body = Vec::new();
            put_str(&mut body, &handle);
            let packet = self.call(SSH_FXP_READDIR, &body)?;
            if packet.kind != SSH_FXP_NAME {
                match expect_status(packet) {
                    Err(status) if status.code == SSH_FX_EOF => break Ok(()),
                    Err(status) => break Err(status),
                    Ok(()) => break Ok(()),
                }
            }
            let mut reader = Fields(&packet.body);
            let count = reader.u32()?;
            for _ in 0..count {
                let name = String::from_utf8_lossy(reader.bytes()?).into_owned();
                reader.bytes()?; // the `ls -l` line
                let attrs = reader.attrs()?;
                if name != "." && name != ".." {
                    entries.push((name, attrs));
                }
            }
        };
        // A directory handle the server fails to close costs nothing: only transport errors count.
        let _ = self.close(&handle)?;
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(outcome.map(|()| entries))
    }

    /// The target of symlink `path`, exactly as stored.
    pub fn read_link(&mut self, path: &str) -> Result<String> {
        let reply = self.read_link_reply(path);
        self.named("read symlink", path, reply)
    }

    fn read_link_reply(&mut self, path: &str) -> Reply<String> {
        let mut body = Vec::new();
        put_str(&mut body, path.as_bytes());
        let packet = self.call(SSH_FXP_READLINK, &body)?;
        if packet.kind != SSH_FXP_NAME {
            return Ok(Err(status_of(packet)?));
        }
        let mut reader = Fields(&packet.body);
        reader.u32()?;
        Ok(Ok(String::from_utf8_lossy(reader.bytes()?).into_owned()))
    }

    /// Opens `path` for reading.
    pub fn open_read(&mut self, path: &str) -> Result<FileReader<'_>> {
        let reply = self.open_file(path, OPEN_READ, &Attrs::default());
        let handle = self.named("read", path, reply)?;
        Ok(FileReader {
            sftp: self,
            path: path.to_owned(),
            handle,
            next_offset: 0,
            in_flight: VecDeque::new(),
            early: HashMap::new(),
            current: Vec::new(),
            position: 0,
            eof: false,
            window: 2,
            resume_at: None,
        })
    }

    /// Creates `path` (it must not exist) with permissions `mode` and opens it for writing.
    pub fn create(&mut self, path: &str, mode: u32) -> Result<FileWriter<'_>> {
        let attrs = Attrs {
            mode: Some(mode),
            ..Attrs::default()
        };
        let flags = OPEN_WRITE | OPEN_CREAT | OPEN_TRUNC | OPEN_EXCL;
        let reply = self.open_file(path, flags, &attrs);
        let handle = self.named("create", path, reply)?;
        // Incus's server ignores the mode of OPEN (the file starts 0644): set it on the handle
        // before any byte is written, so nobody else can open it meanwhile.
        let reply = self.set_attrs_of(SSH_FXP_FSETSTAT, &handle, &attrs);
        self.named("set the mode of", path, reply)?;
        Ok(FileWriter {
            sftp: self,
            path: path.to_owned(),
            handle,
            offset: 0,
            buffer: Vec::with_capacity(CHUNK),
            in_flight: VecDeque::new(),
            refused: None,
        })
    }

    fn open_file(&mut self, path: &str, flags: u32, attrs: &Attrs) -> Reply<Vec<u8>> {
        let mut body = Vec::new();
        put_str(&mut body, path.as_bytes());
        put_u32(&mut body, flags);
        put_attrs(&mut body, attrs);
        Ok(expect_handle(self.call(SSH_FXP_OPEN, &body)?))
    }

    fn close(&mut self, handle: &[u8]) -> Reply<()> {
        let mut body = Vec::new();
        put_str(&mut body, handle);
        Ok(expect_status(self.call(SSH_FXP_CLOSE, &body)?))
    }

    /// Creates directory `path` with permissions `mode`.
    pub fn mkdir(&mut self, path: &str, mode: u32) -> Result<()> {
        let reply = self.mkdir_reply(path, mode);
        self.named("create directory", path, reply)?;
        // Incus's server ignores the mode of MKDIR (the directory starts 0755).
        let attrs = Attrs {
            mode: Some(mode),
            ..Attrs::default()
        };
        self.set_attrs(path, &attrs)
    }

    fn mkdir_reply(&mut self, path: &str, mode: u32) -> Reply<()> {
        let mut body = Vec::new();
        put_str(&mut body, path.as_bytes());
        put_attrs(
            &mut body,
            &Attrs {
                mode: Some(mode),
                ..Attrs::default()
            },
        );
        Ok(expect_status(self.call(SSH_FXP_MKDIR, &body)?))
    }

    /// Creates symlink `link` pointing to `target`.
    pub fn symlink(&mut self, target: &str, link: &str) -> Result<()> {
        let reply = self.symlink_reply(target, link);
        self.named("create symlink", link, reply)
    }

    fn symlink_reply(&mut self, target: &str, link: &str) -> Reply<()> {
        // OpenSSH swapped the two arguments of the draft, and every server followed it:
        // target first, then the link's own path.
        let mut body = Vec::new();
        put_str(&mut body, target.as_bytes());
        put_str(&mut body, link.as_bytes());
        Ok(expect_status(self.call(SSH_FXP_SYMLINK, &body)?))
    }

    /// Sets what `attrs` carries on `path` (symlinks followed), in two requests: the owner
    /// first, as changing it clears setuid and setgid; then permissions and time. (Incus 6.0's
    /// server also fails with "chown: invalid argument" when one request carries owner and time.)
    pub fn set_attrs(&mut self, path: &str, attrs: &Attrs) -> Result<()> {
        let reply = self.set_attrs_reply(path, attrs);
        self.named("set owner and mode of", path, reply)
    }

    fn set_attrs_reply(&mut self, path: &str, attrs: &Attrs) -> Reply<()> {
        self.set_attrs_of(SSH_FXP_SETSTAT, path.as_bytes(), attrs)
    }

    /// SETSTAT of a path or FSETSTAT of a handle, owner first (see [`Sftp::set_attrs`]).
    fn set_attrs_of(&mut self, request: u8, target: &[u8], attrs: &Attrs) -> Reply<()> {
        for step in split_attrs(attrs) {
            let mut body = Vec::new();
            put_str(&mut body, target);
            put_attrs(&mut body, &step);
            if let Err(status) = expect_status(self.call(request, &body)?) {
                return Ok(Err(status));
            }
        }
        Ok(Ok(()))
    }

    /// Renames `from` to `to`, replacing `to` atomically if it exists (POSIX rename).
    pub fn rename(&mut self, from: &str, to: &str) -> Result<()> {
        let reply = self.rename_reply(from, to);
        self.named("replace", to, reply)
    }

    fn rename_reply(&mut self, from: &str, to: &str) -> Reply<()> {
        let mut body = Vec::new();
        put_str(&mut body, b"posix-rename@openssh.com");
        put_str(&mut body, from.as_bytes());
        put_str(&mut body, to.as_bytes());
        Ok(expect_status(self.call(SSH_FXP_EXTENDED, &body)?))
    }

    /// Makes `link` a second name of the file `existing`.
    pub fn hard_link(&mut self, existing: &str, link: &str) -> Result<()> {
        let reply = self.hard_link_reply(existing, link);
        self.named("create hard link", link, reply)
    }

    fn hard_link_reply(&mut self, existing: &str, link: &str) -> Reply<()> {
        let mut body = Vec::new();
        put_str(&mut body, b"hardlink@openssh.com");
        put_str(&mut body, existing.as_bytes());
        put_str(&mut body, link.as_bytes());
        Ok(expect_status(self.call(SSH_FXP_EXTENDED, &body)?))
    }

    /// Removes file or symlink `path`.
    pub fn remove(&mut self, path: &str) -> Result<()> {
        let reply = self.remove_reply(path);
        self.named("remove", path, reply)
    }

    fn remove_reply(&mut self, path: &str) -> Reply<()> {
        let mut body = Vec::new();
        put_str(&mut body, path.as_bytes());
        Ok(expect_status(self.call(SSH_FXP_REMOVE, &body)?))
    }

    /// A server refusal about `path` becomes an error naming the action, the instance and the
    /// file, with a typed [`Fault`].
    fn named<T>(&self, action: &str, path: &str, reply: Reply<T>) -> Result<T> {
        reply?.map_err(|status| self.refusal(action, path, &status))
    }

    fn refusal(&self, action: &str, path: &str, status: &Status) -> Error {
        let fault = match status.code {
            SSH_FX_NO_SUCH_FILE => Fault::NotFound(Object::File),
            SSH_FX_PERMISSION_DENIED => Fault::Forbidden,
            _ => Fault::Refused,
        };
        let message = format!("cannot {action} {}:{path}: {}", self.label, status.reason());
        Error::refused(fault, message)
    }

    /// Sends one request and waits for its answer.
    fn call(&mut self, kind: u8, body: &[u8]) -> Result<Packet> {
        let id = self.send(kind, body)?;
        loop {
            // Answers to requests of an abandoned transfer may still be on their way.
            let (answer_id, packet) = self.receive()?;
            if answer_id == id {
                return Ok(packet);
            }
        }
    }

    fn send(&mut self, kind: u8, body: &[u8]) -> Result<u32> {
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1);
        let mut payload = Vec::with_capacity(4 + body.len());
        put_u32(&mut payload, id);
        payload.extend_from_slice(body);
        self.send_raw(kind, &payload)?;
        Ok(id)
    }

    fn send_raw(&mut self, kind: u8, payload: &[u8]) -> Result<()> {
        let mut packet = Vec::with_capacity(5 + payload.len());
        put_u32(&mut packet, (payload.len() + 1) as u32);
        packet.push(kind);
        packet.extend_from_slice(payload);
        let mut written = 0;
        while written < packet.len() {
            match self.conn.write(&packet[written..]) {
                Ok(0) => return Err(self.lost(io::ErrorKind::WriteZero.into())),
                Ok(n) => written += n,
                Err(e) if is_wait(&e) => self.check_interrupt()?,
                Err(e) => return Err(self.lost(e)),
            }
        }
        Ok(())
    }

    fn receive(&mut self) -> Result<(u32, Packet)> {
        let (kind, body) = self.receive_raw()?;
        if body.len() < 4 {
            return Err(self.protocol_error("a packet without a request id"));
        }
        let id = u32::from_be_bytes([body[0], body[1], body[2], body[3]]);
        Ok((
            id,
            Packet {
                kind,
                body: body[4..].to_vec(),
            },
        ))
    }

    fn receive_raw(&mut self) -> Result<(u8, Vec<u8>)> {
        let mut length = [0u8; 4];
        self.read_full(&mut length)?;
        let length = u32::from_be_bytes(length) as usize;
        if length == 0 || length > MAX_PACKET {
            return Err(self.protocol_error("a packet of impossible length"));
        }
        let mut packet = vec![0u8; length];
        self.read_full(&mut packet)?;
        let kind = packet.remove(0);
        Ok((kind, packet))
    }

    fn read_full(&mut self, buf: &mut [u8]) -> Result<()> {
        let mut got = 0;
        while got < buf.len() {
            match self.conn.read(&mut buf[got..]) {
                Ok(0) => {
                    return Err(self.lost(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "connection closed",
                    )));
                }
                Ok(n) => got += n,
                Err(e) if is_wait(&e) => self.check_interrupt()?,
                Err(e) => return Err(self.lost(e)),
            }
        }
        Ok(())
    }

    fn check_interrupt(&self) -> Result<()> {
        match &self.interrupt {
            Some(interrupt) => interrupt.check(),
            None => Ok(()),
        }
    }

    fn lost(&self, e: io::Error) -> Error {
        Error::io(
            format!("lost the connection to the files of {}", self.label),
            e,
        )
        .with_hint("check that the Incus daemon still runs (`incus info`)")
    }

    fn protocol_error(&self, what: &str) -> Error {
        Error::failure(format!(
            "unexpected answer from the SFTP server of {}: {what}",
            self.label
        ))
    }
}

/// Reads a remote file, with up to [`WINDOW`] read requests in flight.
pub struct FileReader<'a> {
    sftp: &'a mut Sftp,
    /// For messages.
    path: String,
    handle: Vec<u8>,
    next_offset: u64,
    /// (request id, offset) of the reads sent, oldest first.
    in_flight: VecDeque<(u32, u64)>,
    /// Answers that came before older ones.
    early: HashMap<u32, Packet>,
    current: Vec<u8>,
    position: usize,
    eof: bool,
    /// Requests allowed in flight now: grows from 2 to [`WINDOW`].
    window: usize,
    /// Where a short read stopped, until the next answer says whether the file ends there.
    resume_at: Option<u64>,
}

impl FileReader<'_> {
    /// Closes the file without waiting for the answer: a read-only handle has nothing to
    /// report, and the session skips the answer when it comes. Dropping the reader without it
    /// leaves the handle open until the session ends.
    pub fn close(mut self) -> Result<()> {
        self.drain()?;
        let mut body = Vec::new();
        put_str(&mut body, &self.handle);
        self.sftp.send(SSH_FXP_CLOSE, &body).map(drop)
    }

    /// Reads and forgets the answers still expected.
    fn drain(&mut self) -> Result<()> {
        while let Some((id, _)) = self.in_flight.pop_front() {
            if self.early.remove(&id).is_none() {
                self.answer_to(id)?;
            }
        }
        Ok(())
    }

    fn answer_to(&mut self, id: u32) -> Result<Packet> {
        if let Some(packet) = self.early.remove(&id) {
            return Ok(packet);
        }
        loop {
            let (answer_id, packet) = self.sftp.receive()?;
            if answer_id == id {
                return Ok(packet);
            }
            // Keep answers to our own later requests; others are stale (a closed handle).
            if self
                .in_flight
                .iter()
                .any(|(pending, _)| *pending == answer_id)
            {
                self.early.insert(answer_id, packet);
            }
        }
    }

    fn fill_window(&mut self) -> Result<()> {
        while !self.eof && self.in_flight.len() < self.window {
            let mut body = Vec::new();
            put_str(&mut body, &self.handle);
            put_u64(&mut body, self.next_offset);
            put_u32(&mut body, CHUNK as u32);
            let id = self.sftp.send(SSH_FXP_READ, &body)?;
            self.in_flight.push_back((id, self.next_offset));
            self.next_offset += CHUNK as u64;
        }
        Ok(())
    }

    /// The next piece of the file, or `None` at its end.
    fn next_chunk(&mut self) -> Result<Option<Vec<u8>>> {
        loop {
            self.fill_window()?;
            let Some((id, offset)) = self.in_flight.pop_front() else {
                return Ok(None);
            };
            let packet = self.answer_to(id)?;
            if packet.kind != SSH_FXP_DATA {
                let status = status_of(packet)?;
                if status.code == SSH_FX_EOF {
                    self.eof = true;
                    self.drain()?;
                    return Ok(None);
                }
                return Err(self.sftp.refusal("read", &self.path, &status));
            }
            let data = Fields(&packet.body).bytes()?.to_vec();
            if let Some(resume_at) = self.resume_at.take() {
                // Data after a short read: the file did not end there, and this piece was
                // asked at the wrong offset. Ask again from where the short read stopped.
                self.drain()?;
                self.next_offset = resume_at;
                continue;
            }
            if data.len() < CHUNK {
                // Usually the end of the file, which the next answer confirms.
                self.resume_at = Some(offset + data.len() as u64);
            } else {
                // Slow start: a small file costs two requests, a large one fills the window.
                self.window = (self.window * 2).min(WINDOW);
            }
            return Ok(Some(data));
        }
    }
}

impl Read for FileReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.position == self.current.len() {
            match self.next_chunk().map_err(io::Error::other)? {
                Some(data) => {
                    self.current = data;
                    self.position = 0;
                }
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len() - self.position);
        buf[..n].copy_from_slice(&self.current[self.position..self.position + n]);
        self.position += n;
        Ok(n)
    }
}

/// Writes a remote file, with up to [`WINDOW`] write requests in flight.
pub struct FileWriter<'a> {
    sftp: &'a mut Sftp,
    /// For messages.
    path: String,
    handle: Vec<u8>,
    offset: u64,
    buffer: Vec<u8>,
    in_flight: VecDeque<u32>,
    refused: Option<Status>,
}

impl FileWriter<'_> {
    /// Sends what is buffered, waits for every write to be acknowledged and closes the file.
    pub fn finish(self) -> Result<()> {
        self.finish_with(None)
    }

    /// Like [`FileWriter::finish`], setting `attrs` on the open file before it is closed
    /// (FSETSTAT): they reach the file written, never what its path may have been swapped for.
    pub fn finish_with_attrs(self, attrs: &Attrs) -> Result<()> {
        self.finish_with(Some(attrs))
    }

    fn finish_with(mut self, attrs: Option<&Attrs>) -> Result<()> {
        self.send_buffer()?;
        while !self.in_flight.is_empty() {
            self.acknowledge_oldest()?;
        }
        let handle = std::mem::take(&mut self.handle);
        let set = match (&self.refused, attrs) {
            (None, Some(attrs)) => self.sftp.set_attrs_of(SSH_FXP_FSETSTAT, &handle, attrs)?,
            _ => Ok(()),
        };
        let closed = self.sftp.close(&handle)?;
        if let Err(status) = set {
            return Err(self
                .sftp
                .refusal("set owner and mode of", &self.path, &status));
        }
        let reply = Ok(match self.refused.take() {
            Some(status) => Err(status),
            None => closed,
        });
        self.sftp.named("write", &self.path, reply)
    }

    fn send_buffer(&mut self) -> Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        if self.in_flight.len() >= WINDOW {
            self.acknowledge_oldest()?;
        }
        let mut body = Vec::with_capacity(self.buffer.len() + 64);
        put_str(&mut body, &self.handle);
        put_u64(&mut body, self.offset);
        put_str(&mut body, &self.buffer);
        let id = self.sftp.send(SSH_FXP_WRITE, &body)?;
        self.in_flight.push_back(id);
        self.offset += self.buffer.len() as u64;
        self.buffer.clear();
        Ok(())
    }

    fn acknowledge_oldest(&mut self) -> Result<()> {
        let Some(id) = self.in_flight.pop_front() else {
            return Ok(());
        };
        let packet = loop {
            // Answers to earlier requests (a closed reader's handle) are skipped.
            let (answer_id, packet) = self.sftp.receive()?;
            if answer_id == id {
                break packet;
            }
        };
        if let Err(status) = expect_status(packet) {
            self.refused.get_or_insert(status);
        }
        Ok(())
    }
}

impl Write for FileWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if let Some(status) = &self.refused {
            return Err(io::Error::other(
                self.sftp.refusal("write", &self.path, status),
            ));
        }
        let n = buf.len().min(CHUNK - self.buffer.len());
        self.buffer.extend_from_slice(&buf[..n]);
        if self.buffer.len() == CHUNK {
            self.send_buffer().map_err(io::Error::other)?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Owner first, then permissions and time: changing the owner clears setuid and setgid, and
/// Incus 6.0's server fails when one request carries owner and time. Empty steps are left out.
fn split_attrs(attrs: &Attrs) -> Vec<Attrs> {
    let steps = [
        Attrs {
            uid: attrs.uid,
            gid: attrs.gid,
            ..Attrs::default()
        },
        Attrs {
            mode: attrs.mode,
            mtime: attrs.mtime,
            ..Attrs::default()
        },
    ];
    steps
        .into_iter()
        .filter(|step| *step != Attrs::default())
        .collect()
}

fn is_wait(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
    )
}

fn put_u32(buf: &mut Vec<u8>, value: u32) {
    buf.extend_from_slice(&value.to_be_bytes());
}

fn put_u64(buf: &mut Vec<u8>, value: u64) {
    buf.extend_from_slice(&value.to_be_bytes());
}

fn put_str(buf: &mut Vec<u8>, value: &[u8]) {
    put_u32(buf, value.len() as u32);
    buf.extend_from_slice(value);
}

fn put_attrs(buf: &mut Vec<u8>, attrs: &Attrs) {
    let mut flags = 0;
    if attrs.size.is_some() {
        flags |= ATTR_SIZE;
    }
    if attrs.uid.is_some() || attrs.gid.is_some() {
        flags |= ATTR_UIDGID;
    }
    if attrs.mode.is_some() {
        flags |= ATTR_PERMISSIONS;
    }
    if attrs.mtime.is_some() {
        flags |= ATTR_ACMODTIME;
    }
    put_u32(buf, flags);
    if let Some(size) = attrs.size {
        put_u64(buf, size);
    }
    if flags & ATTR_UIDGID != 0 {
        // SFTP sets both at once; u32::MAX (-1) leaves one unchanged, as chown(2) does.
        put_u32(buf, attrs.uid.unwrap_or(u32::MAX));
        put_u32(buf, attrs.gid.unwrap_or(u32::MAX));
    }
    if let Some(mode) = attrs.mode {
        put_u32(buf, wire_permissions(mode));
    }
    if let Some(mtime) = attrs.mtime {
        put_u32(buf, mtime); // atime
        put_u32(buf, mtime);
    }
}

/// Permission bits as sent. Incus's server (Go's pkg/sftp) casts them to Go's `os.FileMode`,
/// where setuid, setgid and sticky are high bits: without those, `chmod 4755` loses its `s`
/// (seen with Incus 6.0). The POSIX bits are sent too, for servers that read them; each kind
/// of server ignores the other's bits.
fn wire_permissions(mode: u32) -> u32 {
    const GO_SETUID: u32 = 1 << 23;
    const GO_SETGID: u32 = 1 << 22;
    const GO_STICKY: u32 = 1 << 20;
    let mut wire = mode & 0o7777;
    for (posix, go) in [
        (0o4000, GO_SETUID),
        (0o2000, GO_SETGID),
        (0o1000, GO_STICKY),
    ] {
        if mode & posix != 0 {
            wire |= go;
        }
    }
    wire
}

/// A cursor over the fields of a packet body.
struct Fields<'a>(&'a [u8]);

impl<'a> Fields<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if self.0.len() < n {
            return Err(Error::failure(
                "unexpected answer from an SFTP server: packet too short",
            ));
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn u32(&mut self) -> Result<u32> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn u64(&mut self) -> Result<u64> {
        Ok((u64::from(self.u32()?) << 32) | u64::from(self.u32()?))
    }

    fn bytes(&mut self) -> Result<&'a [u8]> {
        let n = self.u32()? as usize;
        self.take(n)
    }

    fn attrs(&mut self) -> Result<Attrs> {
        let flags = self.u32()?;
        let mut attrs = Attrs::default();
        if flags & ATTR_SIZE != 0 {
            attrs.size = Some(self.u64()?);
        }
        if flags & ATTR_UIDGID != 0 {
            attrs.uid = Some(self.u32()?);
            attrs.gid = Some(self.u32()?);
        }
        if flags & ATTR_PERMISSIONS != 0 {
            attrs.mode = Some(self.u32()?);
        }
        if flags & ATTR_ACMODTIME != 0 {
            self.u32()?; // atime
            attrs.mtime = Some(self.u32()?);
        }
        if flags & ATTR_EXTENDED != 0 {
            for _ in 0..self.u32()? {
                self.bytes()?;
                self.bytes()?;
            }
        }
        Ok(attrs)
    }
}

/// The status a non-status answer stands for, or the status itself.
fn status_of(packet: Packet) -> Result<Status> {
    if packet.kind != SSH_FXP_STATUS {
        return Err(Error::failure(format!(
            "unexpected answer from an SFTP server: packet type {}",
            packet.kind
        )));
    }
    let mut fields = Fields(&packet.body);
    let code = fields.u32()?;
    let message = fields
        .bytes()
        .map(|m| String::from_utf8_lossy(m).into_owned())
        .unwrap_or_default();
    Ok(Status { code, message })
}

fn expect_status(packet: Packet) -> std::result::Result<(), Status> {
    match status_of(packet) {
        Ok(status) if status.code == SSH_FX_OK => Ok(()),
        Ok(status) => Err(status),
        Err(error) => Err(Status {
            code: u32::MAX,
            message: error.to_string(),
        }),
    }
}

fn expect_handle(packet: Packet) -> std::result::Result<Vec<u8>, Status> {
    if packet.kind == SSH_FXP_HANDLE {
        let mut fields = Fields(&packet.body);
        return fields.bytes().map(<[u8]>::to_vec).map_err(|e| Status {
            code: u32::MAX,
            message: e.to_string(),
        });
    }
    Err(expect_status(packet).err().unwrap_or(Status {
        code: u32::MAX,
        message: "no handle in the answer".into(),
    }))
}

fn expect_attrs(packet: Packet) -> std::result::Result<Attrs, Status> {
    if packet.kind == SSH_FXP_ATTRS {
        return Fields(&packet.body).attrs().map_err(|e| Status {
            code: u32::MAX,
            message: e.to_string(),
        });
    }
    Err(expect_status(packet).err().unwrap_or(Status {
        code: u32::MAX,
        message: "no attributes in the answer".into(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_survive_encoding_and_decoding() {
        let attrs = Attrs {
            size: Some(5),
            uid: Some(12),
            gid: Some(34),
            mode: Some(0o4755),
            mtime: Some(1_700_000_000),
        };
        let mut buf = Vec::new();
        put_attrs(&mut buf, &attrs);
        let decoded = Fields(&buf).attrs().unwrap();
        assert_eq!(decoded.permissions(), 0o4755);
        assert_eq!(
            (decoded.size, decoded.uid, decoded.gid, decoded.mtime),
            (attrs.size, attrs.uid, attrs.gid, attrs.mtime)
        );
    }

    #[test]
    fn the_type_comes_from_the_mode_bits() {
        let with_mode = |mode| Attrs {
            mode: Some(mode),
            ..Attrs::default()
        };
        assert_eq!(with_mode(0o100_644).kind(), Kind::File);
        assert_eq!(with_mode(0o040_700).kind(), Kind::Directory);
        assert_eq!(with_mode(0o120_777).kind(), Kind::Symlink);
        assert_eq!(with_mode(0o020_600).kind(), Kind::Other);
        assert_eq!(with_mode(0o104_755).permissions(), 0o4755);
    }

    #[test]
    fn a_truncated_packet_is_an_error_not_a_panic() {
        assert!(Fields(&[0, 0, 0, 9, 1]).bytes().is_err());
        assert!(Fields(&[0, 0]).u32().is_err());
    }
}
