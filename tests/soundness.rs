//! Soundness: nothing safe makes the library read memory (SPEC, second
//! revision). A pin is not proof that memory is live or holds a valid `T`:
//! each case here hands the checker a raw pointer that a pin covers but
//! nothing vouches for, from code without `unsafe`, and shows that the
//! checker refuses to read through it (and says so) instead of crashing,
//! reading freed memory or misreading bytes as a type.
//!
//! Runs under Miri (`scripts/miri.sh`): there, any read through these
//! pointers is reported as undefined behaviour.

use pointer_escapes::{
    check_referents, pointer_escapes, try_check_referents, with_pinned, CheckFailure, FailureCause,
    Pinner, Referents, Region,
};
use std::panic::{catch_unwind, AssertUnwindSafe};

/// The check failed because it would not read through an unvouched raw
/// pointer, and its message says what to write instead.
#[track_caller]
fn assert_not_vouched(result: Result<(), CheckFailure>) {
    let err = result.expect_err("the check passed without reading through the raw pointer");
    assert_eq!(err.cause, FailureCause::NotVouched, "{err}");
    let msg = err.to_string();
    for needle in [
        "check_referents_through_raw",
        "unsafe fn",
        "a pin does not prove",
    ] {
        assert!(msg.contains(needle), "`{needle}` missing from: {msg}");
    }
}

/// Code that a user could write without `unsafe`.
#[forbid(unsafe_code)]
mod safe_code {
    use super::*;

    /// Input 1a: `with_pinned` of a made-up region, then a safe check of a
    /// pointer into it (a SIGSEGV in the first version).
    #[test]
    fn a_region_pinned_by_with_pinned_is_not_read_by_a_safe_check() {
        let p = 0x1000 as *const Vec<u8>;
        let r = Region::new(p, std::mem::size_of::<Vec<u8>>()).expect("a small region");
        let result = with_pinned(&[r], || try_check_referents(&p));
        assert_not_vouched(result);
        // And the panicking form panics with the same message, it does not
        // crash.
        let panicked = catch_unwind(AssertUnwindSafe(|| {
            with_pinned(&[r], || check_referents(&p));
        }));
        assert!(panicked.is_err());
    }

    /// Input 1b: `pin_referents` of raw pointers pins where they point,
    /// which proves nothing about what is there.
    #[test]
    fn referents_pinned_through_raw_pointers_are_not_read_by_a_safe_check() {
        let ptrs = [0x3000 as *const Vec<u8>];
        let mut pinner = Pinner::new();
        pinner.pin_referents(&ptrs);
        assert_not_vouched(try_check_referents(&ptrs[..]));
    }

    /// Input 1c: a safe annotated fn pins its raw-pointer argument for the
    /// call; that pin proves nothing either.
    #[pointer_escapes]
    #[allow(deprecated)] // the compile-time warning: this check cannot run
    fn inspect(p: *const Vec<u8>) -> Result<(), CheckFailure> {
        try_check_referents(&p)
    }

    #[test]
    fn a_call_pin_of_a_safe_fn_does_not_make_its_pointer_readable() {
        assert_not_vouched(inspect(0x2000 as *const _));
    }

    /// Input 3: a legitimate pin of 16 bytes, read as an enum whose tag is
    /// invalid (Miri: "invalid enum tag" in the first version).
    #[derive(Referents)]
    #[allow(dead_code)]
    enum Tagged {
        A(u64),
        B(Box<u64>),
    }

    #[test]
    fn a_pointee_type_is_not_proof_of_what_pinned_memory_holds() {
        let words = [u64::MAX; 2];
        let mut pinner = Pinner::new();
        let p = pinner.pin(&words).cast::<Tagged>();
        assert_not_vouched(try_check_referents(&p));
    }

    /// What a borrow proves live is still followed to any depth: the safe
    /// check is not weakened for owned data.
    #[test]
    fn a_safe_check_follows_what_a_borrow_owns() {
        let nested: Vec<Box<Vec<u8>>> = vec![Box::new(vec![1; 8]), Box::new(vec![2; 8])];
        let mut pinner = Pinner::new();
        pinner.pin_referents(&nested);
        let err = try_check_referents(&nested).expect_err("the innermost buffers are unpinned");
        assert_eq!(err.cause, FailureCause::Unpinned, "{err}");
        assert_eq!(err.path, "value[0]");
        for inner in &nested {
            pinner.pin_slice(&inner[..]);
        }
        check_referents(&nested);
    }

    /// A raw pointer to memory that holds no pointers needs no reading:
    /// its extent being pinned is the whole check, safe or not.
    #[test]
    fn a_raw_pointer_to_pointer_free_memory_is_checked_without_reading() {
        let bytes = [7u8; 32];
        let p: *const [u8; 32] = &bytes;
        assert_eq!(
            try_check_referents(&p).expect_err("unpinned").cause,
            FailureCause::Unpinned
        );
        let mut pinner = Pinner::new();
        pinner.pin(&bytes);
        check_referents(&p);
    }

    /// Input 7: the scope's pinner is a shared reference to a
    /// `ScopedPinner`, so `mem::take`/`mem::swap` do not compile (see
    /// ui-tests `pinner_scope_take`); its pins end with the scope.
    #[test]
    fn a_scope_releases_every_pin_it_made() {
        let buf = vec![0u8; 64];
        let p = pointer_escapes::scope(|pinner| {
            let p = pinner.pin_slice(&buf);
            assert!(pointer_escapes::is_pinned(p));
            p
        });
        assert!(!pointer_escapes::is_pinned(p));
    }
}

/// Input 11: a zero-sized pointee with a huge length has nothing to check,
/// and is checked in O(1) (it hung in the first version).
#[pointer_escapes]
unsafe fn tags(#[escapes(len = n)] p: *const (), n: usize) -> usize {
    let _ = p;
    n
}

#[pointer_escapes]
unsafe fn zero_sized_records(#[escapes(len = n)] p: *const [Box<u8>; 0], n: usize) -> usize {
    let _ = p;
    n
}

#[test]
fn a_zero_sized_pointee_is_checked_in_constant_time() {
    pointer_escapes::set_check_mode(pointer_escapes::CheckMode::Args);
    let unit = ();
    // SAFETY: zero-sized values at any non-null aligned address are valid.
    assert_eq!(unsafe { tags(&unit, 1 << 40) }, 1 << 40);
    let none: [Box<u8>; 0] = [];
    // SAFETY: as above.
    assert_eq!(unsafe { zero_sized_records(&none, 1 << 40) }, 1 << 40);
}

/// An annotated `unsafe fn` is a promise: its check does read through the
/// raw pointers its callers pass, to any depth.
#[pointer_escapes]
unsafe fn submit(#[escapes(len = n)] reqs: *const *const Vec<u8>, n: usize) -> usize {
    let _ = reqs;
    n
}

#[test]
fn an_unsafe_fn_contract_vouches_for_the_raw_pointers_below_its_arguments() {
    pointer_escapes::set_check_mode(pointer_escapes::CheckMode::Args);
    let data = vec![1u8; 16];
    let req: *const Vec<u8> = &data;
    let mut pinner = Pinner::new();
    pinner.pin(&data); // the Vec header, not its buffer
    let msg = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: `req` points at `data`, live for the call.
        unsafe { submit(&req, 1) }
    }))
    .expect_err("the buffer behind the header is unpinned");
    let msg = msg.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(msg.contains("`reqs`") && msg.contains("unpinned"), "{msg}");
    pinner.pin_slice(&data);
    // SAFETY: as above.
    assert_eq!(unsafe { submit(&req, 1) }, 1);
}
