//! `PinIds`: the handles a pinner or a call holds. The first few live inline
//! so that a `Pinner` pinning one or two objects never allocates (Go's
//! benchmark makes a fresh pinner per pin).

use super::PinId;
use crate::sys_vec::SysVec;
use std::alloc::System;

const INLINE_IDS: usize = 4;

pub(crate) struct PinIds {
    inline: [PinId; INLINE_IDS],
    /// Handles in `inline` while `spill` is empty.
    len: usize,
    /// Every handle, once there are more than fit inline (from `System`:
    /// see `sys_vec`).
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
        let room = if self.spill.is_empty() {
            INLINE_IDS - self.len
        } else {
            self.spill.capacity() - self.spill.len()
        };
        if additional > room {
            self.reserve_heap(additional);
        }
    }

    #[cold]
    fn reserve_heap(&mut self, additional: usize) {
        if self.spill.is_empty() {
            let mut spill =
                SysVec::with_capacity_in((self.len + additional).max(2 * INLINE_IDS), System);
            spill.extend_from_slice(&self.inline[..self.len]);
            self.spill = spill;
        } else {
            self.spill.reserve(additional);
        }
    }

    /// Adds a handle; call `reserve` first.
    #[inline]
    pub(crate) fn push(&mut self, id: PinId) {
        if self.spill.is_empty() && self.len < INLINE_IDS {
            self.inline[self.len] = id;
            self.len += 1;
        } else {
            if self.spill.is_empty() {
                self.spill.extend_from_slice(&self.inline[..self.len]);
            }
            self.spill.push(id);
        }
    }

    pub(crate) fn as_slice(&self) -> &[PinId] {
        if self.spill.is_empty() {
            &self.inline[..self.len]
        } else {
            &self.spill
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.as_slice().len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
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
    }
}
