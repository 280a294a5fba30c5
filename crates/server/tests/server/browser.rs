//! The UI in real headless Chromium (Debian's `chromium`, driven by
//! playwright-core from `tests/browser/ui.cjs`): the map renders countries
//! coloured by level, the language switch works and is remembered, an
//! incident opens on the board, and a check-in answer given on the phone
//! page shows on the board. Without chromium, node or playwright-core this
//! prints a visible SKIP; under `CI=true` their absence is a failure
//! (`.ci/run` installs them).

use crate::fixture::{self, CHECKIN_TOKEN, Fixture, INCIDENT};
use farguard_server::auth::Role;
use std::io::Write as _;
use std::path::{Path, PathBuf};

fn browser_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser")
}

fn missing() -> Option<String> {
    let chromium = std::env::var("FG_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    if !Path::new(&chromium).exists() {
        return Some(format!("{chromium} not found (apt-get install chromium)"));
    }
    if std::process::Command::new("node")
        .arg("--version")
        .output()
        .is_err()
    {
        return Some("node not found".into());
    }
    if !browser_dir().join("node_modules/playwright-core").exists() {
        return Some(format!(
            "playwright-core not installed (npm install --prefix {} playwright-core)",
            browser_dir().display()
        ));
    }
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ui_in_headless_chromium() {
    if let Some(why) = missing() {
        let ci = std::env::var("CI").is_ok_and(|v| v == "true");
        assert!(!ci, "CI=true but the browser tests cannot run: {why}");
        let _ = writeln!(std::io::stderr(), "SKIP browser tests: {why}");
        return;
    }
    let fx = Fixture::new(fixture::engines().remove(0));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(farguard_server::run(listener, fx.state.clone(), async {
        let _ = stopped.await;
    }));
    let token = fx.token(Role::Coordinator).to_string();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("node")
            .arg(browser_dir().join("ui.cjs"))
            .env("FG_URL", format!("http://{addr}"))
            .env("FG_TOKEN", token)
            .env("FG_CHECKIN_TOKEN", CHECKIN_TOKEN)
            .env("FG_INCIDENT", INCIDENT)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "browser test failed:\n{stdout}\n{stderr}"
    );
    let found: serde_json::Value =
        serde_json::from_str(stdout.lines().last().unwrap_or("{}")).unwrap();
    assert!(found["countries"].as_u64().unwrap() >= 170, "{found}");
    assert!(found["graded"].as_u64().unwrap() > 0, "{found}");
    assert!(
        found["checkin_on_board"].as_str().unwrap().contains("safe"),
        "{found}"
    );
    let _ = writeln!(std::io::stderr(), "browser: {found}");
}
