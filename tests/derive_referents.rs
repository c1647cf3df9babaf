//! `#[derive(Referents)]` at run time: what derived impls report to the
//! checker and to `Pinner::pin_referents`, and how failures are named.

use pointer_escapes::{
    check_referents, check_referents_through_raw, is_pinned, is_region_pinned, try_check_referents,
    try_check_referents_through_raw, CheckFailure, FailureCause, Pinner, Referents,
};
use std::cell::Cell;
use std::ffi::{c_char, c_void};
use std::panic::{catch_unwind, AssertUnwindSafe};

/// A C request: `len` bytes at `data`.
#[derive(Referents)]
#[repr(C)]
struct Request {
    #[referents(len = self.len)]
    data: *const u8,
    len: usize,
    tag: u32,
}

impl Request {
    fn over(buf: &[u8]) -> Request {
        Request {
            data: buf.as_ptr(),
            len: buf.len(),
            tag: 0,
        }
    }
}

fn failure<T: Referents + ?Sized>(value: &T) -> CheckFailure {
    try_check_referents(value).expect_err("the check should fail")
}

/// # Safety
/// As `check_referents_through_raw`.
unsafe fn failure_through_raw<T: Referents + ?Sized>(value: &T) -> CheckFailure {
    // SAFETY: forwarded from the caller.
    unsafe { try_check_referents_through_raw(value) }.expect_err("the check should fail")
}

fn panic_message(f: impl FnOnce()) -> String {
    let payload = catch_unwind(AssertUnwindSafe(f)).expect_err("the check should panic");
    match payload.downcast::<String>() {
        Ok(s) => *s,
        Err(payload) => payload
            .downcast::<&str>()
            .map(|s| s.to_string())
            .unwrap_or_default(),
    }
}

#[test]
fn pointer_with_len_fails_until_its_buffer_is_pinned() {
    let buf = vec![7u8; 100];
    let req = Request::over(&buf);
    assert_eq!(req.tag, 0);

    let err = failure(&req);
    assert_eq!(err.path, "value.data");
    assert_eq!(err.region.addr(), buf.as_ptr() as usize);
    assert_eq!(err.region.len(), 100);
    assert_eq!(err.cause, FailureCause::Unpinned);
    assert_eq!(err.element, None);

    let message = panic_message(|| check_referents(&req));
    assert!(message.contains("`value.data`"), "{message}");
    assert!(
        message.contains(&format!("{:#x}", buf.as_ptr() as usize)),
        "{message}"
    );
    assert!(message.contains("100 bytes"), "{message}");
    assert!(message.contains("pin it with a Pinner"), "{message}");

    // Half the buffer is not enough: `len` says C reads all 100 bytes.
    let mut pinner = Pinner::new();
    pinner.pin_slice(&buf[..50]);
    assert_eq!(failure(&req).path, "value.data");
    pinner.pin_slice(&buf);
    check_referents(&req);
    drop(pinner);
    assert_eq!(failure(&req).path, "value.data");
}

#[test]
fn a_zero_or_negative_length_reports_nothing() {
    #[derive(Referents)]
    struct Signed {
        #[referents(len = self.count)]
        ptr: *const u64,
        count: i32,
    }
    let words = [1u64; 4];
    let mut s = Signed {
        ptr: words.as_ptr(),
        count: -3,
    };
    check_referents(&s);
    s.count = 0;
    check_referents(&s);
    s.count = 2;
    let err = failure(&s);
    assert_eq!((err.path.as_str(), err.region.len()), ("value.ptr", 16));
}

#[derive(Referents)]
struct Inner {
    #[referents(len = self.len)]
    data: *const u8,
    len: usize,
}

#[derive(Referents)]
struct Outer {
    id: u64,
    inner: Inner,
    list: Vec<Inner>,
}

#[test]
fn nested_structs_name_the_full_path() {
    let a = vec![1u8; 8];
    let b = vec![2u8; 16];
    let c = vec![3u8; 32];
    let inner = |v: &Vec<u8>| Inner {
        data: v.as_ptr(),
        len: v.len(),
    };
    let outer = Outer {
        id: 1,
        inner: inner(&a),
        list: vec![inner(&b), inner(&c)],
    };
    assert_eq!(outer.id, 1);

    assert_eq!(failure(&outer).path, "value.inner.data");

    let mut pinner = Pinner::new();
    pinner.pin_slice(&a);
    // The Vec's own buffer is reached before the buffers its elements hold.
    let err = failure(&outer);
    assert_eq!(err.path, "value.list");
    assert_eq!(err.region.addr(), outer.list.as_ptr() as usize);

    pinner.pin_slice(&outer.list);
    pinner.pin_slice(&b);
    let err = failure(&outer);
    assert_eq!(err.path, "value.list[1].data");
    assert_eq!(err.element, Some(1));
    assert_eq!(err.region.len(), 32);

    pinner.pin_slice(&c);
    check_referents(&outer);
}

/// Generic: `T: Referents` is inferred from the fields.
#[derive(Referents)]
struct Batch<T> {
    items: Vec<T>,
    #[referents(len = self.extra_len)]
    extra: *const T,
    extra_len: usize,
}

#[test]
fn generic_structs_check_their_elements() {
    let boxes: Vec<Box<u32>> = (0..3).map(Box::new).collect();
    let extra = [Box::new(10u32)];
    let batch = Batch {
        items: boxes,
        extra: extra.as_ptr(),
        extra_len: extra.len(),
    };
    let mut pinner = Pinner::new();
    pinner.pin_slice(&batch.items);
    pinner.pin_slice(&extra);
    pinner.pin(&*batch.items[0]);
    pinner.pin(&*batch.items[1]);
    pinner.pin(&*extra[0]);
    let err = failure(&batch);
    assert_eq!(err.path, "value.items[2]");
    assert_eq!(err.region.addr(), &*batch.items[2] as *const u32 as usize);
    pinner.pin(&*batch.items[2]);
    // `extra` is a raw pointer to values that hold pointers: the safe
    // check does not read it...
    assert_eq!(failure(&batch).cause, FailureCause::NotVouched);
    // ...vouched for, it does.
    // SAFETY: `batch.extra` points at `extra`, live for this function.
    unsafe { check_referents_through_raw(&batch) };

    // Empty and null: nothing to check.
    let empty: Batch<String> = Batch {
        items: Vec::new(),
        extra: std::ptr::null(),
        extra_len: 5,
    };
    check_referents(&empty);
}

/// A list node; `Cell` so that a cycle can be closed through shared
/// references (the `Cell<T: Copy>` impl reports what `T` reports).
#[derive(Referents)]
struct Node {
    value: u64,
    next: Cell<*const Node>,
}

impl Node {
    fn new(value: u64) -> Node {
        Node {
            value,
            next: Cell::new(std::ptr::null()),
        }
    }
}

#[test]
fn a_cycle_terminates_and_names_the_unpinned_node() {
    let (a, b, c) = (Node::new(1), Node::new(2), Node::new(3));
    a.next.set(&b);
    b.next.set(&c);
    c.next.set(&a);
    assert_eq!(a.value + b.value + c.value, 6);

    assert_eq!(failure(&a).path, "value.next");

    let mut most = Pinner::new();
    most.pin(&a);
    most.pin(&b);
    let mut last = Pinner::new();
    last.pin(&c);
    // The nodes link by raw pointer: the safe check stops at the first.
    assert_eq!(failure(&a).cause, FailureCause::NotVouched);
    // a -> b -> c -> a -> ...: every node pinned, the walk ends.
    // SAFETY (here and below): every `next` points at a node of this
    // function.
    unsafe {
        check_referents_through_raw(&a);
        check_referents_through_raw(&c);
    }

    drop(last);
    // SAFETY: as above.
    let err = unsafe { failure_through_raw(&a) };
    assert_eq!(err.path, "value.next.next");
    assert_eq!(err.region.addr(), &c as *const Node as usize);
    assert_eq!(err.region.len(), std::mem::size_of::<Node>());
    assert!(err.to_string().contains("Node"), "{err}");

    // A node pointing at itself.
    let lone = Node::new(4);
    lone.next.set(&lone);
    let mut pinner = Pinner::new();
    pinner.pin(&lone);
    // SAFETY: as above.
    unsafe { check_referents_through_raw(&lone) };
}

#[test]
fn pin_referents_pins_each_derived_values_referents() {
    let bufs: Vec<Vec<u8>> = (1..=4).map(|n| vec![n as u8; n * 8]).collect();
    let reqs: Vec<Request> = bufs.iter().map(|b| Request::over(b)).collect();
    assert!(try_check_referents(&reqs[..]).is_err());

    let mut pinner = Pinner::new();
    let p = pinner.pin_referents(&reqs);
    assert_eq!(p, reqs.as_ptr());
    assert_eq!(pinner.len(), 1 + bufs.len());
    assert!(is_region_pinned(
        reqs.as_ptr(),
        reqs.len() * std::mem::size_of::<Request>()
    ));
    for b in &bufs {
        assert!(is_region_pinned(b.as_ptr(), b.len()));
    }
    check_referents(&reqs[..]);
    drop(pinner);
    assert!(bufs.iter().all(|b| !is_pinned(b.as_ptr())));
}

#[test]
fn pin_referents_goes_one_level_down_only() {
    #[derive(Referents)]
    struct Holder {
        request: Box<Request>,
    }
    let buf = vec![0u8; 24];
    let holders = [Holder {
        request: Box::new(Request::over(&buf)),
    }];
    let mut pinner = Pinner::new();
    pinner.pin_referents(&holders);
    // The boxed request is pinned; the buffer it points to is not.
    assert!(is_pinned(&*holders[0].request));
    assert!(!is_pinned(buf.as_ptr()));
    let err = failure(&holders[..]);
    assert_eq!(err.path, "value[0].request.data");
    pinner.pin_slice(&buf);
    check_referents(&holders[..]);
}

/// The fields of zlib's `z_stream` that point at caller memory.
#[derive(Referents)]
#[repr(C)]
struct ZStream {
    #[referents(len = self.avail_in)]
    next_in: *const u8,
    avail_in: u32,
    total_in: u64,
    #[referents(len = self.avail_out)]
    next_out: *mut u8,
    avail_out: u32,
    total_out: u64,
    msg: *const c_char,
    /// zlib's own memory: C owns it, Rust never pins it.
    #[referents(skip)]
    state: *mut c_void,
    /// Allocator callbacks: code, not data.
    #[referents(skip)]
    zalloc: Option<extern "C" fn(*mut c_void, u32, u32) -> *mut c_void>,
    #[referents(bytes = 0)]
    opaque: *mut c_void,
}

#[test]
fn z_stream_checks_next_in_and_next_out() {
    let input = b"hello hello hello".to_vec();
    let mut output = vec![0u8; 64];
    let mut zlib_state = [0u8; 16];
    let mut stream = ZStream {
        next_in: input.as_ptr(),
        avail_in: input.len() as u32,
        total_in: 0,
        next_out: output.as_mut_ptr(),
        avail_out: output.len() as u32,
        total_out: 0,
        msg: std::ptr::null(),
        state: zlib_state.as_mut_ptr().cast(),
        zalloc: None,
        opaque: std::ptr::null_mut(),
    };
    assert!(stream.zalloc.is_none() && stream.total_in + stream.total_out == 0);

    let err = failure(&stream);
    assert_eq!(err.path, "value.next_in");
    assert_eq!(err.region.len(), input.len());

    let mut pinner = Pinner::new();
    pinner.pin_slice(&input);
    let err = failure(&stream);
    assert_eq!(err.path, "value.next_out");
    assert_eq!(err.region.len(), 64);

    pinner.pin_slice(&output);
    // `state` is skipped: zlib's memory is not Rust's to pin.
    check_referents(&stream);

    // zlib consumed the input: nothing of it is referenced any more.
    drop(pinner);
    stream.avail_in = 0;
    stream.avail_out = 0;
    check_referents(&stream);

    // `msg` is a plain pointer field: one `c_char`, which must be pinned
    // unless it is static (zlib's messages are string literals).
    stream.msg = c"invalid stored block lengths".as_ptr();
    check_referents(&stream);
    let heap_msg = std::ffi::CString::new("dynamic").expect("no NUL");
    stream.msg = heap_msg.as_ptr();
    let err = failure(&stream);
    assert_eq!((err.path.as_str(), err.region.len()), ("value.msg", 1));
}

#[test]
fn enum_variants_name_the_variant_and_field() {
    #[derive(Referents)]
    enum Op<'a> {
        Read { fd: i32, buf: &'a mut [u8] },
        Write(i32, &'a [u8]),
        Close(i32),
    }
    let mut data = vec![0u8; 12];
    let read = Op::Read {
        fd: 3,
        buf: &mut data,
    };
    let err = failure(&read);
    assert_eq!(
        (err.path.as_str(), err.region.len()),
        ("value.Read.buf", 12)
    );
    let payload = vec![1u8; 5];
    let write = Op::Write(4, &payload);
    assert_eq!(failure(&write).path, "value.Write.1");
    check_referents(&Op::Close(5));
    if let Op::Read { fd, .. } = read {
        assert_eq!(fd, 3);
    }
}
