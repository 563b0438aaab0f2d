//! The planner's one error type. Every variant prints as one line, because the
//! CLI prints errors as one line on stderr, and maps to an exit status.

use std::fmt;
use std::io;
use std::path::PathBuf;

/// Exit status for a usage or input error (BSD `EX_USAGE`).
pub const EXIT_USAGE: i32 = 64;
/// Exit status when probing the disk or opening a database fails (BSD `EX_IOERR`).
pub const EXIT_IO: i32 = 74;

/// Why a plan could not be made.
#[derive(Debug)]
#[non_exhaustive]
pub enum PlanError {
    /// A field or flag has a value the planner cannot use (negative rate,
    /// fraction above 1, unknown sync strategy...).
    Invalid {
        /// The field (`write_rate`) or flag (`--write-rate`) at fault.
        field: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A workload file is not valid TOML or JSON, or has an unknown field or a
    /// value of the wrong type.
    Parse {
        /// The file.
        path: PathBuf,
        /// 1-based line of the error, when the parser knows it.
        line: Option<usize>,
        /// 1-based column of the error, when the parser knows it.
        column: Option<usize>,
        /// The parser's message, flattened to one line.
        message: String,
    },
    /// A preset name that is not built in.
    UnknownPreset(String),
    /// Flags that do not make sense together (`--scale` without `--from-db`...).
    Usage(String),
    /// Reading a file or probing the disk failed.
    Io {
        /// What was being done (`read workload file`, `probe fsync`...).
        op: &'static str,
        /// The path involved.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// The engine could not open the database given to `--from-db`.
    Db {
        /// The database directory.
        path: PathBuf,
        /// The engine's error, as it prints.
        message: String,
    },
}

impl PlanError {
    /// The process exit status this error maps to: 74 for I/O and database
    /// failures, 64 for everything the user typed.
    pub fn exit_code(&self) -> i32 {
        match self {
            PlanError::Io { .. } | PlanError::Db { .. } => EXIT_IO,
            _ => EXIT_USAGE,
        }
    }
}

impl fmt::Display for PlanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PlanError::Invalid { field, reason } => write!(f, "invalid {field}: {reason}"),
            PlanError::Parse {
                path,
                line,
                column,
                message,
            } => {
                write!(f, "{}", path.display())?;
                if let Some(line) = line {
                    write!(f, ":{line}")?;
                    if let Some(column) = column {
                        write!(f, ":{column}")?;
                    }
                }
                write!(f, ": {message}")
            }
            PlanError::UnknownPreset(name) => write!(
                f,
                "unknown preset `{name}` (built in: {})",
                crate::presets::names().collect::<Vec<_>>().join(", ")
            ),
            PlanError::Usage(msg) => f.write_str(msg),
            PlanError::Io { op, path, source } => {
                write!(f, "cannot {op} {}: {source}", path.display())
            }
            PlanError::Db { path, message } => {
                write!(f, "cannot read database {}: {message}", path.display())
            }
        }
    }
}

impl std::error::Error for PlanError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            PlanError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_variant_prints_one_line_and_maps_to_a_status() {
        let errors = [
            PlanError::Invalid {
                field: "--vnodes".into(),
                reason: "`x` is not a number".into(),
            },
            PlanError::Parse {
                path: "w.toml".into(),
                line: Some(3),
                column: Some(7),
                message: "unknown field `kes`".into(),
            },
            PlanError::UnknownPreset("photos".into()),
            PlanError::Usage("--scale needs --from-db".into()),
            PlanError::Io {
                op: "read",
                path: "w.toml".into(),
                source: io::Error::new(io::ErrorKind::NotFound, "no such file"),
            },
        ];
        for e in &errors {
            let text = e.to_string();
            assert!(!text.contains('\n'), "{text}");
            assert!(!text.is_empty());
        }
        assert_eq!(errors[1].to_string(), "w.toml:3:7: unknown field `kes`");
        assert_eq!(errors[0].exit_code(), EXIT_USAGE);
        assert_eq!(errors[4].exit_code(), EXIT_IO);
    }
}
