//! `SysVec`: a `Vec` whose buffer comes from `System`, never from the
//! global allocator.
//!
//! The library's own buffers (the registry's tables, the checker's scratch,
//! spilled region and handle lists) use it for two reasons: the pin-aware
//! allocator may consult the registry from inside `dealloc`, which must not
//! re-enter the global allocator; and a user's pin that happens to cover
//! one of our buffers must never make the library's own frees and reallocs
//! show up as "freed while pinned" or "moved while pinned" events.

pub(crate) type SysVec<T> = allocator_api2::vec::Vec<T, std::alloc::System>;
