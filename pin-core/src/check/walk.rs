//! The checker's walk: from a root value, every referent must be pinned, and
//! pinned referents are followed (their own referents must be pinned too),
//! breadth first, until nothing new is reached.
//!
//! Each level's referents are checked against the registry under one lock
//! acquisition. A referent is read (its `visit_referents` called) only after
//! the registry said it is pinned, so the walk never reads through an
//! unpinned pointer. Cycles end because each `(address, type)` is followed
//! once.

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
    /// Node in `Scratch::path` naming the holder of the pointer.
    path: u32,
    /// The pointer's extent overflows the address space.
    overflow: bool,
}

#[derive(Clone, Copy)]
struct PathNode {
    parent: u32,
    step: Via,
}

const ROOT: u32 = u32::MAX;

/// Buffers reused across checks on a thread, so a check allocates nothing
/// once warm.
#[derive(Default)]
struct Scratch {
    path: Vec<PathNode>,
    current: Vec<Pending>,
    next: Vec<Pending>,
    regions: Vec<Region>,
    covered: Vec<bool>,
    followed: Vec<(usize, usize)>,
    followed_set: HashSet<(usize, usize)>,
}

impl Scratch {
    fn clear(&mut self) {
        self.path.clear();
        self.current.clear();
        self.next.clear();
        self.followed.clear();
        self.followed_set.clear();
    }

    /// Records that `(addr, visit)` is being followed; false if it already was.
    fn first_visit(&mut self, key: (usize, usize)) -> bool {
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
    at: u32,
}

impl Collector<'_> {
    fn step(&mut self, via: Via) -> u32 {
        self.path.push(PathNode {
            parent: self.at,
            step: via,
        });
        (self.path.len() - 1) as u32
    }
}

/// # Safety
/// `ptr` must point at `count` initialised values of `T`.
unsafe fn visit_elements<T: Referents>(ptr: *const u8, count: usize, c: &mut Collector<'_>) {
    let base = ptr.cast::<T>();
    let holder = c.at;
    for i in 0..count {
        c.at = if count > 1 { c.step(Via::Index(i)) } else { holder };
        // SAFETY: the caller guarantees `count` valid values at `ptr`.
        let value = unsafe { &*base.add(i) };
        value.visit_referents(c);
    }
    c.at = holder;
}

impl Visitor for Collector<'_> {
    fn pointer<T: Referents>(&mut self, ptr: *const T, count: usize, via: Via) {
        if ptr.is_null() || count == 0 {
            return;
        }
        let path = self.step(via);
        let (region, overflow) = match Region::of_elements(ptr, count) {
            Ok(r) => (r, false),
            Err(_) => (Region::from_parts(ptr as usize, 0), true),
        };
        let follow = (core::mem::size_of::<T>() > 0).then_some(Follow {
            ptr: ptr.cast(),
            count,
            visit: visit_elements::<T>,
        });
        self.out.push(Pending {
            region,
            pointee: core::any::type_name::<T>(),
            follow,
            path,
            overflow,
        });
    }

    fn bytes(&mut self, ptr: *const u8, len: usize, via: Via) {
        if ptr.is_null() || len == 0 {
            return;
        }
        let path = self.step(via);
        let (region, overflow) = match Region::new(ptr, len) {
            Ok(r) => (r, false),
            Err(_) => (Region::from_parts(ptr as usize, 0), true),
        };
        self.out.push(Pending {
            region,
            pointee: "bytes",
            follow: None,
            path,
            overflow,
        });
    }

    fn inline<T: Referents + ?Sized>(&mut self, value: &T, via: Via) {
        let saved = self.at;
        self.at = self.step(via);
        value.visit_referents(self);
        self.at = saved;
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
    with_scratch(|s| {
        {
            let mut c = Collector {
                path: &mut s.path,
                out: &mut s.current,
                at: ROOT,
            };
            // SAFETY: forwarded from the caller.
            unsafe { visit_elements::<T>(ptr.cast(), count, &mut c) };
        }
        run(s, root)
    })
}

/// Checks the referents of one value.
pub(crate) fn check_value<T: Referents + ?Sized>(
    root: &Root<'_>,
    value: &T,
) -> Result<(), Box<CheckFailure>> {
    with_scratch(|s| {
        {
            let mut c = Collector {
                path: &mut s.path,
                out: &mut s.current,
                at: ROOT,
            };
            value.visit_referents(&mut c);
        }
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
        s.regions.clear();
        s.regions.extend(s.current.iter().map(|p| p.region));
        s.covered.clear();
        s.covered.resize(s.current.len(), false);
        registry::regions_covered(&s.regions, &mut s.covered);
        for (i, p) in s.current.iter().enumerate() {
            if p.overflow || !s.covered[i] {
                return Err(Box::new(failure(s, root, p)));
            }
        }
        let level = std::mem::take(&mut s.current);
        for p in &level {
            let Some(follow) = p.follow else { continue };
            if !s.first_visit((follow.ptr as usize, follow.visit as usize)) {
                continue;
            }
            let mut c = Collector {
                path: &mut s.path,
                out: &mut s.next,
                at: p.path,
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
    let mut steps = Vec::new();
    let mut at = p.path;
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
    let path = steps
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
