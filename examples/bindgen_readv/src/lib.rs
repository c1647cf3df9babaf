//! bindgen output annotated by pointer-escapes-bindgen in `build.rs`: every
//! import is wrapped by `#[pointer_escapes]` and pins (and checks) its
//! pointer arguments for the call.

// bindgen's C names, and imports this example does not call.
#![allow(
    non_camel_case_types,
    non_upper_case_globals,
    non_snake_case,
    dead_code
)]
#![allow(
    clippy::missing_safety_doc,
    clippy::useless_transmute,
    clippy::ptr_offset_with_cast
)]

/// `readv`, `writev`, `preadv` and `struct iovec` from `<sys/uio.h>`.
pub mod uio {
    include!(concat!(env!("OUT_DIR"), "/uio.rs"));
}

/// zlib's deflate/inflate; `deflate` pins through its stream
/// (`#[flow_through]`).
pub mod zlib {
    include!(concat!(env!("OUT_DIR"), "/zlib.rs"));
}

/// The same, but `deflate`'s stream is `#[escapes(inout)]`: checked, not
/// pinned through, so the buffers it points to must already be pinned.
pub mod zlib_checked {
    include!(concat!(env!("OUT_DIR"), "/zlib_checked.rs"));
}

/// `open` and `fcntl` (variadic: passed through unwrapped, under
/// `skip_variadic`) and `creat` (wrapped) from `<fcntl.h>`.
pub mod fcntl {
    include!(concat!(env!("OUT_DIR"), "/fcntl.rs"));
}
