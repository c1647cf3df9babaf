// An annotated async fn stays an async fn whose future is Send when it was:
// the guard holding the pins is Send.
#![deny(warnings)]

use pointer_escapes::pointer_escapes;
use std::io::IoSliceMut;

fn assert_send<T: Send>(value: T) -> T {
    value
}

async fn yield_point() {}

#[pointer_escapes]
async fn gather(#[flow_through] bufs: &[Vec<u8>], #[flow_through] io: &mut [IoSliceMut<'_>]) -> usize {
    yield_point().await;
    bufs.len() + io.len()
}

struct Stream(Vec<u8>);

// SAFETY: reports its one heap buffer.
unsafe impl pointer_escapes::Referents for Stream {
    fn visit_referents<V: pointer_escapes::Visitor>(&self, v: &mut V) {
        v.bytes(self.0.as_ptr(), self.0.len(), pointer_escapes::Via::Field("0"));
    }
}

impl Stream {
    #[pointer_escapes]
    async fn flush(#[flow_through] &mut self) -> usize {
        yield_point().await;
        self.0.len()
    }
}

fn main() {
    let bufs = vec![vec![0u8; 4]];
    let mut a = [0u8; 2];
    let mut io = [IoSliceMut::new(&mut a)];
    let fut = assert_send(gather(&bufs, &mut io));
    drop(fut);
    let mut s = Stream(vec![1]);
    drop(assert_send(s.flush()));
}
