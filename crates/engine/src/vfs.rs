//! The I/O seam: every file operation the engine performs goes through [`Vfs`].
//!
//! Production uses [`StdFs`]. Tests swap in implementations that fail the Nth write,
//! fsync, rename or create, or that simulate power loss by discarding everything not yet
//! fsynced (see `tests/support`). Keeping the trait this small is what makes those
//! implementations cheap to write and to trust.

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{self, IoSlice, Write};
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Arc;

/// How to open a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpenMode {
    /// Read only; the file must exist.
    Read,
    /// Read and write at offsets the caller chooses; the file must exist.
    Write,
    /// Read and write at offsets the caller chooses; the file must not exist yet.
    CreateNew,
}

/// A file opened through a [`Vfs`].
#[expect(
    clippy::len_without_is_empty,
    reason = "a file length, not a collection"
)]
pub trait VfsFile: Send + Sync + fmt::Debug {
    /// Positioned read; may return fewer bytes than asked at end of file.
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize>;
    /// Positioned write of `bufs`, in order, from `offset`, overwriting what is there and
    /// extending the file past its end; may write less.
    ///
    /// Files are never opened `O_APPEND`: the writer overwrites the zeros it
    /// preallocates in the active file (see `writer.rs`), and every writer already knows
    /// where its next byte goes.
    fn write_at(&self, bufs: &[IoSlice<'_>], offset: u64) -> io::Result<usize>;
    /// Makes the file's data durable (`fdatasync`).
    fn sync_data(&self) -> io::Result<()>;
    /// Current length.
    fn len(&self) -> io::Result<u64>;
    /// Truncates (or extends) to `len`.
    fn set_len(&self, len: u64) -> io::Result<()>;

    /// Reads exactly `buf.len()` bytes at `offset`, or fails with `UnexpectedEof`.
    fn read_exact_at(&self, mut buf: &mut [u8], mut offset: u64) -> io::Result<()> {
        while !buf.is_empty() {
            match self.read_at(buf, offset) {
                Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
                Ok(n) => {
                    buf = &mut buf[n..];
                    offset += n as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Writes every byte of `bufs` from `offset`, looping over short writes.
    fn write_all_at(&self, mut bufs: &mut [IoSlice<'_>], mut offset: u64) -> io::Result<()> {
        IoSlice::advance_slices(&mut bufs, 0);
        while !bufs.is_empty() {
            match self.write_at(bufs, offset) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    IoSlice::advance_slices(&mut bufs, n);
                    offset += n as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

/// A held directory lock; dropping it releases the lock.
pub trait VfsLock: Send + Sync + fmt::Debug {}

/// The file-system operations the engine needs.
pub trait Vfs: Send + Sync + fmt::Debug {
    /// Creates a directory and its parents.
    fn create_dir_all(&self, path: &Path) -> io::Result<()>;
    /// Whether `path` exists and is a directory.
    fn is_dir(&self, path: &Path) -> io::Result<bool>;
    /// Names of the entries in a directory.
    fn list(&self, dir: &Path) -> io::Result<Vec<String>>;
    /// Opens a file.
    fn open(&self, path: &Path, mode: OpenMode) -> io::Result<Arc<dyn VfsFile>>;
    /// Atomically renames `from` to `to`, replacing `to`.
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;
    /// Removes a file.
    fn remove(&self, path: &Path) -> io::Result<()>;
    /// Makes the directory's entries durable (created, renamed and removed names).
    fn sync_dir(&self, dir: &Path) -> io::Result<()>;
    /// Takes the exclusive writer lock on `path`, writing `pid` into it.
    /// `Ok(None)` means another process holds it; the pid it recorded, if readable,
    /// is returned through the error path by the caller.
    fn try_lock(&self, path: &Path, pid: u32) -> io::Result<Option<Box<dyn VfsLock>>>;
}

/// The real file system.
#[derive(Debug, Default, Clone, Copy)]
pub struct StdFs;

#[derive(Debug)]
struct StdFile(File);

impl VfsFile for StdFile {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        self.0.read_at(buf, offset)
    }
    fn write_at(&self, bufs: &[IoSlice<'_>], offset: u64) -> io::Result<usize> {
        // std has no pwritev: several buffers (only records with a large value, which
        // go out without a copy) take one pwrite each, through `write_all_at`'s loop.
        match bufs.iter().find(|b| !b.is_empty()) {
            Some(first) => self.0.write_at(first, offset),
            None => Ok(0),
        }
    }
    fn sync_data(&self) -> io::Result<()> {
        self.0.sync_data()
    }
    fn len(&self) -> io::Result<u64> {
        Ok(self.0.metadata()?.len())
    }
    fn set_len(&self, len: u64) -> io::Result<()> {
        self.0.set_len(len)
    }
}

/// Linux's `O_NOATIME` (its value differs between architectures, so it comes from libc).
#[cfg(target_os = "linux")]
const O_NOATIME: Option<i32> = Some(libc::O_NOATIME);
#[cfg(not(target_os = "linux"))]
const O_NOATIME: Option<i32> = None;

/// Opens with `O_NOATIME` where it is allowed: every `get` is a read of a data file, and
/// without it each read also checks (and once a day writes) the file's access time,
/// which the engine never uses. The kernel refuses the flag with `EPERM` to anyone but
/// the file's owner; the file is then opened without it.
fn open_noatime(opts: &OpenOptions, path: &Path) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(flag) = O_NOATIME {
        match opts.clone().custom_flags(flag).open(path) {
            Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {}
            other => return other,
        }
    }
    opts.open(path)
}

/// The lock is the `flock` on the open file: the kernel drops it when the process dies,
/// so a crashed writer never leaves the database locked (pids are only informational).
#[derive(Debug)]
struct StdLock(#[allow(dead_code)] File);
impl VfsLock for StdLock {}

impl Vfs for StdFs {
    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        std::fs::create_dir_all(path)
    }
    fn is_dir(&self, path: &Path) -> io::Result<bool> {
        match std::fs::metadata(path) {
            Ok(m) => Ok(m.is_dir()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e),
        }
    }
    fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        let mut names = Vec::new();
        for entry in std::fs::read_dir(dir)? {
            if let Ok(name) = entry?.file_name().into_string() {
                names.push(name);
            }
        }
        Ok(names)
    }
    fn open(&self, path: &Path, mode: OpenMode) -> io::Result<Arc<dyn VfsFile>> {
        let mut opts = OpenOptions::new();
        opts.read(true);
        match mode {
            OpenMode::Read => {}
            OpenMode::Write => {
                opts.write(true);
            }
            OpenMode::CreateNew => {
                opts.write(true).create_new(true);
            }
        }
        Ok(Arc::new(StdFile(open_noatime(&opts, path)?)))
    }
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        std::fs::rename(from, to)
    }
    fn remove(&self, path: &Path) -> io::Result<()> {
        std::fs::remove_file(path)
    }
    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        File::open(dir)?.sync_all()
    }
    fn try_lock(&self, path: &Path, pid: u32) -> io::Result<Option<Box<dyn VfsLock>>> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => return Ok(None),
            Err(std::fs::TryLockError::Error(e)) => return Err(e),
        }
        file.set_len(0)?;
        (&file).write_all(format!("{pid}\n").as_bytes())?;
        Ok(Some(Box::new(StdLock(file))))
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;

    /// The open flags of `file`'s descriptor, as the kernel reports them.
    fn flags(file: &File) -> u32 {
        let info = std::fs::read_to_string(format!("/proc/self/fdinfo/{}", file.as_raw_fd()))
            .expect("fdinfo");
        let octal = info
            .lines()
            .find_map(|l| l.strip_prefix("flags:"))
            .expect("flags line")
            .trim();
        u32::from_str_radix(octal, 8).expect("octal flags")
    }

    #[test]
    fn data_files_are_opened_without_access_time_updates() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("f");
        std::fs::write(&path, b"x").expect("write");
        let mut opts = OpenOptions::new();
        opts.read(true);
        let file = open_noatime(&opts, &path).expect("open");
        let want = O_NOATIME.map_or(0, |f| f as u32);
        assert_eq!(flags(&file) & want, want);
    }
}
