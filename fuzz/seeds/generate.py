#!/usr/bin/env python3
"""Writes the seed inputs in fuzz/seeds/<target>/ (layouts: fuzz/src/checks.rs, fuzz/README.md).

Run from anywhere: python3 fuzz/seeds/generate.py. The files are committed; this only documents
and regenerates them.
"""
import os

HERE = os.path.dirname(os.path.abspath(__file__))


def write(target, name, data):
    d = os.path.join(HERE, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# request: [cfg][0x30|n][n read sizes-1] data. cfg '/' = max_head 16384, max_uri 8192,
# max_body 100000, max_headers 100. n = 0: one byte per read.
def req(name, data, cfg=b"/", reads=b""):
    if isinstance(data, str):
        data = data.encode()
    write("request", name, cfg + bytes([0x30 | len(reads)]) + reads + data)


req("curl", "GET /index.html HTTP/1.1\r\nHost: localhost:8080\r\nUser-Agent: curl/8.5.0\r\nAccept: */*\r\n\r\n")
req("firefox",
    "GET /assets/app.css?v=3 HTTP/1.1\r\nHost: example.com\r\n"
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\n"
    "Accept: text/css,*/*;q=0.1\r\nAccept-Language: en-US,en;q=0.5\r\n"
    "Accept-Encoding: gzip, deflate, br, zstd\r\nReferer: https://example.com/\r\n"
    "Connection: keep-alive\r\nIf-Modified-Since: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
    "If-None-Match: \"5f3a-1a2b\", W/\"x\"\r\nSec-Fetch-Dest: style\r\n\r\n")
req("wrk_pipelined",
    "GET / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n" * 3, reads=b"\x0f\x02\x3f")
req("http10_keepalive", "GET /a.txt HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\nHEAD /b HTTP/1.0\r\n\r\n")
req("chunked_then_get",
    "POST /upload HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
    "5\r\nhello\r\n1a;ext=1\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nX-Trailer: v\r\n\r\n"
    "GET /next HTTP/1.1\r\nHost: h\r\n\r\n", reads=b"\x06\x00\x10")
req("chunked_bare_lf",
    "PUT /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\nabc\n0\n\nGET / HTTP/1.1\nHost: h\n\n")
req("content_length_pipelined",
    "POST /form HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\nContent-Type: application/x-www-form-urlencoded\r\n\r\n"
    "a=1&b=2&c=3GET /after HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n", reads=b"\x1f\x05")
req("expect_continue",
    "PUT /f HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\nbody")
req("http12", "GET / HTTP/1.2\r\nHost: h\r\n\r\nGET /x HTTP/1.9\r\nHost: h\r\n\r\n", reads=b"\xff")
req("h2_preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", reads=b"\xff")
req("absolute_form", "GET http://example.com:8080/a/b?q=1#frag HTTP/1.1\r\nHost: h\r\n\r\nOPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n")
req("range_conditional",
    "GET /big.bin HTTP/1.1\r\nHost: h\r\nRange: bytes=0-99,200-,-50\r\nIf-Range: \"abc\"\r\n"
    "If-Match: \"abc\"\r\nIf-Unmodified-Since: Sun, 06 Nov 1994 08:49:37 GMT\r\n\r\n")
req("smuggle_cl_te",
    "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nX")
req("dup_content_length", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3, 3\r\n\r\nabcGET / HTTP/1.1\r\nHost: h\r\n\r\n")
req("leading_crlf", "\r\n\r\nGET /lead HTTP/1.1\r\nHost: h\r\n\r\n")
req("small_limits", "GET /0123456789 HTTP/1.1\r\nHost: h\r\nX-Long: " + "a" * 80 + "\r\n\r\n", cfg=b"\x11")
req("chunked_big_size", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\n", cfg=b"\x3f")


# framing: [cfg][flags: bit 0 draining, bits 1-7 k][k little-endian u16 split points] data.
def framing(name, data, points=(), draining=False, cfg=b"/"):
    if isinstance(data, str):
        data = data.encode()
    flags = (len(points) << 1) | (1 if draining else 0)
    body = b"".join(p.to_bytes(2, "little") for p in points)
    write("framing", name, cfg + bytes([flags]) + body + data)


framing("pipelined", "GET /a HTTP/1.1\r\nHost: h\r\n\r\nGET /b HTTP/1.1\r\nHost: h\r\n\r\n", (5, 27, 28, 40))
framing("body_then_head",
        "POST /f HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhelloGET / HTTP/1.1\r\nHost: h\r\n\r\n",
        (47, 49, 50))
framing("chunked_split",
        "POST /u HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nwiki\r\n0\r\n\r\nGET / HTTP/1.1\r\n\r\n",
        (58, 59, 60, 66, 70))
framing("draining", "GET / HTTP/1.1\r\nHost: h\r\n\r\nGET /never HTTP/1.1\r\n\r\n", (10,), draining=True)
framing("minor_version", "\r\nGET / HTTP/1.7\r\nHost: h\r\n\r\n", (16, 17, 18))
framing("expect", "PUT /p HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nok", (30,))

# resolve: the raw request path.
for i, p in enumerate([
    "/", "/index.html", "/a/b/c.txt", "/a/./b/../x.txt", "/caf%C3%A9.txt", "/a%20b.txt",
    "/.well-known/security.txt", "/.hidden", "/a/.env", "/../secret.txt", "/%2e%2e/secret.txt",
    "/a/%2E%2E/%2e%2e/secret.txt", "/up", "/abs", "/dirlink/secret.txt", "/a/deep",
    "/a/b/updir/secret.txt", "/inside", "/absinside", "/slash/etc/passwd", "/loop",
    "/sneaky", "/..%2fsecret.txt", "/a\\..\\..\\secret.txt", "/a%00b", "/%zz", "//a//b/",
    "/dirlink/root/index.html",
]):
    write("resolve", "path%02d" % i, p)

# headers: flags \n len \n Range \n If-Range \n etag \n last_modified \n If-Match \n
# If-None-Match \n IMS \n IUS \n Accept-Encoding ; list fields take \r between lines.
T = "784111777"
DATE = "Sun, 06 Nov 1994 08:49:37 GMT"


def hdr(name, flags, length, rng, if_range=None, etag=None, lm=None, im=None, inm=None, ims=None, ius=None, ae=None):
    parts = [flags, length, rng, if_range, etag, lm, im, inm, ims, ius, ae]
    # None and "" are both an absent field.
    while parts and parts[-1] is None:
        parts.pop()
    write("headers", name, "\n".join("" if p is None else p for p in parts))


hdr("range_single", "\x07", "10000", "bytes=0-499", None)
hdr("range_multi", "\x07", "10000", "bytes=0-0,-1,500-600,550-700, 9000-", "\"abc\"", "\"abc\"", T)
hdr("range_suffix", "\x01", "10", "bytes=-20")
hdr("range_unsat", "\x01", "0", "bytes=0-1")
hdr("range_ws", "\x01", "100", "Bytes= 0-1 ,\t4-5 ,,", DATE, "\"abc\"", T)
hdr("range_huge", "\x01", "18446744073709551615", "bytes=0-18446744073709551615,-18446744073709551615")
hdr("if_range_date", "\x01", "100", "bytes=5-", "Sunday, 06-Nov-94 08:49:37 GMT", "\"abc\"", T)
hdr("if_range_weak", "\x01", "100", "bytes=5-", "W/\"abc\"", "W/\"abc\"", T)
hdr("inm_list", "\x07", "100", "", "", "\"abc\"", T, "", "\"x\", W/\"abc\"\r\"y\"", DATE)
hdr("inm_star", "\x00", "100", "", "", "\"abc\"", T, "", "*")
hdr("if_match", "\x01", "100", "", "", "\"abc\"", T, "\"x\",,  \"abc\"\r*", "", "", "Sun Nov  6 08:49:37 1994")
hdr("ius_fail", "\x01", "100", "", "", "\"abc\"", T, None, None, None, "Sun, 06 Nov 1994 08:49:36 GMT")
hdr("junk_tags", "\x01", "100", "", "", "\"abc\"", T, "\"x,\"abc\"", "\"unterminated, \"abc\r**\rW/", None, None)
hdr("accept_encoding", "\x07", "1", "", "", "\"abc\"", T, None, None, None, None,
    "gzip;q=0.8, br;q=0.9\ridentity;q=0, *;q=0.1\rx-gzip")
hdr("accept_star0", "\x03", "1", "", "", "\"abc\"", T, None, None, None, None, "*;q=0\rdeflate, zstd;q=1.000")
hdr("accept_browser", "\x07", "1", "", "", "\"abc\"", T, None, None, None, None, "gzip, deflate, br, zstd")
