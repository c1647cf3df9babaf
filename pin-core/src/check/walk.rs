//! The checker's walk: from a root value, every referent must be pinned, and
//! pinned referents are followed (their own referents must be pinned too),
//! breadth first, until nothing new is reached.
//!
//! # What the walk reads, on whose promise
//! A pin is not proof that memory is live or holds a valid `T`. The walk
//! reads a referent (calls its `visit_referents`) only when
//! - it was reported through [`Visitor::borrowed`] by a value the walk was
//!   allowed to read: the root is a borrow, so what it owns or borrows is
//!   live for the whole check ([`Trust::Borrows`]); or
//! - the check runs on an `unsafe` promise that every raw pointer reachable
//!   from the root is valid for the extent its `Referents` impl reports
//!   ([`Trust::Caller`]: an annotated `unsafe fn`, or
//!   `check_referents_through_raw`).
//!
//! A raw pointer met without such a promise is checked for being pinned;
//! if its pointee can hold pointers, the walk stops there with
//! [`FailureCause::NotVouched`] rather than skip the rest silently.
//! Pointees that hold no pointers ([`Referents::HOLDS_POINTERS`] false, or
//! zero-sized) are never followed: their extent being pinned is the whole
//! check, in O(1).
//!
//! # Extents read on a promise end where their memory ends
//! A promise can be wrong: a stale or uninitialised length field turns an
//! array of 16 into one of 286 million, and walking it element by element
//! reads far past its memory (and took 17 seconds once). Before the walk
//! reads an extent that only the caller's promise vouches for (the root of
//! an annotated `unsafe fn`'s argument, or a raw pointer below a value),
//! and that is longer than [`BOUND_FROM_BYTES`], it asks what memory the
//! extent starts in. Where that memory's end is known (a static segment, a
//! registered thread's stack or thread-local storage: see
//! `memory::bounded_memory`), an extent running past it is refused with
//! [`FailureCause::ExtentPastItsMemory`] before any element is read: no
//! value straddles the end of such memory. Heap and other memory have no
//! such bound (where a heap block ends cannot be learnt soundly for an
//! arbitrary pointer: glibc's `malloc_usable_size` is undefined behaviour
//! on a pointer that is not a block's start, and the global allocator need
//! not be glibc's), so an oversized heap extent is walked on the promise
//! alone. Borrowed extents need no bound: the borrow proves them.
//!
//! Each level's referents are checked against the registry under one lock
//! acquisition. Cycles end because each `(address, type, count)` is
//! followed once (the count matters: a pointer to one element and a pointer
//! to ten at the same address are different extents to follow).
//!
//! # Two walks: quick, then named
//! Most checks pass, and a passing check needs no names. The quick walk
//! ([`quick`]) keeps per referent only its extent, and what to follow;
//! on a borrow it asks about several levels in one question. Only when it
//! cannot say "all pinned" does the named walk ([`run`]) go again from the
//! root, building each referent's path (`value[3].iov_base`), to find the
//! failure and name it: failure messages are exactly what the named walk
//! alone always gave. Both read only on a borrow or a promise, as above.
//!
//! The walk's scratch buffers come from `System`, not the global allocator:
//! the library's own allocations must never be quarantined or reported as
//! "moved while pinned" when a user's pin happens to cover them.

use super::failure::{CheckFailure, FailureCause, PathStep, RootKind};
use crate::memory::{self, MemoryKind};
use crate::referents::{FromCopy, Referents, Via, Visitor};
use crate::region::Region;
use crate::registry::{self, Extent};
use crate::sys_vec::SysVec;
use std::alloc::System;
use std::cell::RefCell;
use std::hash::RandomState;

/// On whose promise the walk may read through a referent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Trust {
    /// Only what a borrow proves live: the root and what it owns or borrows
    /// (`Box`, `Vec`, `&T`). Raw pointers are checked, never read.
    Borrows,
    /// The caller of an `unsafe` API promised that every raw pointer
    /// reachable from the root is valid for its reported extent.
    Caller,
}

/// Visits the referents of `count` values at a type-erased pointer.
type VisitErased = unsafe fn(*const u8, usize, &mut Collector<'_>);

#[derive(Clone, Copy)]
struct Follow {
    ptr: *const u8,
    count: usize,
    visit: VisitErased,
}

#[derive(Clone, Copy)]
struct Pending {
    region: Region,
    /// The pointee's type name, for a failure's message: a function (one
    /// word to store per referent) rather than the name (two).
    pointee: fn() -> &'static str,
    follow: Option<Follow>,
    /// Node in `Scratch::path` naming what holds the pointer...
    holder: u32,
    /// ...the element of it, if the holder is an array (`NO_ELEMENT` if
    /// not)...
    elem: usize,
    /// ...and the last step from there to the pointer.
    via: Via,
    /// The pointer's extent overflows the address space.
    overflow: bool,
    /// The walk may read through it (see [`Trust`]).
    vouched: bool,
    /// ...on the caller's promise alone, not on a borrow: its extent is
    /// bounded by its memory's end before it is read (see the module's
    /// documentation).
    promised: bool,
}

#[derive(Clone, Copy)]
struct PathNode {
    parent: u32,
    step: Via,
}

const ROOT: u32 = u32::MAX;
const NO_ELEMENT: usize = usize::MAX;

/// What was followed: address, type (its visit function) and element count.
type FollowKey = (usize, usize, usize);

/// Buffers reused across checks on a thread, so a check allocates nothing
/// once warm.
struct Scratch {
    path: SysVec<PathNode>,
    current: SysVec<Pending>,
    next: SysVec<Pending>,
    followed: SysVec<FollowKey>,
    followed_set: hashbrown::HashSet<FollowKey, RandomState, System>,
    /// The quick walk's level: every referent's extent...
    extents: SysVec<Extent>,
    /// ...and what it follows below the level (see [`quick`]).
    follows: SysVec<QuickFollow>,
    /// The level being followed while the next is gathered.
    following: SysVec<QuickFollow>,
}

impl Default for Scratch {
    fn default() -> Scratch {
        Scratch {
            path: SysVec::new_in(System),
            current: SysVec::new_in(System),
            next: SysVec::new_in(System),
            followed: SysVec::new_in(System),
            followed_set: hashbrown::HashSet::with_hasher_in(RandomState::new(), System),
            extents: SysVec::new_in(System),
            follows: SysVec::new_in(System),
            following: SysVec::new_in(System),
        }
    }
}

impl Scratch {
    #[inline]
    fn clear(&mut self) {
        self.path.clear();
        self.current.clear();
        self.next.clear();
        self.clear_followed();
        self.extents.clear();
        self.follows.clear();
        self.following.clear();
    }

    fn clear_followed(&mut self) {
        self.followed.clear();
        if !self.followed_set.is_empty() {
            self.followed_set.clear();
        }
    }

    /// Records that `(addr, visit, count)` is being followed; false if it
    /// already was.
    fn first_visit(&mut self, key: FollowKey) -> bool {
        first_visit(&mut self.followed, &mut self.followed_set, key)
    }
}

/// Records `key` as followed, in `followed` (a short list, searched
/// linearly) or, past 32 keys, `set`; false if it already was.
///
/// Inline: most checks follow a few values, and the call would cost more
/// than the short list's search; the set is out of line.
#[inline]
fn first_visit(
    followed: &mut SysVec<FollowKey>,
    set: &mut hashbrown::HashSet<FollowKey, RandomState, System>,
    key: FollowKey,
) -> bool {
    const LINEAR_LIMIT: usize = 32;
    if followed.len() < LINEAR_LIMIT {
        if followed.contains(&key) {
            return false;
        }
        followed.push(key);
        return true;
    }
    first_visit_in_set(followed, set, key)
}

#[inline(never)]
fn first_visit_in_set(
    followed: &SysVec<FollowKey>,
    set: &mut hashbrown::HashSet<FollowKey, RandomState, System>,
    key: FollowKey,
) -> bool {
    if set.is_empty() {
        set.extend(followed.iter().copied());
    }
    set.insert(key)
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

/// Gathers the referents one value reports into `out`, labelling each with
/// its path.
pub(crate) struct Collector<'s> {
    path: &'s mut SysVec<PathNode>,
    out: &'s mut SysVec<Pending>,
    /// Whether raw pointers the visited value reports may be read.
    trust: Trust,
    /// The path node of the value being visited...
    at: u32,
    /// ...and which element of it, not yet recorded as a node: most
    /// elements hold only pointers, whose `Pending` records the index, so
    /// no node is pushed for them.
    elem: usize,
}

impl Collector<'_> {
    fn step(&mut self, via: Via) -> u32 {
        self.path.push(PathNode {
            parent: self.at,
            step: via,
        });
        (self.path.len() - 1) as u32
    }

    /// Records the pending element index as a path node.
    fn materialize(&mut self) {
        if self.elem != NO_ELEMENT {
            self.at = self.step(Via::Index(self.elem));
            self.elem = NO_ELEMENT;
        }
    }
}

/// # Safety
/// `ptr` must point at `count` initialised values of `T`.
unsafe fn visit_elements<T: Referents>(ptr: *const u8, count: usize, c: &mut Collector<'_>) {
    let base = ptr.cast::<T>();
    c.materialize();
    let holder = c.at;
    for i in 0..count {
        // Each element's index hangs off the holder, not off the previous
        // element's index.
        c.at = holder;
        c.elem = if count > 1 { i } else { NO_ELEMENT };
        // SAFETY: the caller guarantees `count` valid values at `ptr`.
        let value = unsafe { &*base.add(i) };
        value.visit_referents(c);
    }
    c.at = holder;
    c.elem = NO_ELEMENT;
}

impl Collector<'_> {
    /// Queues `count` values of `T` at `ptr`; `vouched` says whether the
    /// walk may read them.
    #[inline]
    fn queue<T: Referents>(
        &mut self,
        ptr: *const T,
        count: usize,
        via: Via,
        vouched: bool,
        promised: bool,
    ) {
        if nothing_to_check(ptr, count) {
            return;
        }
        let (region, overflow) = match Region::of_elements(ptr, count) {
            Ok(r) => (r, false),
            Err(_) => (Region::from_parts(ptr as usize, 0), true),
        };
        // Unvouched, the walk stops there and says so if there was anything
        // to follow.
        let vouched = readable(ptr, vouched);
        // Values that hold no pointers have nothing to follow: their extent
        // being pinned is the whole check.
        let follow = T::HOLDS_POINTERS.then_some(Follow {
            ptr: ptr.cast(),
            count,
            visit: visit_elements::<T>,
        });
        self.out.push(Pending {
            region,
            pointee: core::any::type_name::<T>,
            follow,
            holder: self.at,
            elem: self.elem,
            via,
            overflow,
            vouched,
            promised,
        });
    }
}

/// Whether `count` values of `T` at `ptr` leave nothing to check: null,
/// none, or zero-sized (zero-sized values occupy no memory C could read;
/// their address is dangling and never pinned). One rule for both walks.
#[inline(always)]
fn nothing_to_check<T>(ptr: *const T, count: usize) -> bool {
    ptr.is_null() || count == 0 || core::mem::size_of::<T>() == 0
}

/// Whether the walk may read the values at `ptr`: vouched for, and
/// aligned. A misaligned pointer is never read (a reference made from it
/// would be undefined behaviour): a packed field's copy re-reported at its
/// real place can be one. One rule for both walks.
#[inline(always)]
fn readable<T>(ptr: *const T, vouched: bool) -> bool {
    vouched && (ptr as usize) % core::mem::align_of::<T>() == 0
}

impl Visitor for Collector<'_> {
    #[inline]
    fn pointer<T: Referents>(&mut self, ptr: *const T, count: usize, via: Via) {
        let vouched = self.trust == Trust::Caller;
        self.queue(ptr, count, via, vouched, vouched);
    }

    #[inline]
    fn borrowed<T: Referents>(&mut self, values: &[T], via: Via) {
        // The value being visited was readable, and it owns or borrows
        // `values`: they are live for as long as the root is borrowed.
        self.queue(values.as_ptr(), values.len(), via, true, false);
    }

    #[inline]
    fn bytes(&mut self, ptr: *const u8, len: usize, via: Via) {
        if ptr.is_null() || len == 0 {
            return;
        }
        let (region, overflow) = match Region::new(ptr, len) {
            Ok(r) => (r, false),
            Err(_) => (Region::from_parts(ptr as usize, 0), true),
        };
        self.out.push(Pending {
            region,
            pointee: || "bytes",
            follow: None,
            holder: self.at,
            elem: self.elem,
            via,
            overflow,
            vouched: false,
            promised: false,
        });
    }

    fn copied<T: Referents>(&mut self, real: *const T, copy: &T, via: Via) {
        // The copy's reports about itself are moved to `real`, as raw
        // pointers.
        self.beneath(via, |c| {
            copy.visit_referents(&mut FromCopy::new(c, real, copy));
        });
    }

    #[inline]
    fn inline<T: Referents + ?Sized>(&mut self, value: &T, via: Via) {
        self.beneath(via, |c| value.visit_referents(c));
    }
}

impl Collector<'_> {
    /// Runs `visit` with the path one step `via` below the value being
    /// visited (an inline field or element), then steps back.
    #[inline]
    fn beneath(&mut self, via: Via, visit: impl FnOnce(&mut Self)) {
        let saved = (self.at, self.elem);
        self.materialize();
        match via {
            // An array element: recorded lazily, like `visit_elements` does.
            Via::Index(i) => self.elem = i,
            // The value itself: no step to name.
            Via::Itself => {}
            _ => self.at = self.step(via),
        }
        visit(self);
        (self.at, self.elem) = saved;
    }
}

/// What is being checked: where the walk starts and how to name it.
pub(crate) struct Root<'a> {
    /// First word of every path (`value`, or the parameter's name).
    pub(crate) name: &'a str,
    /// What is checked (a value, an argument, a flow-through argument).
    pub(crate) kind: RootKind,
    /// Builds the message's opening ("`readv`: argument `iov`"), only on
    /// failure.
    pub(crate) context: &'a dyn Fn() -> String,
}

/// Checks the referents of `count` values at `ptr` (an argument: a pointer
/// with a length, or a borrowed value or slice), reading below them as
/// `trust` allows. Elements are labelled `[i]` when there is more than one.
///
/// # Safety
/// `ptr` must point at `count` initialised values of `T` that stay live for
/// the call (null and zero count check nothing); with [`Trust::Caller`],
/// every raw pointer reachable from them through `Referents` must be valid
/// for the extent its impl reports.
pub(crate) unsafe fn check_elements<T: Referents>(
    root: &Root<'_>,
    ptr: *const T,
    count: usize,
    trust: Trust,
) -> Result<(), Box<CheckFailure>> {
    if ptr.is_null() || count == 0 || !T::HOLDS_POINTERS || core::mem::size_of::<T>() == 0 {
        return Ok(());
    }
    // The argument's own extent, on the caller's promise alone: bounded
    // before its first element is read, like the raw pointers below it. (An
    // extent overflowing the address space cannot be an argument's: the
    // call refuses it before its checks run.)
    if trust == Trust::Caller {
        if let Ok(region) = Region::of_elements(ptr, count) {
            if let Some(memory) = past_its_memory(region) {
                return Err(Box::new(CheckFailure {
                    context: (root.context)(),
                    path: root.name.to_string(),
                    element: None,
                    region,
                    pointee: core::any::type_name::<T>(),
                    cause: FailureCause::ExtentPastItsMemory {
                        memory,
                        element_size: element_size(region.len(), count),
                    },
                    depth: 0,
                    root: root.kind,
                }));
            }
        }
    }
    // SAFETY: forwarded from the caller.
    check_from(
        root,
        trust,
        // SAFETY: forwarded from the caller.
        |g| unsafe { gather_elements::<T>(ptr.cast(), count, g) },
        // SAFETY: forwarded from the caller.
        |c| unsafe { visit_elements::<T>(ptr.cast(), count, c) },
    )
}

/// Checks the referents of one borrowed value, reading only what the borrow
/// proves live ([`Trust::Borrows`]).
pub(crate) fn check_value<T: Referents + ?Sized>(
    root: &Root<'_>,
    value: &T,
) -> Result<(), Box<CheckFailure>> {
    check_from(
        root,
        Trust::Borrows,
        |g| value.visit_referents(g),
        |c| value.visit_referents(c),
    )
}

/// Checks the referents of one borrowed value, reading through every raw
/// pointer it reaches ([`Trust::Caller`]).
///
/// # Safety
/// Every raw pointer reachable from `value` through `Referents` must be
/// valid for the extent its impl reports.
pub(crate) unsafe fn check_value_trusted<T: Referents + ?Sized>(
    root: &Root<'_>,
    value: &T,
) -> Result<(), Box<CheckFailure>> {
    check_from(
        root,
        Trust::Caller,
        |g| value.visit_referents(g),
        |c| value.visit_referents(c),
    )
}

/// Collects the root's referents with `visit_root`, then walks from them.
/// Callers of `check_from` with [`Trust::Caller`] hold the promise it needs.
///
/// The quick walk runs first (`quick_root` reports the same referents as
/// `visit_root`, to a [`Gather`]); only when it cannot say "all pinned"
/// does the named walk run, from the root again, to find and name what is
/// wrong (see [`quick`]).
fn check_from(
    root: &Root<'_>,
    trust: Trust,
    quick_root: impl FnOnce(&mut Gather<'_>),
    visit_root: impl FnOnce(&mut Collector<'_>),
) -> Result<(), Box<CheckFailure>> {
    with_scratch(|s| {
        if quick(s, trust, quick_root) {
            return Ok(());
        }
        s.clear();
        count(&NAMED_WALKS);
        visit_root(&mut Collector {
            path: &mut s.path,
            out: &mut s.current,
            trust,
            at: ROOT,
            elem: NO_ELEMENT,
        });
        run(s, root, trust)
    })
}

fn with_scratch<R>(f: impl FnOnce(&mut Scratch) -> R) -> R {
    let mut f = Some(f);
    let reused = SCRATCH.try_with(|cell| {
        // A `Referents` impl that itself runs a check finds the scratch
        // busy and gets a fresh one.
        cell.try_borrow_mut().ok().map(|mut s| {
            s.clear();
            f.take().map(|f| f(&mut s))
        })
    });
    match reused {
        Ok(Some(Some(r))) => r,
        // Not run above: the thread-local is gone (thread exit) or busy.
        _ => match f.take() {
            Some(f) => f(&mut Scratch::default()),
            None => unreachable!("the closure ran but returned nothing"),
        },
    }
}

/// Gathers the referents `count` values of a type-erased type report.
type GatherErased = unsafe fn(*const u8, usize, &mut Gather<'_>);

/// A vouched referent whose pointee holds pointers: followed below its
/// level once the level is known to be pinned.
#[derive(Clone, Copy)]
struct QuickFollow {
    ptr: *const u8,
    count: usize,
    gather: GatherErased,
}

/// The quick walk's visitor: each referent's extent, and what to follow,
/// with nothing that names it (no path, no pointee's name). Anything the
/// named walk would report as a failure, or would have to look at more
/// closely, sets `doubt` instead: then the named walk decides.
pub(crate) struct Gather<'s> {
    extents: &'s mut SysVec<Extent>,
    follows: &'s mut SysVec<QuickFollow>,
    trust: Trust,
    doubt: bool,
}

impl Gather<'_> {
    /// As [`Collector::queue`], keeping only what a passing check needs.
    #[inline]
    fn queue<T: Referents>(&mut self, ptr: *const T, count: usize, vouched: bool, promised: bool) {
        if nothing_to_check(ptr, count) {
            return;
        }
        let Ok(region) = Region::of_elements(ptr, count) else {
            // An extent past the address space: a failure to name.
            self.doubt = true;
            return;
        };
        // Never `None`: not null, and at least one value of a type with a
        // size (the same conditions as above, which the compiler merges).
        if let Some(extent) = Extent::new(region) {
            self.queue_extent(ptr, count, extent, vouched, promised);
        }
    }

    /// [`Gather::queue`] once `extent`, the extent of `count` values of `T`
    /// at `ptr`, is known.
    #[inline]
    fn queue_extent<T: Referents>(
        &mut self,
        ptr: *const T,
        count: usize,
        extent: Extent,
        vouched: bool,
        promised: bool,
    ) {
        self.extents.push(extent);
        let region = extent.region();
        if !T::HOLDS_POINTERS {
            return;
        }
        let vouched = readable(ptr, vouched);
        // Not readable (the named walk stops there and says so), or read on
        // a promise that may run past its memory: the named walk's to say.
        if !vouched || (promised && past_its_memory(region).is_some()) {
            self.doubt = true;
            return;
        }
        self.follows.push(QuickFollow {
            ptr: ptr.cast(),
            count,
            gather: gather_elements::<T>,
        });
    }
}

impl Visitor for Gather<'_> {
    #[inline]
    fn pointer<T: Referents>(&mut self, ptr: *const T, count: usize, _via: Via) {
        let vouched = self.trust == Trust::Caller;
        self.queue(ptr, count, vouched, vouched);
    }

    #[inline]
    fn borrowed<T: Referents>(&mut self, values: &[T], _via: Via) {
        // As `Collector::borrowed`: live for as long as the root is borrowed.
        let (ptr, count) = (values.as_ptr(), values.len());
        if nothing_to_check(ptr, count) {
            return;
        }
        // A slice's extent never runs past the address space (no allocation
        // wraps it): nothing to check there, unlike a raw pointer's. Never
        // `None`, as in `queue`.
        if let Some(extent) = Extent::new(Region::of_slice(values)) {
            self.queue_extent(ptr, count, extent, true, false);
        }
    }

    #[inline]
    fn bytes(&mut self, ptr: *const u8, len: usize, _via: Via) {
        if ptr.is_null() || len == 0 {
            return;
        }
        match Region::new(ptr, len).map(Extent::new) {
            Ok(Some(extent)) => self.extents.push(extent),
            // Never: not null, not empty (checked above).
            Ok(None) => {}
            Err(_) => self.doubt = true,
        }
    }

    // `inline` and `copied`: the defaults (in place; through `FromCopy`,
    // as raw pointers), as `Collector` does without its path steps.
}

/// # Safety
/// `ptr` must point at `count` initialised values of `T`.
unsafe fn gather_elements<T: Referents>(ptr: *const u8, count: usize, g: &mut Gather<'_>) {
    let base = ptr.cast::<T>();
    count_by(&READ, count);
    for i in 0..count {
        // SAFETY: the caller guarantees `count` valid values at `ptr`.
        let value = unsafe { &*base.add(i) };
        value.visit_referents(g);
    }
}

/// Values to read below the gathered levels, in all since the last
/// question, past which the quick walk on a borrow asks about those levels
/// first (see [`quick`]).
const ASK_AFTER: usize = 64;

/// The quick walk: whether every referent reachable from the root (as
/// `gather_root` reports them) is pinned, level by level as [`run`] walks,
/// following the same referents (each `(address, type, count)` once) on
/// the same promises, and reading nothing `run` would not read. On a
/// borrow ([`Trust::Borrows`]) the levels are asked about together, once
/// all are gathered: a borrow, not a pin, is what lets the walk read them.
///
/// It records, per referent, only its extent (16 bytes) and, for those it
/// follows, where and how: no path, no pointee's name, no flags. A passing
/// check, the usual one, needs nothing more. Where `run` would report a
/// failure (unpinned, past the address space, past its memory, not
/// vouched for) this gives up (`false`) and `run` walks again from the
/// root: it finds the failure and names it exactly as it always has (or,
/// if a pin came meanwhile, passes: as if the check had run a moment
/// later). Values reached by a borrow cannot change during the check, so
/// the second walk meets the same referents.
fn quick(s: &mut Scratch, trust: Trust, gather_root: impl FnOnce(&mut Gather<'_>)) -> bool {
    let mut g = Gather {
        extents: &mut s.extents,
        follows: &mut s.follows,
        trust,
        doubt: false,
    };
    gather_root(&mut g);
    if g.doubt {
        return false;
    }
    // Values read below levels gathered but not yet asked about, over all
    // those levels: bounded in all, not per level, so that a long chain of
    // small levels (a linked list) is not read whole before the question
    // that fails at its head.
    let mut read_unasked = 0usize;
    loop {
        // On a borrow, what the walk reads is live whether or not it is
        // pinned, so levels are gathered first and asked about in one
        // question (one lock acquisition, one copy of the call pins)...
        // while that saves more than it risks: past `ASK_AFTER` values to
        // read below, the question comes first, so that a check failing
        // here does not first read a big level (or many small ones) it
        // will not need. On a promise, only pinned memory is vouched for:
        // a level is asked about before anything below it is read, as
        // `run` does.
        let read_after = s.follows.iter().try_fold(read_unasked, |sum, f| {
            sum.checked_add(f.count).filter(|&n| n <= ASK_AFTER)
        });
        match read_after {
            Some(n) if trust == Trust::Borrows && !s.follows.is_empty() => read_unasked = n,
            _ => {
                if !s.extents.is_empty() {
                    count(&QUESTIONS);
                    if registry::first_uncovered_extents(&s.extents).is_some() {
                        return false;
                    }
                }
                s.extents.clear();
                read_unasked = 0;
            }
        }
        if s.follows.is_empty() {
            return true;
        }
        std::mem::swap(&mut s.follows, &mut s.following);
        let mut g = Gather {
            extents: &mut s.extents,
            follows: &mut s.follows,
            trust,
            doubt: false,
        };
        for f in s.following.iter() {
            if !first_visit(
                &mut s.followed,
                &mut s.followed_set,
                (f.ptr as usize, f.gather as usize, f.count),
            ) {
                continue;
            }
            // SAFETY: queued only when vouched for, as `run` follows: a
            // borrow reached from the root owns these `count` values, or
            // the check's caller promised that every raw pointer reachable
            // from the root is valid for the extent its `Referents` impl
            // reported, which is `count` values of the erased type at
            // `ptr` (and an extent read on that promise alone does not run
            // past its memory's known end).
            unsafe { (f.gather)(f.ptr, f.count, &mut g) };
        }
        if g.doubt {
            return false;
        }
        s.following.clear();
    }
}

fn run(s: &mut Scratch, root: &Root<'_>, trust: Trust) -> Result<(), Box<CheckFailure>> {
    let mut stopped = None;
    let mut depth = 0;
    while !s.current.is_empty() {
        depth += 1;
        // One pass over the level for what only referents that can be
        // followed need (a level of bytes, an iovec's buffers, skips the
        // rest). A wrong length first: "past the end of its memory" says
        // what is wrong, where "unpinned" (what the part past the end would
        // also be, unless the call pinned the extent as reported) would not.
        let mut any_follow = false;
        let mut first_unvouched = None;
        for (i, p) in s.current.iter().enumerate() {
            let Some(follow) = p.follow else {
                continue;
            };
            any_follow = true;
            if !p.vouched {
                first_unvouched = first_unvouched.or(Some(i));
                continue;
            }
            if !p.promised || p.overflow {
                continue;
            }
            if let Some(memory) = past_its_memory(p.region) {
                let cause = FailureCause::ExtentPastItsMemory {
                    memory,
                    element_size: element_size(p.region.len(), follow.count),
                };
                return Err(Box::new(failure(s, root, p, cause, depth)));
            }
        }
        let uncovered =
            registry::first_uncovered(&s.current, |p| (!p.overflow).then_some(p.region));
        if let Some(i) = uncovered {
            let p = &s.current[i];
            let cause = if p.overflow {
                FailureCause::ExtentOverflows
            } else {
                FailureCause::Unpinned
            };
            return Err(Box::new(failure(s, root, p, cause, depth)));
        }
        // A pinned raw pointer whose pointee holds pointers, with nothing
        // that vouches for it: the walk cannot go on below it, and says so
        // at the end, unless it finds memory that is plainly unpinned
        // elsewhere (the more useful report).
        if let (None, Some(i)) = (&stopped, first_unvouched) {
            stopped = Some(Box::new(failure(
                s,
                root,
                &s.current[i],
                FailureCause::NotVouched,
                depth,
            )));
        }
        if !any_follow {
            // Nothing below this level: done with it.
            s.current.clear();
            std::mem::swap(&mut s.current, &mut s.next);
            continue;
        }
        let level = std::mem::replace(&mut s.current, SysVec::new_in(System));
        for p in &level {
            let Some(follow) = p.follow.filter(|_| p.vouched) else {
                continue;
            };
            if !s.first_visit((follow.ptr as usize, follow.visit as usize, follow.count)) {
                continue;
            }
            // What the followed memory holds hangs off the pointer's path.
            let mut parent = p.holder;
            if p.elem != NO_ELEMENT {
                s.path.push(PathNode {
                    parent,
                    step: Via::Index(p.elem),
                });
                parent = (s.path.len() - 1) as u32;
            }
            s.path.push(PathNode {
                parent,
                step: p.via,
            });
            let at = (s.path.len() - 1) as u32;
            let mut c = Collector {
                path: &mut s.path,
                out: &mut s.next,
                trust,
                at,
                elem: NO_ELEMENT,
            };
            // SAFETY: `p.vouched` (filtered above): either a borrow reached from the root owns these
            // `count` values, or the check's caller promised that every raw
            // pointer reachable from the root is valid for the extent its
            // `Referents` impl reported, which is `count` values of the
            // erased type at `ptr`.
            unsafe { (follow.visit)(follow.ptr, follow.count, &mut c) };
        }
        s.current = level;
        s.current.clear();
        std::mem::swap(&mut s.current, &mut s.next);
    }
    match stopped {
        Some(failure) => Err(failure),
        None => Ok(()),
    }
}

/// Extents read on a promise that are at most this long are not bounded:
/// asking what memory they start in (a binary search of the static
/// segments, then the live threads' ranges) would cost more than walking
/// a few elements; past a page, it costs a small part of the walk it may
/// save.
const BOUND_FROM_BYTES: usize = 4096;

/// Whether `region`, an extent about to be read on the caller's promise,
/// starts in memory whose end is known and runs past that end: that
/// memory, if so.
pub(crate) fn past_its_memory(region: Region) -> Option<MemoryKind> {
    if region.len() <= BOUND_FROM_BYTES {
        return None;
    }
    let (memory, range) = memory::bounded_memory(region.addr())?;
    (region.end() > range.end()).then_some(memory)
}

/// Bytes per element of an extent of `len` bytes holding `count` elements,
/// saturated at `u32::MAX` (as `FailureCause::ExtentPastItsMemory` holds it).
fn element_size(len: usize, count: usize) -> u32 {
    u32::try_from(len / count.max(1)).unwrap_or(u32::MAX)
}

/// The failure for `p`, of `cause`.
fn failure(
    s: &Scratch,
    root: &Root<'_>,
    p: &Pending,
    cause: FailureCause,
    depth: usize,
) -> CheckFailure {
    let mut steps = vec![p.via];
    if p.elem != NO_ELEMENT {
        steps.push(Via::Index(p.elem));
    }
    let mut at = p.holder;
    while at != ROOT {
        let node = s.path[at as usize];
        steps.push(node.step);
        at = node.parent;
    }
    steps.reverse();
    let element = steps.iter().find_map(|s| match s {
        Via::Index(i) => Some(*i),
        _ => None,
    });
    let path =
        steps
            .iter()
            .map(|&via| PathStep(via))
            .fold(root.name.to_string(), |mut acc, step| {
                use std::fmt::Write;
                let _ = write!(acc, "{step}");
                acc
            });
    CheckFailure {
        context: (root.context)(),
        path,
        element,
        region: p.region,
        pointee: (p.pointee)(),
        cause,
        depth,
        root: root.kind,
    }
}

#[cfg(test)]
std::thread_local! {
    /// Named walks run on this thread: only a check the quick walk could
    /// not pass runs one.
    static NAMED_WALKS: core::cell::Cell<usize> = const { core::cell::Cell::new(0) };
    /// Questions the quick walk asked the registry on this thread.
    static QUESTIONS: core::cell::Cell<usize> = const { core::cell::Cell::new(0) };
    /// Values the quick walk read below its root on this thread.
    static READ: core::cell::Cell<usize> = const { core::cell::Cell::new(0) };
}

#[cfg(not(test))]
struct Uncounted;
#[cfg(not(test))]
const NAMED_WALKS: Uncounted = Uncounted;
#[cfg(not(test))]
const QUESTIONS: Uncounted = Uncounted;
#[cfg(not(test))]
const READ: Uncounted = Uncounted;

#[cfg(not(test))]
#[inline(always)]
fn count_by(_: &Uncounted, _: usize) {}

#[cfg(test)]
fn count_by(counter: &'static std::thread::LocalKey<core::cell::Cell<usize>>, n: usize) {
    counter.with(|c| c.set(c.get() + n));
}

#[cfg(not(test))]
#[inline(always)]
fn count(_: &Uncounted) {}

#[cfg(test)]
fn count(counter: &'static std::thread::LocalKey<core::cell::Cell<usize>>) {
    count_by(counter, 1);
}

#[cfg(test)]
mod tests {
    use super::{
        quick, run, Collector, Root, Scratch, Trust, ASK_AFTER, NAMED_WALKS, NO_ELEMENT, QUESTIONS,
        READ, ROOT,
    };
    use crate::check::failure::RootKind;
    use crate::check::{try_check_referents, try_check_referents_through_raw, FailureCause};
    use crate::referents::{Referents, Via, Visitor};
    use crate::Pinner;

    fn counted<R>(f: impl FnOnce() -> R) -> (R, usize, usize) {
        NAMED_WALKS.with(|c| c.set(0));
        QUESTIONS.with(|c| c.set(0));
        let r = f();
        (
            r,
            NAMED_WALKS.with(|c| c.get()),
            QUESTIONS.with(|c| c.get()),
        )
    }

    /// A passing check is settled by the quick walk alone: no path is
    /// built, no named walk runs; a failing one runs the named walk once,
    /// which names the failure as it always has.
    #[test]
    fn only_a_failing_check_names_its_referents() {
        let bufs: Vec<Vec<u8>> = (0..16).map(|i| vec![i as u8; 64]).collect();
        let mut pinner = Pinner::new();
        pinner.pin_slice(&bufs);
        for b in &bufs[..3] {
            pinner.pin_slice(b);
        }
        for b in &bufs[4..] {
            pinner.pin_slice(b);
        }
        let (failed, named, _) = counted(|| try_check_referents(&bufs));
        let failure = failed.expect_err("bufs[3] is not pinned");
        assert_eq!(named, 1, "the failure is named by one named walk");
        assert_eq!(failure.path, "value[3]");
        assert_eq!(failure.element, Some(3));
        assert_eq!(failure.region.addr(), bufs[3].as_ptr() as usize);
        assert_eq!(failure.cause, FailureCause::Unpinned);
        pinner.pin_slice(&bufs[3]);
        let (passed, named, _) = counted(|| try_check_referents(&bufs));
        pinner.unpin();
        assert!(passed.is_ok());
        assert_eq!(named, 0, "a passing check names nothing");
    }

    /// On a borrow, what the walk reads is live whether pinned or not, so
    /// all levels are asked about in one question: a three-level value is
    /// one lock acquisition, not three.
    #[test]
    fn on_a_borrow_every_level_is_one_question() {
        let tree: Vec<Vec<Vec<u8>>> = (0..4).map(|_| vec![vec![7u8; 32]; 4]).collect();
        let mut pinner = Pinner::new();
        pinner.pin_slice(&tree);
        for mid in &tree {
            pinner.pin_slice(mid);
            for leaf in mid {
                pinner.pin_slice(leaf);
            }
        }
        let (passed, named, questions) = counted(|| try_check_referents(&tree));
        pinner.unpin();
        assert!(passed.is_ok());
        assert_eq!((named, questions), (0, 1));
    }

    /// The quick walk gathers levels on a borrow before asking about them,
    /// but not past a few values: a check whose first level is unpinned
    /// reads none of the ten thousand values below it (the named walk
    /// stops at that level too), where reading them all before asking
    /// would make the failing check cost the whole graph.
    #[test]
    fn a_failing_check_on_a_borrow_reads_nothing_big_below_the_failure() {
        let n = if cfg!(miri) { 200 } else { 10_000 };
        let bufs: Vec<Vec<u8>> = (0..n).map(|_| vec![1u8; 8]).collect();
        READ.with(|c| c.set(0));
        let (failed, named, questions) = counted(|| try_check_referents(&bufs));
        let read = READ.with(|c| c.get());
        assert_eq!(failed.expect_err("nothing is pinned").path, "value");
        assert_eq!((named, questions), (1, 1));
        assert_eq!(read, 0, "no value below the unpinned level was read");
        // A few values below are read before asking: one question.
        let few: Vec<Vec<u8>> = (0..ASK_AFTER).map(|_| vec![2u8; 8]).collect();
        let mut pinner = Pinner::new();
        pinner.pin_slice(&few);
        for b in &few {
            pinner.pin_slice(b);
        }
        let (passed, _, questions) = counted(|| try_check_referents(&few));
        pinner.unpin();
        assert!(passed.is_ok());
        assert_eq!(questions, 1);
    }

    /// A linked list owned link by link (`Box`): each level is one value.
    struct Link {
        next: Option<Box<Link>>,
    }

    // SAFETY: `next` owns what it points at.
    unsafe impl Referents for Link {
        fn visit_referents<V: Visitor>(&self, visitor: &mut V) {
            self.next.visit_referents(visitor);
        }
    }

    /// What the quick walk reads on a borrow before asking about what it
    /// gathered is bounded in all, not per level: a long chain of small
    /// levels (a linked list) whose head is unpinned is not read whole
    /// before the question that fails it (the named walk stops at the
    /// head), however many levels of at most `ASK_AFTER` values it has.
    #[test]
    fn a_failing_check_on_a_borrow_reads_nothing_big_below_the_failure_however_deep() {
        let depth = if cfg!(miri) { 300 } else { 5_000 };
        let mut list = Link { next: None };
        for _ in 0..depth {
            list = Link {
                next: Some(Box::new(list)),
            };
        }
        READ.with(|c| c.set(0));
        let (failed, named, _) = counted(|| try_check_referents(&list));
        let read = READ.with(|c| c.get());
        assert_eq!(failed.expect_err("nothing is pinned").path, "value");
        assert_eq!(named, 1);
        assert!(
            read <= ASK_AFTER,
            "{read} values read below an unpinned head before asking"
        );
        // Dropped link by link: a recursive drop this deep could run out
        // of stack.
        let mut next = list.next.take();
        while let Some(mut link) = next {
            next = link.next.take();
        }
    }

    /// A node of a random graph: inline children (a `Vec`, read on its
    /// borrow), a raw pointer to another node (read only on a promise),
    /// untyped bytes, and a boxed leaf.
    struct Graph {
        kids: Vec<Graph>,
        next: *const Graph,
        bytes: *const u8,
        len: usize,
        leaf: Option<Box<[u8; 24]>>,
    }

    // SAFETY: `kids` and `leaf` own what they report; `next` and `bytes`
    // are reported as raw pointers, on nobody's word.
    unsafe impl Referents for Graph {
        fn visit_referents<V: Visitor>(&self, v: &mut V) {
            self.kids.visit_referents(v);
            v.pointer(self.next, 1, Via::Field("next"));
            v.bytes(self.bytes, self.len, Via::Field("bytes"));
            self.leaf.visit_referents(v);
        }
    }

    /// The quick walk's verdict and the named walk's, each alone, on
    /// `value` read as `trust` allows.
    fn both_walks(value: &Graph, trust: Trust) -> (bool, bool) {
        let mut s = Scratch::default();
        let quick_passed = quick(&mut s, trust, |g| value.visit_referents(g));
        s.clear();
        value.visit_referents(&mut Collector {
            path: &mut s.path,
            out: &mut s.current,
            trust,
            at: ROOT,
            elem: NO_ELEMENT,
        });
        let context = String::new;
        let root = Root {
            name: "value",
            kind: RootKind::Value,
            context: &context,
        };
        (quick_passed, run(&mut s, &root, trust).is_ok())
    }

    /// Rule: the quick walk says "all pinned" exactly when the named walk
    /// passes, so that no failure the named walk finds (unpinned, partly
    /// pinned, not vouched for, ...) is skipped by the quick one. Random
    /// graphs (cycles through raw pointers, shared children, bytes, boxed
    /// leaves), random pins (whole, partial, none), read on a borrow and
    /// on a promise (every raw pointer here is valid: the promise holds).
    #[test]
    fn the_quick_walk_passes_exactly_when_the_named_walk_does() {
        let mut next = crate::test_rng::xorshift(0x2545_f491_4f6c_dd1du64);
        let rounds = if cfg!(miri) { 12 } else { 400 };
        let (mut passed, mut failed) = (0, 0);
        for round in 0..rounds {
            let n = 1 + next(6);
            let buffers: Vec<Vec<u8>> = (0..n).map(|i| vec![i as u8; 8 + next(24)]).collect();
            let mut arena: Vec<Box<Graph>> = (0..n)
                .map(|i| {
                    let kids = (0..next(3))
                        .map(|_| Graph {
                            kids: Vec::new(),
                            next: core::ptr::null(),
                            bytes: core::ptr::null(),
                            len: 0,
                            leaf: (next(2) == 0).then(|| Box::new([7u8; 24])),
                        })
                        .collect();
                    Box::new(Graph {
                        kids,
                        next: core::ptr::null(),
                        bytes: buffers[i].as_ptr(),
                        len: if next(3) == 0 { 0 } else { buffers[i].len() },
                        leaf: None,
                    })
                })
                .collect();
            // Raw pointers from unique borrows, and the links written
            // through them: writing through the boxes afterwards would
            // invalidate the pointers (Stacked Borrows).
            let nodes: Vec<*mut Graph> = arena.iter_mut().map(|b| &mut **b as *mut Graph).collect();
            // Raw links, cycles included; sometimes none (then a borrow can
            // pass).
            let linked = next(3) != 0;
            for &node in &nodes {
                // SAFETY: `node` points at a live node of `arena`, which
                // nothing else borrows while the links are written.
                let node = unsafe { &mut *node };
                if linked && next(2) == 0 {
                    node.next = nodes[next(n)];
                }
                for kid in node.kids.iter_mut() {
                    if linked && next(3) == 0 {
                        kid.next = nodes[next(n)];
                    }
                }
            }
            // Pins: each extent whole (mostly), half, or not at all.
            let mut extents: Vec<(*const u8, usize)> = Vec::new();
            for (node, buf) in arena.iter().zip(&buffers) {
                extents.push((
                    (&**node as *const Graph).cast(),
                    core::mem::size_of::<Graph>(),
                ));
                extents.push((buf.as_ptr(), buf.len()));
                if !node.kids.is_empty() {
                    let size = node.kids.len() * core::mem::size_of::<Graph>();
                    extents.push((node.kids.as_ptr().cast(), size));
                }
                for kid in &node.kids {
                    if let Some(leaf) = &kid.leaf {
                        extents.push((leaf.as_ptr(), leaf.len()));
                    }
                }
            }
            let mut pinner = Pinner::new();
            let all = next(3) == 0;
            for &(ptr, len) in &extents {
                let len = match next(10) {
                    _ if all => len,
                    0 => 0,
                    1 => len / 2,
                    _ => len,
                };
                if len > 0 {
                    // SAFETY: every extent here outlives the pinner.
                    unsafe { pinner.pin_raw(ptr, len) };
                }
            }
            for trust in [Trust::Borrows, Trust::Caller] {
                let (quick_passed, run_passed) = both_walks(&arena[0], trust);
                assert_eq!(
                    quick_passed, run_passed,
                    "round {round}, {trust:?}: the quick walk said {quick_passed}, the named walk {run_passed}"
                );
                if run_passed {
                    passed += 1;
                } else {
                    failed += 1;
                }
            }
            pinner.unpin();
        }
        // Both verdicts were met: the comparison was not one-sided.
        assert!(passed > 0 && failed > 0, "passed {passed}, failed {failed}");
    }

    /// A C-style node: `next` points at one more node, on nobody's word.
    #[repr(C)]
    struct Node {
        next: *const Node,
    }

    // SAFETY: `next` points at one `Node` whenever it is valid.
    unsafe impl Referents for Node {
        fn visit_referents<V: Visitor>(&self, visitor: &mut V) {
            visitor.pointer(self.next, 1, Via::Field("next"));
        }
    }

    /// On a promise, only raw pointers that lead to pinned memory are
    /// vouched for: each level is asked about before anything below it is
    /// read, so an unpinned pointer that is not valid at all (here an
    /// unmapped address: reading it would fault, and Miri would call it
    /// undefined behaviour) is reported, never read.
    #[test]
    fn on_a_promise_a_level_is_asked_about_before_it_is_read() {
        let last = Node {
            next: core::ptr::null(),
        };
        let first = Node { next: &last };
        let two = Node { next: &first };
        let wild = Node {
            next: 0x10 as *const Node,
        };
        let root = Node { next: &wild };
        let mut pinner = Pinner::new();
        pinner.pin(&last);
        // SAFETY: `first.next` points at `last`, live and pinned.
        let (passed, named, questions) =
            counted(|| unsafe { try_check_referents_through_raw(&first) });
        assert!(passed.is_ok());
        assert_eq!((named, questions), (0, 1), "one level, one question");
        pinner.pin(&first);
        // SAFETY: as above, one level further.
        let (passed, _, questions) = counted(|| unsafe { try_check_referents_through_raw(&two) });
        assert!(passed.is_ok());
        assert_eq!(questions, 2, "a question per level");
        pinner.pin(&wild);
        // SAFETY: every pointer that leads to pinned memory (`root.next`)
        // is valid; `wild.next` leads to unpinned memory, which the promise
        // does not cover and the walk must not read.
        let (failed, named, _) = counted(|| unsafe { try_check_referents_through_raw(&root) });
        pinner.unpin();
        let failure = failed.expect_err("0x10 is not pinned");
        assert_eq!(named, 1);
        assert_eq!(failure.cause, FailureCause::Unpinned);
        assert_eq!(failure.region.addr(), 0x10);
        assert_eq!(failure.path, "value.next.next");
    }
}
