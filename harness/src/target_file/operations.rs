//! A target file's `[operations]`: how read, write and cas become HTTP
//! requests, checked when the file is read (methods, paths, JSON bodies with
//! their placeholders filled, JSON pointers into responses).

use super::raw::{RawOperations, RawRequest};
use super::template::{self, Template};
use super::{OPERATION_PLACEHOLDERS, Operations, Request, TargetFileError};
use serde_json::Value;

/// `[operations]`, checked.
pub(super) fn http_operations(
    at: &dyn Fn(&str, String) -> TargetFileError,
    operations: &RawOperations,
) -> Result<Operations, TargetFileError> {
    let read = request(at, "operations.read", &operations.read)?;
    let write = request(at, "operations.write", &operations.write)?;
    let cas = match &operations.cas {
        Some(raw_cas) => {
            let cas = request(at, "operations.cas", raw_cas)?;
            if cas.success.is_none() {
                return Err(at(
                    "operations.cas.success",
                    "missing: where the response says whether the cas took effect (a JSON pointer such as /succeeded)".to_string(),
                ));
            }
            Some(cas)
        }
        None => None,
    };
    if read.value.is_none() {
        return Err(at(
            "operations.read.value",
            "missing: where the value read is in the response (a JSON pointer such as /kvs/0/value)"
                .to_string(),
        ));
    }
    Ok(Operations { read, write, cas })
}

fn request(
    at: &dyn Fn(&str, String) -> TargetFileError,
    field: &str,
    raw: &RawRequest,
) -> Result<Request, TargetFileError> {
    let method = match raw.method.to_ascii_uppercase().as_str() {
        "GET" => reqwest::Method::GET,
        "PUT" => reqwest::Method::PUT,
        "POST" => reqwest::Method::POST,
        "DELETE" => reqwest::Method::DELETE,
        other => {
            return Err(at(
                &format!("{field}.method"),
                format!("{other:?}: expected GET, PUT, POST or DELETE"),
            ));
        }
    };
    if !raw.path.starts_with('/') {
        return Err(at(
            &format!("{field}.path"),
            format!("{:?}: expected a path starting with /", raw.path),
        ));
    }
    let path = Template::parse(&raw.path, OPERATION_PLACEHOLDERS)
        .map_err(|problem| at(&format!("{field}.path"), problem))?;
    let body_template = |name: &str,
                         text: &Option<String>|
     -> Result<Option<Template>, TargetFileError> {
        let Some(text) = text else { return Ok(None) };
        let field = format!("{field}.{name}");
        let template =
            Template::parse(text, OPERATION_PLACEHOLDERS).map_err(|problem| at(&field, problem))?;
        // Filled with sample values, a body must be JSON.
        let sample = template.fill(|_| "sample \"1\"".to_string(), template::json_escape);
        serde_json::from_str::<Value>(&sample).map_err(|error| {
            at(
                &field,
                format!("not JSON once its placeholders are filled ({error}); placeholders go inside strings, e.g. \"{{key}}\""),
            )
        })?;
        Ok(Some(template))
    };
    let body = body_template("body", &raw.body)?;
    let body_if_absent = body_template("body_if_absent", &raw.body_if_absent)?;
    let value_encoding = match raw.encoding.as_str() {
        "plain" => template::Encoding::Plain,
        "base64" => template::Encoding::Base64,
        other => {
            return Err(at(
                &format!("{field}.encoding"),
                format!("{other:?}: expected plain or base64"),
            ));
        }
    };
    for (name, pointer) in [("value", &raw.value), ("success", &raw.success)] {
        if let Some(pointer) = pointer {
            check_pointer(at, &format!("{field}.{name}"), pointer)?;
        }
    }
    Ok(Request {
        method,
        path,
        body,
        body_if_absent,
        value: raw.value.clone(),
        value_encoding,
        success: raw.success.clone(),
    })
}

pub(super) fn check_pointer(
    at: &dyn Fn(&str, String) -> TargetFileError,
    field: &str,
    pointer: &str,
) -> Result<(), TargetFileError> {
    if pointer.is_empty() || pointer.starts_with('/') {
        Ok(())
    } else {
        Err(at(
            field,
            format!("{pointer:?}: expected a JSON pointer such as /kvs/0/value"),
        ))
    }
}
