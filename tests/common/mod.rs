//! Shared by the run-time's test binaries.
//!
//! The scenario modules hold each case as a plain `pub fn`. A plain binary
//! (`tests/pinner_go.rs`, ...) runs one module's scenarios on the system
//! allocator; `tests/alloc_suite.rs` runs every module again with
//! `PinAwareAlloc` installed. Each module lists its scenarios once, in a
//! `tests!()` macro that declares one `#[test]` per scenario, so the two
//! binaries cannot drift apart.
//!
//! Every binary compiles all of this and uses a part of it, hence the
//! `allow`s.
#![allow(dead_code, unused_imports, unused_macros)]

/// Declares `mod $module { #[test] fn $name() { common::$module::$name() } ... }`.
macro_rules! scenario_tests {
    ($module:ident: $($name:ident),+ $(,)?) => {
        mod $module {
            $(
                #[test]
                fn $name() {
                    crate::common::$module::$name();
                }
            )+
        }
    };
}
pub(crate) use scenario_tests;

pub mod child;
pub mod mode;
pub mod panics;

pub mod cgocheck;
pub mod check_messages;
pub mod owned_pin;
pub mod pinner_go;
pub mod region;
pub mod registry_threads;
pub mod report;
