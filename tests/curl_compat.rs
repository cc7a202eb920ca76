//! Runs tests/curl_compat.sh (the real curl client) against an in-process
//! server: `--compressed`, `-r`, `-z`, `--etag-save`/`--etag-compare`, `-I`
//! and keep-alive reuse. Without curl on the machine the test prints
//! `SKIPPED: curl not found` and passes; CI installs curl.

mod support;

use std::fs;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use support::*;

const SCRIPT_LIMIT: Duration = Duration::from_secs(120);
/// Thu, 04 Mar 2021 05:06:07 GMT: well before any `touch` of the script.
const MTIME: u64 = 1_614_834_367;

fn curl_found() -> bool {
    Command::new("curl")
        .arg("--version")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn curl_text() -> Vec<u8> {
    let mut text = Vec::new();
    for i in 0..200 {
        text.extend_from_slice(format!("line {i:03}: muxserve talks to curl\n").as_bytes());
    }
    text
}

#[test]
fn real_curl_client() {
    if !curl_found() {
        eprintln!("SKIPPED: curl not found");
        return;
    }
    let text = curl_text();
    let t = text.clone();
    let s = TestServer::build()
        .site(move |site| {
            let root = site.root();
            fs::write(root.join("curl.txt"), &t).unwrap();
            fs::write(root.join("curl.txt.gz"), gzip(&t)).unwrap();
            fs::write(root.join("curl.txt.br"), brotli_compress(&t)).unwrap();
            for f in ["curl.txt", "curl.txt.gz", "curl.txt.br"] {
                set_mtime(&root.join(f), unix_time(MTIME));
            }
        })
        .start();
    // Self-check: the fixture is what the script expects.
    assert_eq!(s.get("/curl.txt").body, text);

    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("curl_compat.sh");
    let out_dir = tempfile::tempdir().unwrap();
    let out_path = out_dir.path().join("stdout");
    let err_path = out_dir.path().join("stderr");
    let url = format!("http://{}", s.addr());
    let mut child = Command::new("bash")
        .arg(&script)
        .arg(&url)
        .stdin(Stdio::null())
        .stdout(fs::File::create(&out_path).unwrap())
        .stderr(fs::File::create(&err_path).unwrap())
        .spawn()
        .expect("running bash tests/curl_compat.sh");
    let deadline = Instant::now() + SCRIPT_LIMIT;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        thread::sleep(Duration::from_millis(20));
    };
    let stdout = fs::read_to_string(&out_path).unwrap_or_default();
    let stderr = fs::read_to_string(&err_path).unwrap_or_default();
    eprintln!("{stderr}");
    match status {
        None => panic!(
            "curl_compat.sh {url} did not finish within {SCRIPT_LIMIT:?}\nstdout:\n{stdout}\nstderr:\n{stderr}"
        ),
        Some(st) => assert!(
            st.success(),
            "curl_compat.sh {url} failed ({st})\nstdout:\n{stdout}\nstderr:\n{stderr}"
        ),
    }
    assert!(
        stderr.contains("curl_compat: all checks passed"),
        "the script exited 0 without finishing: {stderr}"
    );
}
