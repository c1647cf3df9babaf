//! `OwnedPin` in a process whose `#[global_allocator]` is the system
//! allocator but which also uses a side `PinAwareAlloc` directly. "Some
//! PinAwareAlloc served an allocation" must not be mistaken for "frees
//! through `std::alloc` are guarded": a dropped, still-pinned `OwnedPin`
//! leaks its buffer here, and says so. Tests that leave pins behind run in a
//! child process (`common/child.rs`).

mod common;

use common::child::{is_child, run_child, stderr_of};
use common::panics::assert_mentions;
use pointer_escapes::*;
use std::alloc::{GlobalAlloc, Layout};
use std::hint::black_box;

/// A `PinAwareAlloc` used directly, never as the global allocator (a
/// `static`: it must stay at one address while it holds quarantined blocks).
static SIDE: PinAwareAlloc = PinAwareAlloc::system();

/// Serves one allocation (zeroed and not, in the probe's shape too) through
/// the side allocator, as a program using it for one arena would.
fn use_the_side_allocator() {
    for (size, align) in [(256, 8), (3, 64)] {
        let layout = Layout::from_size_align(size, align).unwrap();
        // SAFETY: non-zero sizes; each block is freed once with its layout.
        unsafe {
            let p = SIDE.alloc(layout);
            assert!(!p.is_null());
            SIDE.dealloc(p, layout);
            let z = SIDE.alloc_zeroed(layout);
            assert!(!z.is_null());
            SIDE.dealloc(z, layout);
        }
    }
}

/// A side `PinAwareAlloc` that served allocations (even of the probe's
/// layout) is not the global allocator: the report says frees are not
/// guarded.
#[test]
fn a_side_pin_aware_alloc_is_not_the_global_allocator() {
    use_the_side_allocator();
    let snap = snapshot();
    assert!(
        !snap.allocator_installed,
        "a side allocator counted as global"
    );
    assert!(snap.to_string().contains("frees NOT guarded"));
}

#[pointer_escapes]
fn pinned_during_the_call(#[escapes(bytes = n)] p: *const u8, n: usize) -> bool {
    is_region_pinned(p, n)
}

/// A side `PinAwareAlloc` still guards the frees it serves, so calls keep
/// pinning their arguments in `CheckMode::Off` once one is in use (the pins
/// are what its quarantine goes by).
#[test]
fn a_side_pin_aware_alloc_still_wants_call_pins() {
    use_the_side_allocator();
    set_check_mode(CheckMode::Off);
    let buf = Box::new([0u8; 32]);
    let pinned = pinned_during_the_call(buf.as_ptr(), buf.len());
    set_check_mode(CheckMode::Args);
    assert!(pinned, "no call pins with a side PinAwareAlloc in use");
}

const LEN: usize = 256;

/// Child: a side allocator in use, an `OwnedPin` dropped while pinned, then
/// C writes through its pointer while Rust allocates blocks of the same
/// size. Prints the pointer it dropped.
fn drop_a_pinned_owned_pin_then_allocate() {
    use_the_side_allocator();
    let line = line!() + 1;
    let owned = OwnedPin::new(vec![0x11u8; LEN]);
    println!("REGION {} SITE {}:{line}:", owned.region(), file!());
    let c_holds = owned.as_ptr() as usize;
    drop(owned);
    // The next allocations of that size must not get the block C holds.
    let victims: Vec<Vec<u8>> = (0..64).map(|_| vec![0xAAu8; LEN]).collect();
    for v in &victims {
        assert_ne!(
            v.as_ptr() as usize,
            c_holds,
            "the dropped buffer was reused"
        );
    }
    // C's late write (what an AIO completion does) lands in the leaked block.
    let c_view = black_box(c_holds) as *mut u8;
    // SAFETY: the block was leaked, never freed: it stays allocated for the
    // rest of the process and nothing else owns it.
    unsafe { c_view.write_bytes(0x5A, LEN) };
    assert!(victims.iter().all(|v| v.iter().all(|&b| b == 0xAA)));
    assert!(
        is_region_pinned(c_holds as *const u8, LEN),
        "the pin went away"
    );
}

/// Dropping a still-pinned `OwnedPin` when the global allocator is not a
/// `PinAwareAlloc` (only a side one is in use) leaks the buffer, so C's
/// later write cannot land in the next allocation, and says so on stderr
/// naming the region, the pin's site and "leaked".
#[test]
fn owned_pin_dropped_while_pinned_leaks_unless_the_global_allocator_is_pin_aware() {
    const TEST: &str =
        "owned_pin_dropped_while_pinned_leaks_unless_the_global_allocator_is_pin_aware";
    if is_child("side-drop") {
        drop_a_pinned_owned_pin_then_allocate();
        return;
    }
    let out = run_child(TEST, "side-drop", &[("PINCHECK", "1")]);
    let stderr = stderr_of(&out);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the child failed:\n{stdout}\n{stderr}"
    );
    let announced = stdout
        .lines()
        .find_map(|l| l.split_once("REGION ").map(|(_, rest)| rest.to_string()))
        .expect("the child printed its region");
    let (region, site) = announced.split_once(" SITE ").unwrap();
    assert_mentions(
        &stderr,
        &[
            &format!("OwnedPin of {region} made at {site}"),
            "dropped while pinned",
            "leaked (the global allocator is not a PinAwareAlloc",
        ],
    );
}
