//! Model-based test of the pin registry.
//!
//! Random sequences of pins (through several `Pinner`s, pinning and
//! unpinning on this thread and on others, so that one pinner holds pins of
//! several of the shared table's shards; `OwnedPin`s,
//! `with_pinned`, `scope` and the run-time of `#[pointer_escapes]` calls,
//! `CallPins`, nested and released out of order, made on threads that exit
//! while they are held and released on other threads), unpins, drops and
//! queries run against the real
//! registry and, step by step, against a model simple enough to be obviously
//! right: a list of live `(offset, len)` pins.
//!
//! - `is_pinned(a)`: some live pin covers `a` (a zero-length pin covers its
//!   own address);
//! - `pin_count(a)`: how many live pins cover `a`;
//! - `is_region_pinned(a, n)`: every byte of `[a, a + n)` lies in some live
//!   pin of non-zero length (a zero-length query asks `is_pinned(a)`).
//!
//! The registry is process-wide and other tests of this binary may run at
//! the same time, so every case works inside a heap arena it owns and only
//! asks about addresses inside it. The arena has a guard band on each side
//! so that a zero-length pin at the one-past-the-end address of a neighbour
//! allocation can never land on a modelled address. Heap memory is used
//! because static memory always counts as pinned.
//!
//! Each case is 1 to 200 operations (so that a failure shrinks to the few
//! that matter); 512 cases make about 51 000 operations per run.
//! `PROPTEST_CASES` overrides the number of cases.

#![deny(unsafe_op_in_unsafe_fn)]

use pointer_escapes::__private::{CallPins, Extent};
use pointer_escapes::{
    is_pinned, is_region_pinned, pin_count, scope, snapshot, with_pinned, OwnedPin, Pinner, Region,
    StableBuf,
};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

/// Modelled addresses are `base + 0 ..= base + SPACE` (the end included, for
/// zero-length pins one past the last byte).
const SPACE: usize = if cfg!(miri) { 160 } else { 1024 };
/// Bytes on each side of the modelled space that nothing pins.
const GUARD: usize = 64;
/// Operations per case, at most.
const STEPS: usize = if cfg!(miri) { 16 } else { 200 };
const PINNERS: usize = 3;
const OWNED_SLOTS: usize = 4;
const CALL_SLOTS: usize = 3;
/// A full sweep of every modelled address runs this often (and at the end).
const SWEEP_EVERY: usize = 100;

/// A modelled region: `len` bytes at `base + off`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Span {
    off: usize,
    len: usize,
}

impl Span {
    fn covers(self, at: usize) -> bool {
        if self.len == 0 {
            at == self.off
        } else {
            self.off <= at && at < self.off + self.len
        }
    }

    fn end(self) -> usize {
        self.off + self.len
    }

    /// Addresses where a wrong answer would show first: both edges and
    /// their neighbours, inside the modelled space.
    fn edges(self) -> impl Iterator<Item = usize> {
        let end = self.end();
        [
            self.off.checked_sub(1),
            Some(self.off),
            end.checked_sub(1),
            Some(end),
            Some(end + 1),
        ]
        .into_iter()
        .flatten()
        .filter(|&a| a <= SPACE)
    }
}

#[derive(Clone, Debug)]
enum Op {
    // Queries first: shrinking moves an alternative towards the first one,
    // so operations that do not matter to a failure shrink into queries.
    IsPinned {
        at: usize,
    },
    PinCount {
        at: usize,
    },
    RegionPinned {
        span: Span,
    },
    PinSlice {
        pinner: usize,
        span: Span,
    },
    PinRef {
        pinner: usize,
        span: Span,
    },
    PinRaw {
        pinner: usize,
        span: Span,
    },
    TryPinRaw {
        pinner: usize,
        span: Span,
    },
    PinReferents {
        pinner: usize,
        spans: Vec<Span>,
    },
    Unpin {
        pinner: usize,
    },
    /// `pin_slice` on another thread (its pins go to that thread's shard
    /// of the shared table), into a pinner that this thread also uses: one
    /// pinner then holds pins of several shards.
    PinElsewhere {
        pinner: usize,
        span: Span,
    },
    /// `unpin` on another thread, of pins made on any.
    UnpinElsewhere {
        pinner: usize,
    },
    DropPinner {
        pinner: usize,
    },
    Own {
        slot: usize,
        span: Span,
    },
    IntoInner {
        slot: usize,
    },
    WithPinned {
        spans: Vec<Span>,
    },
    Scope {
        spans: Vec<Span>,
    },
    /// Starts a `#[pointer_escapes]` call: each span a raw-pointer argument
    /// of `bytes = len`.
    Call {
        slot: usize,
        spans: Vec<Span>,
    },
    /// Starts a call with one `#[flow_through]` slice argument whose
    /// elements point at the spans (a big one exceeds a call group).
    CallFlow {
        slot: usize,
        spans: Vec<Span>,
    },
    /// Returns from a call (calls may end in any order).
    EndCall {
        slot: usize,
    },
    /// A call made on another thread, which exits while the call's pins
    /// are still held (an `async fn`'s future handed back): published in
    /// that thread's record, seen from this one, released from here.
    CallElsewhere {
        slot: usize,
        spans: Vec<Span>,
    },
    /// Ends the call in `slot` on another thread (a future dropped there).
    EndCallElsewhere {
        slot: usize,
    },
}

fn span() -> impl Strategy<Value = Span> {
    // Offsets on a coarse grid make duplicates and shared edges frequent;
    // uniform ones reach everything else. Lengths cross the table's 64- and
    // 512-byte granule levels.
    let grid = (SPACE / 64).max(1);
    let off = prop_oneof![
        3 => (0..=grid).prop_map(|k| k * 64),
        1 => (0..grid).prop_map(|k| k * 64 + 60),
        3 => 0..=SPACE,
    ];
    let len = prop_oneof![
        1 => Just(0usize),
        2 => prop::sample::select(vec![1usize, 4, 8, 16, 63, 64, 65, 128, 511, 512, 513]),
        2 => 1..=64usize,
        1 => 0..=SPACE,
    ];
    (off, len).prop_map(|(off, len)| Span {
        off,
        len: len.min(SPACE - off),
    })
}

fn op() -> impl Strategy<Value = Op> {
    let at = 0..=SPACE;
    let pinner = 0..PINNERS;
    let slot = 0..OWNED_SLOTS;
    prop_oneof![
        2 => at.clone().prop_map(|at| Op::IsPinned { at }),
        2 => at.prop_map(|at| Op::PinCount { at }),
        2 => span().prop_map(|span| Op::RegionPinned { span }),
        4 => (pinner.clone(), span()).prop_map(|(pinner, span)| Op::PinSlice { pinner, span }),
        2 => (pinner.clone(), span()).prop_map(|(pinner, span)| Op::PinRef { pinner, span }),
        2 => (pinner.clone(), span()).prop_map(|(pinner, span)| Op::PinRaw { pinner, span }),
        1 => (pinner.clone(), span()).prop_map(|(pinner, span)| Op::TryPinRaw { pinner, span }),
        2 => (pinner.clone(), prop::collection::vec(span(), 1..=4))
            .prop_map(|(pinner, spans)| Op::PinReferents { pinner, spans }),
        2 => pinner.clone().prop_map(|pinner| Op::Unpin { pinner }),
        2 => (pinner.clone(), span()).prop_map(|(pinner, span)| Op::PinElsewhere { pinner, span }),
        1 => pinner.clone().prop_map(|pinner| Op::UnpinElsewhere { pinner }),
        1 => pinner.prop_map(|pinner| Op::DropPinner { pinner }),
        2 => (slot.clone(), span()).prop_map(|(slot, span)| Op::Own { slot, span }),
        2 => slot.prop_map(|slot| Op::IntoInner { slot }),
        1 => prop::collection::vec(span(), 0..=4).prop_map(|spans| Op::WithPinned { spans }),
        1 => prop::collection::vec(span(), 0..=4).prop_map(|spans| Op::Scope { spans }),
        2 => (0..CALL_SLOTS, prop::collection::vec(span(), 0..=4))
            .prop_map(|(slot, spans)| Op::Call { slot, spans }),
        1 => (0..CALL_SLOTS, prop_oneof![
            8 => prop::collection::vec(span(), 0..=4),
            1 => prop::collection::vec(span(), 250..=300),
        ])
            .prop_map(|(slot, spans)| Op::CallFlow { slot, spans }),
        2 => (0..CALL_SLOTS).prop_map(|slot| Op::EndCall { slot }),
        1 => (0..CALL_SLOTS, prop::collection::vec(span(), 0..=4))
            .prop_map(|(slot, spans)| Op::CallElsewhere { slot, spans }),
        1 => (0..CALL_SLOTS).prop_map(|slot| Op::EndCallElsewhere { slot }),
    ]
}

/// The model: which spans each pinner and each owned slot holds.
#[derive(Default)]
struct Model {
    pinners: [Vec<Span>; PINNERS],
    /// What `Pinner::len` should say (`pin_referents` also pins its holder,
    /// which lives outside the arena).
    pinner_lens: [usize; PINNERS],
    owned: [Option<Span>; OWNED_SLOTS],
    calls: [Vec<Span>; CALL_SLOTS],
    /// Pins made by an operation still in progress (`with_pinned`, `scope`).
    transient: Vec<Span>,
}

impl Model {
    fn live(&self) -> impl Iterator<Item = Span> + '_ {
        self.pinners
            .iter()
            .flatten()
            .copied()
            .chain(self.owned.iter().flatten().copied())
            .chain(self.calls.iter().flatten().copied())
            .chain(self.transient.iter().copied())
    }

    fn is_pinned(&self, at: usize) -> bool {
        self.live().any(|s| s.covers(at))
    }

    fn count(&self, at: usize) -> usize {
        self.live().filter(|s| s.covers(at)).count()
    }

    fn region_pinned(&self, span: Span) -> bool {
        if span.len == 0 {
            return self.is_pinned(span.off);
        }
        // One flag per byte: set by every live pin, then all read.
        let mut covered = vec![false; SPACE + 1];
        for s in self.live() {
            covered[s.off..s.end()].fill(true);
        }
        covered[span.off..span.end()].iter().all(|&c| c)
    }
}

/// A slice of the arena handed to `OwnedPin` (which needs an owner whose
/// storage does not move: the arena outlives every `OwnedPin` of a case).
struct ArenaSpan {
    ptr: *const u8,
    len: usize,
}

// SAFETY: the arena is neither moved nor freed while an `ArenaSpan` of it is
// alive (`Case` gives every one back before the arena goes), and its owner
// frees it through the global allocator; a span's drop does nothing to it.
unsafe impl StableBuf for ArenaSpan {
    type Elem = u8;
    fn stable_ptr(&self) -> *const u8 {
        self.ptr
    }
    fn stable_len(&self) -> usize {
        self.len
    }
}

/// The real side of one case. Dropping it (also when a check fails half
/// way) releases everything it pinned, so a failing case cannot leak pins
/// into the cases proptest runs while shrinking.
struct Case<'a> {
    modelled: &'a [u8],
    pinners: Vec<Pinner<'a>>,
    owned: Vec<Option<OwnedPin<ArenaSpan>>>,
    calls: Vec<Option<CallPins>>,
}

impl Drop for Case<'_> {
    fn drop(&mut self) {
        for slot in &mut self.owned {
            if let Some(pin) = slot.take() {
                let _ = pin.into_inner();
            }
        }
        self.pinners.clear();
        self.calls.clear();
    }
}

impl<'a> Case<'a> {
    fn slice(&self, span: Span) -> &'a [u8] {
        &self.modelled[span.off..span.end()]
    }

    fn addr(&self, at: usize) -> *const u8 {
        self.modelled.as_ptr().wrapping_add(at)
    }
}

fn check_point(case: &Case<'_>, model: &Model, at: usize) -> Result<(), TestCaseError> {
    let p = case.addr(at);
    prop_assert_eq!(
        is_pinned(p),
        model.is_pinned(at),
        "is_pinned(base + {})",
        at
    );
    prop_assert_eq!(pin_count(p), model.count(at), "pin_count(base + {})", at);
    Ok(())
}

fn check_region(case: &Case<'_>, model: &Model, span: Span) -> Result<(), TestCaseError> {
    prop_assert_eq!(
        is_region_pinned(case.addr(span.off), span.len),
        model.region_pinned(span),
        "is_region_pinned(base + {}, {})",
        span.off,
        span.len
    );
    Ok(())
}

/// The answers that an operation on `span` could have changed.
fn check_around(case: &Case<'_>, model: &Model, span: Span) -> Result<(), TestCaseError> {
    for at in span.edges() {
        check_point(case, model, at)?;
    }
    check_region(case, model, span)?;
    let wider_off = span.off.saturating_sub(1);
    let wider = Span {
        off: wider_off,
        len: (span.end() + 1).min(SPACE) - wider_off,
    };
    check_region(case, model, wider)
}

fn sweep(case: &Case<'_>, model: &Model) -> Result<(), TestCaseError> {
    for at in 0..=SPACE {
        check_point(case, model, at)?;
    }
    // The registry's own view of the arena: entries whose region starts in
    // the modelled space, counted, equal the model's live pins.
    let lo = case.addr(0) as usize;
    let hi = lo + SPACE;
    let in_arena: usize = snapshot()
        .pins
        .iter()
        .filter(|p| (lo..=hi).contains(&p.region.addr()))
        .map(|p| p.count as usize)
        .sum();
    prop_assert_eq!(
        in_arena,
        model.live().count(),
        "snapshot() pins in the arena"
    );
    for (i, pinner) in case.pinners.iter().enumerate() {
        prop_assert_eq!(pinner.len(), model.pinner_lens[i], "pinner {} len()", i);
    }
    Ok(())
}

fn run_case(ops: &[Op]) -> Result<(), TestCaseError> {
    let arena = vec![0u8; GUARD + SPACE + 1 + GUARD];
    let modelled = &arena[GUARD..GUARD + SPACE + 1];
    // `pin_referents` borrows its holder slice for the pinner's lifetime, so
    // every holder is built before the pinners exist.
    let holders: Vec<Vec<&[u8]>> = ops
        .iter()
        .map(|op| match op {
            Op::PinReferents { spans, .. } | Op::CallFlow { spans, .. } => {
                spans.iter().map(|s| &modelled[s.off..s.end()]).collect()
            }
            _ => Vec::new(),
        })
        .collect();
    let mut case = Case {
        modelled,
        pinners: (0..PINNERS).map(|_| Pinner::new()).collect(),
        owned: (0..OWNED_SLOTS).map(|_| None).collect(),
        calls: (0..CALL_SLOTS).map(|_| None).collect(),
    };
    let mut model = Model::default();

    for (step, op) in ops.iter().enumerate() {
        match *op {
            Op::IsPinned { at } | Op::PinCount { at } => check_point(&case, &model, at)?,
            Op::RegionPinned { span } => check_region(&case, &model, span)?,
            Op::PinSlice { pinner, span } => {
                let slice = case.slice(span);
                let p = case.pinners[pinner].pin_slice(slice);
                prop_assert_eq!(p, case.addr(span.off));
                model.pinners[pinner].push(span);
                model.pinner_lens[pinner] += 1;
                check_around(&case, &model, span)?;
            }
            Op::PinRef { pinner, span } => {
                let slice = case.slice(span);
                let p = case.pinners[pinner].pin(slice);
                prop_assert_eq!(p.cast::<u8>(), case.addr(span.off));
                model.pinners[pinner].push(span);
                model.pinner_lens[pinner] += 1;
                check_around(&case, &model, span)?;
            }
            Op::PinRaw { pinner, span } => {
                let at = case.addr(span.off);
                // SAFETY: the arena outlives every pinner of the case.
                unsafe { case.pinners[pinner].pin_raw(at, span.len) };
                model.pinners[pinner].push(span);
                model.pinner_lens[pinner] += 1;
                check_around(&case, &model, span)?;
            }
            Op::TryPinRaw { pinner, span } => {
                let at = case.addr(span.off);
                // SAFETY: as above.
                let got = unsafe { case.pinners[pinner].try_pin_raw(at, span.len) };
                prop_assert_eq!(got, Ok(at));
                model.pinners[pinner].push(span);
                model.pinner_lens[pinner] += 1;
                check_around(&case, &model, span)?;
            }
            Op::PinReferents { pinner, ref spans } => {
                let holder = &holders[step][..];
                let p = case.pinners[pinner].pin_referents(holder);
                prop_assert_eq!(p, holder.as_ptr());
                // The holder is pinned too (outside the arena); empty
                // referents pin nothing: a zero-length slice points at no
                // memory.
                let referents: Vec<Span> = spans.iter().copied().filter(|s| s.len > 0).collect();
                model.pinner_lens[pinner] += 1 + referents.len();
                model.pinners[pinner].extend(&referents);
                prop_assert!(is_region_pinned(
                    holder.as_ptr(),
                    std::mem::size_of_val(holder)
                ));
                for &s in spans {
                    check_around(&case, &model, s)?;
                }
            }
            Op::PinElsewhere { pinner, span } => {
                let slice = case.slice(span);
                let held = &mut case.pinners[pinner];
                // The pointer goes back as an address (raw pointers are
                // not `Send`).
                let p = std::thread::scope(|s| s.spawn(|| held.pin_slice(slice) as usize).join())
                    .expect("pinning does not panic") as *const u8;
                prop_assert_eq!(p, case.addr(span.off));
                model.pinners[pinner].push(span);
                model.pinner_lens[pinner] += 1;
                check_around(&case, &model, span)?;
            }
            Op::Unpin { pinner } | Op::UnpinElsewhere { pinner } | Op::DropPinner { pinner } => {
                if matches!(op, Op::Unpin { .. }) {
                    case.pinners[pinner].unpin();
                } else if matches!(op, Op::UnpinElsewhere { .. }) {
                    let held = &mut case.pinners[pinner];
                    std::thread::scope(|s| s.spawn(|| held.unpin()).join())
                        .expect("unpinning does not panic");
                } else {
                    case.pinners[pinner] = Pinner::new();
                }
                prop_assert!(case.pinners[pinner].is_empty());
                let released = std::mem::take(&mut model.pinners[pinner]);
                model.pinner_lens[pinner] = 0;
                for s in released {
                    check_around(&case, &model, s)?;
                }
            }
            Op::Own { slot, span } => {
                if let Some(old) = case.owned[slot].take() {
                    let _ = old.into_inner();
                }
                if let Some(old) = model.owned[slot].take() {
                    check_around(&case, &model, old)?;
                }
                let pin = OwnedPin::new(ArenaSpan {
                    ptr: case.addr(span.off),
                    len: span.len,
                });
                prop_assert_eq!(pin.as_ptr(), case.addr(span.off));
                prop_assert_eq!(pin.len(), span.len);
                prop_assert_eq!(
                    pin.region(),
                    Region::new(case.addr(span.off), span.len).unwrap()
                );
                case.owned[slot] = Some(pin);
                model.owned[slot] = Some(span);
                check_around(&case, &model, span)?;
            }
            Op::IntoInner { slot } => {
                if let Some(pin) = case.owned[slot].take() {
                    let back = pin.into_inner();
                    let span = model.owned[slot]
                        .take()
                        .expect("model and case agree on slots");
                    prop_assert_eq!((back.ptr, back.len), (case.addr(span.off), span.len));
                    check_around(&case, &model, span)?;
                }
            }
            Op::WithPinned { ref spans } => {
                let regions: Vec<Region> = spans
                    .iter()
                    .map(|&s| Region::of_slice(case.slice(s)))
                    .collect();
                model.transient.extend(spans);
                let inside = with_pinned(&regions, || -> Result<(), TestCaseError> {
                    for &s in spans {
                        check_around(&case, &model, s)?;
                    }
                    Ok(())
                });
                model.transient.clear();
                inside?;
                for &s in spans {
                    check_around(&case, &model, s)?;
                }
            }
            Op::Scope { ref spans } => {
                let inside = scope(|pinner| -> Result<(), TestCaseError> {
                    for &s in spans {
                        pinner.pin_slice(case.slice(s));
                        model.transient.push(s);
                        check_around(&case, &model, s)?;
                    }
                    prop_assert_eq!(pinner.len(), spans.len());
                    Ok(())
                });
                model.transient.clear();
                inside?;
                for &s in spans {
                    check_around(&case, &model, s)?;
                }
            }
            Op::Call { slot, ref spans } => {
                end_call(&mut case, &mut model, slot)?;
                let call = CallPins::new("model_call", |call| {
                    for &s in spans {
                        let ptr = case.addr(s.off);
                        // SAFETY: with no check function nothing is read
                        // through `ptr`.
                        unsafe { call.pointer("buf", &ptr, Extent::bytes(s.len), None) };
                    }
                });
                prop_assert!(
                    call.is_active(),
                    "debug builds check arguments, so calls pin"
                );
                case.calls[slot] = Some(call);
                model.calls[slot] = spans.clone();
                for &s in spans {
                    check_around(&case, &model, s)?;
                }
            }
            Op::CallFlow { slot, ref spans } => {
                end_call(&mut case, &mut model, slot)?;
                let holder = &holders[step][..];
                let call = CallPins::new("model_call_flow", |call| {
                    call.flow_through_ref("iov", holder);
                });
                case.calls[slot] = Some(call);
                // The holder slice is pinned too (outside the arena); empty
                // referents point at no memory and pin nothing.
                model.calls[slot] = spans.iter().copied().filter(|s| s.len > 0).collect();
                prop_assert!(is_region_pinned(
                    holder.as_ptr(),
                    std::mem::size_of_val(holder)
                ));
                for &s in spans.iter().take(8) {
                    check_around(&case, &model, s)?;
                }
            }
            Op::EndCall { slot } => end_call(&mut case, &mut model, slot)?,
            Op::CallElsewhere { slot, ref spans } => {
                end_call(&mut case, &mut model, slot)?;
                let addrs: Vec<(usize, usize)> = spans
                    .iter()
                    .map(|s| (case.addr(s.off) as usize, s.len))
                    .collect();
                let call = std::thread::spawn(move || {
                    CallPins::new("model_call_elsewhere", |call| {
                        for &(addr, len) in &addrs {
                            let ptr = addr as *const u8;
                            // SAFETY: with no check function nothing is
                            // read through `ptr`.
                            unsafe { call.pointer("buf", &ptr, Extent::bytes(len), None) };
                        }
                    })
                })
                .join()
                .expect("the calling thread does not panic");
                case.calls[slot] = Some(call);
                model.calls[slot] = spans.clone();
                for &s in spans {
                    check_around(&case, &model, s)?;
                }
            }
            Op::EndCallElsewhere { slot } => {
                if let Some(call) = case.calls[slot].take() {
                    std::thread::spawn(move || drop(call))
                        .join()
                        .expect("releasing does not panic");
                }
                end_call(&mut case, &mut model, slot)?;
            }
        }
        if (step + 1) % SWEEP_EVERY == 0 && step + 1 < ops.len() {
            sweep(&case, &model)?;
        }
    }
    sweep(&case, &model)?;

    // Releasing everything leaves nothing pinned in the arena.
    drop(case);
    let case = Case {
        modelled,
        pinners: Vec::new(),
        owned: Vec::new(),
        calls: Vec::new(),
    };
    sweep(&case, &Model::default())
}

/// Ends the call in `slot`, if any, and checks what it released.
fn end_call(case: &mut Case<'_>, model: &mut Model, slot: usize) -> Result<(), TestCaseError> {
    drop(case.calls[slot].take());
    let released = std::mem::take(&mut model.calls[slot]);
    for s in released.into_iter().take(8) {
        check_around(case, model, s)?;
    }
    Ok(())
}

fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if cfg!(miri) { 1 } else { 512 });
    ProptestConfig {
        cases,
        // Miri runs without file system access.
        failure_persistence: if cfg!(miri) {
            None
        } else {
            ProptestConfig::default().failure_persistence
        },
        // The default ChaCha generator dominates a debug build's run time.
        rng_algorithm: proptest::test_runner::RngAlgorithm::XorShift,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    /// Every answer of the registry matches the model after every step.
    #[test]
    fn registry_matches_model(ops in prop::collection::vec(op(), 1..=STEPS)) {
        run_case(&ops)?;
    }
}

/// Hand-written sequences for the shapes most likely to go wrong, run on
/// every `cargo test` whatever the random cases hit.
#[test]
fn edge_sequences_match_model() {
    let s = |off, len| Span { off, len };
    let sequences: Vec<Vec<Op>> = vec![
        // Duplicates in one pinner and across pinners, released one by one.
        vec![
            Op::PinSlice {
                pinner: 0,
                span: s(64, 64),
            },
            Op::PinSlice {
                pinner: 0,
                span: s(64, 64),
            },
            Op::PinRaw {
                pinner: 1,
                span: s(64, 64),
            },
            Op::Own {
                slot: 0,
                span: s(64, 64),
            },
            Op::Unpin { pinner: 0 },
            Op::IntoInner { slot: 0 },
            Op::DropPinner { pinner: 1 },
        ],
        // Zero-length pins at a region's edges and inside it.
        vec![
            Op::PinSlice {
                pinner: 0,
                span: s(100, 0),
            },
            Op::PinSlice {
                pinner: 1,
                span: s(100, 10),
            },
            Op::PinSlice {
                pinner: 2,
                span: s(110, 0),
            },
            Op::RegionPinned { span: s(100, 11) },
            Op::Unpin { pinner: 1 },
            Op::RegionPinned { span: s(100, 1) },
            Op::IsPinned { at: 100 },
        ],
        // Adjacent pins together cover a region neither covers alone,
        // across a 64-byte granule boundary.
        vec![
            Op::PinRaw {
                pinner: 0,
                span: s(60, 4),
            },
            Op::PinRaw {
                pinner: 1,
                span: s(64, 70),
            },
            Op::RegionPinned { span: s(60, 74) },
            Op::RegionPinned { span: s(60, 75) },
            Op::Own {
                slot: 1,
                span: s(134, 0),
            },
            Op::RegionPinned { span: s(60, 75) },
        ],
        // Referents and transient pins on top of long ones.
        vec![
            Op::PinReferents {
                pinner: 0,
                spans: vec![s(0, 16), s(8, 0), s(0, 16)],
            },
            Op::WithPinned {
                spans: vec![s(0, 16), s(16, 16)],
            },
            Op::Scope {
                spans: vec![s(0, 32), s(0, 32)],
            },
            Op::TryPinRaw {
                pinner: 2,
                span: s(SPACE, 0),
            },
            Op::DropPinner { pinner: 0 },
        ],
    ];
    for ops in sequences {
        if let Err(e) = run_case(&ops) {
            panic!("{e}\nsequence: {ops:#?}");
        }
    }
}
