#![no_main]
//! See `muxserve_fuzz::checks::request` for the input layout and the properties.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| muxserve_fuzz::checks::request::check(data));
