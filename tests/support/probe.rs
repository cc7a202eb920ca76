//! The `--health-path` probe as tests configure it, and what its `ok` answer
//! must look like (health.rs; the draining 503 in shutdown.rs).

use super::response::Response;

/// The health path the tests configure (`--health-path`, `c.site.health_path`).
pub const HEALTH: &str = "/healthz";

/// Asserts `resp` is the probe's `200 ok`; `body`: the request was a GET
/// (a HEAD gets the same head and no body).
pub fn assert_ok_probe(resp: &Response, body: bool) {
    resp.assert_common_headers();
    assert_eq!(resp.status, 200, "{resp}");
    assert_eq!(
        resp.header("Content-Type"),
        Some("text/plain; charset=utf-8"),
        "{resp}"
    );
    assert_eq!(resp.header("Cache-Control"), Some("no-store"), "{resp}");
    assert_eq!(resp.content_length(), Some(3), "{resp}");
    if body {
        assert_eq!(resp.body, b"ok\n", "{resp}");
    } else {
        assert!(resp.body.is_empty(), "{resp}");
    }
}
