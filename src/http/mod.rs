//! HTTP/1.1 wire format, free of sockets and files: the shared field grammar (`field`), parsing
//! request heads (`request`), discarding request bodies (`body`), framing a connection's request stream (`framing`: where each request
//! ends, keep-alive, what follows an error), writing response heads (`response`), the cached
//! `Date` (`date`), the PROXY protocol header that precedes HTTP (`proxy_protocol`) and the
//! client behind trusted proxies (`forwarded`). Nothing here decides what to serve or performs I/O.

pub mod body;
pub mod date;
pub mod field;
pub mod forwarded;
pub mod framing;
pub mod proxy_protocol;
pub mod request;
pub mod response;
