//! The allocator's events: heap blocks freed or moved while a pin overlapped
//! them. A fixed ring of the most recent events plus running totals, so that
//! recording one never allocates.

use super::PinFacts;
use crate::origin::{coarse_now_ms, PinKind, Site, ThreadNumber};
use crate::region::{ByteCount, Region};
use core::fmt;

/// How many recent events the registry keeps (older ones are counted only).
pub(crate) const RECENT_EVENTS: usize = 64;

/// What the program tried to do to a pinned heap block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AllocEventKind {
    /// `dealloc` of a block a pin overlaps: the block was quarantined. The
    /// value that lived there was dropped first, so memory it owned is gone.
    FreedWhilePinned,
    /// `realloc` of a block a pin overlaps: the contents moved to a new
    /// block, the old one was quarantined; C's later writes to it are lost.
    MovedWhilePinned {
        /// Where the contents went.
        new_addr: usize,
    },
}

/// One freed-while-pinned or moved-while-pinned event.
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub struct AllocEvent {
    /// What happened.
    pub kind: AllocEventKind,
    /// The heap block that was freed or moved.
    pub block: Region,
    /// The pin that overlapped it.
    pub pin_region: Region,
    /// That pin's kind.
    pub pin_kind: PinKind,
    /// Where that pin was made.
    pub pin_site: Site,
    /// The thread that made that pin.
    pub pin_thread: ThreadNumber,
    /// The thread that freed or moved the block.
    pub thread: ThreadNumber,
    /// Milliseconds since the process's first pin.
    pub at_ms: u32,
}

impl AllocEvent {
    pub(crate) fn new(
        kind: AllocEventKind,
        block: Region,
        pin: PinFacts,
        thread: ThreadNumber,
    ) -> AllocEvent {
        AllocEvent {
            kind,
            block,
            pin_region: pin.region,
            pin_kind: pin.kind,
            pin_site: pin.site,
            pin_thread: pin.thread,
            thread,
            at_ms: coarse_now_ms(),
        }
    }
}

impl fmt::Display for AllocEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            AllocEventKind::FreedWhilePinned => write!(
                f,
                "heap block {:#x} ({}) freed while pinned: quarantined until unpinned; the \
                 value's destructor already ran, so memory it owned is gone",
                self.block.addr(),
                ByteCount(self.block.len())
            )?,
            AllocEventKind::MovedWhilePinned { new_addr } => write!(
                f,
                "heap block {:#x} ({}) moved while pinned to {:#x}: old block quarantined, \
                 C's writes to it after this are lost",
                self.block.addr(),
                ByteCount(self.block.len()),
                new_addr
            )?,
        }
        write!(
            f,
            "; {} pin of {:#x} ({}) made at {} on thread {}; freed on thread {}",
            self.pin_kind,
            self.pin_region.addr(),
            ByteCount(self.pin_region.len()),
            self.pin_site,
            self.pin_thread,
            self.thread
        )
    }
}

pub(crate) struct EventLog {
    ring: [Option<AllocEvent>; RECENT_EVENTS],
    next: usize,
    pub(crate) freed_while_pinned: u64,
    pub(crate) moved_while_pinned: u64,
}

impl EventLog {
    pub(crate) const fn new() -> EventLog {
        EventLog {
            ring: [None; RECENT_EVENTS],
            next: 0,
            freed_while_pinned: 0,
            moved_while_pinned: 0,
        }
    }

    pub(crate) fn record(&mut self, ev: AllocEvent) {
        match ev.kind {
            AllocEventKind::FreedWhilePinned => self.freed_while_pinned += 1,
            AllocEventKind::MovedWhilePinned { .. } => self.moved_while_pinned += 1,
        }
        self.ring[self.next % RECENT_EVENTS] = Some(ev);
        self.next += 1;
    }

    /// The kept events, oldest first.
    pub(crate) fn recent(&self) -> impl Iterator<Item = &AllocEvent> {
        let start = self.next.saturating_sub(RECENT_EVENTS);
        (start..self.next).filter_map(move |i| self.ring[i % RECENT_EVENTS].as_ref())
    }
}
