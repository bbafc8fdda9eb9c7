//! Verdicts: valid, invalid, or unknown.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Jepsen's three-valued `:valid?`.
///
/// Serialized as `true`, `false` or `"unknown"`. Merged verdicts: invalid beats
/// unknown beats valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[must_use]
pub enum Validity {
    /// The history satisfies the model.
    Valid,
    /// The check could not decide (budget exhausted, unsupported history).
    Unknown,
    /// The history breaks the model; a witness says how.
    Invalid,
}

impl Validity {
    /// The merge of two verdicts: invalid beats unknown beats valid.
    pub fn merge(self, other: Validity) -> Validity {
        self.max(other)
    }

    /// The process exit code Jepsen uses: 0 valid, 1 invalid, 2 unknown.
    pub fn exit_code(self) -> u8 {
        match self {
            Validity::Valid => 0,
            Validity::Invalid => 1,
            Validity::Unknown => 2,
        }
    }

    /// `valid`, `invalid` or `unknown`.
    pub fn name(self) -> &'static str {
        match self {
            Validity::Valid => "valid",
            Validity::Invalid => "invalid",
            Validity::Unknown => "unknown",
        }
    }
}

impl Serialize for Validity {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Validity::Valid => serializer.serialize_bool(true),
            Validity::Invalid => serializer.serialize_bool(false),
            Validity::Unknown => serializer.serialize_str("unknown"),
        }
    }
}

impl<'de> Deserialize<'de> for Validity {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Validity, D::Error> {
        match serde_json::Value::deserialize(deserializer)? {
            serde_json::Value::Bool(true) => Ok(Validity::Valid),
            serde_json::Value::Bool(false) => Ok(Validity::Invalid),
            serde_json::Value::String(text) if text == "unknown" => Ok(Validity::Unknown),
            other => Err(serde::de::Error::custom(format!(
                "a verdict is true, false or \"unknown\", not {other}"
            ))),
        }
    }
}
