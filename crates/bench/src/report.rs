//! Collecting samples and printing them as markdown tables.
//!
//! A [`Table`] holds, per row, every sample of one measurement (one per run). It
//! prints the median with min and max, and a ratio against the best *reference*
//! row. Rows whose name starts with `ccbitcask` are the subject; every other row is a
//! reference (a peer engine, or a raw-syscall baseline). The ratio is always
//! `row median / best reference median`, so for throughput >1 means faster than the
//! best reference, and for times and bytes <1 means better.

use std::fmt::Write as _;
use std::time::Duration;

/// Whether a larger number is better (throughput) or worse (seconds, bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Better {
    /// Throughput-like.
    Higher,
    /// Time- or size-like.
    Lower,
}

/// One measured quantity across engines (rows) and runs (samples).
pub struct Table {
    title: String,
    unit: &'static str,
    better: Better,
    rows: Vec<(String, Vec<f64>)>,
    notes: Vec<String>,
}

impl Table {
    /// An empty table.
    pub fn new(title: impl Into<String>, unit: &'static str, better: Better) -> Self {
        Self {
            title: title.into(),
            unit,
            better,
            rows: Vec::new(),
            notes: Vec::new(),
        }
    }

    /// Adds one sample to the row named `row`, creating it on first use (rows keep
    /// their first-use order).
    pub fn add(&mut self, row: &str, value: f64) {
        match self.rows.iter_mut().find(|(name, _)| name == row) {
            Some((_, samples)) => samples.push(value),
            None => self.rows.push((row.to_owned(), vec![value])),
        }
    }

    /// Adds a duration in seconds.
    pub fn add_secs(&mut self, row: &str, d: Duration) {
        self.add(row, d.as_secs_f64());
    }

    /// Appends a line printed under the table.
    pub fn note(&mut self, line: impl Into<String>) {
        self.notes.push(line.into());
    }

    /// Whether any sample was recorded.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The median of one row, if it has samples.
    pub fn median_of(&self, row: &str) -> Option<f64> {
        self.rows
            .iter()
            .find(|(name, _)| name == row)
            .map(|(_, s)| median(s))
    }

    /// The best reference row's name and median.
    pub fn best_reference(&self) -> Option<(&str, f64)> {
        self.rows
            .iter()
            .filter(|(name, _)| !name.starts_with("ccbitcask"))
            .map(|(name, s)| (name.as_str(), median(s)))
            .reduce(|a, b| match self.better {
                Better::Higher if b.1 > a.1 => b,
                Better::Lower if b.1 < a.1 => b,
                _ => a,
            })
    }

    /// The table as markdown, with a `###` heading.
    pub fn markdown(&self) -> String {
        let mut out = String::new();
        let best = self.best_reference();
        let _ = writeln!(out, "### {}\n", self.title);
        let ratio_head = match best {
            Some((name, _)) => format!("÷ best reference ({name})"),
            None => "÷ best reference".to_owned(),
        };
        let _ = writeln!(
            out,
            "| engine | median {unit} | min | max | runs | {ratio_head} |\n|---|---:|---:|---:|---:|---:|",
            unit = self.unit
        );
        for (name, samples) in &self.rows {
            let (lo, hi) = min_max(samples);
            let med = median(samples);
            let ratio = match best {
                Some((_, b)) if b > 0.0 => format!("{:.2}×", med / b),
                _ => "–".to_owned(),
            };
            let _ = writeln!(
                out,
                "| {name} | {} | {} | {} | {} | {ratio} |",
                fmt_num(med),
                fmt_num(lo),
                fmt_num(hi),
                samples.len()
            );
        }
        let direction = match self.better {
            Better::Higher => "higher is better",
            Better::Lower => "lower is better",
        };
        let _ = writeln!(out, "\n_{} ({direction})._", self.unit);
        for note in &self.notes {
            let _ = writeln!(out, "{note}");
        }
        out
    }
}

/// The median (mean of the middle two for an even count); 0 for no samples.
pub fn median(samples: &[f64]) -> f64 {
    if samples.is_empty() {
        return 0.0;
    }
    let mut s = samples.to_vec();
    s.sort_by(f64::total_cmp);
    let mid = s.len() / 2;
    if s.len() % 2 == 1 {
        s[mid]
    } else {
        (s[mid - 1] + s[mid]) / 2.0
    }
}

fn min_max(samples: &[f64]) -> (f64, f64) {
    samples
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
            (lo.min(v), hi.max(v))
        })
}

/// Formats with thousands separators for large numbers and 3 significant-ish digits
/// for small ones.
pub fn fmt_num(v: f64) -> String {
    if !v.is_finite() {
        return "–".to_owned();
    }
    if v.abs() >= 1000.0 {
        let digits = format!("{:.0}", v.abs());
        let mut grouped = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i) % 3 == 0 {
                grouped.push(',');
            }
            grouped.push(c);
        }
        if v < 0.0 {
            grouped.insert(0, '-');
        }
        grouped
    } else if v.fract() == 0.0 {
        format!("{v:.0}")
    } else if v.abs() >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.3}")
    }
}

/// Bytes as MB (10^6), the unit the baseline document uses.
pub fn mb(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}

/// Collects everything a run prints, so it can be both streamed and saved.
#[derive(Default)]
pub struct Report {
    text: String,
}

impl Report {
    /// Prints a block to stdout now and keeps it for [`Report::finish`].
    pub fn emit(&mut self, block: &str) {
        println!("{block}");
        self.text.push_str(block);
        self.text.push('\n');
    }

    /// Prints a table if it has rows.
    pub fn table(&mut self, table: &Table) {
        if !table.is_empty() {
            self.emit(&table.markdown());
        }
    }

    /// Everything emitted so far.
    pub fn finish(self) -> String {
        self.text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratio_is_against_the_best_reference() {
        let mut t = Table::new("t", "ops/s", Better::Higher);
        t.add("ccbitcask", 300.0);
        t.add("redb", 100.0);
        t.add("fjall", 150.0);
        assert_eq!(t.best_reference(), Some(("fjall", 150.0)));
        assert!(t
            .markdown()
            .contains("| ccbitcask | 300 | 300 | 300 | 1 | 2.00× |"));
    }

    #[test]
    fn medians_and_numbers() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert_eq!(fmt_num(1_234_567.0), "1,234,567");
        assert_eq!(fmt_num(0.5), "0.500");
    }
}
