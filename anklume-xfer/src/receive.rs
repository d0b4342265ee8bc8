//! The receiving side: a tree written into an instance below the directory the user named,
//! never through a link.
//!
//! The sender controls what arrives (a tar stream from another domain, a tree of another
//! instance), so before anything is created below the destination every directory on its way
//! is checked to be a real directory, without following it: one created here, or one found in
//! place by `lstat`. Symlinks are content and arrive as symlinks, but only at the end, after
//! every entry that could have passed through them (GNU tar's delayed links); an entry below a
//! symlink of the stream, or below one found in place, is refused and names itself. Hard links
//! may only point at files this same transfer wrote. Files are created exclusively, and their
//! owner and mode are set on the open file, so a path swapped for a link meanwhile does not
//! redirect them. Owner and mode are given only to directories this transfer made, never to
//! one that was there. setuid and setgid bits are dropped unless asked for.

use std::collections::{HashMap, HashSet};
use std::io::Read;

use anklume_common::sftp::Kind;
use anklume_common::{Error, Result, Sftp};

use crate::tree::{Meta, Sink, copy, is_plain_name, join, shown};

/// setuid and setgid.
const SET_ID: u32 = 0o6000;

/// Writes entries into an instance below `root`.
pub struct SftpSink<'a> {
    sftp: &'a mut Sftp,
    root: String,
    keep_setid: bool,
    /// Directories whose owner, mode and time are set last: a read-only directory must still
    /// receive its children, and writing them changes its time.
    dirs: Vec<(String, Meta)>,
    /// Entries (relative paths, "" for the root) known to be real directories.
    real_dirs: HashSet<String>,
    /// Directories this transfer created: what lies in them needs no look before it is written.
    made: HashSet<String>,
    /// Symlinks of the stream, created by `finish`: entry → target.
    links: HashMap<String, String>,
    /// Their order of arrival.
    link_order: Vec<String>,
    /// Files this transfer wrote: the only targets a hard link may have.
    written: HashSet<String>,
    /// Every non-directory this transfer put in place (files, hard links, symlinks).
    on_disk: HashSet<String>,
}

impl<'a> SftpSink<'a> {
    /// A sink into directory `root`, created (mode 0755, until the tree says otherwise) if
    /// missing; its parent must exist. With `keep_setid`, setuid and setgid bits arrive too.
    pub fn new(sftp: &'a mut Sftp, root: &str, keep_setid: bool) -> Result<Self> {
        let mut made = HashSet::new();
        match sftp.stat(root)? {
            Some(attrs) if attrs.kind() == Kind::Directory => {}
            Some(_) => {
                return Err(Error::failure(format!(
                    "cannot extract into {}:{root}: not a directory",
                    sftp.label()
                )));
            }
            None => {
                sftp.mkdir(root, 0o755)?;
                made.insert(String::new());
            }
        }
        Ok(Self {
            sftp,
            root: root.to_owned(),
            keep_setid,
            dirs: Vec::new(),
            real_dirs: HashSet::from([String::new()]),
            made,
            links: HashMap::new(),
            link_order: Vec::new(),
            written: HashSet::new(),
            on_disk: HashSet::new(),
        })
    }

    /// The refusal of entry `rel`, and why.
    fn refuse(&self, rel: &str, why: &str) -> Error {
        Error::failure(format!(
            "refusing entry '{}' for {}:{}: {}; nothing was written below it",
            shown(rel),
            self.sftp.label(),
            self.root,
            shown(why)
        ))
        .with_hint("the receiving side writes nothing through a symbolic link and links only to what it wrote (man anklume-xfer, SECURITY); receive into an empty directory")
    }

    /// Every entry's path must be made of plain names, whoever produced it.
    fn check_name(&self, rel: &str) -> Result<()> {
        if rel.split('/').all(is_plain_name) {
            return Ok(());
        }
        Err(self.refuse(rel, "not a plain relative path"))
    }

    /// Every directory on the way to `rel` must be a real one: made here, or found as one
    /// without following links. A missing one is made (as tar does).
    fn check_way(&mut self, rel: &str) -> Result<()> {
        let parts: Vec<&str> = rel.split('/').collect();
        let mut way = String::new();
        for part in &parts[..parts.len().saturating_sub(1)] {
            way = if way.is_empty() {
                (*part).to_owned()
            } else {
                format!("{way}/{part}")
            };
            if self.real_dirs.contains(&way) {
                continue;
            }
            if self.links.contains_key(&way) {
                return Err(
                    self.refuse(rel, &format!("'{way}' is a symbolic link of this transfer"))
                );
            }
            let path = join(&self.root, &way);
            match self.sftp.lstat(&path)? {
                Some(found) if found.kind() == Kind::Directory => {}
                Some(found) if found.kind() == Kind::Symlink => {
                    return Err(self.refuse(rel, &format!("'{way}' is a symbolic link in place")));
                }
                Some(_) => return Err(self.refuse(rel, &format!("'{way}' is not a directory"))),
                None => {
                    self.sftp.mkdir(&path, 0o755)?;
                    self.made.insert(way.clone());
                }
            }
            self.real_dirs.insert(way.clone());
        }
        Ok(())
    }

    /// Whether entry `rel` lies directly in a directory this transfer created.
    fn in_made_directory(&self, rel: &str) -> bool {
        let parent = rel.rsplit_once('/').map_or("", |(parent, _)| parent);
        self.made.contains(parent)
    }

    /// Makes room for a new non-directory at `rel`: a later entry replaces an earlier one, and
    /// whatever non-directory is in place is removed (never written through).
    fn clear(&mut self, rel: &str) -> Result<()> {
        self.forget_link(rel);
        self.written.remove(rel);
        if self.real_dirs.contains(rel) {
            return Err(self.refuse(rel, "a directory is in the way"));
        }
        // In a directory made here, only what this transfer put there can be in the way.
        if self.in_made_directory(rel) && !self.on_disk.contains(rel) {
            return Ok(());
        }
        let path = join(&self.root, rel);
        if let Some(attrs) = self.sftp.lstat(&path)? {
            if attrs.kind() == Kind::Directory {
                return Err(self.refuse(rel, "a directory is in the way"));
            }
            self.sftp.remove(&path)?;
        }
        self.on_disk.remove(rel);
        Ok(())
    }

    fn forget_link(&mut self, rel: &str) {
        if self.links.remove(rel).is_some() {
            self.link_order.retain(|link| link != rel);
        }
    }

    /// The metadata to give an entry: setuid and setgid dropped unless kept on purpose.
    fn safe_meta(&self, rel: &str, meta: &Meta) -> Meta {
        if self.keep_setid || meta.mode & SET_ID == 0 {
            return *meta;
        }
        crate::note(&format!(
            "{}: setuid/setgid bits dropped (--keep-setid keeps them)",
            shown(rel)
        ));
        Meta {
            mode: meta.mode & !SET_ID,
            ..*meta
        }
    }
}

impl Sink for SftpSink<'_> {
    fn dir(&mut self, rel: &str, meta: &Meta) -> Result<()> {
        let path = join(&self.root, rel);
        if !rel.is_empty() && !self.real_dirs.contains(rel) {
            self.check_name(rel)?;
            self.check_way(rel)?;
            if self.on_disk.contains(rel) {
                return Err(self.refuse(rel, "something that is not a directory is in the way"));
            }
            self.forget_link(rel);
            let existing = if self.in_made_directory(rel) {
                None
            } else {
                self.sftp.lstat(&path)?
            };
            match existing {
                Some(attrs) if attrs.kind() == Kind::Directory => {}
                Some(_) => {
                    return Err(self.refuse(rel, "something that is not a directory is in the way"));
                }
                None => {
                    self.sftp.mkdir(&path, 0o700)?;
                    self.made.insert(rel.to_owned());
                }
            }
            self.real_dirs.insert(rel.to_owned());
        }
        // A directory that was there keeps its owner and mode: the sender may not re-own it.
        if self.made.contains(rel) {
            let meta = self.safe_meta(rel, meta);
            self.dirs.push((path, meta));
        }
        Ok(())
    }

    fn file(&mut self, rel: &str, meta: &Meta, _size: u64, content: &mut dyn Read) -> Result<()> {
        self.check_name(rel)?;
        self.check_way(rel)?;
        self.clear(rel)?;
        let meta = self.safe_meta(rel, meta);
        let path = join(&self.root, rel);
        let label = self.sftp.label().to_owned();
        let mut writer = self.sftp.create(&path, 0o600)?;
        copy(content, &mut writer, "the source", &label, &path)?;
        self.on_disk.insert(rel.to_owned());
        writer.finish_with_attrs(&meta.attrs())?;
        self.written.insert(rel.to_owned());
        Ok(())
    }

    fn symlink(&mut self, rel: &str, _meta: &Meta, target: &str) -> Result<()> {
        self.check_name(rel)?;
        self.check_way(rel)?;
        if self.real_dirs.contains(rel) {
            return Err(self.refuse(rel, "a directory is in the way"));
        }
        self.written.remove(rel);
        if self
            .links
            .insert(rel.to_owned(), target.to_owned())
            .is_none()
        {
            self.link_order.push(rel.to_owned());
        }
        Ok(())
    }

    fn hard_link(&mut self, rel: &str, existing: &str) -> Result<()> {
        self.check_name(rel)?;
        if !self.written.contains(existing) {
            return Err(self.refuse(
                rel,
                &format!("it links to '{existing}', which is not a file this transfer wrote"),
            ));
        }
        self.check_way(rel)?;
        self.clear(rel)?;
        let path = join(&self.root, rel);
        self.sftp.hard_link(&join(&self.root, existing), &path)?;
        self.on_disk.insert(rel.to_owned());
        self.written.insert(rel.to_owned());
        Ok(())
    }

    fn finish(&mut self) -> Result<()> {
        // Links last: nothing of the transfer can pass through them any more.
        for rel in std::mem::take(&mut self.link_order) {
            let target = self.links.remove(&rel).unwrap_or_default();
            self.clear(&rel)?;
            self.sftp.symlink(&target, &join(&self.root, &rel))?;
            self.on_disk.insert(rel);
        }
        while let Some((path, meta)) = self.dirs.pop() {
            // SETSTAT follows links: look once more that the directory is still one.
            match self.sftp.lstat(&path)? {
                Some(found) if found.kind() == Kind::Directory => {
                    self.sftp.set_attrs(&path, &meta.attrs())?
                }
                _ => {
                    return Err(Error::failure(format!(
                        "{}:{path} is no longer a directory: its owner and mode were not set",
                        self.sftp.label()
                    )));
                }
            }
        }
        Ok(())
    }
}
