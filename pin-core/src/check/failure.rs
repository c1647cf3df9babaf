//! What a failed check says: what was checked, which pointer, where it
//! points, and how to fix it.

use crate::referents::Via;
use crate::region::Region;
use core::fmt;

/// Why a referent failed the check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailureCause {
    /// The memory is not pinned (not all of it, at least).
    Unpinned,
    /// The pointer's extent runs past the end of the address space.
    ExtentOverflows,
}

/// A failed check: a pointer reachable from what was handed to C leads to
/// memory that is not pinned. Its `Display` is the panic message.
#[derive(Clone, Debug)]
pub struct CheckFailure {
    /// What was checked: "check_referents::<T> at file:line", or
    /// "`readv`: argument `iov`".
    pub context: String,
    /// Where the pointer is held, from the checked value: `iov[3].iov_base`.
    pub path: String,
    /// The first element index on the path, if any.
    pub element: Option<usize>,
    /// The memory the pointer leads to.
    pub region: Region,
    /// The type of what it points at (`bytes` for untyped memory).
    pub pointee: &'static str,
    /// Why it failed.
    pub cause: FailureCause,
}

impl fmt::Display for CheckFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "pointer-escapes: {}: ", self.context)?;
        if let Some(i) = self.element {
            write!(f, "element {i}: ")?;
        }
        match self.cause {
            FailureCause::Unpinned => {
                write!(
                    f,
                    "`{}` points to unpinned memory at {:#x} ({} bytes",
                    self.path,
                    self.region.addr(),
                    self.region.len()
                )?;
                if self.pointee != "bytes" {
                    write!(f, " of {}", self.pointee)?;
                }
                write!(
                    f,
                    "), which can move, grow or be freed while C holds it (Go: cgo argument has \
                     Go pointer to unpinned Go pointer); pin it with a Pinner or mark it \
                     #[flow_through]"
                )
            }
            FailureCause::ExtentOverflows => write!(
                f,
                "`{}` points at {:#x} to more `{}` values than fit before the end of the address \
                 space; fix the length its Referents impl or #[referents(len = ..)] reports",
                self.path,
                self.region.addr(),
                self.pointee
            ),
        }
    }
}

impl std::error::Error for CheckFailure {}

/// One step of a path, rendered Rust-like: `.field`, `[i]`; the pointer
/// itself adds nothing.
pub(crate) struct PathStep(pub(crate) Via);

impl fmt::Display for PathStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Via::Field(name) => write!(f, ".{name}"),
            Via::Index(i) => write!(f, "[{i}]"),
            Via::Itself => Ok(()),
        }
    }
}
