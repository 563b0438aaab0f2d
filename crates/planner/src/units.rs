//! Numbers with units: byte sizes (`2MiB`, `256MB`), counts (`10M`, `2G`) and
//! the decimal formatting the report prints.
//!
//! Sizes in the report are decimal (1 MB = 10^6 bytes), as in scene 08's card:
//! "keydir RAM 730 MB total" is 10M keys × 73 bytes = 730 × 10^6 bytes. Input
//! accepts both decimal (`MB`) and binary (`MiB`) suffixes, so a value can be
//! written the way its source states it.

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// A size in bytes. Deserializes from a number or a string with a unit
/// (`"2MiB"`, `"256MB"`, `"500MB/s"`); serializes as a plain number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct ByteSize(pub u64);

/// A count of things (keys). Deserializes from a number or a string with an
/// SI suffix (`"10M"`, `"2G"`; `B` is accepted as billion); serializes as a number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Count(pub u64);

/// Splits `"12.5MiB"` into `(12.5, "mib")`, lower-casing the unit.
fn split_number(input: &str) -> Result<(f64, String), String> {
    let s = input.trim();
    let end = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '_'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(end);
    let num: String = num.chars().filter(|&c| c != '_').collect();
    if num.is_empty() {
        return Err(format!("`{input}` is not a number"));
    }
    let value: f64 = num
        .parse()
        .map_err(|_| format!("`{input}` is not a number"))?;
    Ok((value, unit.trim().to_ascii_lowercase()))
}

/// Rounds a non-negative finite value into a `u64`, refusing what does not fit.
fn to_u64(value: f64, input: &str) -> Result<u64, String> {
    // 1.8e19 is u64::MAX rounded down; anything above would saturate silently.
    if !value.is_finite() || !(0.0..1.8e19).contains(&value) {
        return Err(format!("`{input}` is out of range"));
    }
    Ok(value.round() as u64)
}

/// Parses a byte size: plain bytes, `k/M/G/T[B]` (powers of 10) or
/// `Ki/Mi/Gi/Ti[B]` (powers of 2), optionally followed by `/s` for bandwidths.
pub fn parse_bytes(input: &str) -> Result<u64, String> {
    let (value, unit) = split_number(input)?;
    let unit = unit.strip_suffix("/s").unwrap_or(&unit).trim();
    let mult = match unit {
        "" | "b" => 1.0,
        "k" | "kb" => 1e3,
        "m" | "mb" => 1e6,
        "g" | "gb" => 1e9,
        "t" | "tb" => 1e12,
        "ki" | "kib" => 1024.0,
        "mi" | "mib" => 1024.0 * 1024.0,
        "gi" | "gib" => 1024.0 * 1024.0 * 1024.0,
        "ti" | "tib" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        _ => {
            return Err(format!(
                "`{input}`: unknown size unit (use B, kB, MB, GB, TB, KiB, MiB, GiB or TiB)"
            ))
        }
    };
    to_u64(value * mult, input)
}

/// Parses a count: plain, or with `k`, `M`, `G`/`B` (billion), `T`.
pub fn parse_count(input: &str) -> Result<u64, String> {
    let (value, unit) = split_number(input)?;
    let mult = match unit.as_str() {
        "" => 1.0,
        "k" => 1e3,
        "m" => 1e6,
        "g" | "b" => 1e9,
        "t" => 1e12,
        _ => {
            return Err(format!(
                "`{input}`: unknown count suffix (use k, M, G or T)"
            ))
        }
    };
    to_u64(value * mult, input)
}

/// Parses a scale factor such as `10x`, `x10`, `0.5x` or `10`.
pub fn parse_scale(input: &str) -> Result<f64, String> {
    let s = input.trim();
    let s = s
        .strip_suffix(['x', 'X'])
        .or_else(|| s.strip_prefix(['x', 'X']))
        .unwrap_or(s);
    match s.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
        _ => Err(format!("`{input}` is not a positive scale like `10x`")),
    }
}

/// A visitor shared by [`ByteSize`] and [`Count`]: numbers pass through,
/// strings go to the given parser.
struct UnitVisitor {
    expecting: &'static str,
    parse: fn(&str) -> Result<u64, String>,
}

impl Visitor<'_> for UnitVisitor {
    type Value = u64;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(self.expecting)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<u64, E> {
        Ok(v)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<u64, E> {
        u64::try_from(v).map_err(|_| E::custom(format!("{v} is negative")))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<u64, E> {
        to_u64(v, &v.to_string()).map_err(E::custom)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<u64, E> {
        (self.parse)(v).map_err(E::custom)
    }
}

impl Serialize for ByteSize {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(self.0)
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(UnitVisitor {
            expecting: "a byte size such as 2097152 or \"2MiB\"",
            parse: parse_bytes,
        })
        .map(ByteSize)
    }
}

impl Serialize for Count {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(self.0)
    }
}

impl<'de> Deserialize<'de> for Count {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(UnitVisitor {
            expecting: "a count such as 10000000 or \"10M\"",
            parse: parse_count,
        })
        .map(Count)
    }
}

/// Formats a value with 3 significant figures, dropping decimals above 100:
/// `730`, `182`, `68.5`, `2.10`.
fn sig3(v: f64) -> String {
    let a = v.abs();
    if a >= 100.0 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// Formats bytes in decimal units: `730 MB`, `2.10 MB`, `21.0 TB`.
pub fn fmt_bytes(bytes: f64) -> String {
    const UNITS: [(f64, &str); 5] = [
        (1e15, "PB"),
        (1e12, "TB"),
        (1e9, "GB"),
        (1e6, "MB"),
        (1e3, "kB"),
    ];
    for (scale, name) in UNITS {
        if bytes.abs() >= scale {
            return format!("{} {name}", sig3(bytes / scale));
        }
    }
    format!("{bytes:.0} B")
}

/// Formats a count with SI suffixes: `10M`, `2.00G`, `9,768` stays plain below 100k.
pub fn fmt_count(n: f64) -> String {
    if n.abs() >= 1e9 {
        format!("{}G", trim_zeros(n / 1e9))
    } else if n.abs() >= 1e5 {
        format!("{}M", trim_zeros(n / 1e6))
    } else {
        fmt_thousands(n.round() as u64)
    }
}

/// `2.00` → `2`, `2.50` → `2.5`: counts read better without trailing zeros.
fn trim_zeros(v: f64) -> String {
    let s = format!("{v:.2}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_string()
}

/// `9768` → `9,768`.
pub fn fmt_thousands(n: u64) -> String {
    let reversed: Vec<char> = n.to_string().chars().rev().collect();
    let groups: Vec<String> = reversed
        .chunks(3)
        .rev()
        .map(|g| g.iter().rev().collect())
        .collect();
    groups.join(",")
}

/// Formats seconds as the most readable unit: `850 ms`, `2.30 s`, `6.80 h`, `27.0 days`.
pub fn fmt_secs(secs: f64) -> String {
    if secs == 0.0 {
        "0 s".to_string()
    } else if secs < 1.0 {
        format!("{} ms", sig3(secs * 1000.0))
    } else if secs < 120.0 {
        format!("{} s", sig3(secs))
    } else if secs < 7200.0 {
        format!("{} min", sig3(secs / 60.0))
    } else if secs < 3.0 * 86400.0 {
        format!("{} h", sig3(secs / 3600.0))
    } else {
        format!("{} days", sig3(secs / 86400.0))
    }
}

/// Formats a rate per second: `20/s`, `25.0k/s`.
pub fn fmt_rate(per_sec: f64) -> String {
    format!("{}/s", fmt_num(per_sec))
}

/// Formats a plain quantity: `20`, `0.4`, `25.0k`, `1.20M`.
pub fn fmt_num(v: f64) -> String {
    if v >= 1e6 {
        format!("{}M", sig3(v / 1e6))
    } else if v >= 1e4 {
        format!("{}k", sig3(v / 1e3))
    } else {
        trim_zeros(v)
    }
}

/// Formats a fraction as a percentage, with a decimal below 10 %: `42 %`, `0.4 %`.
pub fn fmt_pct(fraction: f64) -> String {
    let pct = fraction * 100.0;
    if pct != 0.0 && pct.abs() < 10.0 {
        format!("{pct:.1} %")
    } else {
        format!("{pct:.0} %")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_decimal_and_binary() {
        assert_eq!(parse_bytes("256MB"), Ok(256_000_000));
        assert_eq!(parse_bytes("2MiB"), Ok(2_097_152));
        assert_eq!(parse_bytes("2 GiB"), Ok(2_147_483_648));
        assert_eq!(parse_bytes("500MB/s"), Ok(500_000_000));
        assert_eq!(parse_bytes("1_024"), Ok(1024));
        assert_eq!(parse_bytes("0.5kB"), Ok(500));
        assert!(parse_bytes("12 parsecs").is_err());
        assert!(parse_bytes("").is_err());
        assert!(parse_bytes("-1").is_err());
        assert!(parse_bytes("1e30").is_err());
    }

    #[test]
    fn counts_and_scales_parse() {
        assert_eq!(parse_count("10M"), Ok(10_000_000));
        assert_eq!(parse_count("2B"), Ok(2_000_000_000));
        assert_eq!(parse_count("1.5k"), Ok(1500));
        assert!(parse_count("ten").is_err());
        assert_eq!(parse_scale("10x"), Ok(10.0));
        assert_eq!(parse_scale("x0.5"), Ok(0.5));
        assert!(parse_scale("0x").is_err());
        assert!(parse_scale("lots").is_err());
    }

    #[test]
    fn formatting_matches_the_scene() {
        assert_eq!(fmt_bytes(730e6), "730 MB");
        assert_eq!(fmt_bytes(182.5e6), "182 MB");
        assert_eq!(fmt_bytes(256e6), "256 MB");
        assert_eq!(fmt_bytes(512.0), "512 B");
        assert_eq!(fmt_count(10e6), "10M");
        assert_eq!(fmt_count(2e9), "2G");
        assert_eq!(fmt_thousands(9768), "9,768");
        assert_eq!(fmt_thousands(13_028_000), "13,028,000");
        assert_eq!(fmt_thousands(512), "512");
        assert_eq!(fmt_secs(0.5), "500 ms");
        assert_eq!(fmt_secs(24.0 * 3600.0), "24.0 h");
        assert_eq!(fmt_rate(20.0), "20/s");
        assert_eq!(fmt_num(25_000.0), "25.0k");
        assert_eq!(fmt_secs(0.0), "0 s");
        assert_eq!(fmt_pct(0.42), "42 %");
        assert_eq!(fmt_pct(0.004), "0.4 %");
    }

    #[test]
    fn byte_size_deserializes_from_numbers_and_strings() {
        let v: ByteSize = serde_json::from_str("\"2MiB\"").unwrap();
        assert_eq!(v, ByteSize(2_097_152));
        let v: ByteSize = serde_json::from_str("42").unwrap();
        assert_eq!(v, ByteSize(42));
        assert!(serde_json::from_str::<ByteSize>("-5").is_err());
        assert!(serde_json::from_str::<Count>("\"many\"").is_err());
        assert_eq!(serde_json::to_string(&Count(7)).unwrap(), "7");
    }
}
