//! Templates: text with `{name}` placeholders (`{name:base64}` for the
//! base64 of the value), checked against the names a field allows when the
//! config is read, filled when used. A brace not followed by a lowercase name
//! and a closing brace is text, so JSON bodies are written as they are.

/// How a placeholder's value is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// As it is.
    Plain,
    /// Base64 (standard alphabet, padded), as etcd's JSON gateway wants.
    Base64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Text(String),
    Slot(String, Encoding),
}

/// A parsed template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    pieces: Vec<Piece>,
}

impl Template {
    /// Parses `text`, allowing only the placeholders in `allowed`.
    ///
    /// # Errors
    /// An unclosed brace, an unknown placeholder or encoding, with what is allowed.
    pub fn parse(text: &str, allowed: &[&str]) -> Result<Template, String> {
        let mut pieces = Vec::new();
        let mut literal = String::new();
        let mut rest = text;
        while let Some(open) = rest.find('{') {
            literal.push_str(&rest[..open]);
            let after = &rest[open + 1..];
            let inside = after.find('}').map(|close| &after[..close]);
            match inside.filter(|inside| is_placeholder(inside)) {
                Some(inside) => {
                    let (name, encoding) = match inside.split_once(':') {
                        None => (inside, Encoding::Plain),
                        Some((name, "base64")) => (name, Encoding::Base64),
                        Some((_, other)) => {
                            return Err(format!(
                                "unknown encoding {other:?} in {{{inside}}}; expected {{name}} or {{name:base64}}"
                            ));
                        }
                    };
                    if !allowed.contains(&name) {
                        return Err(format!(
                            "unknown placeholder {{{name}}}; expected one of {}",
                            allowed
                                .iter()
                                .map(|name| format!("{{{name}}}"))
                                .collect::<Vec<_>>()
                                .join(", ")
                        ));
                    }
                    if !literal.is_empty() {
                        pieces.push(Piece::Text(std::mem::take(&mut literal)));
                    }
                    pieces.push(Piece::Slot(name.to_string(), encoding));
                    rest = &after[inside.len() + 1..];
                }
                // A brace that opens no placeholder (JSON's) is text.
                None => {
                    literal.push('{');
                    rest = after;
                }
            }
        }
        literal.push_str(rest);
        if !literal.is_empty() {
            pieces.push(Piece::Text(literal));
        }
        Ok(Template { pieces })
    }

    /// Whether the template uses placeholder `name`.
    pub fn uses(&self, name: &str) -> bool {
        self.pieces
            .iter()
            .any(|piece| matches!(piece, Piece::Slot(slot, _) if slot == name))
    }

    /// The text with each placeholder replaced by `value(name)`, encoded as
    /// asked, then passed through `escape` (for a JSON string, a URL path).
    pub fn fill(&self, value: impl Fn(&str) -> String, escape: impl Fn(&str) -> String) -> String {
        let mut out = String::new();
        for piece in &self.pieces {
            match piece {
                Piece::Text(text) => out.push_str(text),
                Piece::Slot(name, Encoding::Plain) => out.push_str(&escape(&value(name))),
                Piece::Slot(name, Encoding::Base64) => {
                    out.push_str(&escape(&base64_encode(value(name).as_bytes())));
                }
            }
        }
        out
    }
}

/// `name` or `name:encoding`, names lowercase letters, digits and `_`.
fn is_placeholder(inside: &str) -> bool {
    let word = |text: &str| {
        text.starts_with(|c: char| c.is_ascii_lowercase())
            && text
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    };
    match inside.split_once(':') {
        Some((name, encoding)) => word(name) && word(encoding),
        None => word(inside),
    }
}

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard, padded base64.
pub fn base64_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let word = chunk.iter().enumerate().fold(0u32, |word, (i, byte)| {
            word | u32::from(*byte) << (16 - 8 * i)
        });
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(word >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Decodes standard base64 (padding optional).
///
/// # Errors
/// A character outside the alphabet.
pub fn base64_decode(text: &str) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(text.len() / 4 * 3);
    let mut word = 0u32;
    let mut bits = 0;
    for character in text.trim_end_matches('=').bytes() {
        let Some(digit) = ALPHABET.iter().position(|known| *known == character) else {
            return Err(format!("{:?} is not base64", character as char));
        };
        word = word << 6 | digit as u32;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((word >> bits) as u8);
            word &= (1 << bits) - 1;
        }
    }
    Ok(out)
}

/// Text for inside a JSON string.
pub fn json_escape(text: &str) -> String {
    let quoted = serde_json::to_string(text).expect("a string serializes");
    quoted[1..quoted.len() - 1].to_string()
}

/// Text for a URL path segment: everything but unreserved characters
/// percent-encoded.
pub fn path_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_filled_and_json_braces_stay() {
        let template =
            Template::parse(r#"{"key":"{key:base64}","v":"{value}"}"#, &["key", "value"]).unwrap();
        let filled = template.fill(
            |name| {
                if name == "key" {
                    "k1".into()
                } else {
                    "a\"b".into()
                }
            },
            |text| text.replace('"', "\\\""),
        );
        assert_eq!(filled, r#"{"key":"azE=","v":"a\"b"}"#);
        assert!(template.uses("value") && !template.uses("old"));
    }

    #[test]
    fn unknown_placeholders_and_bad_braces_are_named() {
        let error = Template::parse("x {nwe} y", &["new", "old"]).unwrap_err();
        assert_eq!(
            error,
            "unknown placeholder {nwe}; expected one of {new}, {old}"
        );
        assert_eq!(
            Template::parse("{key", &["key"])
                .unwrap()
                .fill(|_| String::new(), str::to_string),
            "{key"
        );
        assert!(
            Template::parse("{key:hex}", &["key"])
                .unwrap_err()
                .contains("unknown encoding")
        );
    }

    #[test]
    fn base64_round_trips() {
        for text in [
            "",
            "f",
            "fo",
            "foo",
            "foob",
            "fooba",
            "foobar",
            "</script>é",
        ] {
            let encoded = base64_encode(text.as_bytes());
            assert_eq!(base64_decode(&encoded).unwrap(), text.as_bytes());
        }
        assert_eq!(base64_encode(b"foobar"), "Zm9vYmFy");
        assert_eq!(base64_encode(b"fo"), "Zm8=");
        assert!(base64_decode("a*b").is_err());
    }
}
