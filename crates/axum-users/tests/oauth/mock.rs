//! The oauth2-mock-server process (an OpenID Connect provider on loopback), shared by the
//! library's, the server's and the examples' OAuth tests.

#![allow(dead_code)]

use std::process::{Child, Command, Stdio};

/// The oauth2-mock-server process; `None` (skip) when it is not installed, except under CI.
pub struct MockProvider {
    child: Child,
    pub issuer: String,
}

impl Drop for MockProvider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn mock_provider() -> Option<MockProvider> {
    let module = std::env::var("OAUTH2_MOCK_SERVER").ok().or_else(|| {
        let default = std::path::Path::new(&std::env::var("HOME").unwrap_or_default())
            .join(".cache/axum-users-node/node_modules/oauth2-mock-server/dist/index.mjs");
        default
            .exists()
            .then(|| default.to_string_lossy().into_owned())
    });
    let Some(module) = module else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must run the OAuth tests: install oauth2-mock-server (see .ci/run)"
        );
        eprintln!("skipped: oauth2-mock-server is not installed (see .ci/run)");
        return None;
    };
    // The library's, the server's and the examples' tests use it: found from the workspace.
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .map(|dir| dir.join("crates/axum-users/tests/oauth/mock-provider.mjs"))
        .find(|path| path.exists())
        .expect("the workspace's mock provider script");
    let mut child = Command::new("node")
        .arg(script)
        .env("OAUTH2_MOCK_SERVER", module)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("node");
    let mut line = String::new();
    let stdout = child.stdout.take().unwrap();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line).unwrap();
    assert!(
        line.starts_with("http://"),
        "the mock provider said {line:?}"
    );
    Some(MockProvider {
        child,
        issuer: line.trim().to_owned(),
    })
}
