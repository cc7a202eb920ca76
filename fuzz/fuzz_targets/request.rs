#![no_main]
//! See `muxserve_fuzz::checks::request` for the input layout and the properties. Findings not
//! fixed yet (`request::KNOWN`) are tolerated unless MUXSERVE_FUZZ_STRICT is set.

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use muxserve_fuzz::checks::request::{self, Known};

static KNOWN: LazyLock<Known> = LazyLock::new(|| {
    if std::env::var_os("MUXSERVE_FUZZ_STRICT").is_some() {
        Known::default()
    } else {
        request::KNOWN
    }
});

fuzz_target!(|data: &[u8]| request::check_with(data, *KNOWN));
