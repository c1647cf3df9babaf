//! The environment variables that set the library's run-time behaviour.
//!
//! Each has a crate-prefixed name, as Rust libraries name theirs
//! (`RUST_LOG`, `RUST_BACKTRACE`, `TOKIO_WORKER_THREADS`), so that it
//! cannot collide with another program's variable in a CI file or a shell:
//!
//! | variable | earlier name | what it sets |
//! |---|---|---|
//! | `POINTER_ESCAPES_CHECK` | `PINCHECK` | the check mode (Go's `GODEBUG=cgocheck`) |
//! | `POINTER_ESCAPES_GUARD` | `PINGUARD` | `abort` on a freed-while-pinned block |
//! | `POINTER_ESCAPES_REPORT` | `PINREPORT` | the report of live pins at exit |
//!
//! The earlier, unprefixed names (the first version's) are still read, so
//! scripts that set them keep working; when both are set, the prefixed
//! name wins. A variable set but empty counts as unset, as shells and CI
//! files write `NAME=` to clear one.
//!
//! Values are read with `libc::getenv`, not `std::env::var`: no allocation,
//! so the allocator's path may read them. Each is read once, before the
//! program could change its environment through the library's own code.

use core::ffi::CStr;

/// One setting: its prefixed name and the first version's name.
#[derive(Clone, Copy)]
pub(crate) struct Setting {
    pub(crate) name: &'static CStr,
    legacy: &'static CStr,
}

/// The check mode: `0`, `1` or `2`.
pub(crate) const CHECK: Setting = Setting {
    name: c"POINTER_ESCAPES_CHECK",
    legacy: c"PINCHECK",
};

/// The allocator guard's reaction: `abort`, or report.
pub(crate) const GUARD: Setting = Setting {
    name: c"POINTER_ESCAPES_GUARD",
    legacy: c"PINGUARD",
};

/// The exit report: on unless unset, empty or `0`.
pub(crate) const REPORT: Setting = Setting {
    name: c"POINTER_ESCAPES_REPORT",
    legacy: c"PINREPORT",
};

impl Setting {
    /// The setting's value (its bytes, without the NUL), or `None` when
    /// neither name is set to a non-empty value. The prefixed name wins.
    pub(crate) fn value(self) -> Option<&'static [u8]> {
        choose(getenv(self.name), getenv(self.legacy))
    }
}

/// The rule, apart from the environment: a non-empty prefixed value wins,
/// then a non-empty earlier-name value; empty means unset.
fn choose<'a>(prefixed: Option<&'a [u8]>, legacy: Option<&'a [u8]>) -> Option<&'a [u8]> {
    prefixed
        .filter(|v| !v.is_empty())
        .or(legacy.filter(|v| !v.is_empty()))
}

fn getenv(name: &CStr) -> Option<&'static [u8]> {
    // SAFETY: `name` is NUL-terminated. getenv does not allocate; the
    // library never changes the environment, so the string it returns
    // stays valid unless the program itself changes this variable, which
    // `std::env::set_var` documents as unsound while other threads read
    // the environment.
    let value = unsafe { libc::getenv(name.as_ptr()) };
    if value.is_null() {
        return None;
    }
    // SAFETY: getenv returns a NUL-terminated string (see above for its
    // lifetime).
    Some(unsafe { CStr::from_ptr(value) }.to_bytes())
}

#[cfg(test)]
mod tests {
    use super::choose;

    #[test]
    fn the_prefixed_name_wins_and_empty_means_unset() {
        assert_eq!(choose(None, None), None);
        assert_eq!(choose(None, Some(b"1")), Some(&b"1"[..]));
        assert_eq!(choose(Some(b"2"), Some(b"1")), Some(&b"2"[..]));
        assert_eq!(choose(Some(b""), Some(b"1")), Some(&b"1"[..]));
        assert_eq!(choose(Some(b""), Some(b"")), None);
    }
}
