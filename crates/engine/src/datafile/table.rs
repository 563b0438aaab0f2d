//! The table of readable data files, read on every get and put without a lock.
//!
//! Reads vastly outnumber changes (a rollover, a merge commit), and under a `RwLock`
//! every get would write the lock word and the file's `Arc` count: two cache lines that
//! bounce between cores when several threads read. Readers here load an immutable
//! snapshot through `arc-swap`, which costs no shared write; a change copies the map
//! (a few dozen entries) and swaps it in.

use super::DataFile;
use arc_swap::ArcSwap;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

/// An immutable view of the file table.
pub type Files = BTreeMap<u32, Arc<DataFile>>;

/// The readable data files, by id.
#[derive(Debug)]
pub struct FileTable {
    current: ArcSwap<Files>,
    /// Serialises changes, so two concurrent edits cannot lose one another.
    edit: Mutex<()>,
}

impl FileTable {
    /// A table holding `files`.
    pub fn new(files: Files) -> Self {
        Self {
            current: ArcSwap::from_pointee(files),
            edit: Mutex::new(()),
        }
    }

    /// Calls `f` with file `id`, without cloning its `Arc`; `None` if it is not readable.
    pub fn with<R>(&self, id: u32, f: impl FnOnce(&Arc<DataFile>) -> R) -> Option<R> {
        self.current.load().get(&id).map(f)
    }

    /// File `id`, if readable.
    pub fn get(&self, id: u32) -> Option<Arc<DataFile>> {
        self.with(id, Arc::clone)
    }

    /// The whole table as it is now.
    pub fn snapshot(&self) -> Arc<Files> {
        self.current.load_full()
    }

    /// Adds (or replaces) a file.
    pub fn insert(&self, file: Arc<DataFile>) {
        self.update(|files| {
            files.insert(file.id, file);
        });
    }

    /// Drops files; readers that already hold one finish their read.
    pub fn remove(&self, ids: &[u32]) {
        self.update(|files| {
            for id in ids {
                files.remove(id);
            }
        });
    }

    fn update(&self, change: impl FnOnce(&mut Files)) {
        let _edit = self.edit.lock().unwrap_or_else(PoisonError::into_inner);
        let mut files = Files::clone(&self.current.load());
        change(&mut files);
        self.current.store(Arc::new(files));
    }
}
