//! `#[pointer_escapes]` on code as real crates write it (SPEC, "Fits -sys
//! crates and bindgen"): parameters and imports under `#[cfg]` /
//! `#[cfg_attr]`, variadic imports in an annotated block, and raw C-ABI
//! imports for C function pointers. Real libc functions are bound, called
//! and compared. Every test sets `CheckMode::Args`.

use pointer_escapes::{is_pinned, pointer_escapes, set_check_mode, CheckMode};
use std::ffi::{c_int, c_long, c_void};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

fn checked() {
    set_check_mode(CheckMode::Args);
}

#[pointer_escapes]
unsafe extern "C" {
    // The libc crate's idiom for a per-target symbol: `my_abs` is not a
    // symbol at all, so binding the wrong one fails to link.
    #[cfg_attr(target_os = "linux", link_name = "abs")]
    safe fn my_abs(v: c_int) -> c_int;
    // A `link_name` under a cfg that is false here: the import is bound by
    // its own name.
    #[cfg_attr(not(target_os = "linux"), link_name = "no_such_symbol")]
    #[cfg_attr(target_os = "linux", must_use)]
    safe fn labs(v: c_long) -> c_long;
    // qsort, whose array parameter exists under a true cfg and which has a
    // parameter that a false cfg removes (from the wrapper, its pins and
    // the call alike).
    fn qsort(
        #[cfg(target_os = "linux")]
        #[escapes(bytes = nmemb * size)]
        base: *mut c_void,
        nmemb: usize,
        size: usize,
        #[cfg(any())]
        #[escapes(len = 1)]
        removed: *const u8,
        #[cfg_attr(target_os = "linux", cfg(any()))] also_removed: *const u8,
        compar: Option<unsafe extern "C" fn(*const c_void, *const c_void) -> c_int>,
    );
}

#[pointer_escapes]
unsafe extern "C" {
    // One parameter under a cfg_attr holding a cfg: the call is written
    // twice, each under one plain condition.
    #[link_name = "strlen"]
    fn c_string_length(
        #[cfg_attr(target_os = "linux", cfg(all()))]
        #[escapes(bytes = 1)]
        s: *const std::ffi::c_char,
    ) -> usize;
}

#[test]
fn a_parameter_under_cfg_attr_holding_a_true_cfg_is_passed_on() {
    checked();
    // SAFETY: a NUL-terminated string.
    assert_eq!(unsafe { c_string_length(c"four".as_ptr()) }, 4);
}

#[test]
fn cfg_attr_link_name_on_an_import_binds_the_symbol_it_names() {
    checked();
    for v in [-7, 0, 12, c_int::MIN + 1] {
        // SAFETY: abs(3) is defined for every value but INT_MIN.
        assert_eq!(my_abs(v), unsafe { libc::abs(v) });
        assert_eq!(my_abs(v), v.abs());
    }
    assert_eq!(labs(-40_000_000_000), 40_000_000_000);
}

static COMPARISONS: AtomicUsize = AtomicUsize::new(0);
static ALL_PINNED: AtomicBool = AtomicBool::new(true);

unsafe extern "C" fn compare_pinned(a: *const c_void, b: *const c_void) -> c_int {
    COMPARISONS.fetch_add(1, Ordering::SeqCst);
    if !(is_pinned(a) && is_pinned(b)) {
        ALL_PINNED.store(false, Ordering::SeqCst);
    }
    // SAFETY: qsort passes pointers to two elements of the u32 array.
    let (a, b) = unsafe { (*a.cast::<u32>(), *b.cast::<u32>()) };
    a.cmp(&b) as c_int
}

#[test]
fn a_parameter_under_cfg_is_pinned_when_present_and_gone_from_the_call_when_not() {
    checked();
    let mut values: Vec<u32> = (0..200u32).map(|i| (i * 7919) % 211).collect();
    let mut expected = values.clone();
    expected.sort_unstable();
    // SAFETY: `values` holds `len` u32s; the comparator reads two of them.
    unsafe {
        qsort(
            values.as_mut_ptr().cast(),
            values.len(),
            size_of::<u32>(),
            Some(compare_pinned),
        )
    };
    assert_eq!(values, expected);
    assert!(COMPARISONS.load(Ordering::SeqCst) > 0);
    assert!(
        ALL_PINNED.load(Ordering::SeqCst),
        "the array was not pinned"
    );
    assert!(!is_pinned(values.as_ptr()));
}

/// Which of its pointers were pinned while the body ran.
#[pointer_escapes]
unsafe fn pinned_during_the_call(
    #[cfg(target_os = "linux")] present: *const u8,
    #[cfg(any())] removed: *const u8,
    #[cfg_attr(any(), cfg(any()))]
    #[escapes(len = 2)]
    kept_by_a_false_cfg_attr: *const u8,
    #[cfg_attr(target_os = "linux", cfg(any()))] removed_by_a_true_cfg_attr: *const u8,
) -> (bool, bool) {
    (
        is_pinned(present),
        is_pinned(kept_by_a_false_cfg_attr.wrapping_add(1)),
    )
}

#[test]
fn a_parameter_under_cfg_of_an_annotated_fn_is_pinned_when_present() {
    checked();
    let (a, b) = (7u8, [1u8, 2]);
    // SAFETY: both point to live memory of the lengths declared.
    let seen = unsafe { pinned_during_the_call(&a, b.as_ptr()) };
    assert_eq!(seen, (true, true));
    assert!(!is_pinned(&a) && !is_pinned(b.as_ptr()));
}

mod variadic {
    use pointer_escapes::pointer_escapes;
    use std::ffi::{c_char, c_int, c_void};

    // bindgen merges every function of a header into one block: the
    // variadic ones pass through, the others are wrapped.
    #[pointer_escapes(skip_variadic)]
    unsafe extern "C" {
        pub fn open(path: *const c_char, flags: c_int, ...) -> c_int;
        pub fn fcntl(fd: c_int, cmd: c_int, ...) -> c_int;
        pub fn snprintf(s: *mut c_char, n: usize, format: *const c_char, ...) -> c_int;
        pub fn close(fd: c_int) -> c_int;
        pub fn qsort(
            #[escapes(bytes = nmemb * size)] base: *mut c_void,
            nmemb: usize,
            size: usize,
            compar: Option<unsafe extern "C" fn(*const c_void, *const c_void) -> c_int>,
        );
    }
}

#[test]
fn skip_variadic_passes_variadic_imports_through_and_wraps_the_rest() {
    checked();
    // SAFETY: a NUL-terminated path; open reads no variadic argument
    // without O_CREAT.
    let fd = unsafe { variadic::open(c"/dev/null".as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) };
    assert!(fd >= 0, "open failed");
    // SAFETY: `fd` is open; F_GETFD takes no argument.
    let flags = unsafe { variadic::fcntl(fd, libc::F_GETFD) };
    assert_eq!(flags & libc::FD_CLOEXEC, libc::FD_CLOEXEC);
    let mut out = [0 as std::ffi::c_char; 16];
    // SAFETY: `out` holds 16 chars; the format takes one int.
    let n =
        unsafe { variadic::snprintf(out.as_mut_ptr(), out.len(), c"%d!".as_ptr(), 42 as c_int) };
    assert_eq!(n, 3);
    assert_eq!(
        &out[..4],
        &[
            b'4' as std::ffi::c_char,
            b'2' as std::ffi::c_char,
            b'!' as std::ffi::c_char,
            0
        ]
    );
    // SAFETY: `fd` is ours and open.
    assert_eq!(unsafe { variadic::close(fd) }, 0);

    // The same block's other imports are still wrapped: qsort pins.
    ALL_PINNED.store(true, Ordering::SeqCst);
    let before = COMPARISONS.load(Ordering::SeqCst);
    let mut values = [3u32, 1, 2];
    // SAFETY: three u32s; the comparator reads two of them.
    unsafe { variadic::qsort(values.as_mut_ptr().cast(), 3, 4, Some(compare_pinned)) };
    assert_eq!(values, [1, 2, 3]);
    assert!(COMPARISONS.load(Ordering::SeqCst) > before);
    assert!(ALL_PINNED.load(Ordering::SeqCst), "qsort was not wrapped");
}

mod alloc {
    use pointer_escapes::pointer_escapes;
    use std::ffi::{c_int, c_void};

    #[pointer_escapes(raw = pub ffi_raw)]
    unsafe extern "C" {
        pub fn malloc(size: usize) -> *mut c_void;
        pub fn free(#[escapes(out)] p: *mut c_void);
        #[link_name = "strcmp"]
        pub fn compare_c_strings(a: *const c_void, b: *const c_void) -> c_int;
    }
}

/// More than glibc's largest mmap threshold, so malloc maps it and
/// `mallinfo2().hblkhd` counts it until it is freed.
const BIG: usize = 64 << 20;

fn mapped_bytes() -> usize {
    // SAFETY: mallinfo2 only reads the allocator's counters.
    unsafe { libc::mallinfo2() }.hblkhd
}

#[test]
fn raw_imports_are_c_abi_function_pointers_c_can_call() {
    checked();
    // A C destructor callback: pthread calls `free` on the thread's value
    // when the thread exits.
    let mut key: libc::pthread_key_t = 0;
    let destructor: Option<unsafe extern "C" fn(*mut c_void)> = Some(alloc::ffi_raw::free);
    // SAFETY: `key` is a valid out-parameter.
    assert_eq!(unsafe { libc::pthread_key_create(&mut key, destructor) }, 0);
    let before = mapped_bytes();
    std::thread::spawn(move || {
        // SAFETY: malloc of a size; the result is checked.
        let p = unsafe { alloc::malloc(BIG) };
        assert!(!p.is_null());
        assert!(mapped_bytes() >= before + BIG);
        // SAFETY: `key` is live; `p` is freed by the destructor.
        assert_eq!(unsafe { libc::pthread_setspecific(key, p) }, 0);
    })
    .join()
    .expect("thread ran");
    assert!(
        mapped_bytes() < before + BIG,
        "the destructor did not free the thread's value"
    );
    // SAFETY: no thread uses the key any more.
    assert_eq!(unsafe { libc::pthread_key_delete(key) }, 0);

    // A comparator: qsort calls the raw strcmp (bound by link_name) on
    // pointers to its fixed-width, NUL-terminated elements.
    let mut names: [[u8; 8]; 3] = [*b"pear\0\0\0\0", *b"apple\0\0\0", *b"fig\0\0\0\0\0"];
    let compare: Option<unsafe extern "C" fn(*const c_void, *const c_void) -> c_int> =
        Some(alloc::ffi_raw::compare_c_strings);
    // SAFETY: three NUL-terminated 8-byte elements.
    unsafe { libc::qsort(names.as_mut_ptr().cast(), 3, 8, compare) };
    assert_eq!(
        names,
        [*b"apple\0\0\0", *b"fig\0\0\0\0\0", *b"pear\0\0\0\0"]
    );
    // The wrappers are still there, under the same names.
    // SAFETY: two NUL-terminated strings.
    assert!(unsafe { alloc::compare_c_strings(c"a".as_ptr().cast(), c"b".as_ptr().cast()) } < 0);
}
