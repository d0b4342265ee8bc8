//! Incus backup archives as byte streams: compression recognised by content, the `index.yaml`
//! Incus puts first, and a full walk for `verify`.

use std::collections::VecDeque;
use std::io::{self, Cursor, Read};
use std::sync::mpsc;
use std::thread::{self, JoinHandle};

use anklume_common::{Error, Result};
use serde::Deserialize;

/// How many bytes tell a format: tar's "ustar" magic ends at offset 262.
pub const SNIFF_LEN: usize = 512;

/// Compressions `incus export` produces and this tool can read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Packing {
    Zstd,
    Gzip,
    Xz,
    Bzip2,
    /// An uncompressed tar stream.
    Tar,
}

impl Packing {
    /// The format that `prefix` (the first bytes of a plain archive) starts.
    pub fn sniff(prefix: &[u8]) -> Option<Self> {
        if prefix.starts_with(&[0x28, 0xB5, 0x2F, 0xFD]) {
            Some(Self::Zstd)
        } else if prefix.starts_with(&[0x1F, 0x8B]) {
            Some(Self::Gzip)
        } else if prefix.starts_with(&[0xFD, b'7', b'z', b'X', b'Z', 0x00]) {
            Some(Self::Xz)
        } else if prefix.starts_with(b"BZh") {
            Some(Self::Bzip2)
        } else if prefix.len() >= 262 && &prefix[257..262] == b"ustar" {
            Some(Self::Tar)
        } else {
            None
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Zstd => "zstd",
            Self::Gzip => "gzip",
            Self::Xz => "xz",
            Self::Bzip2 => "bzip2",
            Self::Tar => "none",
        }
    }

    /// The tar stream inside `input`. Each decoder checks its own checksum at the end of its
    /// stream, so reading to the end detects corruption.
    pub fn unpack<'a>(self, input: impl Read + 'a) -> Result<Box<dyn Read + 'a>> {
        Ok(match self {
            Self::Zstd => Box::new(
                zstd::stream::read::Decoder::new(input)
                    .map_err(|e| Error::io("cannot start zstd decompression", e))?,
            ),
            Self::Gzip => Box::new(flate2::read::MultiGzDecoder::new(input)),
            Self::Xz => Box::new(xz2::read::XzDecoder::new_multi_decoder(input)),
            Self::Bzip2 => Box::new(bzip2::read::MultiBzDecoder::new(input)),
            Self::Tar => Box::new(input),
        })
    }
}

/// A stream whose first bytes were read ahead and are given again before the rest.
pub type Replayed<R> = io::Chain<Cursor<Vec<u8>>, R>;

/// Reads the first bytes of `input` and gives them back together with a reader that yields
/// all of `input`, those bytes included.
pub fn peek<R: Read>(mut input: R, len: usize) -> io::Result<(Vec<u8>, Replayed<R>)> {
    let mut prefix = Vec::with_capacity(len);
    (&mut input).take(len as u64).read_to_end(&mut prefix)?;
    Ok((prefix.clone(), Cursor::new(prefix).chain(input)))
}

/// What `backup/index.yaml` says of the instance.
#[derive(Debug, Clone, Deserialize)]
pub struct Index {
    pub name: String,
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub pool: Option<String>,
    #[serde(default)]
    pub backend: Option<String>,
    #[serde(default)]
    pub snapshots: Option<Vec<String>>,
    #[serde(default)]
    config: Option<IndexConfig>,
}

/// The instance as Incus described it when it wrote the backup.
#[derive(Debug, Clone, Deserialize)]
struct IndexConfig {
    #[serde(default)]
    container: Option<IndexInstance>,
}

#[derive(Debug, Clone, Deserialize)]
struct IndexInstance {
    #[serde(default)]
    project: Option<String>,
}

impl Index {
    /// The project the instance was backed up from, as the backup records it.
    pub fn project(&self) -> Option<&str> {
        let project = self
            .config
            .as_ref()?
            .container
            .as_ref()?
            .project
            .as_deref()?;
        (!project.is_empty()).then_some(project)
    }
}

const INDEX_PATH: &str = "backup/index.yaml";
/// The index is small; a bigger one is not an Incus backup.
const INDEX_LIMIT: u64 = 16 * 1024 * 1024;

fn bad_archive(what: impl std::fmt::Display) -> Error {
    Error::failure(format!("not a valid Incus backup: {what}"))
}

fn parse_index(entry: impl Read) -> Result<Index> {
    let mut text = Vec::new();
    entry
        .take(INDEX_LIMIT)
        .read_to_end(&mut text)
        .map_err(|e| bad_archive(format!("cannot read {INDEX_PATH}: {e}")))?;
    serde_yaml::from_slice(&text).map_err(|e| bad_archive(format!("{INDEX_PATH}: {e}")))
}

/// The index of the archive in `packed` (compressed as `packing`), read from its first
/// entries only; then `packed` again, whole, for the import. At most `limit` bytes of `packed`
/// are held in memory meanwhile.
pub fn index_then_stream<R: Read>(
    packed: R,
    packing: Packing,
    limit: usize,
) -> Result<(Index, Replayed<R>)> {
    let mut recorder = Recorder {
        inner: packed,
        seen: Vec::new(),
        limit,
    };
    let index = {
        let tar_stream = packing.unpack(&mut recorder)?;
        let mut archive = tar::Archive::new(tar_stream);
        let entries = archive.entries().map_err(bad_archive)?;
        let mut found = None;
        for entry in entries {
            let entry = entry.map_err(bad_archive)?;
            let path = entry
                .path()
                .map_err(bad_archive)?
                .to_string_lossy()
                .into_owned();
            if path.trim_start_matches("./") == INDEX_PATH {
                found = Some(parse_index(entry)?);
                break;
            }
        }
        found.ok_or_else(|| bad_archive(format!("no {INDEX_PATH}")))?
    };
    Ok((index, Cursor::new(recorder.seen).chain(recorder.inner)))
}

/// Keeps what was read through it, up to a limit.
struct Recorder<R> {
    inner: R,
    seen: Vec<u8>,
    limit: usize,
}

impl<R: Read> Read for Recorder<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if self.seen.len() + n > self.limit {
            return Err(io::Error::other(format!(
                "{INDEX_PATH} not found in the first {} MiB",
                self.limit >> 20
            )));
        }
        self.seen.extend_from_slice(&buf[..n]);
        Ok(n)
    }
}

/// What a full walk of an archive found.
#[derive(Debug)]
pub struct Walk {
    pub index: Index,
    pub entries: u64,
    /// Bytes of the files in the archive.
    pub unpacked: u64,
}

/// Reads the whole tar stream in `packed`, every entry to its end and the stream to its last
/// byte (so that every checksum and the OpenPGP integrity check run).
pub fn walk(packed: impl Read, packing: Packing) -> Result<Walk> {
    let mut tar_stream = packing.unpack(packed)?;
    let mut index = None;
    let mut entries = 0;
    let mut unpacked = 0;
    {
        let mut archive = tar::Archive::new(&mut tar_stream);
        for entry in archive.entries().map_err(bad_archive)? {
            let mut entry = entry.map_err(bad_archive)?;
            let path = entry
                .path()
                .map_err(bad_archive)?
                .to_string_lossy()
                .into_owned();
            entries += 1;
            if path.trim_start_matches("./") == INDEX_PATH {
                index = Some(parse_index(&mut entry)?);
            }
            unpacked += io::copy(&mut entry, &mut io::sink())
                .map_err(|e| bad_archive(format!("{path}: {e}")))?;
        }
    }
    // Past tar's end-of-archive blocks: the rest of the stream carries the checksums.
    io::copy(&mut tar_stream, &mut io::sink()).map_err(bad_archive)?;
    let index = index.ok_or_else(|| bad_archive(format!("no {INDEX_PATH}")))?;
    Ok(Walk {
        index,
        entries,
        unpacked,
    })
}

/// The checking thread and the channel that feeds it.
type Checker = (mpsc::SyncSender<Vec<u8>>, JoinHandle<Result<Walk>>);

/// How much of the stream is held back until the whole of it has been checked.
const HOLD_BACK: usize = 1024 * 1024;

/// A stream that is checked whole (compression checksums, tar structure, index) on a thread of
/// its own as it passes, and whose last [`HOLD_BACK`] bytes are released only if the check
/// passed. `incus import` thus never receives the end of a damaged archive: it is stopped
/// mid-upload instead (Incus 6.0 hangs on some truncated archives it receives whole).
pub struct Checked<R> {
    inner: R,
    checker: Option<Checker>,
    held: VecDeque<u8>,
    ended: bool,
}

impl<R: Read> Checked<R> {
    pub fn new(inner: R, packing: Packing) -> Self {
        let (sender, chunks) = mpsc::sync_channel::<Vec<u8>>(4);
        let checker = thread::spawn(move || {
            walk(
                ChannelReader {
                    chunks,
                    current: Cursor::new(Vec::new()),
                },
                packing,
            )
        });
        Self {
            inner,
            checker: Some((sender, checker)),
            held: VecDeque::new(),
            ended: false,
        }
    }

    /// Waits for the check: the held bytes go out only if it passed.
    fn conclude(&mut self) -> io::Result<()> {
        let Some((sender, checker)) = self.checker.take() else {
            return Ok(());
        };
        drop(sender);
        match checker.join() {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(error)) => Err(io::Error::other(error.message().to_owned())),
            Err(_) => Err(io::Error::other("the archive check failed unexpectedly")),
        }
    }
}

impl<R: Read> Read for Checked<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while !self.ended && self.held.len() <= HOLD_BACK {
            let mut chunk = vec![0u8; 256 * 1024];
            let n = self.inner.read(&mut chunk)?;
            if n == 0 {
                self.ended = true;
                self.conclude()?;
                break;
            }
            chunk.truncate(n);
            self.held.extend(&chunk);
            if let Some((sender, _)) = &self.checker {
                // A checker that stopped has found damage: conclude() will say which.
                if sender.send(chunk).is_err() {
                    self.conclude()?;
                }
            }
        }
        let releasable = if self.ended {
            self.held.len()
        } else {
            self.held.len().saturating_sub(HOLD_BACK)
        };
        let n = buf.len().min(releasable);
        for (slot, byte) in buf.iter_mut().zip(self.held.drain(..n)) {
            *slot = byte;
        }
        Ok(n)
    }
}

/// The checker's side of the channel, as a reader.
struct ChannelReader {
    chunks: mpsc::Receiver<Vec<u8>>,
    current: Cursor<Vec<u8>>,
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            let n = self.current.read(buf)?;
            if n > 0 || buf.is_empty() {
                return Ok(n);
            }
            match self.chunks.recv() {
                Ok(chunk) => self.current = Cursor::new(chunk),
                Err(_) => return Ok(0),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_are_told_by_their_magic_bytes() {
        assert_eq!(
            Packing::sniff(&[0x28, 0xB5, 0x2F, 0xFD, 0]),
            Some(Packing::Zstd)
        );
        assert_eq!(Packing::sniff(&[0x1F, 0x8B, 8]), Some(Packing::Gzip));
        assert_eq!(Packing::sniff(b"\xFD7zXZ\x00rest"), Some(Packing::Xz));
        assert_eq!(Packing::sniff(b"BZh91AY"), Some(Packing::Bzip2));
        let mut tar_header = vec![0u8; 512];
        tar_header[257..262].copy_from_slice(b"ustar");
        assert_eq!(Packing::sniff(&tar_header), Some(Packing::Tar));
        assert_eq!(Packing::sniff(b"hello"), None);
    }

    fn sample_archive() -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        let index = b"name: web\ntype: container\npool: default\nsnapshots:\n- s0\nconfig:\n  container:\n    project: lab\n";
        let mut header = tar::Header::new_gnu();
        header.set_size(index.len() as u64);
        header.set_mode(0o644);
        builder
            .append_data(&mut header, INDEX_PATH, &index[..])
            .unwrap();
        let mut header = tar::Header::new_gnu();
        header.set_size(3);
        header.set_mode(0o644);
        builder
            .append_data(&mut header, "backup/container/rootfs/x", &b"abc"[..])
            .unwrap();
        let tar = builder.into_inner().unwrap();
        zstd::encode_all(&tar[..], 3).unwrap()
    }

    #[test]
    fn the_index_is_read_and_the_stream_given_back_whole() {
        let packed = sample_archive();
        let (index, mut again) = index_then_stream(&packed[..], Packing::Zstd, 1 << 20).unwrap();
        assert_eq!(index.name, "web");
        assert_eq!(index.snapshots.as_deref(), Some(&["s0".to_owned()][..]));
        assert_eq!(index.project(), Some("lab"));
        let mut whole = Vec::new();
        again.read_to_end(&mut whole).unwrap();
        assert_eq!(whole, packed);
    }

    #[test]
    fn a_checked_stream_holds_back_the_end_of_a_damaged_archive() {
        let packed = sample_archive();
        let mut whole = Vec::new();
        Checked::new(&packed[..], Packing::Zstd)
            .read_to_end(&mut whole)
            .unwrap();
        assert_eq!(whole, packed);

        let truncated = &packed[..packed.len() - 5];
        let mut released = Vec::new();
        let outcome = Checked::new(truncated, Packing::Zstd).read_to_end(&mut released);
        assert!(outcome.is_err());
        assert!(released.is_empty(), "released {} bytes", released.len());
    }

    #[test]
    fn a_walk_counts_entries_and_fails_on_corruption() {
        let packed = sample_archive();
        let walk = walk(&packed[..], Packing::Zstd).unwrap();
        assert_eq!((walk.entries, walk.index.name.as_str()), (2, "web"));

        let mut truncated = packed.clone();
        truncated.truncate(packed.len() - 5);
        assert!(super::walk(&truncated[..], Packing::Zstd).is_err());
    }
}
