//! The HTTP/JSON contract shared by the bundled stores (see `targets/README.md`):
//! request bodies, size limits, micro-operations and the error table, including
//! which errors are definite failures and which leave the outcome unknown.
//!
//! ```
//! use kv_api::{ErrorCode, parse_value_body};
//! assert_eq!(parse_value_body(br#"{"value": 3}"#).unwrap(), serde_json::json!(3));
//! let error = parse_value_body(b"{").unwrap_err();
//! assert_eq!(error.code, ErrorCode::MalformedRequest);
//! assert!(error.code.definite());
//! ```
#![deny(missing_docs)]

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Longest key, in bytes.
pub const MAX_KEY_BYTES: usize = 256;
/// Largest request body, in bytes (a value, a cas or a transaction).
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// Most micro-operations in one transaction.
pub const MAX_TXN_OPS: usize = 64;

/// Every error a store returns, with its HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// 400: the body is not valid JSON of the expected shape. Definite.
    MalformedRequest,
    /// 413: the body or key is over its limit. Definite.
    TooLarge,
    /// 404: no such route. Definite.
    NotFound,
    /// 409: a cas's expected value did not match. Definite.
    PreconditionFailed,
    /// 409: the transaction was aborted (a lock conflict, a participant voted
    /// no); nothing of it was applied. Definite.
    Aborted,
    /// 503: this node does not serve the request now (not the head or tail, no
    /// lease, reconfiguring); nothing was done. Definite.
    Unavailable,
    /// 504: the node gave up waiting; the operation may still take effect.
    /// Indefinite.
    Timeout,
    /// 500: anything else. Indefinite.
    Internal,
}

impl ErrorCode {
    /// The HTTP status.
    pub fn status(self) -> u16 {
        match self {
            ErrorCode::MalformedRequest => 400,
            ErrorCode::NotFound => 404,
            ErrorCode::PreconditionFailed | ErrorCode::Aborted => 409,
            ErrorCode::TooLarge => 413,
            ErrorCode::Internal => 500,
            ErrorCode::Unavailable => 503,
            ErrorCode::Timeout => 504,
        }
    }

    /// The code's name in error bodies.
    pub fn name(self) -> &'static str {
        match self {
            ErrorCode::MalformedRequest => "malformed-request",
            ErrorCode::TooLarge => "too-large",
            ErrorCode::NotFound => "not-found",
            ErrorCode::PreconditionFailed => "precondition-failed",
            ErrorCode::Aborted => "aborted",
            ErrorCode::Unavailable => "unavailable",
            ErrorCode::Timeout => "timeout",
            ErrorCode::Internal => "internal",
        }
    }

    /// Whether the operation certainly did not happen.
    pub fn definite(self) -> bool {
        !matches!(self, ErrorCode::Timeout | ErrorCode::Internal)
    }

    /// Every code, for tables and tests.
    pub const ALL: [ErrorCode; 8] = [
        ErrorCode::MalformedRequest,
        ErrorCode::TooLarge,
        ErrorCode::NotFound,
        ErrorCode::PreconditionFailed,
        ErrorCode::Aborted,
        ErrorCode::Unavailable,
        ErrorCode::Timeout,
        ErrorCode::Internal,
    ];

    /// The code named `name`.
    pub fn from_name(name: &str) -> Option<ErrorCode> {
        ErrorCode::ALL.into_iter().find(|code| code.name() == name)
    }
}

/// An error: its code and a message for people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// What went wrong.
    pub code: ErrorCode,
    /// Details.
    pub message: String,
}

impl ApiError {
    /// An error with a message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> ApiError {
        ApiError {
            code,
            message: message.into(),
        }
    }

    /// The JSON body: `{"error": code, "message": …, "definite": bool}`.
    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            error: self.code.name().to_string(),
            message: self.message.clone(),
            definite: self.code.definite(),
        }
    }
}

/// An error as it travels.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// The code's name.
    pub error: String,
    /// Details.
    pub message: String,
    /// Whether the operation certainly did not happen.
    pub definite: bool,
}

/// The body of a read's reply and of a write: `{"value": V}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ValueBody {
    /// The value; `null` when the key is absent.
    pub value: Value,
}

/// A compare-and-set: `{"from": V, "to": V}` (`from: null` means absent).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CasBody {
    /// The value expected.
    pub from: Value,
    /// The value to set.
    pub to: Value,
}

/// One micro-operation of a transaction, `["r", k, null]`, `["w", k, v]` or
/// `["append", k, v]`; replies carry reads' values in place of `null`.
#[derive(Debug, Clone, PartialEq)]
pub enum MicroOp {
    /// Read the key: its value, or the list of appended values.
    Read(String, Value),
    /// Write a value.
    Write(String, Value),
    /// Append a value to the key's list.
    Append(String, Value),
}

impl MicroOp {
    /// The key it works on.
    pub fn key(&self) -> &str {
        match self {
            MicroOp::Read(key, _) | MicroOp::Write(key, _) | MicroOp::Append(key, _) => key,
        }
    }

    /// As JSON: `["r", k, v]`.
    pub fn to_json(&self) -> Value {
        match self {
            MicroOp::Read(key, value) => serde_json::json!(["r", key, value]),
            MicroOp::Write(key, value) => serde_json::json!(["w", key, value]),
            MicroOp::Append(key, value) => serde_json::json!(["append", key, value]),
        }
    }
}

fn malformed(message: impl Into<String>) -> ApiError {
    ApiError::new(ErrorCode::MalformedRequest, message)
}

fn check_size(body: &[u8]) -> Result<(), ApiError> {
    if body.len() > MAX_BODY_BYTES {
        return Err(ApiError::new(
            ErrorCode::TooLarge,
            format!(
                "the body is {} bytes; the limit is {MAX_BODY_BYTES}",
                body.len()
            ),
        ));
    }
    Ok(())
}

/// Checks a key: non-empty, at most [`MAX_KEY_BYTES`].
///
/// # Errors
/// `malformed-request` for an empty key, `too-large` for a long one.
pub fn check_key(key: &str) -> Result<(), ApiError> {
    if key.is_empty() {
        return Err(malformed("the key is empty"));
    }
    if key.len() > MAX_KEY_BYTES {
        return Err(ApiError::new(
            ErrorCode::TooLarge,
            format!(
                "the key is {} bytes; the limit is {MAX_KEY_BYTES}",
                key.len()
            ),
        ));
    }
    Ok(())
}

/// A stored value must be an integer or a string.
fn check_value(value: &Value) -> Result<(), ApiError> {
    if value.is_i64() || value.is_u64() || value.is_string() {
        Ok(())
    } else {
        Err(malformed(format!(
            "the value {value} is not an integer or a string"
        )))
    }
}

/// Parses `{"value": V}` for a write.
///
/// # Errors
/// `malformed-request` or `too-large`, with what was expected.
pub fn parse_value_body(body: &[u8]) -> Result<Value, ApiError> {
    check_size(body)?;
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Write {
        value: Value,
    }
    let write: Write = serde_json::from_slice(body).map_err(|error| {
        malformed(format!(
            "{error}; expected {{\"value\": integer or string}}"
        ))
    })?;
    check_value(&write.value)?;
    Ok(write.value)
}

/// Parses `{"from": V, "to": V}`.
///
/// # Errors
/// `malformed-request` or `too-large`, with what was expected.
pub fn parse_cas_body(body: &[u8]) -> Result<CasBody, ApiError> {
    check_size(body)?;
    let cas: CasBody = serde_json::from_slice(body).map_err(|error| {
        malformed(format!(
            "{error}; expected {{\"from\": value or null, \"to\": value}}"
        ))
    })?;
    if !cas.from.is_null() {
        check_value(&cas.from)?;
    }
    check_value(&cas.to)?;
    Ok(cas)
}

/// Parses `{"txn": [["r", k, null], ["w", k, v], ["append", k, v], …]}`.
///
/// # Errors
/// `malformed-request` (an unknown micro-op, a wrong type) or `too-large`.
pub fn parse_txn_body(body: &[u8]) -> Result<Vec<MicroOp>, ApiError> {
    check_size(body)?;
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Txn {
        txn: Vec<Value>,
    }
    let txn: Txn = serde_json::from_slice(body).map_err(|error| {
        malformed(format!(
            "{error}; expected {{\"txn\": [[\"r\"|\"w\"|\"append\", key, value], …]}}"
        ))
    })?;
    if txn.txn.is_empty() {
        return Err(malformed("the transaction is empty"));
    }
    if txn.txn.len() > MAX_TXN_OPS {
        return Err(ApiError::new(
            ErrorCode::TooLarge,
            format!(
                "{} micro-operations; the limit is {MAX_TXN_OPS}",
                txn.txn.len()
            ),
        ));
    }
    txn.txn
        .into_iter()
        .map(|op| {
            let Some([f, key, value]) = op.as_array().map(Vec::as_slice) else {
                return Err(malformed(format!(
                    "micro-operation {op} is not [f, key, value]"
                )));
            };
            let Some(key) = key.as_str() else {
                return Err(malformed(format!(
                    "micro-operation {op}: the key must be a string"
                )));
            };
            check_key(key)?;
            match f.as_str() {
                Some("r") => Ok(MicroOp::Read(key.to_string(), Value::Null)),
                Some("w") => {
                    check_value(value).map(|()| MicroOp::Write(key.to_string(), value.clone()))
                }
                Some("append") => {
                    check_value(value).map(|()| MicroOp::Append(key.to_string(), value.clone()))
                }
                _ => Err(malformed(format!(
                    "unknown micro-operation {f}; expected \"r\", \"w\" or \"append\""
                ))),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_bodies_are_definite_client_errors() {
        let long_key = "k".repeat(MAX_KEY_BYTES + 1);
        let big = format!("{{\"value\": \"{}\"}}", "x".repeat(MAX_BODY_BYTES));
        let cases: Vec<(Result<(), ApiError>, ErrorCode)> = vec![
            (
                parse_value_body(b"not json").map(drop),
                ErrorCode::MalformedRequest,
            ),
            (
                parse_value_body(br#"{"value": [1, 2]}"#).map(drop),
                ErrorCode::MalformedRequest,
            ),
            (
                parse_value_body(br#"{"value": 1, "extra": 2}"#).map(drop),
                ErrorCode::MalformedRequest,
            ),
            (
                parse_value_body(big.as_bytes()).map(drop),
                ErrorCode::TooLarge,
            ),
            (
                parse_cas_body(br#"{"from": 1}"#).map(drop),
                ErrorCode::MalformedRequest,
            ),
            (
                parse_txn_body(br#"{"txn": [["x", "k", 1]]}"#).map(drop),
                ErrorCode::MalformedRequest,
            ),
            (
                parse_txn_body(br#"{"txn": [["w", 3, 1]]}"#).map(drop),
                ErrorCode::MalformedRequest,
            ),
            (
                parse_txn_body(br#"{"txn": []}"#).map(drop),
                ErrorCode::MalformedRequest,
            ),
            (check_key(""), ErrorCode::MalformedRequest),
            (check_key(&long_key), ErrorCode::TooLarge),
        ];
        for (result, expected) in cases {
            let error = result.unwrap_err();
            assert_eq!(error.code, expected, "{error:?}");
            assert!(error.code.definite());
            assert!((400..500).contains(&error.code.status()));
        }
        assert_eq!(
            parse_txn_body(br#"{"txn": [["r", "x", null], ["append", "y", 3]]}"#).unwrap(),
            vec![
                MicroOp::Read("x".into(), Value::Null),
                MicroOp::Append("y".into(), serde_json::json!(3))
            ]
        );
    }

    #[test]
    fn only_timeouts_and_internal_errors_are_indefinite() {
        for code in ErrorCode::ALL {
            assert_eq!(
                code.definite(),
                code.status() < 500 || code.status() == 503,
                "{code:?}"
            );
            assert_eq!(ErrorCode::from_name(code.name()), Some(code));
        }
    }
}
