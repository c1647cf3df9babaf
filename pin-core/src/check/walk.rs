//! The checker's walk: from a root value, every referent must be pinned, and
//! pinned referents are followed (their own referents must be pinned too),
//! breadth first, until nothing new is reached.
//!
//! Each level's referents are checked against the registry under one lock
//! acquisition. A referent is read (its `visit_referents` called) only after
//! the registry said it is pinned, so the walk never reads through an
//! unpinned pointer. Cycles end because each `(address, type, count)` is
//! followed once (the count matters: a pointer to one element and a pointer
//! to ten at the same address are different extents to follow).

use super::failure::{CheckFailure, FailureCause, PathStep};
use crate::referents::{Referents, Via, Visitor};
use crate::region::Region;
use crate::registry;
use std::cell::RefCell;
use std::collections::HashSet;

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
    pointee: &'static str,
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
#[derive(Default)]
struct Scratch {
    path: Vec<PathNode>,
    current: Vec<Pending>,
    next: Vec<Pending>,
    followed: Vec<FollowKey>,
    followed_set: HashSet<FollowKey>,
}

impl Scratch {
    fn clear(&mut self) {
        self.path.clear();
        self.current.clear();
        self.next.clear();
        self.followed.clear();
        self.followed_set.clear();
    }

    /// Records that `(addr, visit, count)` is being followed; false if it
    /// already was.
    fn first_visit(&mut self, key: FollowKey) -> bool {
        const LINEAR_LIMIT: usize = 32;
        if self.followed.len() < LINEAR_LIMIT {
            if self.followed.contains(&key) {
                return false;
            }
            self.followed.push(key);
            return true;
        }
        if self.followed_set.is_empty() {
            self.followed_set.extend(self.followed.iter().copied());
        }
        self.followed_set.insert(key)
    }
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

/// Gathers the referents one value reports into `out`, labelling each with
/// its path.
pub(crate) struct Collector<'s> {
    path: &'s mut Vec<PathNode>,
    out: &'s mut Vec<Pending>,
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

impl Visitor for Collector<'_> {
    #[inline]
    fn pointer<T: Referents>(&mut self, ptr: *const T, count: usize, via: Via) {
        // Zero-sized values occupy no memory C could read: nothing to check
        // (their address is dangling and never pinned).
        if ptr.is_null() || count == 0 || core::mem::size_of::<T>() == 0 {
            return;
        }
        let (region, overflow) = match Region::of_elements(ptr, count) {
            Ok(r) => (r, false),
            Err(_) => (Region::from_parts(ptr as usize, 0), true),
        };
        let follow = Some(Follow {
            ptr: ptr.cast(),
            count,
            visit: visit_elements::<T>,
        });
        self.out.push(Pending {
            region,
            pointee: core::any::type_name::<T>(),
            follow,
            holder: self.at,
            elem: self.elem,
            via,
            overflow,
        });
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
            pointee: "bytes",
            follow: None,
            holder: self.at,
            elem: self.elem,
            via,
            overflow,
        });
    }

    #[inline]
    fn inline<T: Referents + ?Sized>(&mut self, value: &T, via: Via) {
        let saved = (self.at, self.elem);
        self.materialize();
        match via {
            // An array element: recorded lazily, like `visit_elements` does.
            Via::Index(i) => self.elem = i,
            _ => self.at = self.step(via),
        }
        value.visit_referents(self);
        (self.at, self.elem) = saved;
    }
}

/// What is being checked: where the walk starts and how to name it.
pub(crate) struct Root<'a> {
    /// First word of every path (`value`, or the parameter's name).
    pub(crate) name: &'a str,
    /// Builds the message's opening ("`readv`: argument `iov`"), only on
    /// failure.
    pub(crate) context: &'a dyn Fn() -> String,
}

/// Checks the referents of `count` values at `ptr` (for a pointer argument
/// with a length). Elements are labelled `[i]` when there is more than one.
///
/// # Safety
/// `ptr` must point at `count` initialised values of `T` (null and zero
/// count check nothing).
pub(crate) unsafe fn check_elements<T: Referents>(
    root: &Root<'_>,
    ptr: *const T,
    count: usize,
) -> Result<(), Box<CheckFailure>> {
    if ptr.is_null() || count == 0 {
        return Ok(());
    }
    // SAFETY: forwarded from the caller.
    check_from(root, |c| unsafe {
        visit_elements::<T>(ptr.cast(), count, c)
    })
}

/// Checks the referents of one value.
pub(crate) fn check_value<T: Referents + ?Sized>(
    root: &Root<'_>,
    value: &T,
) -> Result<(), Box<CheckFailure>> {
    check_from(root, |c| value.visit_referents(c))
}

/// Collects the root's referents with `visit_root`, then walks from them.
fn check_from(
    root: &Root<'_>,
    visit_root: impl FnOnce(&mut Collector<'_>),
) -> Result<(), Box<CheckFailure>> {
    with_scratch(|s| {
        visit_root(&mut Collector {
            path: &mut s.path,
            out: &mut s.current,
            at: ROOT,
            elem: NO_ELEMENT,
        });
        run(s, root)
    })
}

fn with_scratch<R>(f: impl FnOnce(&mut Scratch) -> R) -> R {
    let mut f = Some(f);
    let reused = SCRATCH.try_with(|cell| {
        // A `Referents` impl that itself runs a check finds the scratch
        // busy and gets a fresh one.
        cell.try_borrow_mut().ok().map(|mut s| {
            s.clear();
            (f.take().expect("called once"))(&mut s)
        })
    });
    match reused {
        Ok(Some(r)) => r,
        _ => (f.take().expect("called once"))(&mut Scratch::default()),
    }
}

fn run(s: &mut Scratch, root: &Root<'_>) -> Result<(), Box<CheckFailure>> {
    while !s.current.is_empty() {
        let uncovered =
            registry::first_uncovered(&s.current, |p| (!p.overflow).then_some(p.region));
        if let Some(i) = uncovered {
            return Err(Box::new(failure(s, root, &s.current[i])));
        }
        let level = std::mem::take(&mut s.current);
        for p in &level {
            let Some(follow) = p.follow else { continue };
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
                at,
                elem: NO_ELEMENT,
            };
            // SAFETY: the referent is pinned (checked above), which is the
            // pinner's promise that it is live; its `Referents` impl
            // promised `count` values of the erased type at `ptr`.
            unsafe { (follow.visit)(follow.ptr, follow.count, &mut c) };
        }
        s.current = level;
        s.current.clear();
        std::mem::swap(&mut s.current, &mut s.next);
    }
    Ok(())
}

fn failure(s: &Scratch, root: &Root<'_>, p: &Pending) -> CheckFailure {
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
        pointee: p.pointee,
        cause: if p.overflow {
            FailureCause::ExtentOverflows
        } else {
            FailureCause::Unpinned
        },
    }
}
