//! What a failed check says: what was checked, which pointer, where it
//! points, and how to fix it.

use crate::referents::Via;
use crate::region::Region;
use core::fmt;

/// Why a referent failed the check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FailureCause {
    /// The memory is not pinned (not all of it, at least).
    Unpinned,
    /// The pointer's extent runs past the end of the address space.
    ExtentOverflows,
    /// A raw pointer whose pointee can hold pointers is pinned, but nothing
    /// vouches that it is live or holds a valid value (a pin does not), so
    /// a safe check may not read through it to check further. The fix: an
    /// `unsafe` promise (make the annotated fn `unsafe fn`, or call
    /// `check_referents_through_raw`), or hand over a reference instead.
    NotVouched,
}

/// A failed check: a pointer reachable from what was handed to C leads to
/// memory that is not pinned (or that the check may not read). Its
/// `Display` is the panic message.
#[derive(Clone, Debug)]
#[non_exhaustive]
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
    /// How many pointers lie between the checked value and this one: 1 for
    /// a pointer the value (or an argument's element) holds itself, 2 for
    /// one held by what that points to, and so on.
    pub depth: usize,
    /// What was checked, for the advice.
    pub(crate) root: RootKind,
}

/// What a check started from: the advice differs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RootKind {
    /// `check_referents` and friends: a value.
    Value,
    /// An argument of an annotated function.
    Argument,
    /// A `#[flow_through]` argument, whose call pins the first level.
    FlowThrough,
}

impl CheckFailure {
    /// How to fix an unpinned pointer, for the depth at which it was found:
    /// `#[flow_through]` pins one level only, so it is advised only where
    /// it helps.
    fn advice(&self) -> String {
        match (self.root, self.depth) {
            (RootKind::Value, _) => "pin it with a Pinner (or an OwnedPin if C keeps it)".into(),
            (RootKind::Argument, 0 | 1) => "pin it with a Pinner, or mark the parameter \
                                           #[flow_through] (which pins what its elements point \
                                           to, one level)"
                .into(),
            (RootKind::Argument, depth) => format!(
                "pin it with a Pinner or OwnedPin: it is {depth} pointers below the argument, \
                 and #[flow_through] pins one level only"
            ),
            (RootKind::FlowThrough, depth) => format!(
                "pin it with a Pinner or OwnedPin: it is {depth} pointers below the argument, \
                 which is #[flow_through] already, and that pins one level only"
            ),
        }
    }
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
                     Go pointer to unpinned Go pointer); {}",
                    self.advice()
                )
            }
            FailureCause::NotVouched => write!(
                f,
                "`{}` is a raw pointer to pinned memory at {:#x} ({}) holding `{}` values, \
                 which can hold pointers of their own; a pin does not prove that memory is live \
                 or holds valid `{}` values, so this check does not read it and cannot check what \
                 it points to. Vouch for it: make the annotated function an `unsafe fn` (its \
                 callers then promise the pointers they pass are valid), or call \
                 `unsafe {{ check_referents_through_raw(..) }}`; or pass a reference instead of \
                 a raw pointer",
                self.path,
                self.region.addr(),
                ByteCount(self.region.len()),
                self.pointee,
                self.pointee
            ),
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

/// A size in bytes, with the unit's number right: "1 byte", "8 bytes".
pub(crate) struct ByteCount(pub(crate) usize);

impl fmt::Display for ByteCount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            1 => f.write_str("1 byte"),
            n => write!(f, "{n} bytes"),
        }
    }
}

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
