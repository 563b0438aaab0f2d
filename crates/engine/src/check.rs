//! `check`: verify every record and hint entry of a database without changing anything.

use crate::datafile::scan::{scan_committed, AtDamage, Damage};
use crate::error::{Error, Result};
use crate::format::header::{FileHeader, FileKind, Magic, HEADER_LEN};
use crate::fs::{self, Entry};
use crate::hintfile::{self, Judgement};
use crate::vfs::{OpenMode, StdFs, Vfs, VfsFile};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The state of a data file's hint file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HintState {
    /// No hint file.
    Missing,
    /// Present and valid.
    Valid,
    /// Present but invalid (open would scan the data file instead).
    Invalid,
}

/// What `check` found in one data file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileCheck {
    /// File id.
    pub id: u32,
    /// Bytes.
    pub bytes: u64,
    /// Valid committed records.
    pub records: u64,
    /// Damaged ranges.
    pub damage: Vec<Damage>,
    /// Hint status.
    pub hint: HintState,
    /// Whether this is the newest writer file, where a torn tail is expected after a crash.
    pub newest_log: bool,
}

/// What `check` found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CheckReport {
    /// Per data file, oldest first.
    pub files: Vec<FileCheck>,
}

impl CheckReport {
    /// Damage that is not a torn tail of the newest log file: real corruption.
    pub fn corruption(&self) -> impl Iterator<Item = (u32, &Damage)> {
        self.files.iter().flat_map(|f| {
            f.damage
                .iter()
                .filter(move |d| !(f.newest_log && d.at_tail))
                .map(move |d| (f.id, d))
        })
    }

    /// Whether every record verified (a torn tail on the newest file is tolerated: open
    /// truncates it).
    pub fn is_clean(&self) -> bool {
        self.corruption().next().is_none()
    }
}

/// Verifies every CRC in the database at `dir`.
pub fn check(dir: &Path) -> Result<CheckReport> {
    check_with(&StdFs, dir)
}

/// A data file as `check` first opens it, before any is scanned.
struct Opened {
    id: u32,
    path: PathBuf,
    file: Arc<dyn VfsFile>,
    len: u64,
    /// Whether its header decoded.
    header_ok: bool,
}

/// [`check`] through another file system.
pub fn check_with(fsys: &dyn Vfs, dir: &Path) -> Result<CheckReport> {
    if !fsys.is_dir(dir).map_err(|e| Error::io("stat", dir, e))? {
        return Err(Error::NotADirectory(dir.to_path_buf()));
    }
    let names = fsys.list(dir).map_err(|e| Error::io("list", dir, e))?;
    let mut ids: Vec<u32> = names
        .iter()
        .filter_map(|n| match fs::classify(n) {
            Entry::Data(id) => Some(id),
            _ => None,
        })
        .collect();
    ids.sort_unstable();
    // First the headers, to know which file is the newest log before any is scanned:
    // that one is judged as open will judge it, and each file is read once.
    let mut files = Vec::with_capacity(ids.len());
    let mut newest_log = None;
    for id in ids {
        let path = fs::data_path(dir, id);
        let file = fsys
            .open(&path, OpenMode::Read)
            .map_err(|e| Error::io("open", &path, e))?;
        let len = file.len().map_err(|e| Error::io("stat", &path, e))?;
        let mut head = [0u8; HEADER_LEN];
        let header = if len >= HEADER_LEN as u64 {
            file.read_exact_at(&mut head, 0)
                .map_err(|e| Error::io("read", &path, e))?;
            FileHeader::decode(&head, Magic::Data).ok()
        } else {
            None
        };
        if header.is_some_and(|h| h.kind == FileKind::Log) {
            newest_log = Some(files.len());
        }
        files.push(Opened {
            id,
            path,
            file,
            len,
            header_ok: header.is_some(),
        });
    }
    // A file shorter than a header after the newest log file is the writer's next file,
    // created (its name made durable by another file's directory fsync) but not yet
    // given its header when the machine stopped. Open deletes it; it is the torn end of
    // the log, not corruption.
    let after = newest_log.map_or(0, |i| i + 1);
    if let Some(j) = (after..files.len())
        .rev()
        .find(|&j| files[j].len < HEADER_LEN as u64)
    {
        newest_log = Some(j);
    }
    let mut report = CheckReport::default();
    for (i, opened) in files.into_iter().enumerate() {
        let Opened {
            id,
            path,
            file,
            len,
            header_ok,
        } = opened;
        let mut fc = FileCheck {
            id,
            bytes: len,
            records: 0,
            damage: Vec::new(),
            hint: HintState::Missing,
            newest_log: newest_log == Some(i),
        };
        if !header_ok {
            fc.damage.push(Damage {
                offset: 0,
                reason: "bad or missing file header".into(),
                at_tail: len < HEADER_LEN as u64,
            });
        }
        if len > HEADER_LEN as u64 {
            let at_damage = AtDamage::for_file(fc.newest_log);
            let end = scan_committed(file, len, at_damage, |_| {}, |d| fc.damage.push(d))
                .map_err(|e| Error::io("scan", &path, e))?;
            fc.records = end.records;
        }
        let hint_path = fs::hint_path(dir, id);
        if let Ok(h) = fsys.open(&hint_path, OpenMode::Read) {
            // A hint that cannot be read is as unusable as a damaged one.
            fc.hint = match hintfile::judge(&h, id, len) {
                Ok(Judgement::Usable { .. }) => HintState::Valid,
                Ok(Judgement::Unusable(damage)) => {
                    fc.damage.extend(damage);
                    HintState::Invalid
                }
                Err(_) => HintState::Invalid,
            };
        }
        report.files.push(fc);
    }
    Ok(report)
}
