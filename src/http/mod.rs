//! HTTP/1.1 wire format, free of sockets and files: parsing request heads (`request`), discarding
//! request bodies (`body`), writing response heads (`response`) and the cached `Date` (`date`).
//! Nothing here decides what to serve or performs I/O.

pub mod body;
pub mod date;
pub mod request;
pub mod response;
