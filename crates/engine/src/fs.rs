//! Names of the files in a database directory.
//!
//! ```text
//! 0000000001.data        data file 1 (only the newest log file is active)
//! 0000000001.hint        its hint file, once sealed or merged
//! 0000000007.data.tmp    merge output not yet committed (deleted at open)
//! MERGE                  merge commit manifest (see docs/FORMAT.md)
//! LOCK                   flock()ed by the writer; holds its pid for error messages
//! ```

use std::path::{Path, PathBuf};

/// The writer's lock file.
pub const LOCK_FILE: &str = "LOCK";
/// The merge commit manifest.
pub const MERGE_MANIFEST: &str = "MERGE";
/// Suffix of files that are not committed yet.
pub const TMP_SUFFIX: &str = ".tmp";

/// What a directory entry is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Entry {
    /// A data file.
    Data(u32),
    /// A hint file.
    Hint(u32),
    /// An uncommitted temporary file.
    Tmp,
    /// Something else (ignored, never deleted).
    Other,
}

/// Path of data file `id`.
#[must_use]
pub fn data_path(dir: &Path, id: u32) -> PathBuf {
    dir.join(format!("{id:010}.data"))
}

/// Path of hint file `id`.
#[must_use]
pub fn hint_path(dir: &Path, id: u32) -> PathBuf {
    dir.join(format!("{id:010}.hint"))
}

/// The temporary name `path` is written under before it is committed.
#[must_use]
pub fn tmp_path(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(TMP_SUFFIX);
    PathBuf::from(s)
}

/// Classifies a directory entry by name.
#[must_use]
pub fn classify(name: &str) -> Entry {
    if name.ends_with(TMP_SUFFIX) {
        return Entry::Tmp;
    }
    let parse = |stem: &str| {
        (stem.len() == 10 && stem.bytes().all(|b| b.is_ascii_digit()))
            .then(|| stem.parse::<u32>().ok())
            .flatten()
    };
    if let Some(id) = name.strip_suffix(".data").and_then(parse) {
        Entry::Data(id)
    } else if let Some(id) = name.strip_suffix(".hint").and_then(parse) {
        Entry::Hint(id)
    } else {
        Entry::Other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        let dir = Path::new("/db");
        assert_eq!(data_path(dir, 7), Path::new("/db/0000000007.data"));
        assert_eq!(classify("0000000007.data"), Entry::Data(7));
        assert_eq!(classify("0000000007.hint"), Entry::Hint(7));
        assert_eq!(classify("0000000007.data.tmp"), Entry::Tmp);
        assert_eq!(classify("7.data"), Entry::Other);
        assert_eq!(classify("LOCK"), Entry::Other);
        assert_eq!(
            tmp_path(&hint_path(dir, 3)),
            Path::new("/db/0000000003.hint.tmp")
        );
    }
}
