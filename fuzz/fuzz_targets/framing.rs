#![no_main]
//! Arbitrary byte streams, split at arbitrary points, through the server's `Framer`. See
//! `muxserve_fuzz::checks::request::check_framing` for the input layout and the properties.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| muxserve_fuzz::checks::request::check_framing(data));
