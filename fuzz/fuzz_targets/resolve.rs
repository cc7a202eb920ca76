#![no_main]
//! See `muxserve_fuzz::checks::resolve` for the properties. The input is the request path; bytes
//! that are not UTF-8 are cut at the first invalid one (a target from httparse is a `&str`).

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let path = match std::str::from_utf8(data) {
        Ok(s) => s,
        Err(e) => std::str::from_utf8(&data[..e.valid_up_to()]).unwrap_or_default(),
    };
    muxserve_fuzz::checks::resolve::check(path);
});
