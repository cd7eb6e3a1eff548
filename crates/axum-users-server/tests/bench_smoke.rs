//! The benchmark harness (`bench/run`) in smoke mode: every scenario for one second against this
//! build's binaries, FastAPI Users and the ceiling, so that the harness never rots. The figures
//! of a debug build mean nothing; only that every scenario runs and answers correctly.
//! Needs wrk, Redis, valgrind and a Python with bench/requirements.txt (all set up by .ci/run).

use std::io::Write as _;
use std::path::Path;
use std::process::Command;

#[test]
fn bench_harness_runs_every_scenario() {
    let python = std::env::var("AXUM_USERS_TEST_PYTHON").ok();
    let wrk = Command::new("wrk").arg("--version").output().is_ok()
        && Command::new("valgrind").arg("--version").output().is_ok();
    let redis = std::env::var_os("TEST_REDIS_URL").is_some();
    let (Some(python), true, true) = (python, wrk, redis) else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must run the benchmark smoke test: .ci/run installs wrk and valgrind and sets AXUM_USERS_TEST_PYTHON and TEST_REDIS_URL"
        );
        let _ = writeln!(
            std::io::stderr(),
            "skipped: benchmark smoke test (needs wrk, valgrind, AXUM_USERS_TEST_PYTHON and TEST_REDIS_URL; .ci/run has them)"
        );
        return;
    };
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let out = std::env::temp_dir().join(format!("axum-users-bench-{}.md", std::process::id()));
    let run = Command::new("bash")
        .arg(root.join("bench/run"))
        .args(["--smoke", "--out"])
        .arg(&out)
        .env("BENCH_SERVER_BIN", env!("CARGO_BIN_EXE_axum-users"))
        .env(
            "BENCH_CEILING_BIN",
            env!("CARGO_BIN_EXE_axum-users-bench-ceiling"),
        )
        .env("BENCH_PYTHON", python)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    let report = std::fs::read_to_string(&out).unwrap();
    let _ = std::fs::remove_file(&out);
    for heading in [
        "## 1. GET /users/me, JWT",
        "## 2. GET /users/me, db token",
        "## 2. GET /users/me, redis token",
        "## 3. POST /auth/jwt/login",
        "## 4. POST /auth/register",
        "## 5. GET /users/me during a login storm",
        "## 6. Cold start",
        "## 7. POST /auth/jwt/refresh",
        "## 8. Instructions per GET /users/me, JWT (callgrind)",
    ] {
        assert!(report.contains(heading), "{heading} missing from\n{report}");
    }
    assert!(report.contains("| ceiling (bare axum, user in memory) |"));
    // Instructions per request: counted, not timed, so they mean something on any machine
    // (for this debug build). Shown outside the test's captured output.
    let stdout = String::from_utf8_lossy(&run.stdout);
    let counted: Vec<&str> = stdout
        .lines()
        .filter(|l| l.contains("8. Instructions"))
        .collect();
    assert_eq!(counted.len(), 2, "{stdout}");
    for line in counted {
        let instructions: f64 = line
            .rsplit("instructions ")
            .next()
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or_else(|| panic!("{line}"));
        assert!(instructions > 1000.0, "{line}");
        let _ = writeln!(std::io::stderr(), "bench smoke (debug build):{line}");
    }
    assert!(report.contains("| FastAPI Users, 1 worker |"));
    // Our server answered every request of every scenario correctly (the "bad" column is 0).
    let ours: Vec<&str> = report
        .lines()
        .filter(|l| l.starts_with("| axum-users") && !l.contains("Cold"))
        .collect();
    assert!(ours.len() >= 8, "{report}");
    for row in ours {
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        let header = report
            .lines()
            .take_while(|l| *l != row)
            .filter(|l| l.starts_with("| system"))
            .last()
            .unwrap();
        let names: Vec<&str> = header.split('|').map(str::trim).collect();
        if let Some(bad) = names.iter().position(|n| *n == "bad") {
            assert_eq!(cells[bad], "0", "{row}");
        }
    }
}
