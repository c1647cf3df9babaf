// #[flow_through] asks the type what it points to: it must implement
// `Referents`.
#![allow(unused_variables)]
use pointer_escapes::pointer_escapes;

struct Packet {
    data: Vec<u8>,
}

#[pointer_escapes]
fn send(#[flow_through] packets: &[Packet]) -> usize {
    packets.len()
}

fn main() {}
