//! A target file as TOML says it, before it is checked: the fields and their
//! defaults. [`super::parse`] turns it into a [`super::TargetConfig`].

use serde::Deserialize;
use serde_json::Value;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    pub name: String,
    #[serde(default = "http")]
    pub protocol: String,
    pub nodes: RawNodes,
    #[serde(default)]
    pub roles: Vec<RawRole>,
    #[serde(default)]
    pub bugs: RawBugs,
    pub operations: Option<RawOperations>,
    #[serde(default)]
    pub errors: RawErrors,
    #[serde(default)]
    pub capabilities: RawCapabilities,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawNodes {
    #[serde(default = "three")]
    pub count: usize,
    pub start: String,
    pub install: Option<String>,
    #[serde(default = "install_timeout")]
    pub install_timeout_s: f64,
    #[serde(default)]
    pub logs: Vec<String>,
    pub initial_cluster_member: Option<String>,
    #[serde(default = "comma")]
    pub initial_cluster_separator: String,
    pub ready: RawReady,
    pub restart: Option<String>,
    #[serde(default = "yes")]
    pub keep_data_dir: bool,
    pub stop: Option<String>,
    pub kill: Option<String>,
    pub pause: Option<String>,
    pub resume: Option<String>,
    pub client_port: Option<u16>,
    pub peer_port: Option<u16>,
    #[serde(default)]
    pub peers_on_client_port: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRole {
    pub name: String,
    #[serde(default = "one")]
    pub count: usize,
    pub start: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawBugs {
    #[serde(default)]
    pub names: Vec<String>,
    pub flag: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawReady {
    pub http: Option<String>,
    pub command: Option<String>,
    #[serde(default = "thirty")]
    pub timeout_s: f64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOperations {
    pub read: RawRequest,
    pub write: RawRequest,
    pub cas: Option<RawRequest>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRequest {
    pub method: String,
    pub path: String,
    pub body: Option<String>,
    pub body_if_absent: Option<String>,
    pub value: Option<String>,
    #[serde(default = "plain")]
    pub encoding: String,
    pub success: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawErrors {
    #[serde(default)]
    pub definite_statuses: Vec<u16>,
    pub code: Option<String>,
    #[serde(default)]
    pub definite_codes: Vec<Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCapabilities {
    #[serde(default = "netns_only")]
    pub partition: Vec<String>,
    #[serde(default = "yes")]
    pub kill: bool,
    #[serde(default = "yes")]
    pub pause: bool,
    #[serde(default)]
    pub clock: bool,
    pub clock_note: Option<String>,
    #[serde(default)]
    pub transactions: bool,
}

impl Default for RawCapabilities {
    fn default() -> Self {
        RawCapabilities {
            partition: netns_only(),
            kill: true,
            pause: true,
            clock: false,
            clock_note: None,
            transactions: false,
        }
    }
}

fn three() -> usize {
    3
}
fn one() -> usize {
    1
}
fn http() -> String {
    "http".to_string()
}
fn comma() -> String {
    ",".to_string()
}
fn yes() -> bool {
    true
}
fn thirty() -> f64 {
    30.0
}
fn plain() -> String {
    "plain".to_string()
}
fn netns_only() -> Vec<String> {
    vec!["netns".to_string()]
}

fn install_timeout() -> f64 {
    300.0
}
