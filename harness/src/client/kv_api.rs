//! The bundled stores' client: an operation becomes a request of the HTTP/JSON
//! contract in `targets/kv-api`, and the response — or the error — becomes
//! `ok`, `fail` or `info` in [`classify`], following the error table in
//! `targets/README.md`.

use super::{Client, Completion, OpenError, Pending};
use crate::workload::Op;
use serde_json::{Value, json};

/// One node's base URL, parsed once: building each request from it skips the
/// URL parser's host handling, a visible share of the controller's time at
/// full speed.
#[derive(Debug, Clone)]
pub struct Endpoint(reqwest::Url);

impl Endpoint {
    /// The node at `address` (`host:port`).
    ///
    /// # Errors
    /// The address does not form a URL.
    pub fn new(address: &str) -> Result<Endpoint, OpenError> {
        reqwest::Url::parse(&format!("http://{address}/"))
            .map(Endpoint)
            .map_err(|error| OpenError {
                address: address.to_string(),
                reason: error.to_string(),
            })
    }

    fn url(&self, path: &str) -> reqwest::Url {
        let mut url = self.0.clone();
        url.set_path(path);
        url
    }
}

/// A node of a bundled store.
pub struct KvApiClient {
    endpoint: Endpoint,
    http: reqwest::Client,
}

impl KvApiClient {
    /// A client of the node at `address` (`host:port`).
    ///
    /// # Errors
    /// The address does not form a URL.
    pub fn new(address: &str, http: reqwest::Client) -> Result<KvApiClient, OpenError> {
        Ok(KvApiClient {
            endpoint: Endpoint::new(address)?,
            http,
        })
    }
}

impl Client for KvApiClient {
    fn invoke<'a>(&'a self, op: &'a Op) -> Pending<'a> {
        Box::pin(invoke(&self.http, &self.endpoint, op))
    }
}

/// Sends `op` to the node at `endpoint` and classifies the outcome.
pub async fn invoke(client: &reqwest::Client, endpoint: &Endpoint, op: &Op) -> Completion {
    let request = match op {
        Op::Read { key } => client.get(endpoint.url(&format!("/kv/{key}"))),
        Op::Write { key, value } => client
            .put(endpoint.url(&format!("/kv/{key}")))
            .body(format!("{{\"value\":{value}}}")),
        Op::Txn { .. } => client
            .post(endpoint.url("/txn"))
            .body(format!("{{\"txn\":{}}}", op.value())),
        Op::Cas { key, from, to } => client
            .post(endpoint.url(&format!("/kv/{key}/cas")))
            .body(format!("{{\"from\":{from},\"to\":{to}}}")),
    };
    let response = match request
        .header("content-type", "application/json")
        .send()
        .await
    {
        Ok(response) => response,
        Err(error) => {
            return classify(
                op,
                Outcome::Transport {
                    connect: error.is_connect(),
                    message: error.to_string(),
                },
            );
        }
    };
    let status = response.status().as_u16();
    match response.bytes().await {
        Ok(body) => classify(
            op,
            Outcome::Response {
                status,
                body: &body,
            },
        ),
        Err(error) => classify(
            op,
            Outcome::Transport {
                connect: false,
                message: error.to_string(),
            },
        ),
    }
}

/// What came back from a request.
pub enum Outcome<'a> {
    /// An HTTP response.
    Response {
        /// Its status.
        status: u16,
        /// Its body.
        body: &'a [u8],
    },
    /// No response.
    Transport {
        /// Whether the connection was never made (the request was not sent).
        connect: bool,
        /// The error.
        message: String,
    },
}

/// The one place outcomes are classified.
///
/// - 2xx: `ok`, with the value read (reads) or the value written.
/// - An error body saying `definite: true`: `fail`; `definite: false`: `info`.
/// - Any other 4xx: `fail` (refused); any other 5xx: `info`.
/// - No connection made: `fail`; a timeout or reset after sending: `info`.
/// - A read (or a read-only transaction) that did not succeed is `fail`
///   whatever happened: reads change nothing, so one that may have run is the
///   same as one that did not (Jepsen does the same), and its process need not
///   be retired.
pub fn classify(op: &Op, outcome: Outcome) -> Completion {
    let completion = match outcome {
        Outcome::Response { status, body } if (200..300).contains(&status) => match op {
            // What was read comes back: a read's value, a transaction's
            // micro-operations with their reads filled in.
            Op::Read { .. } | Op::Txn { .. } => {
                let is_read = matches!(op, Op::Read { .. });
                let field = if is_read { "value" } else { "txn" };
                match serde_json::from_slice::<Value>(body) {
                    Ok(mut reply) if is_read || reply[field].is_array() => {
                        Completion::Ok(reply[field].take())
                    }
                    Ok(reply) => Completion::Info(json!(format!(
                        "a transaction reply without its micro-operations: {reply}"
                    ))),
                    Err(error) => Completion::Info(json!(format!("unreadable reply: {error}"))),
                }
            }
            Op::Write { value, .. } => Completion::Ok(value.clone()),
            Op::Cas { .. } => Completion::Ok(op.value()),
        },
        Outcome::Response { status, body } => {
            match serde_json::from_slice::<kv_api_error::ErrorBody>(body) {
                Ok(error) if error.definite => Completion::Fail(json!(error.error)),
                Ok(error) => Completion::Info(json!(error.error)),
                Err(_) if (400..500).contains(&status) => {
                    Completion::Fail(json!(format!("http-{status}")))
                }
                Err(_) => Completion::Info(json!(format!("http-{status}"))),
            }
        }
        Outcome::Transport { connect, message } => super::transport(connect, &message),
    };
    super::settle(op, completion)
}

/// The error body of the bundled stores' API, as read here.
mod kv_api_error {
    /// `{"error": code, "message": …, "definite": bool}`.
    #[derive(serde::Deserialize)]
    pub struct ErrorBody {
        pub error: String,
        pub definite: bool,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(f: &'static str, value: Value) -> Op {
        Op::sample(f, "k", value)
    }

    #[test]
    fn outcomes_classify_by_the_error_table() {
        let write = op("write", json!(3));
        let read = op("read", Value::Null);
        let cas = op("cas", json!([1, 2]));
        let error = |code: &str, definite: bool| {
            json!({"error": code, "message": "m", "definite": definite}).to_string()
        };
        let cases = [
            (
                &write,
                200,
                "{\"ok\":true}".to_string(),
                Completion::Ok(json!(3)),
            ),
            (
                &read,
                200,
                "{\"value\":7}".to_string(),
                Completion::Ok(json!(7)),
            ),
            (
                &read,
                200,
                "{\"value\":null}".to_string(),
                Completion::Ok(Value::Null),
            ),
            (
                &cas,
                409,
                error("precondition-failed", true),
                Completion::Fail(json!("precondition-failed")),
            ),
            (
                &write,
                503,
                error("unavailable", true),
                Completion::Fail(json!("unavailable")),
            ),
            (
                &write,
                504,
                error("timeout", false),
                Completion::Info(json!("timeout")),
            ),
            (
                &write,
                500,
                "oops".to_string(),
                Completion::Info(json!("http-500")),
            ),
            (
                &write,
                404,
                "nope".to_string(),
                Completion::Fail(json!("http-404")),
            ),
            (
                &read,
                504,
                error("timeout", false),
                Completion::Fail(json!("timeout")),
            ),
        ];
        for (op, status, body, expected) in cases {
            let outcome = Outcome::Response {
                status,
                body: body.as_bytes(),
            };
            assert_eq!(
                classify(op, outcome),
                expected,
                "{} {status} {body}",
                op.f()
            );
        }
        let garbage = classify(
            &read,
            Outcome::Response {
                status: 200,
                body: b"garbage",
            },
        );
        assert!(
            matches!(garbage, Completion::Fail(_)),
            "an unreadable read reply: {garbage:?}"
        );
        let refused = Outcome::Transport {
            connect: true,
            message: "refused".into(),
        };
        assert_eq!(
            classify(&write, refused),
            Completion::Fail(json!("connect: refused"))
        );
        let timeout = Outcome::Transport {
            connect: false,
            message: "timed out".into(),
        };
        assert_eq!(
            classify(&cas, timeout),
            Completion::Info(json!("indeterminate: timed out"))
        );
    }
}
