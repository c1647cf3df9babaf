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
            chunks: SysVec::new_in(System),
            free_head: NO_SLOT,
            chunks_with_memory: 0,
            empty_chunks: 0,
        }
    }

    /// Stores `entry` (a live one) and returns its id; `None` when every
    /// `u32` id is taken.
    #[inline(always)]
    pub(super) fn alloc(&mut self, entry: Entry) -> Option<u32> {
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
        if c >= (1usize << ID_BITS) >> CHUNK_SHIFT {
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
        let (c, i) = split(id);
        self.chunks[c].pending_at[i]
    }

    /// Notes for live entry `id` where the table keeps it pending.
    #[inline]
    pub(super) fn set_pending_at(&mut self, id: u32, at: u32) {
        let (c, i) = split(id);
        self.chunks[c].pending_at[i] = at;
    }

    /// Frees entry `id` (its count already cleared); may give empty chunks
    /// back, and then says so (the table shrinks its other storage too).
    #[inline(always)]
    pub(super) fn release(&mut self, id: u32) -> bool {
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
        self.chunks.iter().enumerate().flat_map(|(c, chunk)| {
            chunk
                .entries
                .iter()
                .enumerate()
                .map(move |(i, e)| (((c << CHUNK_SHIFT) | i) as u32, e))
        })
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

impl core::ops::Index<usize> for Slab {
    type Output = Entry;
    #[inline]
    fn index(&self, id: usize) -> &Entry {
        let (c, i) = split(id as u32);
        &self.chunks[c].entries[i]
    }
}

impl core::ops::IndexMut<usize> for Slab {
    #[inline]
    fn index_mut(&mut self, id: usize) -> &mut Entry {
        let (c, i) = split(id as u32);
        &mut self.chunks[c].entries[i]
    }
}
