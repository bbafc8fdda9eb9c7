//! [`Label`]: a short name a checker gives — a model, an anomaly, an outcome,
//! a pattern. Made here it is a `&'static str`; read back from a results file
//! it is owned, so reports can be deserialized and re-rendered.

use serde::{Deserialize, Serialize};
use std::borrow::{Borrow, Cow};
use std::fmt;
use std::ops::Deref;

/// A checker's name for something, static or read back.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Label(Cow<'static, str>);

impl Label {
    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<&'static str> for Label {
    fn from(text: &'static str) -> Label {
        Label(Cow::Borrowed(text))
    }
}

impl Deref for Label {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl Borrow<str> for Label {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for Label {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl PartialEq<str> for Label {
    fn eq(&self, other: &str) -> bool {
        *self.0 == *other
    }
}

impl PartialEq<&str> for Label {
    fn eq(&self, other: &&str) -> bool {
        *self.0 == **other
    }
}

impl fmt::Display for Label {
    /// As the text, honouring width and alignment (`{:<22}`) as a `str` does.
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.pad(&self.0)
    }
}

impl fmt::Debug for Label {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, formatter)
    }
}

/// Reads an optional JSON value whose presence is the information: a field
/// written as `null` is `Some(Value::Null)` (a read of the initial value, a
/// key that is null), a missing one `None`. Serde's default reads both as
/// `None`, which would change a report read back.
///
/// # Errors
/// The value is not JSON.
pub fn present<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<serde_json::Value>, D::Error> {
    serde_json::Value::deserialize(deserializer).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_compare_as_text_and_round_trip_owned() {
        let label = Label::from("G-single");
        assert_eq!(label, "G-single");
        assert_eq!(label.to_string(), "G-single");
        assert_eq!(format!("[{label:<10}]"), "[G-single  ]");
        let json = serde_json::to_string(&label).unwrap();
        assert_eq!(json, "\"G-single\"");
        let back: Label = serde_json::from_str("\"G\\u002dsingle\"").unwrap();
        assert_eq!(back, label);
        let map: std::collections::BTreeMap<Label, usize> = [(label, 2)].into();
        assert_eq!(map.get("G-single"), Some(&2));
    }
}
