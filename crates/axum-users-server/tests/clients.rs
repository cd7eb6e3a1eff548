//! Clients generated from the running server's `/openapi.json` by the tools FastAPI users use,
//! then driven through the whole flow against the server: openapi-python-client (PyPI) and
//! @hey-api/openapi-ts with TypeScript (npm), both installed by .ci/run. The TypeScript code is
//! written against the client generated from FastAPI Users' own document, and must compile
//! against ours unchanged.

mod common;

use std::path::Path;
use std::process::Command;

use common::{run, start_in, temp_dir};

/// The Python with openapi-python-client and FastAPI Users; `None` skips, except under CI.
fn python() -> Option<String> {
    let python = std::env::var("AXUM_USERS_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let found = Command::new(&python)
        .args(["-c", "import openapi_python_client, fastapi_users"])
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

/// The server in `dir`, its e-mails in `dir/outbox`, with the superuser
/// `merlin@camelot.bt` / `viviane-the-lady`.
async fn server_with_admin(dir: &Path) -> common::Server {
    server_with_admin_and(dir, &[]).await
}

/// As [`server_with_admin`], with more settings.
async fn server_with_admin_and(dir: &Path, more: &[(&str, &str)]) -> common::Server {
    let mut envs = vec![("AXUM_USERS_VERIFY_ON_REGISTER", "false".to_owned())];
    envs.extend(more.iter().map(|(k, v)| (*k, (*v).to_owned())));
    let server = start_in(dir.to_path_buf(), &envs).await;
    let created = run(
        dir,
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
    server
}

#[tokio::test]
async fn a_generated_python_client_imports_and_runs_the_whole_flow() {
    python_client_flow("python-client", &[]).await;
}

/// The same generated client and flow with refresh tokens on: the logins' answers only grow a
/// key, which the client written for FastAPI Users never reads.
#[tokio::test]
async fn a_generated_python_client_runs_the_flow_with_refresh_tokens_on() {
    python_client_flow(
        "python-client-refresh",
        &[("AXUM_USERS_REFRESH_TOKENS", "on")],
    )
    .await;
}

async fn python_client_flow(name: &str, settings: &[(&str, &str)]) {
    let Some(python) = python() else {
        return;
    };
    let dir = temp_dir(name);
    let outbox = dir.join("outbox");
    let server = server_with_admin_and(&dir, settings).await;
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

/// The generated code's tools: `node_modules` with @hey-api/openapi-ts, typescript and
/// @types/node; `None` skips, except under CI.
fn node_modules() -> Option<std::path::PathBuf> {
    let modules = std::env::var("AXUM_USERS_TEST_NODE_MODULES")
        .ok()
        .map(std::path::PathBuf::from)
        .filter(|m| m.join("@hey-api/openapi-ts").exists() && m.join("typescript").exists());
    if modules.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must run the generated-client tests: .ci/run installs @hey-api/openapi-ts"
        );
        eprintln!("skipped: no @hey-api/openapi-ts");
    }
    modules
}

/// Generates the TypeScript client of `document` into `dir/client` and compiles
/// `tests/clients/usage.ts` against it.
fn typescript_client(modules: &Path, document: &Path, dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    succeed(
        Command::new("node")
            .arg(modules.join("@hey-api/openapi-ts/bin/run.js"))
            .arg("-i")
            .arg(document)
            .arg("-o")
            .arg(dir.join("client")),
    );
    let sources = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/clients");
    for file in ["usage.ts", "tsconfig.json"] {
        std::fs::copy(format!("{sources}/{file}"), dir.join(file)).unwrap();
    }
    succeed(
        Command::new("node")
            .arg(modules.join("typescript/bin/tsc"))
            .arg("-p")
            .arg(dir.join("tsconfig.json"))
            .arg("--typeRoots")
            .arg(modules.join("@types")),
    );
}

#[tokio::test]
async fn typescript_written_for_fastapi_users_compiles_against_our_client_and_runs() {
    let (Some(python), Some(modules)) = (python(), node_modules()) else {
        return;
    };
    let dir = temp_dir("typescript-client");
    let outbox = dir.join("outbox");
    let server = server_with_admin(&dir).await;
    let work = dir.join("typescript");
    std::fs::create_dir_all(&work).unwrap();
    // FastAPI Users' own document, as its users generate their clients from it.
    let theirs = succeed(Command::new(&python).arg(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/clients/fastapi_users_document.py"
    )));
    std::fs::write(work.join("fastapi-users.json"), theirs).unwrap();
    let ours = reqwest::get(format!("{}/openapi.json", server.base))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    std::fs::write(work.join("axum-users.json"), ours).unwrap();
    // The code is right for FastAPI Users' client, and compiles unchanged against ours.
    typescript_client(
        &modules,
        &work.join("fastapi-users.json"),
        &work.join("theirs"),
    );
    typescript_client(&modules, &work.join("axum-users.json"), &work.join("ours"));
    let out = succeed(
        Command::new("node")
            .arg(work.join("ours/dist/usage.js"))
            .arg(&server.base)
            .arg(&outbox)
            .args(["merlin@camelot.bt", "viviane-the-lady"]),
    );
    assert_eq!(out.trim(), "flow ok");
}
