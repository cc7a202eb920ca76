#!/usr/bin/env python3
"""The metrics page read by python's prometheus_client, the parser Prometheus' own Python
tooling uses: start the real binary on 127.0.0.1:0 with --metrics-path, make requests, scrape
twice, and fail if either page does not parse or the request counter did not move by exactly
the requests made. The server is stopped by its PID. tests/http/metrics.rs reads the same page
with a strict Rust reader; this is the second opinion the issue asks for. It also fails if
docs/deploy/grafana-dashboard.json queries a series the page does not have.

Usage: .ci/metrics-check.py [BIN]   (default target/debug/muxserve)
"""
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

BIN = sys.argv[1] if len(sys.argv) > 1 else "target/debug/muxserve"
DASHBOARD = os.path.join(os.path.dirname(__file__), "..", "docs", "deploy",
                         "grafana-dashboard.json")


def scrape(base):
    with urllib.request.urlopen(base + "/metrics", timeout=5) as resp:
        ctype = resp.headers["Content-Type"]
        if ctype != "text/plain; version=0.0.4; charset=utf-8":
            sys.exit(f"metrics-check: Content-Type {ctype!r}")
        text = resp.read().decode()
    samples = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return samples


def main():
    with tempfile.TemporaryDirectory(prefix="muxserve-metrics-") as root:
        with open(os.path.join(root, "index.html"), "w") as f:
            f.write("<p>hello</p>\n")
        proc = subprocess.Popen(
            [BIN, "--root", root, "--listen", "127.0.0.1:0", "--access-log", "off",
             "--metrics-path", "/metrics"],
            stderr=subprocess.PIPE, text=True)
        try:
            # Warnings (a connection limit lowered to the open-file limit) may come first.
            seen = []
            m = None
            while m is None and len(seen) < 20:
                line = proc.stderr.readline()
                if not line:
                    break
                seen.append(line)
                m = re.search(r"listening on (http://[0-9.:]+)/", line)
            if not m:
                sys.exit(f"metrics-check: no listening line in: {seen!r}")
            base = m.group(1)
            before = scrape(base)
            for _ in range(5):
                urllib.request.urlopen(base + "/", timeout=5).read()
            try:
                urllib.request.urlopen(base + "/missing", timeout=5)
            except urllib.error.HTTPError as e:
                assert e.code == 404, e.code
            after = scrape(base)
            key = lambda code: ("muxserve_requests_total", (("code", code), ("method", "GET")))
            ok = after[key("2xx")] - before[key("2xx")]
            missing = after[key("4xx")] - before[key("4xx")]
            # The first scrape is counted by the second.
            if (ok, missing) != (6, 1):
                sys.exit(f"metrics-check: GET 2xx moved by {ok}, 4xx by {missing}; want 6, 1")
            with open(DASHBOARD) as f:
                queried = set(re.findall(r"muxserve_[a-z_]+", f.read()))
            unknown = queried - {name for name, _ in after}
            if unknown:
                sys.exit(f"metrics-check: the dashboard queries {sorted(unknown)}, not on the page")
            print(f"metrics-check: {len(after)} samples parsed by prometheus_client; counters "
                  f"moved; the dashboard's {len(queried)} series exist")
        finally:
            proc.kill()  # our child, by its PID
            proc.wait(timeout=5)


if __name__ == "__main__":
    main()
