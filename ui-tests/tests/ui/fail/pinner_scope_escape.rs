// The pinner of `scope` cannot leave its closure: it is unpinned when the
// closure returns.
use pointer_escapes::{scope, ScopedPinner};

fn main() {
    let buf = vec![0u8; 16];
    let mut escaped: Option<&ScopedPinner<'_>> = None;
    scope(|pinner| {
        pinner.pin_slice(&buf);
        escaped = Some(pinner);
    });
    let _ = escaped;
}
