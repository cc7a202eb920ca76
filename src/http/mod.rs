//! HTTP/1.1 wire format, free of sockets and files: the shared field grammar (`field`), parsing
//! request heads (`request`), discarding request bodies (`body`), framing a connection's request stream (`framing`: where each request
//! ends, keep-alive, what follows an error), writing response heads (`response`) and the cached
//! `Date` (`date`). Nothing here decides what to serve or performs I/O.

pub mod body;
pub mod date;
pub mod field;
pub mod framing;
pub mod request;
pub mod response;
