// Unions are refused: which field is live is unknowable to the derive.
use pointer_escapes::Referents;

#[derive(Referents)]
#[repr(C)]
union Either {
    int: u64,
    ptr: *const u8,
}

fn main() {}
