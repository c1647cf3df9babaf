// The macro reads #[flow_through] / #[escapes] before cfg_attr is expanded:
// inside cfg_attr they would never be seen, so they are refused.
use pointer_escapes::pointer_escapes;

#[pointer_escapes]
unsafe fn send(#[cfg_attr(unix, flow_through)] bufs: &[Vec<u8>]) -> usize {
    bufs.len()
}

#[pointer_escapes]
unsafe extern "C" {
    fn strlen(#[cfg_attr(unix, allow(unused), escapes(bytes = 1))] s: *const u8) -> usize;
}

fn main() {}
