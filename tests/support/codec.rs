//! Content codings and digests that tests compare bodies with: gzip, brotli
//! and zstd both ways, sha256 in hex.

use std::fmt::Write as _;
use std::io::{Read, Write};

pub fn sha256_hex(data: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    hex(&Sha256::digest(data))
}

pub fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        write!(s, "{b:02x}").unwrap();
    }
    s
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

/// Decodes a gzip member; panics with context when `data` is not gzip.
pub fn gunzip(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(data)
        .read_to_end(&mut out)
        .unwrap_or_else(|e| panic!("body is not valid gzip ({} bytes): {e}", data.len()));
    out
}

pub fn brotli_compress(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut w = brotli::CompressorWriter::new(&mut out, 4096, 11, 22);
        w.write_all(data).unwrap();
        w.flush().unwrap();
    }
    out
}

/// Decodes a brotli stream; panics with context when `data` is not brotli.
pub fn unbrotli(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    brotli::Decompressor::new(data, 4096)
        .read_to_end(&mut out)
        .unwrap_or_else(|e| panic!("body is not valid brotli ({} bytes): {e}", data.len()));
    out
}

/// A zstd frame as the `zstd` tool writes one by default (level 3, with a checksum).
pub fn zstd_compress(data: &[u8]) -> Vec<u8> {
    let mut enc = zstd::Encoder::new(Vec::new(), 3).unwrap();
    enc.include_checksum(true).unwrap();
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

/// Decodes zstd frames; panics with context when `data` is not zstd.
pub fn unzstd(data: &[u8]) -> Vec<u8> {
    zstd::decode_all(data)
        .unwrap_or_else(|e| panic!("body is not valid zstd ({} bytes): {e}", data.len()))
}
