//! Fuzzes the pin registry against a model, as `tests/model.rs` does with
//! proptest: the input bytes are a program of pins (through `Pinner`s,
//! `OwnedPin`s, `with_pinned` and the pins of `#[pointer_escapes]` calls),
//! unpins, drops and queries on one heap arena; every query's answer must
//! match the model (a list of live `(offset, len)` pins), and when the
//! program ends nothing in the arena may be pinned.
//!
//! Run: `cargo +nightly fuzz run registry_model` from the repository root
//! (see RELIABILITY.md).

#![no_main]

use libfuzzer_sys::fuzz_target;
use pointer_escapes::__private::{CallPins, Extent};
use pointer_escapes::{
    is_pinned, is_region_pinned, pin_count, with_pinned, OwnedPin, Pinner, Region, StableBuf,
};

/// Modelled offsets are `0..=SPACE` (the end included, for zero-length pins
/// one past the last byte).
const SPACE: usize = 600;
/// Unmodelled bytes on each side, so a neighbour allocation's one-past-the-
/// end address never lands on a modelled one.
const GUARD: usize = 64;
const PINNERS: usize = 3;
const OWNED: usize = 3;
const CALLS: usize = 2;

#[derive(Clone, Copy, Debug)]
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
}

/// Reads the program's bytes; past the end every read is 0.
struct Input<'a>(&'a [u8]);

impl Input<'_> {
    fn byte(&mut self) -> u8 {
        match self.0.split_first() {
            Some((&b, rest)) => {
                self.0 = rest;
                b
            }
            None => 0,
        }
    }

    fn word(&mut self) -> usize {
        usize::from(self.byte()) << 8 | usize::from(self.byte())
    }

    fn at(&mut self) -> usize {
        self.word() % (SPACE + 1)
    }

    /// Lengths favour the sizes where the table changes level (64, 512).
    fn span(&mut self) -> Span {
        let off = self.at();
        let len = match self.byte() % 8 {
            0 => 0,
            1 => [1, 63, 64, 65, 511, 512, 513][usize::from(self.byte()) % 7],
            2..=5 => usize::from(self.byte() % 80),
            _ => self.word(),
        };
        Span {
            off,
            len: len.min(SPACE - off),
        }
    }
}

struct ArenaSpan {
    ptr: *const u8,
    len: usize,
}

// SAFETY: the arena outlives every `OwnedPin` of a run (`State` gives them
// back before the arena is dropped), which frees it through the global
// allocator; a span's drop does nothing to it.
unsafe impl StableBuf for ArenaSpan {
    type Elem = u8;
    fn stable_ptr(&self) -> *const u8 {
        self.ptr
    }
    fn stable_len(&self) -> usize {
        self.len
    }
}

#[derive(Default)]
struct Model {
    pinners: [Vec<Span>; PINNERS],
    owned: [Option<Span>; OWNED],
    calls: [Vec<Span>; CALLS],
    transient: Vec<Span>,
}

impl Model {
    fn live(&self) -> impl Iterator<Item = Span> + '_ {
        self.pinners
            .iter()
            .flatten()
            .chain(self.owned.iter().flatten())
            .chain(self.calls.iter().flatten())
            .chain(self.transient.iter())
            .copied()
    }

    fn count(&self, at: usize) -> usize {
        self.live().filter(|s| s.covers(at)).count()
    }

    fn region_pinned(&self, span: Span) -> bool {
        if span.len == 0 {
            return self.count(span.off) > 0;
        }
        let mut covered = [false; SPACE + 1];
        for s in self.live() {
            covered[s.off..s.off + s.len].fill(true);
        }
        covered[span.off..span.off + span.len].iter().all(|&c| c)
    }
}

struct State<'a> {
    modelled: &'a [u8],
    pinners: Vec<Pinner<'a>>,
    owned: Vec<Option<OwnedPin<ArenaSpan>>>,
    calls: Vec<Option<CallPins>>,
}

impl Drop for State<'_> {
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

impl<'a> State<'a> {
    fn ptr(&self, at: usize) -> *const u8 {
        self.modelled.as_ptr().wrapping_add(at)
    }

    fn slice(&self, s: Span) -> &'a [u8] {
        &self.modelled[s.off..s.off + s.len]
    }

    fn check_point(&self, model: &Model, at: usize) {
        let want = model.count(at);
        assert_eq!(pin_count(self.ptr(at)), want, "pin_count(base + {at})");
        assert_eq!(is_pinned(self.ptr(at)), want > 0, "is_pinned(base + {at})");
    }

    fn check_region(&self, model: &Model, s: Span) {
        assert_eq!(
            is_region_pinned(self.ptr(s.off), s.len),
            model.region_pinned(s),
            "is_region_pinned(base + {}, {})",
            s.off,
            s.len
        );
    }

    fn check_around(&self, model: &Model, s: Span) {
        let end = s.off + s.len;
        for at in [
            s.off.wrapping_sub(1),
            s.off,
            end.wrapping_sub(1),
            end,
            end + 1,
        ] {
            if at <= SPACE {
                self.check_point(model, at);
            }
        }
        self.check_region(model, s);
    }
}

fn run(mut input: Input<'_>) {
    let arena = vec![0u8; GUARD + SPACE + 1 + GUARD];
    let modelled = &arena[GUARD..GUARD + SPACE + 1];
    let mut st = State {
        modelled,
        pinners: (0..PINNERS).map(|_| Pinner::new()).collect(),
        owned: (0..OWNED).map(|_| None).collect(),
        calls: (0..CALLS).map(|_| None).collect(),
    };
    let mut model = Model::default();

    for _ in 0..256 {
        if input.0.is_empty() {
            break;
        }
        match input.byte() % 12 {
            0 => {
                let at = input.at();
                st.check_point(&model, at);
            }
            1 => {
                let s = input.span();
                st.check_region(&model, s);
            }
            2 | 3 => {
                let (i, s) = (usize::from(input.byte()) % PINNERS, input.span());
                let slice = st.slice(s);
                st.pinners[i].pin_slice(slice);
                model.pinners[i].push(s);
                st.check_around(&model, s);
            }
            4 => {
                let (i, s) = (usize::from(input.byte()) % PINNERS, input.span());
                let p = st.ptr(s.off);
                // SAFETY: the arena outlives the pinners.
                unsafe { st.pinners[i].pin_raw(p, s.len) };
                model.pinners[i].push(s);
                st.check_around(&model, s);
            }
            5 => {
                let i = usize::from(input.byte()) % PINNERS;
                if input.byte() & 1 == 0 {
                    st.pinners[i].unpin();
                } else {
                    st.pinners[i] = Pinner::new();
                }
                for s in std::mem::take(&mut model.pinners[i]) {
                    st.check_around(&model, s);
                }
            }
            6 => {
                let (i, s) = (usize::from(input.byte()) % OWNED, input.span());
                if let Some(old) = st.owned[i].take() {
                    let _ = old.into_inner();
                }
                st.owned[i] = Some(OwnedPin::new(ArenaSpan {
                    ptr: st.ptr(s.off),
                    len: s.len,
                }));
                let old = model.owned[i].replace(s);
                if let Some(old) = old {
                    st.check_around(&model, old);
                }
                st.check_around(&model, s);
            }
            7 => {
                let i = usize::from(input.byte()) % OWNED;
                if let Some(pin) = st.owned[i].take() {
                    let _ = pin.into_inner();
                }
                if let Some(s) = model.owned[i].take() {
                    st.check_around(&model, s);
                }
            }
            8 => {
                let spans: Vec<Span> = (0..input.byte() % 4).map(|_| input.span()).collect();
                let regions: Vec<Region> = spans
                    .iter()
                    .map(|&s| Region::of_slice(st.slice(s)))
                    .collect();
                model.transient.extend(&spans);
                with_pinned(&regions, || {
                    for &s in &spans {
                        st.check_around(&model, s);
                    }
                });
                model.transient.clear();
                for &s in &spans {
                    st.check_around(&model, s);
                }
            }
            9 | 10 => {
                let i = usize::from(input.byte()) % CALLS;
                drop(st.calls[i].take());
                for s in std::mem::take(&mut model.calls[i]) {
                    st.check_around(&model, s);
                }
                let spans: Vec<Span> = (0..input.byte() % 4).map(|_| input.span()).collect();
                let call = CallPins::new("fuzz_call", |call| {
                    for &s in &spans {
                        let p = st.ptr(s.off);
                        // SAFETY: no check function: nothing is read.
                        unsafe { call.pointer("buf", &p, Extent::bytes(s.len), None) };
                    }
                });
                st.calls[i] = Some(call);
                model.calls[i] = spans.clone();
                for &s in &spans {
                    st.check_around(&model, s);
                }
            }
            _ => {
                let i = usize::from(input.byte()) % CALLS;
                drop(st.calls[i].take());
                for s in std::mem::take(&mut model.calls[i]) {
                    st.check_around(&model, s);
                }
            }
        }
    }
    for at in 0..=SPACE {
        st.check_point(&model, at);
    }
    drop(st);
    for at in 0..=SPACE {
        let p = modelled.as_ptr().wrapping_add(at);
        assert_eq!(
            pin_count(p),
            0,
            "base + {at} pinned after everything was released"
        );
    }
}

fuzz_target!(|data: &[u8]| {
    // Call pins are made when checks may read them: the default in debug
    // builds, set explicitly for release-mode fuzz builds.
    pointer_escapes::set_check_mode(pointer_escapes::CheckMode::Args);
    run(Input(data));
});
