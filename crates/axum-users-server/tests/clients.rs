//! Clients generated from the running server's `/openapi.json` by the tools FastAPI users use,
//! then driven through the whole flow against the server: openapi-python-client (PyPI, installed
//! by .ci/run).

mod common;

use std::path::Path;
use std::process::Command;

use common::{run, start_in, temp_dir};

/// The Python with openapi-python-client; `None` skips, except under CI.
fn python() -> Option<String> {
    let python = std::env::var("AXUM_USERS_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let found = Command::new(&python)
        .args(["-c", "import openapi_python_client"])
        .output()
        .is_ok_and(|out| out.status.success());
    if !found {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must run the generated-client tests: .ci/run installs openapi-python-client"
        );
        eprintln!("skipped: no Python with openapi-python-client");
        return None;
    }
    Some(python)
}

/// Runs a command and fails the test with its output if it fails.
fn succeed(command: &mut Command) -> String {
    let output = command.output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{command:?} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

#[tokio::test]
async fn a_generated_python_client_imports_and_runs_the_whole_flow() {
    let Some(python) = python() else {
        return;
    };
    let dir = temp_dir("python-client");
    let outbox = dir.join("outbox");
    let envs = [("AXUM_USERS_VERIFY_ON_REGISTER", "false".to_owned())];
    let server = start_in(dir.clone(), &envs).await;
    let created = run(
        &dir,
        &[
            "create-superuser",
            "--email",
            "merlin@camelot.bt",
            "--password",
            "viviane-the-lady",
        ],
        &[],
    );
    assert!(created.status.success(), "{created:?}");
    let document = reqwest::get(format!("{}/openapi.json", server.base))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let generated = dir.join("generated");
    std::fs::create_dir_all(&generated).unwrap();
    let path = generated.join("openapi.json");
    std::fs::write(&path, document).unwrap();
    // The generator formats its output with ruff, installed beside it.
    let bin = Path::new(&python).parent().unwrap_or(Path::new(""));
    let search = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    succeed(
        Command::new(&python)
            .args(["-m", "openapi_python_client", "generate", "--meta", "none"])
            .arg("--path")
            .arg(&path)
            .arg("--output-path")
            .arg(generated.join("client"))
            .env("PATH", &search),
    );
    // Every generated module imports (login's used to raise NameError: Unset).
    let imports = "import importlib, pkgutil, sys; sys.path.insert(0, sys.argv[1]); \
                   import client.api; \
                   [importlib.import_module(m.name) for m in pkgutil.walk_packages(client.api.__path__, 'client.api.')]; \
                   print('imported')";
    let out = succeed(Command::new(&python).args(["-c", imports]).arg(&generated));
    assert_eq!(out.trim(), "imported");
    let flow = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/clients/python_flow.py");
    let out = succeed(
        Command::new(&python)
            .arg(flow)
            .arg(&generated)
            .arg(&server.base)
            .arg(&outbox)
            .args(["merlin@camelot.bt", "viviane-the-lady"]),
    );
    assert_eq!(out.trim(), "flow ok");
}
