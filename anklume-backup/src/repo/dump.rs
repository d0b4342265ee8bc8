//! A snapshot's file read back blob by blob. Each blob is authenticated by rustic (its MAC)
//! and checked here against its ID, the SHA-256 of its content: a blob moved or swapped inside
//! the repository is an error, not other data. Any error is a read error, never an end.

use std::io::{self, Cursor, Read};
use std::sync::Arc;

use rustic_core::repofile::{BlobType, Node};
use rustic_core::{BlobId, DataId, Id, IndexedFullStatus, Repository};
use sha2::{Digest, Sha256};

/// The content of one file of a snapshot.
pub struct BlobReader {
    repo: Arc<Repository<IndexedFullStatus>>,
    blobs: Vec<DataId>,
    next: usize,
    current: Cursor<Vec<u8>>,
}

impl BlobReader {
    pub fn new(repo: Arc<Repository<IndexedFullStatus>>, node: &Node) -> Self {
        Self {
            repo,
            blobs: node.content.clone().unwrap_or_default(),
            next: 0,
            current: Cursor::new(Vec::new()),
        }
    }

    fn fetch(&mut self) -> io::Result<bool> {
        let Some(id) = self.blobs.get(self.next) else {
            return Ok(false);
        };
        self.next += 1;
        let blob = BlobId::from(**id);
        let data = self
            .repo
            .get_blob_cached(&blob, BlobType::Data)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, super::rustic_message(&e)))?;
        let digest: [u8; 32] = Sha256::digest(&data).into();
        if Id::new(digest) != **id {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "blob {} does not hold the data of that name",
                    super::hex(id)
                ),
            ));
        }
        self.current = Cursor::new(data.to_vec());
        Ok(true)
    }
}

impl Read for BlobReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            let n = self.current.read(buf)?;
            if n > 0 || buf.is_empty() || !self.fetch()? {
                return Ok(n);
            }
        }
    }
}
