//! Soundness, input 2: a `Pinner` that was `mem::forget`-ed keeps its pins
//! in the registry after the memory they cover is freed. Such a pin must
//! not make the checker read the freed memory (Miri reported a
//! use-after-free in the first version's walk).
//!
//! Its own binary: the forgotten pin stays for the life of the process and
//! would cover whatever the allocator puts at that address next, which
//! would disturb other tests.

use pointer_escapes::{try_check_referents, FailureCause, Pinner};

#[test]
#[forbid(unsafe_code)]
fn a_forgotten_pinner_does_not_make_freed_memory_readable() {
    let boxed: Box<Vec<u8>> = Box::new(vec![1, 2, 3]);
    let mut pinner = Pinner::new();
    let raw: *const Vec<u8> = pinner.pin(&*boxed);
    std::mem::forget(pinner);
    drop(boxed);
    let err = try_check_referents(&raw).expect_err("a dangling pointer passed the check");
    assert_eq!(err.cause, FailureCause::NotVouched, "{err}");
}
