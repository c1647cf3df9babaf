//! The table's entries: a slab whose ids are stable `u32` indices (the
//! handles pinners hold) and whose memory shrinks when entries go.
//!
//! Entries live in chunks of `CHUNK` (8 KiB each). An id is a chunk number
//! and an offset, so an entry never moves while its pin lives, yet a chunk
//! whose entries are all free can be given back: after a burst of a million
//! pins is released while one other pin lives, what stays is that pin's
//! chunk and one small header per chunk number, not the burst's 32 MB.
//!
//! Free entries form a list threaded through the entries themselves. Giving
//! chunks back (`compact`) rebuilds that list from the chunks that stay, so
//! it never points into a chunk that is gone. It runs when at least half
//! the chunks holding memory are empty, so its cost (one pass over the
//! chunks that stay) is paid for by the releases that emptied them: O(1)
//! per release, amortised.
//!
//! The first `FRONT` entries a table holds at once live in the slab itself,
//! not in a chunk: a free mask finds one in a few instructions, and a pin
//! that comes and goes alone (Go's `PinUnpin`, a pinner per call) touches
//! no chunk, no free list and no chunk count. They take the last `FRONT`
//! ids, which no chunk reaches.
//!
//! All memory comes from `System` (see `table`'s "Allocation").

use super::table::Entry;
use allocator_api2::vec::Vec as SysVec;
use std::alloc::System;

/// Entries per chunk: 256 × 32 bytes.
const CHUNK_SHIFT: u32 = 8;
pub(super) const CHUNK: usize = 1 << CHUNK_SHIFT;
/// Free-list terminator.
const NO_SLOT: u32 = u32::MAX;
/// Bits of an id: the registry keeps the top bits of a pin's handle for
/// the shard that holds it (`registry::SHARD_BITS`), so one slab hands out
/// at most `1 << ID_BITS` ids.
pub(super) const ID_BITS: u32 = 29;
/// Chunks with memory kept even when empty: a small table never compacts.
pub(super) const KEEP_CHUNKS: usize = 4;
/// Entries in the front (see the module doc).
pub(super) const FRONT: usize = 8;
/// The front's first id: the last `FRONT` ids of the `ID_BITS` space.
const FRONT_BASE: u32 = (1 << ID_BITS) - FRONT as u32;
const _: () = assert!(FRONT.is_power_of_two() && FRONT <= 32);
/// The front's free mask when every front entry is free.
const FRONT_ALL_FREE: u32 = (1 << FRONT) - 1;
/// Chunk numbers below this one: the last chunk's ids would reach the
/// front's.
const MAX_CHUNKS: usize = ((1usize << ID_BITS) >> CHUNK_SHIFT) - 1;

struct Chunk {
    /// Up to `CHUNK` entries; empty with no capacity once given back.
    entries: SysVec<Entry, System>,
    /// Per entry, the table's note of where it is pending (see
    /// `Table::pending`): `CHUNK` of them while the chunk holds memory.
    /// Kept beside the entries, not in them, so that an entry stays 32
    /// bytes, and given back with them.
    pending_at: SysVec<u32, System>,
    /// Entries in use (pins or call groups) in this chunk.
    live: u32,
}

pub(super) struct Slab {
    /// The front's entries (free ones hold count 0).
    front: [Entry; FRONT],
    /// Per front entry, the table's note of where it is pending.
    front_pending_at: [u32; FRONT],
    /// Bit `k` set: front entry `k` is free.
    front_free: u32,
    chunks: SysVec<Chunk, System>,
    free_head: u32,
    /// Chunks holding memory, and those among them with no live entry.
    chunks_with_memory: usize,
    empty_chunks: usize,
}

#[inline]
fn split(id: u32) -> (usize, usize) {
    ((id >> CHUNK_SHIFT) as usize, id as usize & (CHUNK - 1))
}

impl Slab {
    pub(super) const fn new() -> Slab {
        Slab {
            front: [Entry::FREE; FRONT],
            front_pending_at: [0; FRONT],
            front_free: FRONT_ALL_FREE,
            chunks: SysVec::new_in(System),
            free_head: NO_SLOT,
            chunks_with_memory: 0,
            empty_chunks: 0,
        }
    }

    /// Stores `entry` (a live one) and returns its id; `None` when every
    /// id is taken (the front's 8 and `MAX_CHUNKS` chunks' worth).
    #[inline(always)]
    pub(super) fn alloc(&mut self, entry: Entry) -> Option<u32> {
        if self.front_free != 0 {
            let k = self.front_free.trailing_zeros();
            self.front_free &= self.front_free - 1;
            self.front[k as usize % FRONT] = entry;
            return Some(FRONT_BASE + k);
        }
        if self.free_head == NO_SLOT {
            // A burst of pins: the last chunk's next entry, inlined (a call
            // and the entry's copy into it cost as much as the push).
            let c = self.chunks.len().wrapping_sub(1);
            if let Some(last) = self.chunks.last_mut() {
                let i = last.entries.len();
                if i < CHUNK && i < last.entries.capacity() {
                    last.entries.push(entry);
                    if last.live == 0 {
                        self.empty_chunks -= 1;
                    }
                    last.live += 1;
                    return Some(((c << CHUNK_SHIFT) | i) as u32);
                }
            }
            return self.alloc_in_new_chunk(entry);
        }
        // The usual case (a table whose pins come and go): the free list's
        // head, one chunk looked up once.
        let id = self.free_head;
        let (c, i) = split(id);
        let chunk = &mut self.chunks[c];
        let slot = &mut chunk.entries[i];
        self.free_head = slot.start as u32;
        *slot = entry;
        if chunk.live == 0 {
            self.empty_chunks -= 1;
        }
        chunk.live += 1;
        Some(id)
    }

    /// `alloc` with an empty free list and the last chunk full (or given
    /// back, or none): a new chunk's first entry.
    #[inline(never)]
    fn alloc_in_new_chunk(&mut self, entry: Entry) -> Option<u32> {
        let c = self.chunks.len();
        if c >= MAX_CHUNKS {
            return None;
        }
        let mut entries = SysVec::with_capacity_in(CHUNK, System);
        entries.push(entry);
        let mut pending_at = SysVec::with_capacity_in(CHUNK, System);
        pending_at.resize(CHUNK, 0);
        self.chunks.push(Chunk {
            entries,
            pending_at,
            live: 1,
        });
        self.chunks_with_memory += 1;
        Some((c << CHUNK_SHIFT) as u32)
    }

    /// The note `set_pending_at` last left for entry `id`.
    #[inline]
    pub(super) fn pending_at(&self, id: u32) -> u32 {
        if let Some(k) = front_index(id) {
            return self.front_pending_at[k];
        }
        let (c, i) = split(id);
        self.chunks[c].pending_at[i]
    }

    /// Notes for live entry `id` where the table keeps it pending.
    #[inline]
    pub(super) fn set_pending_at(&mut self, id: u32, at: u32) {
        if let Some(k) = front_index(id) {
            self.front_pending_at[k] = at;
            return;
        }
        let (c, i) = split(id);
        self.chunks[c].pending_at[i] = at;
    }

    /// Frees entry `id` (its count already cleared); may give empty chunks
    /// back, and then says so (the table shrinks its other storage too).
    #[inline(always)]
    pub(super) fn release(&mut self, id: u32) -> bool {
        if let Some(k) = front_index(id) {
            self.front_free |= 1 << k;
            return false;
        }
        let (c, i) = split(id);
        let chunk = &mut self.chunks[c];
        chunk.entries[i].start = self.free_head as usize;
        self.free_head = id;
        chunk.live -= 1;
        if chunk.live == 0 {
            self.empty_chunks += 1;
            if self.chunks_with_memory > KEEP_CHUNKS
                && 2 * self.empty_chunks >= self.chunks_with_memory
            {
                self.compact();
                return true;
            }
        }
        false
    }

    /// Gives back every chunk with no live entry and rebuilds the free list
    /// from the chunks that stay.
    #[cold]
    fn compact(&mut self) {
        self.free_head = NO_SLOT;
        for (c, chunk) in self.chunks.iter_mut().enumerate().rev() {
            if chunk.live == 0 {
                chunk.entries = SysVec::new_in(System);
                chunk.pending_at = SysVec::new_in(System);
                continue;
            }
            for (i, e) in chunk.entries.iter_mut().enumerate().rev() {
                if e.count() == 0 {
                    e.start = self.free_head as usize;
                    self.free_head = ((c << CHUNK_SHIFT) | i) as u32;
                }
            }
        }
        while self
            .chunks
            .last()
            .is_some_and(|c| c.entries.capacity() == 0)
        {
            self.chunks.pop();
        }
        self.chunks.shrink_to_fit();
        self.chunks_with_memory = self
            .chunks
            .iter()
            .filter(|c| c.entries.capacity() > 0)
            .count();
        self.empty_chunks = 0;
    }

    /// Forgets every entry (none is live); keeps the first chunk's memory
    /// for reuse.
    pub(super) fn clear(&mut self) {
        // Rewritten, not just marked free: a batch release leaves the
        // entries it detached with their mark (`Table::unpin_batch`), and
        // `iter` must see every free entry with count 0.
        self.front = [Entry::FREE; FRONT];
        self.front_free = FRONT_ALL_FREE;
        self.free_head = NO_SLOT;
        if let [only] = &mut self.chunks[..] {
            if only.entries.capacity() > 0 {
                // The common case (pins come and go a few at a time): no
                // call into the allocator.
                only.entries.clear();
                only.live = 0;
                self.chunks_with_memory = 1;
                self.empty_chunks = 1;
                return;
            }
        }
        let keep = self
            .chunks
            .first()
            .is_some_and(|c| c.entries.capacity() > 0) as usize;
        self.chunks.truncate(keep);
        if let Some(first) = self.chunks.first_mut() {
            first.entries.clear();
            first.live = 0;
        }
        self.chunks.shrink_to_fit();
        self.chunks_with_memory = keep;
        self.empty_chunks = keep;
        self.free_head = NO_SLOT;
    }

    /// Every stored entry (free ones too) with its id.
    pub(super) fn iter(&self) -> impl Iterator<Item = (u32, &Entry)> + '_ {
        let front = (FRONT_BASE..).zip(&self.front);
        front.chain(self.chunks.iter().enumerate().flat_map(|(c, chunk)| {
            chunk
                .entries
                .iter()
                .enumerate()
                .map(move |(i, e)| (((c << CHUNK_SHIFT) | i) as u32, e))
        }))
    }

    /// Chunks holding memory.
    pub(super) fn chunks_with_memory(&self) -> usize {
        self.chunks_with_memory
    }

    /// Bytes of memory held.
    pub(super) fn heap_bytes(&self) -> usize {
        self.chunks.capacity() * core::mem::size_of::<Chunk>()
            + self.chunks_with_memory
                * CHUNK
                * (core::mem::size_of::<Entry>() + core::mem::size_of::<u32>())
    }
}

/// The front position of `id`, when it is a front id. Ids are below
/// `1 << ID_BITS` (the registry masks the shard's bits off), so those from
/// `FRONT_BASE` up are the front's; the mask keeps a bad id in bounds
/// without a panic path.
#[inline(always)]
fn front_index(id: u32) -> Option<usize> {
    debug_assert!(id < 1 << ID_BITS, "a slab id with shard bits: {id:#x}");
    if id >= FRONT_BASE {
        Some((id - FRONT_BASE) as usize & (FRONT - 1))
    } else {
        None
    }
}

impl core::ops::Index<usize> for Slab {
    type Output = Entry;
    #[inline]
    fn index(&self, id: usize) -> &Entry {
        if let Some(k) = front_index(id as u32) {
            return &self.front[k];
        }
        let (c, i) = split(id as u32);
        &self.chunks[c].entries[i]
    }
}

impl core::ops::IndexMut<usize> for Slab {
    #[inline]
    fn index_mut(&mut self, id: usize) -> &mut Entry {
        if let Some(k) = front_index(id as u32) {
            return &mut self.front[k];
        }
        let (c, i) = split(id as u32);
        &mut self.chunks[c].entries[i]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::origin::{PinKind, ThreadNumber};
    use crate::region::Region;
    use core::panic::Location;

    /// A live entry whose start names it.
    fn entry(start: usize) -> Entry {
        Entry::test_entry(
            Region::from_parts(start, 8),
            Location::caller(),
            PinKind::Pinner,
            ThreadNumber(1),
        )
    }

    /// Releases `id` as the table does: its count cleared first.
    fn release(slab: &mut Slab, id: u32) {
        slab[id as usize].clear_count_for_test();
        slab.release(id);
    }

    #[test]
    fn a_lone_entry_takes_the_front_and_no_chunk_memory() {
        let mut slab = Slab::new();
        for round in 0..3 {
            let id = slab.alloc(entry(0x1000 + round)).expect("room");
            assert!(front_index(id).is_some(), "round {round}: id {id:#x}");
            assert_eq!(slab[id as usize].start, 0x1000 + round);
            assert_eq!(slab.chunks_with_memory(), 0);
            assert_eq!(slab.heap_bytes(), 0, "a lone entry allocates nothing");
            release(&mut slab, id);
        }
    }

    #[test]
    fn the_front_fills_first_then_chunks_and_every_id_names_its_own_entry() {
        let mut slab = Slab::new();
        let n = FRONT + 2 * CHUNK + 5;
        let ids: Vec<u32> = (0..n)
            .map(|i| slab.alloc(entry(0x10_0000 + 16 * i)).expect("room"))
            .collect();
        assert!(ids[..FRONT].iter().all(|&id| front_index(id).is_some()));
        assert!(ids[FRONT..].iter().all(|&id| front_index(id).is_none()));
        let mut seen = std::collections::HashSet::new();
        for (i, &id) in ids.iter().enumerate() {
            assert!(seen.insert(id), "id {id:#x} handed out twice");
            assert_eq!(slab[id as usize].start, 0x10_0000 + 16 * i);
            slab.set_pending_at(id, i as u32);
        }
        for (i, &id) in ids.iter().enumerate() {
            assert_eq!(slab.pending_at(id), i as u32, "entry {i}");
        }
        let live: Vec<u32> = slab
            .iter()
            .filter(|(_, e)| e.count() > 0)
            .map(|(id, _)| id)
            .collect();
        assert_eq!(live.len(), n);
        assert!(ids.iter().all(|id| live.contains(id)));
        // Front entries freed out of order come back before any chunk's.
        release(&mut slab, ids[3]);
        release(&mut slab, ids[1]);
        let again = [slab.alloc(entry(1)).unwrap(), slab.alloc(entry(2)).unwrap()];
        assert_eq!(again, [ids[1], ids[3]]);
        for &id in ids.iter().chain(&again) {
            if slab[id as usize].count() > 0 {
                release(&mut slab, id);
            }
        }
        slab.clear();
        assert!(slab.iter().all(|(_, e)| e.count() == 0));
        let id = slab.alloc(entry(3)).unwrap();
        assert!(
            front_index(id).is_some(),
            "a cleared slab starts at the front again"
        );
    }

    #[test]
    fn no_chunk_reaches_the_front_ids() {
        assert!(((MAX_CHUNKS << CHUNK_SHIFT) as u32) <= FRONT_BASE);
        assert_eq!(FRONT_BASE + FRONT as u32, 1 << ID_BITS);
    }
}
