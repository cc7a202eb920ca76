#!/usr/bin/env bash
# Checks muxserve against the real curl client.
#
# Usage: tests/curl_compat.sh BASE_URL      (e.g. http://127.0.0.1:8080)
#
# The served root must hold `curl.txt` (at least 10 bytes, last modified in the
# past) with `curl.txt.gz` and `curl.txt.br` sidecars that decode to the same
# text. tests/curl_compat.rs creates them and runs this script.
set -euo pipefail

base="${1:?usage: $0 BASE_URL}"
base="${base%/}"
url="$base/curl.txt"

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

CURL=(curl --silent --show-error --max-time 10 --http1.1)

fail() {
  echo "curl_compat: FAIL: $*" >&2
  exit 1
}
ok() {
  echo "curl_compat: ok: $*" >&2
}
# header NAME FILE: the value of header NAME in a `curl -D` dump (last response), lower-cased.
header() {
  { grep -i "^$1:" "$2" || true; } | tail -n 1 | cut -d: -f2- | tr -d '\r' | sed 's/^ *//' |
    tr '[:upper:]' '[:lower:]'
}

# Plain GET: the identity bytes every other check compares against.
code=$("${CURL[@]}" -o "$tmp/identity" -w '%{http_code}' "$url")
[[ $code == 200 ]] || fail "GET $url: status $code, expected 200"
size=$(wc -c <"$tmp/identity")
((size >= 10)) || fail "GET $url: only $size bytes"
ok "GET 200, $size bytes"

# --compressed: a br or gzip body that curl decodes back to the same text.
code=$("${CURL[@]}" --compressed -D "$tmp/h_comp" -o "$tmp/decoded" -w '%{http_code}' "$url")
[[ $code == 200 ]] || fail "--compressed: status $code, expected 200"
enc=$(header Content-Encoding "$tmp/h_comp")
case "$enc" in
  br | gzip) ;;
  *) fail "--compressed: Content-Encoding '$enc', expected br or gzip" ;;
esac
cmp -s "$tmp/identity" "$tmp/decoded" || fail "--compressed ($enc): decoded body differs from the file"
vary=$(header Vary "$tmp/h_comp")
[[ $vary == *accept-encoding* ]] || fail "--compressed: Vary '$vary' lacks Accept-Encoding"
ok "--compressed ($enc) decodes to the file"

# -r 0-9: exactly the first 10 bytes.
code=$("${CURL[@]}" -r 0-9 -D "$tmp/h_range" -o "$tmp/range" -w '%{http_code}' "$url")
[[ $code == 206 ]] || fail "-r 0-9: status $code, expected 206"
got=$(wc -c <"$tmp/range")
[[ $got -eq 10 ]] || fail "-r 0-9: $got bytes, expected 10"
head -c 10 "$tmp/identity" >"$tmp/first10"
cmp -s "$tmp/first10" "$tmp/range" || fail "-r 0-9: bytes differ from the first 10 of the file"
cr=$(header Content-Range "$tmp/h_range")
[[ $cr == "bytes 0-9/$size" ]] || fail "-r 0-9: Content-Range '$cr', expected 'bytes 0-9/$size'"
ok "-r 0-9 gives 10 bytes"

# -z FILE: If-Modified-Since from a local file newer than the served one → 304, no body.
touch "$tmp/newer"
code=$("${CURL[@]}" -z "$tmp/newer" -o "$tmp/z_body" -w '%{http_code}' "$url")
[[ $code == 304 ]] || fail "-z newer-file: status $code, expected 304"
if [[ -s "$tmp/z_body" ]]; then
  fail "-z newer-file: a 304 with $(wc -c <"$tmp/z_body") body bytes"
fi
# ... and from an older file → 200 with the file.
touch -d '2000-01-01 00:00:00 UTC' "$tmp/older"
code=$("${CURL[@]}" -z "$tmp/older" -o "$tmp/z_full" -w '%{http_code}' "$url")
[[ $code == 200 ]] || fail "-z older-file: status $code, expected 200"
cmp -s "$tmp/identity" "$tmp/z_full" || fail "-z older-file: body differs"
ok "-z gives 304 when the local copy is newer, 200 when older"

# --etag-save then --etag-compare: the second request is a 304.
code=$("${CURL[@]}" --etag-save "$tmp/etag" -o "$tmp/e1" -w '%{http_code}' "$url")
[[ $code == 200 ]] || fail "--etag-save: status $code, expected 200"
grep -q '^".*"$' "$tmp/etag" || fail "--etag-save: saved ETag '$(cat "$tmp/etag")' is not a strong quoted tag"
code=$("${CURL[@]}" --etag-compare "$tmp/etag" --etag-save "$tmp/etag2" -o "$tmp/e2" -w '%{http_code}' "$url")
[[ $code == 304 ]] || fail "--etag-compare: status $code, expected 304"
if [[ -s "$tmp/e2" ]]; then
  fail "--etag-compare: a 304 with a body"
fi
ok "--etag-save / --etag-compare gives 304"

# -I: HEAD with the same Content-Length as the GET.
code=$("${CURL[@]}" -I -o "$tmp/h_head" -w '%{http_code}' "$url")
[[ $code == 200 ]] || fail "-I: status $code, expected 200"
cl=$(header Content-Length "$tmp/h_head")
[[ $cl == "$size" ]] || fail "-I: Content-Length '$cl', expected $size"
ok "-I Content-Length $cl"

# Two URLs in one invocation: curl reuses the keep-alive connection.
code=$("${CURL[@]}" -o "$tmp/k1" -o "$tmp/k2" -w '%{http_code}%{num_connects} ' "$url" "$url")
[[ $code == "2001 2000 " ]] || fail "two GETs on one connection: '$code', expected '2001 2000 ' (status, new connections)"
cmp -s "$tmp/identity" "$tmp/k1" || fail "keep-alive: first body differs"
cmp -s "$tmp/identity" "$tmp/k2" || fail "keep-alive: second body differs"
ok "keep-alive reuse"

echo "curl_compat: all checks passed" >&2
