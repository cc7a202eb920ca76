//! Shared checks for the muxserve fuzz targets; see `checks.rs` and README.md.

pub mod checks;
