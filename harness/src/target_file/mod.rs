//! Target configs: a store nobody here wrote, described in TOML — how to start,
//! stop, kill, pause and restart its nodes, how read, write and cas become HTTP
//! requests and responses become `ok`, `fail` or `info`, and what faults it can
//! take. Everything is checked when the file is read, before anything starts,
//! and errors name the field. `targets/http/etcd.toml` is the worked example.

mod locate;
mod operations;
mod raw;
pub mod template;

use operations::{check_pointer, http_operations};
use raw::RawConfig;

use serde_json::Value;
use std::path::Path;
use template::Template;

/// Placeholders of the commands that stop, kill, pause and resume a node:
/// those of its start command, and its process id.
pub const CONTROL_PLACEHOLDERS: &[&str] = &[
    "id",
    "host",
    "client_port",
    "peer_port",
    "data_dir",
    "initial_cluster",
    "exe",
    "pid",
];
/// Placeholders of a node's start, restart and ready templates: all but `{pid}`
/// (a node not yet started has none). `{exe}` is this faultline binary, for
/// stores it serves itself (`faultline node …`).
pub const NODE_PLACEHOLDERS: &[&str] = CONTROL_PLACEHOLDERS.split_at(7).0;
/// Placeholders of an operation's path and body.
pub const OPERATION_PLACEHOLDERS: &[&str] = &["key", "value", "old", "new"];

/// A store's config, checked.
#[derive(Debug, Clone)]
pub struct TargetConfig {
    /// The store's name (the run's test name starts with it).
    pub name: String,
    /// Its nodes.
    pub nodes: NodeSpec,
    /// Processes beside the nodes (chain-kv's configuration master): clients
    /// never use them and faults never touch them; a partition puts them on
    /// the best-connected side.
    pub roles: Vec<Role>,
    /// The bugs that can be planted in it (the bundled stores).
    pub bugs: Bugs,
    /// How clients speak to it.
    pub protocol: Protocol,
    /// Which failures are definite.
    pub errors: Errors,
    /// What faults it can take.
    pub capabilities: Capabilities,
}

/// How clients speak to a store.
#[derive(Debug, Clone)]
pub enum Protocol {
    /// The bundled stores' HTTP/JSON contract (`targets/kv-api`), with its
    /// own client.
    KvApi,
    /// HTTP requests described by `[operations]`.
    Http(Box<Operations>),
}

/// A kind of process beside the nodes.
#[derive(Debug, Clone)]
pub struct Role {
    /// Its name.
    pub name: String,
    /// Its processes' ids: the name alone for one, `name1`, `name2`, … for more.
    pub ids: Vec<String>,
    /// Its start command (default: the nodes').
    pub start: Option<Vec<Template>>,
}

/// Planted bugs.
#[derive(Debug, Clone, Default)]
pub struct Bugs {
    /// Their names.
    pub names: Vec<String>,
    /// Words added to every start and restart command when one is planted
    /// (`{bug}` is its name).
    pub flag: Vec<Template>,
}

/// How nodes run.
#[derive(Debug, Clone)]
pub struct NodeSpec {
    /// Nodes unless `--nodes` says otherwise.
    pub count: usize,
    /// The command that starts a node (words split on spaces).
    pub start: Vec<Template>,
    /// A command run once on each process's host before its first start
    /// (unpack a release, create a user, …), with the start command's placeholders.
    pub install: Option<Vec<Template>>,
    /// Seconds the install command may take.
    pub install_timeout_s: f64,
    /// Files a process writes besides its output (which is its log already),
    /// fetched from its host into the store when the run ends.
    pub logs: Vec<Template>,
    /// One member of `{initial_cluster}`.
    pub initial_cluster_member: Template,
    /// Between members of `{initial_cluster}`.
    pub initial_cluster_separator: String,
    /// How to know a node is ready.
    pub ready: Ready,
    /// Seconds to wait for the cluster to be ready.
    pub ready_timeout_s: f64,
    /// The command that restarts a killed node (default: `start`).
    pub restart: Option<Vec<Template>>,
    /// Whether a node's data dir survives a restart (else it is emptied).
    pub keep_data_dir: bool,
    /// Commands instead of signals to the node's process group: stop (at the
    /// end, else SIGKILL), kill (else SIGKILL), pause (else SIGSTOP), resume
    /// (else SIGCONT).
    pub control: Control,
    /// Fixed client port (else a free one per node).
    pub client_port: Option<u16>,
    /// Fixed peer port (else a free one per node).
    pub peer_port: Option<u16>,
    /// Whether peers reach each other on the client port (the bundled stores).
    pub peers_on_client_port: bool,
}

/// Commands that control a node, where signals will not do.
#[derive(Debug, Clone, Default)]
pub struct Control {
    /// Stops it at the end of a run (the harness waits 5 s, then SIGKILLs).
    pub stop: Option<Vec<Template>>,
    /// Kills it as a crash.
    pub kill: Option<Vec<Template>>,
    /// Pauses it.
    pub pause: Option<Vec<Template>>,
    /// Resumes it.
    pub resume: Option<Vec<Template>>,
}

/// A readiness probe.
#[derive(Debug, Clone)]
pub enum Ready {
    /// A GET that answers 2xx.
    Http(Template),
    /// A command that exits 0.
    Command(Vec<Template>),
}

/// The operations.
#[derive(Debug, Clone)]
pub struct Operations {
    /// Read a key.
    pub read: Request,
    /// Write a key.
    pub write: Request,
    /// Compare-and-set, if the store has it.
    pub cas: Option<Request>,
}

/// One operation as an HTTP request, and how to read its response.
#[derive(Debug, Clone)]
pub struct Request {
    /// GET, PUT, POST or DELETE.
    pub method: reqwest::Method,
    /// The path (placeholders percent-encoded).
    pub path: Template,
    /// The JSON body, if any (placeholders JSON-escaped).
    pub body: Option<Template>,
    /// For a cas whose expected value is absent: the body instead.
    pub body_if_absent: Option<Template>,
    /// Where a read's value is in the response (missing: absent).
    pub value: Option<String>,
    /// How that value is encoded.
    pub value_encoding: template::Encoding,
    /// Where a cas's success flag is (missing: false, a definite failure).
    pub success: Option<String>,
}

/// Which failures are definite; every other error leaves a write's or a cas's
/// outcome unknown (a read's is a failure whatever happened).
#[derive(Debug, Clone)]
pub struct Errors {
    /// HTTP statuses that mean the operation did not happen.
    pub definite_statuses: Vec<u16>,
    /// Where an error's code is in the body.
    pub code: Option<String>,
    /// Codes that mean the operation did not happen.
    pub definite_codes: Vec<Value>,
}

/// What faults the store can take.
#[derive(Debug, Clone)]
pub struct Capabilities {
    /// Partition backends that work (`netns`, `proxy`).
    pub partition: Vec<String>,
    /// Whether nodes may be killed and restarted.
    pub kill: bool,
    /// Whether nodes may be paused.
    pub pause: bool,
    /// Whether libfaketime moves the store's clock.
    pub clock: bool,
    /// Why not, if not.
    pub clock_note: Option<String>,
    /// Whether it serves multi-key transactions (`txn`).
    pub transactions: bool,
}

/// A target file that cannot be used: which file, where, and what was expected.
/// It is the user's input that is wrong, never the harness.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}{}: {}{message}", line.map(|line| format!(":{line}")).unwrap_or_default(), field.as_ref().map(|field| format!("{field}: ")).unwrap_or_default())]
pub struct TargetFileError {
    /// The file as the user named it.
    pub file: String,
    /// The line (from 1) of the field or of the syntax error, when known.
    pub line: Option<usize>,
    /// The field, dotted as in the file (`operations.read.value`, `roles[1].start`).
    pub field: Option<String>,
    /// What is wrong and what was expected.
    pub message: String,
}

/// Reads and checks the config at `path`.
///
/// # Errors
/// `FILE:LINE: FIELD: what is wrong and what was expected`.
pub fn load(path: &Path) -> Result<TargetConfig, TargetFileError> {
    let text = std::fs::read_to_string(path).map_err(|error| TargetFileError {
        file: path.display().to_string(),
        line: None,
        field: None,
        message: format!("cannot read the target config: {error}"),
    })?;
    parse(&path.display().to_string(), &text)
}

/// Checks a config's `text`; `file` names it in errors.
///
/// # Errors
/// As [`load`].
pub fn parse(file: &str, text: &str) -> Result<TargetConfig, TargetFileError> {
    let raw: RawConfig = toml::from_str(text).map_err(|error| TargetFileError {
        file: file.to_string(),
        // The line holding the span's first byte.
        line: error.span().map(|span| {
            1 + text.as_bytes()[..span.start.min(text.len())]
                .iter()
                .filter(|&&byte| byte == b'\n')
                .count()
        }),
        field: None,
        message: error.message().trim_end().to_string(),
    })?;
    let at = |field: &str, problem: String| TargetFileError {
        file: file.to_string(),
        line: locate::line_of(text, field),
        field: Some(field.to_string()),
        message: problem,
    };
    if raw.name.trim().is_empty()
        || !raw
            .name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(at(
            "name",
            format!("{:?}: expected letters, digits, - or _", raw.name),
        ));
    }
    let command_template = |field: &str, text: &str, allowed: &[&str]| {
        words(text)
            .iter()
            .map(|word| Template::parse(word, allowed))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|problem| at(field, problem))
            .and_then(|words| {
                if words.is_empty() {
                    Err(at(field, "an empty command".to_string()))
                } else {
                    Ok(words)
                }
            })
    };
    let node_template = |field: &str, text: &str| command_template(field, text, NODE_PLACEHOLDERS);
    let control_template = |field: &str, text: &Option<String>| match text {
        Some(text) => command_template(field, text, CONTROL_PLACEHOLDERS).map(Some),
        None => Ok(None),
    };
    let nodes = &raw.nodes;
    let control = Control {
        stop: control_template("nodes.stop", &nodes.stop)?,
        kill: control_template("nodes.kill", &nodes.kill)?,
        pause: control_template("nodes.pause", &nodes.pause)?,
        resume: control_template("nodes.resume", &nodes.resume)?,
    };
    if control.pause.is_some() != control.resume.is_some() {
        return Err(at(
            "nodes.resume",
            "nodes.pause and nodes.resume come together (or neither: SIGSTOP and SIGCONT)"
                .to_string(),
        ));
    }
    if nodes.count == 0 {
        return Err(at("nodes.count", "must be at least 1".to_string()));
    }
    let start = node_template("nodes.start", &nodes.start)?;
    let install = match &nodes.install {
        Some(text) => Some(node_template("nodes.install", text)?),
        None => None,
    };
    if !(nodes.install_timeout_s > 0.0 && nodes.install_timeout_s.is_finite()) {
        return Err(at(
            "nodes.install_timeout_s",
            format!(
                "{}: expected a positive number of seconds",
                nodes.install_timeout_s
            ),
        ));
    }
    let logs = nodes
        .logs
        .iter()
        .map(|path| Template::parse(path, NODE_PLACEHOLDERS))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|problem| at("nodes.logs", problem))?;
    let restart = match &nodes.restart {
        Some(text) => Some(node_template("nodes.restart", text)?),
        None => None,
    };
    let initial_cluster_member = Template::parse(
        nodes
            .initial_cluster_member
            .as_deref()
            .unwrap_or("{id}={host}:{peer_port}"),
        &NODE_PLACEHOLDERS[..4],
    )
    .map_err(|problem| at("nodes.initial_cluster_member", problem))?;
    let ready = match (&nodes.ready.http, &nodes.ready.command) {
        (Some(url), None) => {
            let template = Template::parse(url, NODE_PLACEHOLDERS)
                .map_err(|problem| at("nodes.ready.http", problem))?;
            if !url.starts_with("http://") {
                return Err(at(
                    "nodes.ready.http",
                    format!("{url:?}: expected an http:// URL"),
                ));
            }
            Ready::Http(template)
        }
        (None, Some(command)) => Ready::Command(node_template("nodes.ready.command", command)?),
        _ => {
            return Err(at(
                "nodes.ready",
                "expected exactly one of http (a URL answering 2xx) or command (exiting 0)"
                    .to_string(),
            ));
        }
    };
    if !(nodes.ready.timeout_s > 0.0 && nodes.ready.timeout_s.is_finite()) {
        return Err(at(
            "nodes.ready.timeout_s",
            "must be a positive number of seconds".to_string(),
        ));
    }
    if let (Some(client), Some(peer)) = (nodes.client_port, nodes.peer_port)
        && client == peer
    {
        return Err(at(
            "nodes.peer_port",
            format!("{peer} is nodes.client_port too: a port clash"),
        ));
    }
    let protocol = match (raw.protocol.as_str(), &raw.operations) {
        ("kv-api", None) => Protocol::KvApi,
        ("kv-api", Some(_)) => {
            return Err(at(
                "operations",
                "protocol = \"kv-api\" has its own requests; leave [operations] out".to_string(),
            ));
        }
        ("http", Some(operations)) => Protocol::Http(Box::new(http_operations(&at, operations)?)),
        ("http", None) => {
            return Err(at(
                "operations",
                "missing: how read, write and cas become HTTP requests ([operations.read] …)"
                    .to_string(),
            ));
        }
        (other, _) => {
            return Err(at(
                "protocol",
                format!("{other:?}: expected http (requests by [operations]) or kv-api"),
            ));
        }
    };
    let mut roles = Vec::new();
    for (index, role) in raw.roles.iter().enumerate() {
        let field = format!("roles[{index}]");
        if role.name.is_empty() || !role.name.chars().all(|c| c.is_ascii_lowercase()) {
            return Err(at(
                &format!("{field}.name"),
                format!("{:?}: expected lower-case letters", role.name),
            ));
        }
        if role.name == "n" || !(1..=9).contains(&role.count) {
            return Err(at(
                &field,
                "a role other than the nodes (\"n\"), of 1 to 9 processes".to_string(),
            ));
        }
        let ids = if role.count == 1 {
            vec![role.name.clone()]
        } else {
            (1..=role.count)
                .map(|n| format!("{}{n}", role.name))
                .collect()
        };
        let start = match &role.start {
            Some(text) => Some(node_template(&format!("{field}.start"), text)?),
            None => None,
        };
        roles.push(Role {
            name: role.name.clone(),
            ids,
            start,
        });
    }
    let bugs = Bugs {
        names: raw.bugs.names.clone(),
        flag: match (&raw.bugs.flag, raw.bugs.names.is_empty()) {
            (Some(text), false) => words(text)
                .iter()
                .map(|word| Template::parse(word, &["bug"]))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|problem| at("bugs.flag", problem))?,
            (None, false) => {
                return Err(at(
                    "bugs.flag",
                    "missing: the words that plant a bug, e.g. \"--bug {bug}\"".to_string(),
                ));
            }
            (_, true) => Vec::new(),
        },
    };
    if let Some(pointer) = &raw.errors.code {
        check_pointer(&at, "errors.code", pointer)?;
    }
    for backend in &raw.capabilities.partition {
        if backend != "netns" && backend != "proxy" {
            return Err(at(
                "capabilities.partition",
                format!("unknown backend {backend:?}; expected netns or proxy"),
            ));
        }
    }
    Ok(TargetConfig {
        name: raw.name,
        nodes: NodeSpec {
            count: nodes.count,
            start,
            install,
            install_timeout_s: nodes.install_timeout_s,
            logs,
            initial_cluster_member,
            initial_cluster_separator: nodes.initial_cluster_separator.clone(),
            ready,
            ready_timeout_s: nodes.ready.timeout_s,
            restart,
            keep_data_dir: nodes.keep_data_dir,
            control,
            client_port: nodes.client_port,
            peer_port: nodes.peer_port,
            peers_on_client_port: nodes.peers_on_client_port,
        },
        roles,
        bugs,
        protocol,
        errors: Errors {
            definite_statuses: raw.errors.definite_statuses,
            code: raw.errors.code,
            definite_codes: raw.errors.definite_codes,
        },
        capabilities: Capabilities {
            partition: raw.capabilities.partition,
            kill: raw.capabilities.kill,
            pause: raw.capabilities.pause,
            clock: raw.capabilities.clock,
            clock_note: raw.capabilities.clock_note,
            transactions: raw.capabilities.transactions,
        },
    })
}

/// A command line split into words on spaces (no quoting: each word is one
/// argument, so values never pass through a shell).
pub fn words(text: &str) -> Vec<&str> {
    text.split_whitespace().collect()
}

impl TargetConfig {
    /// The HTTP requests, for a store spoken to by `[operations]`.
    pub fn http_operations(&self) -> Option<&Operations> {
        match &self.protocol {
            Protocol::Http(operations) => Some(operations),
            Protocol::KvApi => None,
        }
    }

    /// Whether it serves compare-and-set.
    pub fn serves_cas(&self) -> bool {
        match &self.protocol {
            Protocol::Http(operations) => operations.cas.is_some(),
            Protocol::KvApi => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ETCD: &str = include_str!("../../../targets/http/etcd.toml");

    #[test]
    fn the_etcd_config_is_valid() {
        let config = parse("etcd.toml", ETCD).unwrap();
        assert_eq!(config.name, "etcd");
        assert_eq!(config.nodes.count, 3);
        assert!(config.http_operations().unwrap().cas.is_some());
        assert!(!config.capabilities.clock);
        assert_eq!(config.capabilities.partition, ["netns"]);
    }

    /// The error of the etcd config with `from` replaced by `to`, which must contain `expected`.
    fn refused(from: &str, to: &str, expected: &str) {
        assert!(ETCD.contains(from), "{from}");
        let error = parse("t.toml", &ETCD.replacen(from, to, 1))
            .unwrap_err()
            .to_string();
        assert!(error.contains(expected), "{error}");
    }

    #[test]
    fn config_errors_name_the_field() {
        refused(
            "[operations.write]",
            "[operations.unused]",
            "t.toml:34: unknown field `unused`",
        );
        refused(
            "{new:base64}",
            "{nwe:base64}",
            "t.toml:42: operations.cas.body: unknown placeholder {nwe}; expected one of {key}, {value}, {old}, {new}",
        );
        refused(
            r#""key": "{key:base64}"}'"#,
            r#""key": {key:base64}}'"#,
            "t.toml:29: operations.read.body: not JSON",
        );
        refused(
            "[nodes]",
            "[nodes]\nclient_port = 2379\npeer_port = 2379",
            "t.toml:11: nodes.peer_port: 2379 is nodes.client_port too: a port clash",
        );
        refused(
            "--name {id}",
            "--name {name}",
            "t.toml:12: nodes.start: unknown placeholder {name}",
        );
        refused(
            "method = \"POST\"",
            "method = \"FETCH\"",
            "t.toml:27: operations.read.method: \"FETCH\"",
        );
        refused(
            "[nodes.ready]",
            "pause = \"kill -STOP {pid}\"\n[nodes.ready]",
            "t.toml:9: nodes.resume: nodes.pause and nodes.resume come together",
        );
    }
}
