// What a Pinner accepts: pin, pin_mut, pin_slice, pin_referents, scope,
// with_pinned, and unpin followed by reuse of the freed values.
use pointer_escapes::{check_referents, is_pinned, scope, with_pinned, Pinner, Region};
use std::io::IoSlice;

fn main() {
    let header = [0u64; 2];
    let mut counter = 0u32;
    let mut body = vec![1u8; 16];
    // Declared before the pinner: what it pins must outlive it, on the
    // unwinding path too.
    let (x, y) = (vec![1u8; 4], vec![2u8; 4]);
    let iov = [IoSlice::new(&x), IoSlice::new(&y)];
    let other = [5u16; 8];

    let mut pinner = Pinner::new();
    let h: *const [u64; 2] = pinner.pin(&header);
    let c: *mut u32 = pinner.pin_mut(&mut counter);
    let b: *const u8 = pinner.pin_slice(&body);
    assert!(is_pinned(h) && is_pinned(c) && is_pinned(b));

    let p = pinner.pin_referents(&iov);
    assert_eq!(p, iov.as_ptr());
    check_referents(&iov[..]);

    // unpin releases every pin; the pinner is reusable.
    pinner.unpin();
    assert!(pinner.is_empty() && !is_pinned(b) && !is_pinned(h));
    let q = pinner.pin_slice(&other);
    assert!(is_pinned(q) && !is_pinned(b));

    // Once the pinner is gone, its values are free: grow, write, move, drop.
    drop(pinner);
    assert!(!is_pinned(q));
    body.push(2);
    counter += 1;
    let moved = header;
    drop(x);
    assert_eq!((moved[0], counter, body.len()), (0, 1, 17));

    let len = scope(|pinner| {
        let p = pinner.pin_slice(&body);
        assert!(is_pinned(p));
        body.len()
    });
    assert_eq!(len, 17);

    let pinned = with_pinned(&[Region::of_slice(&body)], || is_pinned(body.as_ptr()));
    assert!(pinned && !is_pinned(body.as_ptr()));
}
