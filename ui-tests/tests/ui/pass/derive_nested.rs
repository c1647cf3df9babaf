// A derived struct inside another reports its referents as the outer one's.
use pointer_escapes::referents::direct_referents;
use pointer_escapes::Referents;

#[derive(Referents)]
struct Buffer {
    #[referents(len = self.len)]
    ptr: *const u8,
    len: usize,
}

#[derive(Referents)]
struct Message {
    head: Buffer,
    tail: [Buffer; 2],
    next: Option<Box<Message>>,
}

fn main() {
    let bytes = [0u8; 10];
    let buf = |n: usize| Buffer {
        ptr: bytes.as_ptr(),
        len: n,
    };
    let m = Message {
        head: buf(1),
        tail: [buf(2), buf(3)],
        next: None,
    };
    let lens: Vec<usize> = direct_referents(&m).iter().map(|r| r.len()).collect();
    assert_eq!(lens, [1, 2, 3]);
}
