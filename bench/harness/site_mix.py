#!/usr/bin/env python3
"""Makes scenario f's site and its request list: a built website's files of typical types and
sizes under ROOT/site/, every one with the same fixed mtime, and a list of requests as a browser
population sends them: mostly plain GETs weighted towards the popular files, 20 % revalidations
answered 304 (If-Modified-Since equal to the mtime, which nginx's default `if_modified_since
exact` also answers with 304), 5 % ranges answered 206, 5 % paths that do not exist (404).

Usage: site_mix.py ROOT LIST     (LIST: one request a line, `path<TAB>header` or `path<TAB>`)
Deterministic (a fixed seed); the site is made again only when its marker is missing.
Standard library only.
"""
import os
import random
import sys

# 2026-01-01T00:00:00Z, and the same instant as an HTTP date.
MTIME = 1767225600
MTIME_HTTP = "Thu, 01 Jan 2026 00:00:00 GMT"
VERSION = "site-mix 1"
REQUESTS = 20000
# (extension, how many, smallest and largest size in bytes, how often one is asked for)
KINDS = [
    ("html", 40, 4_000, 40_000, 3.0),
    ("css", 12, 2_000, 60_000, 2.0),
    ("js", 30, 5_000, 250_000, 2.0),
    ("png", 40, 3_000, 400_000, 1.0),
    ("jpg", 40, 20_000, 600_000, 1.0),
    ("webp", 20, 5_000, 200_000, 1.0),
    ("svg", 10, 500, 20_000, 1.0),
    ("woff2", 8, 15_000, 90_000, 0.5),
]


def make_site(root, rng):
    site = os.path.join(root, "site")
    marker = os.path.join(site, ".made")
    files = []
    for ext, count, lo, hi, weight in KINDS:
        for i in range(count):
            # Log-uniform sizes: many small files and a few large ones, as a built site has.
            size = int(lo * (hi / lo) ** rng.random())
            files.append((f"/site/{ext}/{i:03d}.{ext}", size, weight / (i + 1)))
    made = open(marker).read() if os.path.exists(marker) else ""
    if made == VERSION:
        return files
    content = random.Random(15)
    for path, size, _ in files:
        full = os.path.join(root, path.lstrip("/"))
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "wb") as f:
            f.write(content.randbytes(size))
        os.utime(full, (MTIME, MTIME))
    with open(marker, "w") as f:
        f.write(VERSION)
    return files


def main():
    root, out = sys.argv[1], sys.argv[2]
    files = make_site(root, random.Random(14))
    rng = random.Random(16)
    paths = [p for p, _, _ in files]
    weights = [w for _, _, w in files]
    sizes = {p: s for p, s, _ in files}
    with open(out, "w") as f:
        for n in range(REQUESTS):
            roll = rng.random()
            if roll < 0.05:
                f.write(f"/site/missing/{n}.html\t\n")
                continue
            path = rng.choices(paths, weights)[0]
            if roll < 0.25:
                f.write(f"{path}\tIf-Modified-Since: {MTIME_HTTP}\n")
            elif roll < 0.30 and sizes[path] > 32_768:
                f.write(f"{path}\tRange: bytes=16384-32767\n")
            else:
                f.write(f"{path}\t\n")


if __name__ == "__main__":
    main()
