//! What a failed check says: what was checked, which pointer, where it
//! points, and how to fix it.

use crate::memory::MemoryKind;
use crate::origin::ThreadNumber;
use crate::referents::Via;
use crate::region::{ByteCount, Region};
use core::fmt;

/// Why a referent failed the check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FailureCause {
    /// The memory is not pinned (not all of it, at least).
    Unpinned,
    /// The pointer's extent runs past the end of the address space.
    ExtentOverflows,
    /// An extent the check would read on an `unsafe` promise (an annotated
    /// `unsafe fn`'s argument with `len = ..`, or a raw pointer below it)
    /// starts in memory whose end the library knows (static memory, a
    /// thread's stack or thread-local storage) and runs past that end: no
    /// value lies there, so the length is wrong (a stale or uninitialised
    /// header, say). The check stops before reading any of its elements,
    /// rather than walk past the end of that memory.
    ///
    /// Heap memory has no such bound: where a heap block ends cannot be
    /// learnt soundly for an arbitrary pointer, so an oversized extent in
    /// the heap is walked on the promise alone.
    ExtentPastItsMemory {
        /// The memory it starts in, and does not end in.
        memory: MemoryKind,
        /// Bytes per `pointee` value (saturated at `u32::MAX`): the extent
        /// is `region.len() / element_size` values. (Not the count itself,
        /// which would make a `CheckFailure` too big to return by value.)
        element_size: u32,
    },
    /// A raw pointer whose pointee can hold pointers is pinned, but nothing
    /// vouches that it is live or holds a valid value (a pin does not), so
    /// a safe check may not read through it to check further. The fix: an
    /// `unsafe` promise (make the annotated fn `unsafe fn`, or call
    /// `check_referents_through_raw`), or hand over a reference instead.
    NotVouched,
    /// C keeps the pointer after the call returns (`#[escapes(retained)]`,
    /// a pointer returned to C, `store_pointer`), and it points into a
    /// thread's stack: the frame dies whatever the registry says, so no pin
    /// (not even a `Pinner`) makes it valid.
    RetainedOnStack {
        /// Whose stack.
        thread: ThreadNumber,
    },
    /// Like `RetainedOnStack`, into a thread's thread-local storage, which
    /// is freed when that thread exits.
    RetainedInThreadLocal {
        /// Whose thread-local storage.
        thread: ThreadNumber,
    },
    /// C keeps the pointer after the call returns, and only the call's own
    /// pins cover (all or part of) the memory: they end when it returns.
    RetainedPinnedOnlyForCall,
    /// C keeps the pointer after the call returns, and no pin covers (all
    /// of) the memory.
    RetainedUnpinned {
        /// Part of the memory is covered by a pin that outlives the call.
        partly: bool,
    },
}

/// A failed check: a pointer reachable from what was handed to C leads to
/// memory that is not pinned (or that the check may not read). Its
/// `Display` is the panic message.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct CheckFailure {
    /// What was checked: "`check_referents::<T>` at file:line", or
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
        let size = Size(self.region.len(), self.pointee);
        let (path, addr) = (&self.path, self.region.addr());
        // What C keeps: "64 bytes at 0x..", or the bare address when only
        // the address is known (`store_pointer`).
        let target = Target(self.region, self.pointee);
        match self.cause {
            FailureCause::Unpinned => write!(
                f,
                "`{path}` points to unpinned memory at {addr:#x} ({size}), which can move, grow \
                 or be freed while C holds it (Go: cgo argument has Go pointer to unpinned Go \
                 pointer); {}",
                self.advice()
            ),
            FailureCause::NotVouched => write!(
                f,
                "`{path}` is a raw pointer to pinned memory at {addr:#x} ({}) holding `{}` \
                 values, which can hold pointers of their own; a pin does not prove that memory \
                 is live or holds valid `{}` values, so this check does not read it and cannot \
                 check what it points to. Vouch for it: make the annotated function an `unsafe \
                 fn` (its callers then promise the pointers they pass are valid), or call \
                 `unsafe {{ check_referents_through_raw(..) }}`; or pass a reference instead of \
                 a raw pointer",
                ByteCount(self.region.len()),
                self.pointee,
                self.pointee
            ),
            FailureCause::ExtentOverflows => write!(
                f,
                "`{path}` points at {addr:#x} to more `{}` values than fit before the end of the \
                 address space; fix the length its Referents impl or #[referents(len = ..)] \
                 reports",
                self.pointee
            ),
            FailureCause::ExtentPastItsMemory {
                memory,
                element_size,
            } => write!(
                f,
                "`{path}` reports {} `{}` values ({}) at {addr:#x}, which starts in \
                 {memory} and runs past its end: no value is that long, so the length is wrong \
                 (a stale or uninitialised length?); the check stops here rather than read past \
                 the end. Fix the length the annotation (#[escapes(len = ..)]), the Referents \
                 impl or #[referents(len = ..)] reports",
                self.region.len() / (element_size.max(1) as usize),
                self.pointee,
                ByteCount(self.region.len())
            ),
            FailureCause::RetainedOnStack { thread } => write!(
                f,
                "`{path}` points to {target} on the stack of thread {thread}, and C \
                 keeps this pointer after the call returns, when that stack frame may be gone; \
                 no pin keeps a frame alive (a Pinner does not help): move the value to the \
                 heap and pin it there as long as C holds it, \
                 `let mut owned = OwnedPin::new(Box::new(value));` (an OwnedPin<Box<T>>), \
                 pass `owned.as_mut_ptr()`, and call `owned.into_inner()` once C is done"
            ),
            FailureCause::RetainedInThreadLocal { thread } => write!(
                f,
                "`{path}` points to {target} in the thread-local storage of thread \
                 {thread}, and C keeps this pointer after the call returns, but that storage is \
                 freed when the thread exits whatever pins say: move the value to the heap and \
                 pin it there as long as C holds it, \
                 `let mut owned = OwnedPin::new(Box::new(value));` (an OwnedPin<Box<T>>), \
                 pass `owned.as_mut_ptr()`, and call `owned.into_inner()` once C is done"
            ),
            FailureCause::RetainedPinnedOnlyForCall => write!(
                f,
                "`{path}` points to {target} (heap or other memory) pinned only for \
                 the call, and C keeps this pointer after the call returns, when the memory can \
                 be freed or reused; {LASTING_FIX}"
            ),
            FailureCause::RetainedUnpinned { partly } => write!(
                f,
                "`{path}` points to {target} (heap or other memory) {}, and C keeps \
                 this pointer after the call returns, when the memory can be freed or reused; \
                 {LASTING_FIX}",
                if partly {
                    "only part of which is pinned"
                } else {
                    "that is not pinned"
                }
            ),
        }
    }
}

/// The fix for memory C keeps that no lasting pin covers.
const LASTING_FIX: &str = "pin it with a pin that outlives the call: hand the buffer to an \
     OwnedPin (`let mut owned = OwnedPin::new(buf);`, pass `owned.as_mut_ptr()`, and call \
     `owned.into_inner()` once C is done with it), or keep a Pinner that pins it alive until \
     then";

/// "64 bytes at 0x1000", "1 byte of u8 at 0x1000", or "0x1000" for a
/// zero-length region.
struct Target(Region, &'static str);

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            write!(f, "{:#x}", self.0.addr())
        } else {
            write!(f, "{} at {:#x}", Size(self.0.len(), self.1), self.0.addr())
        }
    }
}

/// "64 bytes", "1 byte", "8 bytes of u64".
struct Size(usize, &'static str);

impl fmt::Display for Size {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", ByteCount(self.0))?;
        if self.1 != "bytes" {
            write!(f, " of {}", self.1)?;
        }
        Ok(())
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
