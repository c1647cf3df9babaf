//! The report: `snapshot()` lists every live pin with its region, count,
//! kind, call site, thread and age, and its `Display` is a readable table.
//! What happens at exit (`PINREPORT=1`) and `assert_no_pins` need a registry
//! of their own, so they run in child processes from `tests/report.rs`.

use super::mode::with_check_mode;
use pointer_escapes::__private::CallPins;
use pointer_escapes::*;
use std::time::Duration;

/// This scenario's entries: those whose region is `region`.
fn entries_for(snap: &Snapshot, region: Region) -> Vec<LivePin> {
    snap.pins
        .iter()
        .filter(|p| p.region == region)
        .cloned()
        .collect()
}

/// The table line of the entry for `region`.
fn table_line(snap: &Snapshot, region: Region) -> String {
    let range = format!("{:#x}..{:#x}", region.addr(), region.end());
    let text = snap.to_string();
    text.lines()
        .find(|l| l.contains(&range))
        .unwrap_or_else(|| panic!("no line for {range} in the report:\n{text}"))
        .to_string()
}

/// A Pinner's pin: region, count, kind, this file and line, this thread.
pub fn snapshot_lists_a_pin_with_its_kind_site_and_thread() {
    let buf = vec![0u8; 72];
    let region = Region::of_slice(&buf);
    let mut pinner = Pinner::new();
    let line = line!() + 1;
    pinner.pin_slice(&buf);

    let snap = snapshot();
    let mine = entries_for(&snap, region);
    assert_eq!(mine.len(), 1, "{snap}");
    let pin = &mine[0];
    assert_eq!(pin.count, 1);
    assert_eq!(pin.kind, PinKind::Pinner);
    assert_eq!((pin.site.file(), pin.site.line()), (file!(), line));
    assert_eq!(pin.thread, ThreadNumber::current());
    assert!(snap.pin_total() >= 1 && snap.is_noteworthy());

    let row = table_line(&snap, region);
    for part in ["72", "Pinner", &format!("{}:{line}:", file!())] {
        assert!(row.contains(part), "{part:?} missing from the row {row:?}");
    }
    drop(pinner);
    assert!(entries_for(&snapshot(), region).is_empty());
}

/// `mem::forget` of a Pinner: its pins stay live and the report names the
/// line that made them. The pinned memory is leaked too, so that no other
/// test in this process is handed an address that is pinned forever.
pub fn forgotten_pinner_shows_in_the_snapshot() {
    let leaked: &'static [u8; 48] = Box::leak(Box::new([7u8; 48]));
    let region = Region::of(leaked);
    let mut pinner = Pinner::new();
    let line = line!() + 1;
    pinner.pin(leaked);
    std::mem::forget(pinner);

    assert!(is_region_pinned(leaked.as_ptr(), 48));
    let snap = snapshot();
    let mine = entries_for(&snap, region);
    assert_eq!(mine.len(), 1, "{snap}");
    assert_eq!(mine[0].kind, PinKind::Pinner);
    assert_eq!(mine[0].count, 1);
    assert_eq!((mine[0].site.file(), mine[0].site.line()), (file!(), line));
    let row = table_line(&snap, region);
    assert!(row.contains(&format!("{}:{line}:", file!())), "{row}");
}

/// Pins made at one site on one thread share an entry whose count grows;
/// another site gets its own entry.
pub fn pins_from_one_site_share_an_entry() {
    let buf = vec![0u8; 24];
    let region = Region::of_slice(&buf);
    let mut pinner = Pinner::new();
    for _ in 0..5 {
        pinner.pin_slice(&buf);
    }
    let other_line = line!() + 1;
    pinner.pin_slice(&buf);
    let snap = snapshot();
    let mut mine = entries_for(&snap, region);
    mine.sort_by_key(|p| p.count);
    assert_eq!(mine.len(), 2, "{snap}");
    assert_eq!((mine[0].count, mine[0].site.line()), (1, other_line));
    assert_eq!(mine[1].count, 5);
    assert_eq!(pin_count(buf.as_ptr()), 6);
    let total: u32 = snap.pins.iter().map(|p| p.count).sum();
    assert_eq!(snap.pin_total(), total as usize);
}

/// OwnedPin and call pins are labelled with their kind and site.
pub fn owned_and_call_pins_are_labelled() {
    let line = line!() + 1;
    let owned = OwnedPin::new(vec![0u16; 20]);
    let snap = snapshot();
    let mine = entries_for(&snap, owned.region());
    assert_eq!(mine.len(), 1, "{snap}");
    assert_eq!(mine[0].kind, PinKind::Owned);
    assert_eq!(mine[0].site.line(), line);
    assert!(table_line(&snap, owned.region()).contains("OwnedPin"));
    let buf = owned.into_inner();

    with_check_mode(CheckMode::Args, || {
        let p = buf.as_ptr();
        let line = line!() + 1;
        let call = CallPins::new("c_function", |call| {
            // SAFETY: `p` points at 20 live u16, unchecked (no checker given).
            unsafe {
                call.pointer(
                    "buf",
                    &p,
                    pointer_escapes::__private::Extent::len(20usize),
                    None,
                )
            };
        });
        let region = Region::of_slice(&buf);
        let snap = snapshot();
        let mine = entries_for(&snap, region);
        assert_eq!(mine.len(), 1, "{snap}");
        assert_eq!(mine[0].kind, PinKind::Call);
        assert_eq!(mine[0].site.line(), line);
        assert!(table_line(&snap, region).contains(" call "));
        drop(call);
        assert!(entries_for(&snapshot(), region).is_empty());
    });
}

/// Entries are listed oldest first, with their age.
pub fn snapshot_lists_oldest_first() {
    let old = vec![0u8; 16];
    let new = vec![0u8; 16];
    let mut pinner = Pinner::new();
    pinner.pin_slice(&old);
    std::thread::sleep(Duration::from_millis(40));
    pinner.pin_slice(&new);
    let snap = snapshot();
    let at = |r: Region| snap.pins.iter().position(|p| p.region == r).unwrap();
    let (i_old, i_new) = (at(Region::of_slice(&old)), at(Region::of_slice(&new)));
    assert!(i_old < i_new, "the older pin is listed later:\n{snap}");
    assert!(snap.pins[i_old].age > snap.pins[i_new].age);
}

/// The table has a header naming its columns, and says whether frees are
/// guarded.
pub fn display_is_a_readable_table() {
    let buf = vec![0u8; 8];
    let mut pinner = Pinner::new();
    pinner.pin_slice(&buf);
    let snap = snapshot();
    let text = snap.to_string();
    let mut lines = text.lines();
    let title = lines.next().unwrap();
    assert!(title.starts_with("pointer-escapes report: "), "{text}");
    assert!(title.contains("live pin(s)"), "{title}");
    let guarded = if snap.allocator_installed {
        "frees guarded (PinAwareAlloc installed)"
    } else {
        "frees NOT guarded (PinAwareAlloc is not the global allocator)"
    };
    assert!(title.contains(guarded), "{title}");
    let header = lines.next().unwrap();
    for column in ["region", "bytes", "count", "kind", "thread", "age", "site"] {
        assert!(header.contains(column), "column {column} missing: {header}");
    }
}

macro_rules! report_tests {
    () => {
        crate::common::scenario_tests!(report:
            snapshot_lists_a_pin_with_its_kind_site_and_thread,
            forgotten_pinner_shows_in_the_snapshot,
            pins_from_one_site_share_an_entry,
            owned_and_call_pins_are_labelled,
            snapshot_lists_oldest_first,
            display_is_a_readable_table,
        );
    };
}
pub(crate) use report_tests as tests;
