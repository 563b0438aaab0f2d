//! `check`: verify every record and hint entry of a database without changing anything.

use crate::datafile::scan::{scan_committed, scan_log_prefix, Damage};
use crate::error::{Error, Result};
use crate::format::header::{FileHeader, FileKind, Magic, HEADER_LEN};
use crate::fs::{self, Entry};
use crate::hintfile;
use crate::vfs::{OpenMode, StdFs, Vfs};
use std::path::Path;

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
    let mut report = CheckReport::default();
    let mut newest_log = None;
    for id in ids {
        let path = fs::data_path(dir, id);
        let file = fsys
            .open(&path, OpenMode::Read)
            .map_err(|e| Error::io("open", &path, e))?;
        let len = file.len().map_err(|e| Error::io("stat", &path, e))?;
        let mut fc = FileCheck {
            id,
            bytes: len,
            records: 0,
            damage: Vec::new(),
            hint: HintState::Missing,
            newest_log: false,
        };
        let mut head = [0u8; HEADER_LEN];
        let header = if len >= HEADER_LEN as u64 {
            file.read_exact_at(&mut head, 0)
                .map_err(|e| Error::io("read", &path, e))?;
            FileHeader::decode(&head, Magic::Data).ok()
        } else {
            None
        };
        match header {
            Some(h) if h.kind == FileKind::Log => newest_log = Some(report.files.len()),
            Some(_) => {}
            None => fc.damage.push(Damage {
                offset: 0,
                reason: "bad or missing file header".into(),
                at_tail: len < HEADER_LEN as u64,
            }),
        }
        if len > HEADER_LEN as u64 {
            let mut damage = Vec::new();
            let end = scan_committed(file.clone(), len, |_| {}, |d| damage.push(d))
                .map_err(|e| Error::io("scan", &path, e))?;
            fc.records = end.records;
            fc.damage.extend(damage);
        }
        let hint_path = fs::hint_path(dir, id);
        if let Ok(h) = fsys.open(&hint_path, OpenMode::Read) {
            let intact = hintfile::verify(&h, id).ok().flatten();
            let ok = intact.is_some_and(|i| i.describes(len));
            if !ok {
                fc.damage.extend(intact.and_then(|i| i.truncation(len)));
            }
            fc.hint = if ok {
                HintState::Valid
            } else {
                HintState::Invalid
            };
        }
        report.files.push(fc);
    }
    // A file shorter than a header after the newest log file is the writer's next file,
    // created (its name made durable by another file's directory fsync) but not yet
    // given its header when the machine stopped. Open deletes it; it is the torn end of
    // the log, not corruption.
    let after = newest_log.map_or(0, |i| i + 1);
    if let Some(j) = (after..report.files.len()).rev().find(|&j| {
        report
            .files
            .get(j)
            .is_some_and(|f| f.bytes < HEADER_LEN as u64)
    }) {
        newest_log = Some(j);
    }
    if let Some(i) = newest_log {
        if let Some(f) = report.files.get_mut(i) {
            f.newest_log = true;
            // Judge the newest log as open will: from its first damage on, it is tail.
            let path = fs::data_path(dir, f.id);
            let file = fsys
                .open(&path, OpenMode::Read)
                .map_err(|e| Error::io("open", &path, e))?;
            if f.bytes > HEADER_LEN as u64 {
                let mut damage = Vec::new();
                let end = scan_log_prefix(file, f.bytes, |_| {}, |d| damage.push(d))
                    .map_err(|e| Error::io("scan", &path, e))?;
                f.records = end.records;
                f.damage.retain(|d| d.offset == 0 && !d.at_tail);
                f.damage.extend(damage);
            }
        }
    }
    Ok(report)
}
