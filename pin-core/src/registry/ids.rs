//! `PinIds`: the handles a pinner or a call holds. The first few live inline
//! so that a `Pinner` pinning one or two objects never allocates (Go's
//! benchmark makes a fresh pinner per pin).

use super::PinId;
use crate::sys_vec::SysVec;
use std::alloc::System;

const INLINE_IDS: usize = 4;

pub(crate) struct PinIds {
    /// The handles while there are at most `INLINE_IDS`.
    inline: [PinId; INLINE_IDS],
    /// Handles held: all in `inline` while at most `INLINE_IDS`, else all
    /// in `spill`. One word decides where they are, so that the one-pin
    /// pinner's push and release read nothing else.
    len: usize,
    /// Every handle, once there are more than fit inline, else empty (from
    /// `System`: see `sys_vec`).
    spill: SysVec<PinId>,
}

impl PinIds {
    pub(crate) const fn new() -> PinIds {
        PinIds {
            inline: [PinId(0); INLINE_IDS],
            len: 0,
            spill: SysVec::new_in(System),
        }
    }

    /// Makes room for `additional` more handles, so that the pushes that
    /// follow (made under the registry's lock) do not allocate.
    #[inline]
    pub(crate) fn reserve(&mut self, additional: usize) {
        let wanted = self.len + additional;
        if wanted > INLINE_IDS && wanted > self.spill.capacity() {
            self.reserve_heap(wanted);
        }
    }

    /// Room for `wanted` handles in `spill`, growing it at least twofold
    /// so that a pinner pinning one by one reserves O(log n) times.
    #[cold]
    fn reserve_heap(&mut self, wanted: usize) {
        let room = wanted.max(2 * INLINE_IDS).max(2 * self.spill.capacity());
        self.spill.reserve_exact(room - self.spill.len());
    }

    /// Adds a handle; call `reserve` first.
    #[inline]
    pub(crate) fn push(&mut self, id: PinId) {
        if self.len < INLINE_IDS {
            self.inline[self.len] = id;
        } else {
            if self.len == INLINE_IDS {
                self.spill.extend_from_slice(&self.inline);
            }
            self.spill.push(id);
        }
        self.len += 1;
    }

    #[inline]
    pub(crate) fn as_slice(&self) -> &[PinId] {
        match self.inline.get(..self.len) {
            Some(inline) => inline,
            None => &self.spill,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Forgets every handle, keeping any heap room for reuse.
    pub(crate) fn clear(&mut self) {
        self.len = 0;
        self.spill.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spills_past_the_inline_room_and_keeps_order() {
        let mut ids = PinIds::new();
        for i in 0..10 {
            ids.reserve(1);
            ids.push(PinId(i));
        }
        assert_eq!(ids.as_slice(), (0..10).map(PinId).collect::<Vec<_>>());
        ids.clear();
        assert!(ids.is_empty());
        ids.reserve(2);
        ids.push(PinId(7));
        ids.push(PinId(8));
        assert_eq!(ids.as_slice(), [PinId(7), PinId(8)]);
        for i in 0..20 {
            ids.reserve(1);
            ids.push(PinId(i));
        }
        assert_eq!(ids.len(), 22);
        assert_eq!(ids.as_slice()[..3], [PinId(7), PinId(8), PinId(0)]);
        assert_eq!(ids.as_slice()[21], PinId(19));
    }

    /// The pushes after a `reserve` never allocate (they run under the
    /// registry's lock, which the allocator's path also takes).
    #[test]
    fn pushes_after_reserve_fit_the_room_reserved() {
        let mut ids = PinIds::new();
        for round in 0..3 {
            for batch in [1usize, 3, 4, 5, 17] {
                ids.reserve(batch);
                let capacity = ids.spill.capacity();
                for i in 0..batch {
                    ids.push(PinId(i as u32));
                }
                assert_eq!(
                    ids.spill.capacity(),
                    capacity,
                    "round {round} batch {batch}"
                );
            }
        }
        assert_eq!(ids.len(), 3 * 30);
    }

    /// Rule: the handles held are exactly those pushed since the last
    /// `clear`, in order, however batches cross the inline room and
    /// however often the list is cleared and reused; and the pushes after
    /// a `reserve` never grow the heap room (they run under a shard's
    /// lock). Random batches of 0 to 9 handles, cleared now and then,
    /// against a `Vec`.
    #[test]
    fn holds_what_was_pushed_since_the_last_clear_across_reuse() {
        let mut next = crate::test_rng::xorshift(0x1d5_c1ea);
        let (mut ids, mut model) = (PinIds::new(), Vec::new());
        let steps = if cfg!(miri) { 200 } else { 5_000 };
        for step in 0..steps {
            if next(6) == 0 {
                ids.clear();
                model.clear();
            } else {
                let batch = next(10);
                ids.reserve(batch);
                let capacity = ids.spill.capacity();
                for _ in 0..batch {
                    let id = PinId(next(1 << 20) as u32);
                    ids.push(id);
                    model.push(id);
                }
                assert_eq!(ids.spill.capacity(), capacity, "step {step}");
            }
            assert_eq!(ids.len(), model.len(), "step {step}");
            assert_eq!(ids.is_empty(), model.is_empty(), "step {step}");
            assert_eq!(ids.as_slice(), &model[..], "step {step}");
        }
    }
}
