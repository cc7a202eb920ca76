#![no_main]
//! See `muxserve_fuzz::checks::headers` for the input layout and the properties.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| muxserve_fuzz::checks::headers::check(data));
