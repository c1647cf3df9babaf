// Enums: the live variant's fields are reported; fields can be skipped.
use pointer_escapes::referents::direct_referents;
use pointer_escapes::Referents;

struct Opaque;

#[derive(Referents)]
enum Op<'a, T> {
    Read { fd: i32, buf: &'a mut [u8] },
    Write(i32, &'a [T]),
    Handle(#[referents(skip)] Opaque),
    Nop,
}

#[derive(Referents)]
enum Never {}

fn main() {
    let mut data = [0u8; 8];
    let words = [0u32; 3];
    let read: Op<'_, u32> = Op::Read {
        fd: 3,
        buf: &mut data,
    };
    assert_eq!(direct_referents(&read)[0].len(), 8);
    let write: Op<'_, u32> = Op::Write(4, &words);
    assert_eq!(direct_referents(&write)[0].len(), 12);
    assert!(direct_referents(&Op::<u32>::Handle(Opaque)).is_empty());
    assert!(direct_referents(&Op::<u32>::Nop).is_empty());
    let _ = |n: &Never| direct_referents(n);
    if let Op::Read { fd, .. } = read {
        assert_eq!(fd, 3);
    }
}
