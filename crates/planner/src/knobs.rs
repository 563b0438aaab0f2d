//! One declaration per knob, three uses: the full struct (with its default), the
//! partial "patch" a workload file or flags set, and the `--flag` clap reads.
//!
//! Why a macro: the workload, config and hardware structs have about thirty
//! fields between them, and each must exist in a file section, as a flag and in
//! the report. Writing them three times by hand is how a flag ends up
//! silently ignored; declaring them once makes that impossible.

use crate::error::PlanError;
use crate::units::{parse_bytes, parse_count, ByteSize, Count};

/// Parses a flag's text into a knob's type. Flags are taken as text and parsed
/// here, not by clap, so a bad value is a usage error with our exit status (64)
/// and message, never clap's exit status 2, which means "reject" for `plan`.
pub trait FromFlag: Sized {
    /// What `--help` shows as the value's name.
    const VALUE_NAME: &'static str;
    /// Parses the flag's text.
    fn from_flag(text: &str) -> Result<Self, String>;
}

impl FromFlag for f64 {
    const VALUE_NAME: &'static str = "NUM";
    fn from_flag(text: &str) -> Result<Self, String> {
        text.trim()
            .parse::<f64>()
            .map_err(|_| format!("`{text}` is not a number"))
    }
}

impl FromFlag for u32 {
    const VALUE_NAME: &'static str = "N";
    fn from_flag(text: &str) -> Result<Self, String> {
        let n = parse_count(text)?;
        u32::try_from(n).map_err(|_| format!("`{text}` is too large"))
    }
}

impl FromFlag for u64 {
    const VALUE_NAME: &'static str = "N";
    fn from_flag(text: &str) -> Result<Self, String> {
        parse_count(text)
    }
}

impl FromFlag for bool {
    const VALUE_NAME: &'static str = "BOOL";
    fn from_flag(text: &str) -> Result<Self, String> {
        match text.trim().to_ascii_lowercase().as_str() {
            "true" | "yes" | "on" | "1" => Ok(true),
            "false" | "no" | "off" | "0" => Ok(false),
            _ => Err(format!("`{text}` is not a boolean (use true or false)")),
        }
    }
}

impl FromFlag for ByteSize {
    const VALUE_NAME: &'static str = "SIZE";
    fn from_flag(text: &str) -> Result<Self, String> {
        parse_bytes(text).map(ByteSize)
    }
}

impl FromFlag for Count {
    const VALUE_NAME: &'static str = "COUNT";
    fn from_flag(text: &str) -> Result<Self, String> {
        parse_count(text).map(Count)
    }
}

/// Optional knobs (SLOs, TTL) take `none` to clear a value a preset set.
impl<T: FromFlag> FromFlag for Option<T> {
    const VALUE_NAME: &'static str = T::VALUE_NAME;
    fn from_flag(text: &str) -> Result<Self, String> {
        if text.trim().eq_ignore_ascii_case("none") {
            Ok(None)
        } else {
            T::from_flag(text).map(Some)
        }
    }
}

/// Implements [`FromFlag`] through `FromStr` for the knob enums.
macro_rules! from_flag_via_from_str {
    ($($ty:ty => $name:literal),* $(,)?) => {$(
        impl $crate::knobs::FromFlag for $ty {
            const VALUE_NAME: &'static str = $name;
            fn from_flag(text: &str) -> Result<Self, String> {
                text.parse()
            }
        }
    )*};
}
pub(crate) use from_flag_via_from_str;

/// Declares a knob struct, its patch and its flags. See the module docs.
macro_rules! knobs {
    (
        $(#[doc = $sdoc:literal])*
        pub struct $name:ident, patch $patch:ident, flags $flags:ident {
            $(
                $(#[doc = $doc:literal])*
                $field:ident : $ty:ty = $default:expr,
            )*
        }
    ) => {
        $(#[doc = $sdoc])*
        #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct $name {
            $( $(#[doc = $doc])* pub $field: $ty, )*
        }

        impl Default for $name {
            fn default() -> Self {
                Self { $( $field: $default, )* }
            }
        }

        #[doc = concat!("A partial [`", stringify!($name), "`]: the fields one input source sets.")]
        #[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct $patch {
            $(
                #[doc = concat!("Overrides [`", stringify!($name), "::", stringify!($field), "`].")]
                #[serde(default)]
                pub $field: Option<$ty>,
            )*
        }

        impl $patch {
            /// Copies every field this patch sets onto `base`.
            pub fn apply(&self, base: &mut $name) {
                $( if let Some(v) = &self.$field { base.$field = v.clone(); } )*
            }
        }

        #[doc = concat!("The `--flags` that set [`", stringify!($name), "`] knobs.")]
        #[derive(Debug, Clone, Default, clap::Args)]
        pub struct $flags {
            $(
                $(#[doc = $doc])*
                // Hyphen values allowed so `--write-rate -5` reaches our validation
                // (exit 64) instead of clap's "unknown argument" (exit 2).
                #[arg(long, allow_hyphen_values = true, value_name = <$ty as $crate::knobs::FromFlag>::VALUE_NAME)]
                pub $field: Option<String>,
            )*
        }

        impl $flags {
            /// Sets the flag of the knob named `knob` (as spelled in files) to
            /// `value`; false if no knob of this struct has that name.
            pub fn set(&mut self, knob: &str, value: &str) -> bool {
                match knob {
                    $( stringify!($field) => { self.$field = Some(value.to_string()); true } )*
                    _ => false,
                }
            }

            /// Parses every flag given into a patch; the first bad value is a
            /// usage error naming its flag.
            pub fn to_patch(&self) -> Result<$patch, $crate::error::PlanError> {
                Ok($patch {
                    $(
                        $field: match &self.$field {
                            None => None,
                            Some(text) => Some(
                                <$ty as $crate::knobs::FromFlag>::from_flag(text).map_err(
                                    |reason| $crate::error::PlanError::Invalid {
                                        field: format!("--{}", stringify!($field).replace('_', "-")),
                                        reason,
                                    },
                                )?,
                            ),
                        },
                    )*
                })
            }
        }
    };
}
pub(crate) use knobs;

/// Checks that a number is finite and within `lo..=hi`, naming the field otherwise.
pub(crate) fn check_range(field: &str, value: f64, lo: f64, hi: f64) -> Result<(), PlanError> {
    if value.is_finite() && (lo..=hi).contains(&value) {
        Ok(())
    } else {
        Err(PlanError::Invalid {
            field: field.to_string(),
            reason: format!("{value} is outside {lo}..={hi}"),
        })
    }
}

/// Checks that a number is finite and strictly positive.
pub(crate) fn check_positive(field: &str, value: f64) -> Result<(), PlanError> {
    if value.is_finite() && value > 0.0 {
        Ok(())
    } else {
        Err(PlanError::Invalid {
            field: field.to_string(),
            reason: format!("{value} must be a positive number"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalar_flags_parse() {
        assert_eq!(f64::from_flag("2.5"), Ok(2.5));
        assert_eq!(u32::from_flag("64"), Ok(64));
        assert!(u32::from_flag("10G").is_err());
        assert_eq!(bool::from_flag("ON"), Ok(true));
        assert!(bool::from_flag("maybe").is_err());
        assert_eq!(Option::<f64>::from_flag("none"), Ok(None));
        assert_eq!(Option::<f64>::from_flag("1000"), Ok(Some(1000.0)));
        assert_eq!(ByteSize::from_flag("1GB"), Ok(ByteSize(1_000_000_000)));
    }

    #[test]
    fn range_checks_name_the_field() {
        assert!(check_range("x", 0.5, 0.0, 1.0).is_ok());
        let err = check_range("overwrite_fraction", 1.5, 0.0, 1.0).unwrap_err();
        assert!(err.to_string().contains("overwrite_fraction"));
        assert!(check_positive("y", f64::NAN).is_err());
        assert!(check_positive("y", 0.0).is_err());
    }
}
