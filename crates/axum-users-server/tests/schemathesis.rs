//! The OpenAPI document fuzzed against the running binary with Schemathesis (from PyPI, installed
//! by .ci/run): every documented operation, positive and negative data, and every check — no
//! 5xx, statuses, content types, headers and bodies as documented, invalid data refused, valid
//! data accepted, authentication enforced. Settings and the two documented exceptions are in
//! `tests/schemathesis/` (a configuration file and a hooks module).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{login, run, start_in, temp_dir};

/// The Schemathesis command line next to the test Python (`AXUM_USERS_TEST_PYTHON`, set by
/// .ci/run); `None` skips, except under CI where it fails.
fn schemathesis() -> Option<(String, PathBuf)> {
    let python = std::env::var("AXUM_USERS_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let found = Command::new(&python)
        .args(["-c", "import schemathesis"])
        .output()
        .is_ok_and(|out| out.status.success());
    if found {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/schemathesis");
        return Some((python, dir));
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "CI must run the Schemathesis test: install it (see .ci/run)"
    );
    eprintln!("skipped: no Python with schemathesis (pip install -r .ci/requirements.txt)");
    None
}

/// One `st run` against `base`; answers its exit status and its report.
fn st_run(python: &str, dir: &Path, base: &str, token: &str, args: &[&str]) -> (bool, String) {
    let work = std::env::temp_dir().join(format!("axum-users-st-{}", std::process::id()));
    std::fs::create_dir_all(&work).unwrap();
    let out = Command::new(python)
        .current_dir(&work)
        .env("PYTHONPATH", dir)
        .env("SCHEMATHESIS_HOOKS", "hooks")
        .args([
            "-c",
            "from schemathesis.cli import schemathesis; schemathesis()",
        ])
        .arg("--config-file")
        .arg(dir.join("schemathesis.toml"))
        .arg("--no-color")
        .args(["run", &format!("{base}/openapi.json")])
        .args(["--header", &format!("Authorization: Bearer {token}")])
        // Reproducible: a fixed seed and a bounded number of cases per operation, one worker
        // (Python 3.11's `ast` is not safe for Hypothesis' lambda descriptions across threads).
        .args([
            "--seed",
            "20261128",
            "--max-examples",
            "80",
            "--workers",
            "1",
        ])
        .args(["--generation-database", "none"])
        // Hypothesis health checks time the generator, which a busy CI machine can trip.
        .args(["--suppress-health-check", "all"])
        .args(args)
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&work);
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), report)
}

#[tokio::test]
async fn the_openapi_document_survives_schemathesis() {
    let Some((python, dir)) = schemathesis() else {
        return;
    };
    // Refresh tokens on: their routes are fuzzed too.
    let server = start_in(
        temp_dir("schemathesis"),
        &[("AXUM_USERS_REFRESH_TOKENS", "on".to_owned())],
    )
    .await;
    let out = run(
        &server.dir,
        &["create-superuser", "--email", "merlin@camelot.bt"],
        &[("AXUM_USERS_PASSWORD", "viviane-the-wise")],
    );
    assert!(out.status.success());
    let token = login(&server, "merlin@camelot.bt", "viviane-the-wise").await;

    // Every operation but "log out everywhere", which would end the session the others use.
    // Stateful chains are off for the same reason: they replay real ids, the caller's too.
    let (ok, report) = st_run(
        &python,
        &dir,
        &server.base,
        &token,
        &[
            "--exclude-path",
            "/auth/logout-everywhere",
            "--phases",
            "examples,coverage,fuzzing",
        ],
    );
    assert!(ok, "{report}");
    assert!(report.contains("Tested: 43"), "{report}");
    assert!(!report.contains("Runtime Error"), "{report}");

    // Then "log out everywhere" alone: the first valid call ends the session, the rest are 401s.
    let (ok, report) = st_run(
        &python,
        &dir,
        &server.base,
        &token,
        &["--include-path", "/auth/logout-everywhere"],
    );
    assert!(ok, "{report}");
    assert!(report.contains("Tested: 1"), "{report}");
}
