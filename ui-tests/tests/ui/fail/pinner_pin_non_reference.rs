// Only a reference can be pinned (Go's Pin panics at run time on a
// non-pointer; here it does not compile): a value passed by value would be
// moved into the call and its address meaningless afterwards.
use pointer_escapes::Pinner;

fn main() {
    let value = 42u64;
    let mut pinner = Pinner::new();
    let _p = pinner.pin(value);
}
