//! Background threads: the interval flusher, the automatic merger, and hint writers.
//!
//! They hold `Arc<Inner>` and stop when the last user handle is dropped: closing sets the
//! stop flag, wakes them, and joins them before the final sync.

use crate::config::SyncPolicy;
use crate::db::Inner;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// Stop signal and the threads to join.
#[derive(Debug, Default)]
pub(crate) struct Background {
    stopped: Mutex<bool>,
    wake: Condvar,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

impl Background {
    /// Sleeps up to `timeout`; returns false once stopping.
    pub fn sleep(&self, timeout: Duration) -> bool {
        let guard = self
            .stopped
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if *guard {
            return false;
        }
        let (guard, _) = self
            .wake
            .wait_timeout(guard, timeout)
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        !*guard
    }

    /// Whether stopping has begun.
    pub fn stopping(&self) -> bool {
        *self
            .stopped
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Runs `f` on a new named thread, joined at close.
    pub fn spawn(&self, name: &str, f: impl FnOnce() + Send + 'static) {
        let mut threads = self
            .threads
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        threads.retain(|t| !t.is_finished());
        match std::thread::Builder::new().name(name.to_owned()).spawn(f) {
            Ok(t) => threads.push(t),
            Err(e) => tracing::warn!(error = %e, thread = name, "could not start thread"),
        }
    }

    /// Signals every thread to stop and joins them. Returns false if already stopped.
    pub fn stop_and_join(&self) -> bool {
        {
            let mut stopped = self
                .stopped
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if *stopped {
                return false;
            }
            *stopped = true;
        }
        self.wake.notify_all();
        let threads = std::mem::take(
            &mut *self
                .threads
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
        for t in threads {
            if t.join().is_err() {
                tracing::error!("a background thread panicked");
            }
        }
        true
    }
}

/// Starts the threads a freshly opened database needs.
pub(crate) fn start(inner: &Arc<Inner>) {
    if inner.writer.is_none() {
        return;
    }
    if let SyncPolicy::Interval(every) = inner.opts.sync {
        let db = Arc::clone(inner);
        inner.background.spawn("ccbitcask-flush", move || {
            while db.background.sleep(every) {
                if db.written_seq.load(std::sync::atomic::Ordering::SeqCst)
                    > db.synced_seq.load(std::sync::atomic::Ordering::SeqCst)
                {
                    if let Err(e) = db.sync_all() {
                        tracing::error!(error = %e, "interval fsync failed");
                    }
                }
            }
        });
    }
    restore_missing_hints(inner);
    if inner.opts.merge.auto && inner.opts.merge.window != crate::config::MergeWindow::Never {
        let db = Arc::clone(inner);
        inner.background.spawn("ccbitcask-merge", move || {
            crate::merge::auto_merge_loop(&db);
        });
    }
}

/// How long a writable handle must stay open before it writes missing hint files.
const RESTORE_HINTS_AFTER: Duration = Duration::from_secs(1);

/// Writes hint files for sealed data files that open had to scan: their hint was lost
/// to a crash between sealing and writing it, damaged, or of an older format. Without
/// this, every later open would scan them again until a merge rewrote them. Files in
/// which open found damage keep no hint, so that every open goes on reporting it.
fn restore_missing_hints(inner: &Arc<Inner>) {
    let active = inner.active_id();
    let damaged: std::collections::BTreeSet<u32> =
        inner.open_report.damage.iter().map(|(id, _)| *id).collect();
    let missing: Vec<u32> = inner
        .files
        .snapshot()
        .values()
        .filter(|f| Some(f.id) != active && !damaged.contains(&f.id))
        .filter(|f| !f.has_hint())
        .map(|f| f.id)
        .collect();
    if !missing.is_empty() {
        tracing::info!(
            files = missing.len(),
            "writing hint files that open had to do without"
        );
        // After a pause: a short-lived handle (one CLI command) closes first and skips
        // the work, instead of waiting at close for a scan of a whole sealed file.
        inner.spawn_hint_writer(missing, RESTORE_HINTS_AFTER);
    }
}

impl Inner {
    /// Writes the hint files of sealed data files, one after another on one thread, off
    /// the write path.
    pub(crate) fn spawn_hint_writer(self: &Inner, file_ids: Vec<u32>, after: Duration) {
        let Some(db) = self.self_arc() else {
            return;
        };
        self.background.spawn("ccbitcask-hint", move || {
            if !after.is_zero() && !db.background.sleep(after) {
                return;
            }
            for file_id in file_ids {
                // The merge lock keeps a merge from retiring the file mid-scan.
                let _merge = db
                    .merge_lock
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                if db.background.stopping() {
                    return;
                }
                if let Some(file) = db.file(file_id) {
                    if let Err(e) = crate::hintfile::write_for_data_file(&db, &file) {
                        tracing::warn!(error = %e, file_id, "writing hint file failed; open will scan instead");
                    }
                }
            }
        });
    }
}
