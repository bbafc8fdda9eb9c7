//! Operations on a configured store: an operation becomes the request its
//! config describes, and the response — or the error — becomes `ok`, `fail`
//! or `info` by the config's error table, here and nowhere else.
//!
//! Values travel as text: an integer as its digits, a string as itself. Read
//! back, text that is an integer is one, any other text a string.

use super::{Client, Completion, Pending};
use crate::target_file::template::{self, json_escape, path_escape};
use crate::target_file::{Request, TargetConfig};
use crate::workload::Op;
use serde_json::{Value, json};

/// A node of a store whose requests its target file describes.
pub struct ConfiguredClient {
    config: std::sync::Arc<TargetConfig>,
    base: String,
    http: reqwest::Client,
}

impl ConfiguredClient {
    /// A client of the node at `address` (`host:port`).
    pub fn new(
        config: std::sync::Arc<TargetConfig>,
        address: &str,
        http: reqwest::Client,
    ) -> ConfiguredClient {
        ConfiguredClient {
            config,
            base: format!("http://{address}"),
            http,
        }
    }
}

impl Client for ConfiguredClient {
    fn invoke<'a>(&'a self, op: &'a Op) -> Pending<'a> {
        Box::pin(invoke(&self.http, &self.config, &self.base, op))
    }
}

/// Sends `op` to the node at `base` (`http://host:port`) and classifies the outcome.
pub async fn invoke(
    client: &reqwest::Client,
    config: &TargetConfig,
    base: &str,
    op: &Op,
) -> Completion {
    let Some(operations) = config.http_operations() else {
        return Completion::Fail(json!("the target file describes no HTTP requests"));
    };
    let request = match op {
        Op::Read { .. } => &operations.read,
        Op::Write { .. } => &operations.write,
        Op::Cas { .. } => match &operations.cas {
            Some(cas) => cas,
            None => return Completion::Fail(json!("the target config has no cas")),
        },
        Op::Txn { .. } => return Completion::Fail(json!("txn is not supported")),
    };
    let key = op.key().unwrap_or_default();
    let (value, old, new) = match op {
        Op::Cas { from, to, .. } => (Value::Null, from.clone(), to.clone()),
        _ => (op.value(), Value::Null, Value::Null),
    };
    let fill = |name: &str| match name {
        "key" => key.to_string(),
        "value" => value_text(&value),
        "old" => value_text(&old),
        _ => value_text(&new),
    };
    let is_cas = matches!(op, Op::Cas { .. });
    let body = match (&request.body_if_absent, old.is_null() && is_cas) {
        (Some(absent), true) => Some(absent),
        _ => request.body.as_ref(),
    };
    let mut builder = client.request(
        request.method.clone(),
        format!("{base}{}", request.path.fill(fill, path_escape)),
    );
    if let Some(body) = body {
        builder = builder
            .header("content-type", "application/json")
            .body(body.fill(fill, json_escape));
    }
    let outcome = match builder.send().await {
        Ok(response) => {
            let status = response.status().as_u16();
            match response.bytes().await {
                Ok(body) => classify(config, request, op, status, &body),
                Err(error) => super::transport(false, &error.to_string()),
            }
        }
        Err(error) => super::transport(error.is_connect(), &error.to_string()),
    };
    super::settle(op, outcome)
}

/// A response's verdict by the config.
fn classify(
    config: &TargetConfig,
    request: &Request,
    op: &Op,
    status: u16,
    body: &[u8],
) -> Completion {
    let reply: Option<Value> = serde_json::from_slice(body).ok();
    if !(200..300).contains(&status) {
        let code = config
            .errors
            .code
            .as_deref()
            .and_then(|pointer| reply.as_ref()?.pointer(pointer).cloned());
        let error = match &code {
            Some(code) => json!(format!("http-{status} code {code}")),
            None => json!(format!("http-{status}")),
        };
        let definite = config.errors.definite_statuses.contains(&status)
            || code.is_some_and(|code| config.errors.definite_codes.contains(&code));
        return if definite {
            Completion::Fail(error)
        } else {
            Completion::Info(error)
        };
    }
    match op {
        Op::Read { .. } => {
            let Some(reply) = reply else {
                return Completion::Fail(json!("unreadable reply"));
            };
            let pointer = request.value.as_deref().unwrap_or("");
            match reply.pointer(pointer) {
                None | Some(Value::Null) => Completion::Ok(Value::Null),
                Some(Value::String(text)) => match decode(text, request.value_encoding) {
                    Ok(value) => Completion::Ok(value),
                    Err(error) => Completion::Fail(json!(error)),
                },
                Some(other) => Completion::Ok(other.clone()),
            }
        }
        Op::Cas { .. } => {
            let succeeded = request
                .success
                .as_deref()
                .and_then(|pointer| reply.as_ref()?.pointer(pointer))
                .is_some_and(|flag| flag == &Value::Bool(true));
            if succeeded {
                Completion::Ok(op.value())
            } else {
                Completion::Fail(json!("compare failed"))
            }
        }
        _ => Completion::Ok(op.value()),
    }
}

fn decode(text: &str, encoding: template::Encoding) -> Result<Value, String> {
    let text = match encoding {
        template::Encoding::Plain => text.to_string(),
        template::Encoding::Base64 => {
            let bytes = template::base64_decode(text)?;
            String::from_utf8(bytes).map_err(|_| "a value that is not UTF-8".to_string())?
        }
    };
    Ok(parse_value_text(&text))
}

/// A value as the store keeps it: an integer's digits, a string itself.
pub fn value_text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// What was read, back as a value: an integer if it is one, else the text.
pub fn parse_value_text(text: &str) -> Value {
    match text.parse::<i64>() {
        Ok(number) if number.to_string() == text => json!(number),
        _ => Value::String(text.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip_as_text() {
        for value in [json!(1002), json!(-3), json!("</script>'\""), json!("007")] {
            assert_eq!(parse_value_text(&value_text(&value)), value);
        }
    }

    #[test]
    fn escapes() {
        assert_eq!(json_escape("a\"b\\\n"), "a\\\"b\\\\\\n");
        assert_eq!(path_escape("k1/ é"), "k1%2F%20%C3%A9");
    }

    fn etcd() -> TargetConfig {
        crate::target_file::parse("etcd.toml", include_str!("../../../targets/http/etcd.toml"))
            .unwrap()
    }

    fn op(f: &'static str, value: Value) -> Op {
        Op::sample(f, "k1", value)
    }

    #[test]
    fn etcd_responses_are_classified_by_its_config() {
        let config = etcd();
        let read = op("read", Value::Null);
        let cas = op("cas", json!([1, 2]));
        let write = op("write", json!(5));
        let operations = config.http_operations().unwrap();
        let reads = &operations.read;
        let cass = operations.cas.as_ref().unwrap();
        let writes = &operations.write;
        let found = br#"{"header":{},"kvs":[{"key":"azE=","value":"MTAwMg=="}],"count":"1"}"#;
        assert_eq!(
            classify(&config, reads, &read, 200, found),
            Completion::Ok(json!(1002))
        );
        assert_eq!(
            classify(&config, reads, &read, 200, br#"{"header":{}}"#),
            Completion::Ok(Value::Null)
        );
        assert_eq!(
            classify(
                &config,
                cass,
                &cas,
                200,
                br#"{"header":{},"succeeded":true}"#
            ),
            Completion::Ok(json!([1, 2]))
        );
        assert!(matches!(
            classify(&config, cass, &cas, 200, br#"{"header":{}}"#),
            Completion::Fail(_)
        ));
        let no_quorum = br#"{"error":"etcdserver: request timed out","code":14}"#;
        assert_eq!(
            classify(&config, writes, &write, 503, no_quorum),
            Completion::Info(json!("http-503 code 14"))
        );
        assert!(matches!(
            classify(&config, writes, &write, 400, br#"{"code":3}"#),
            Completion::Fail(_)
        ));
    }
}
