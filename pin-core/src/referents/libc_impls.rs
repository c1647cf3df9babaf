//! `Referents` for the libc structs FFI code passes most (SPEC, "Fits -sys
//! crates and bindgen"). The orphan rule stops users from writing these, so
//! the library ships them.
//!
//! Every pointer field here is reported as a raw pointer
//! ([`Visitor::pointer`] / [`Visitor::bytes`]) with the extent the C API
//! gives it: nothing proves a C struct's pointers are live, so the checker
//! follows them only on an `unsafe` promise (an annotated `unsafe fn` or an
//! import), and a safe check only asks whether the memory is pinned.
//!
//! A length field that does not fit `usize` (a negative `c_int` on musl)
//! reports nothing: C would reject such a call, and a wrong extent would be
//! worse than none.

use super::{Referents, Via, Visitor};

/// A C length field as an extent (negative or oversized: none).
#[inline]
fn extent<L: TryInto<usize>>(len: L) -> usize {
    len.try_into().unwrap_or(0)
}

/// `struct msghdr` (`sendmsg(2)`, `recvmsg(2)`): `msg_name` points at
/// `msg_namelen` bytes (a socket address, no pointers), `msg_iov` at
/// `msg_iovlen` `iovec`s (each followed further to its buffer), and
/// `msg_control` at `msg_controllen` bytes of ancillary data (`cmsghdr`s and
/// their payloads: file descriptors and credentials, no pointers).
///
/// ```
/// use pin_core::referents::direct_referents;
/// let mut payload = *b"hello";
/// let mut iov = [libc::iovec { iov_base: payload.as_mut_ptr().cast(), iov_len: 5 }];
/// // SAFETY: `msghdr` is plain data; all-zero is a valid (empty) value.
/// let mut msg: libc::msghdr = unsafe { core::mem::zeroed() };
/// msg.msg_iov = iov.as_mut_ptr();
/// msg.msg_iovlen = 1;
/// let regions = direct_referents(&msg);
/// assert_eq!(regions.len(), 1); // the iovec array; name and control are null
/// assert_eq!(regions[0].len(), core::mem::size_of::<libc::iovec>());
/// ```
// SAFETY: by sendmsg(2)'s contract each pointer field is valid for the
// extent its length field gives; the lengths are reported as they are.
unsafe impl Referents for libc::msghdr {
    #[inline]
    fn visit_referents<V: Visitor>(&self, visitor: &mut V) {
        visitor.bytes(
            self.msg_name as *const u8,
            extent(self.msg_namelen),
            Via::Field("msg_name"),
        );
        visitor.pointer(
            self.msg_iov as *const libc::iovec,
            extent(self.msg_iovlen),
            Via::Field("msg_iov"),
        );
        visitor.bytes(
            self.msg_control as *const u8,
            extent(self.msg_controllen),
            Via::Field("msg_control"),
        );
    }
}

/// `struct mmsghdr` (`sendmmsg(2)`): its `msg_hdr` inline; `msg_len` is a
/// count the kernel writes.
// SAFETY: the `msghdr` is held inline; its referents are this value's.
unsafe impl Referents for libc::mmsghdr {
    #[inline]
    fn visit_referents<V: Visitor>(&self, visitor: &mut V) {
        visitor.inline(&self.msg_hdr, Via::Field("msg_hdr"));
    }
}

/// `struct aiocb` (`aio_read(3)`, `aio_write(3)`): `aio_buf` points at
/// `aio_nbytes` bytes, and `aio_sigevent` is held inline. The kernel (or
/// glibc's AIO threads) keeps the `aiocb` and its buffer until the request
/// completes: pass them with `#[escapes(retained)]`.
// SAFETY: by aio(7)'s contract `aio_buf` is valid for `aio_nbytes` bytes;
// the sigevent is held inline. glibc's private `__next_prio` is a list link
// of its own, set by glibc, not a pointer the caller gives C.
unsafe impl Referents for libc::aiocb {
    #[inline]
    fn visit_referents<V: Visitor>(&self, visitor: &mut V) {
        visitor.bytes(
            self.aio_buf as *const u8,
            self.aio_nbytes,
            Via::Field("aio_buf"),
        );
        visitor.inline(&self.aio_sigevent, Via::Field("aio_sigevent"));
    }
}

macro_rules! pointer_free_libc {
    ($($(#[$doc:meta])* $t:ty;)*) => {$(
        $(#[$doc])*
        // SAFETY: the type holds no pointer C follows (see its doc).
        unsafe impl Referents for $t {
            const HOLDS_POINTERS: bool = false;
            #[inline]
            fn visit_referents<V: Visitor>(&self, _visitor: &mut V) {}
        }
        // Nothing to check behind a pointer to it: no warning either.
        impl crate::call_lints::PointerFree for $t {}
    )*};
}

pointer_free_libc! {
    /// `struct cmsghdr`: a header followed by its payload in the same
    /// control buffer (the `msghdr` reports the whole buffer); no pointers.
    libc::cmsghdr;
    /// `struct sigevent`: `sigev_value` is handed back to the caller's
    /// signal handler or thread function as it was given; C never follows
    /// it, so it is not a referent (as Go's `uintptr` context values are
    /// not).
    ///
    /// **Not checked:** with `SIGEV_THREAD`, `sigev_notify_attributes` (a
    /// `pthread_attr_t *`) lives in a union the libc crate hides in private
    /// padding, so it is not reported (reading it would read bytes that may
    /// never have been initialised). glibc's AIO reads it when the request
    /// completes, after the call returned: keep the attributes alive until
    /// then yourself (a `static`, or an `OwnedPin<Box<pthread_attr_t>>`).
    libc::sigevent;
    /// `struct pollfd`: a descriptor and two event masks.
    libc::pollfd;
    /// `struct epoll_event`: the event mask and the 64-bit user data, which
    /// the kernel stores and hands back without ever dereferencing it (a
    /// pointer stashed there is the program's to keep alive, not the
    /// call's).
    libc::epoll_event;
}

#[cfg(test)]
mod tests {
    use crate::referents::direct_referents;

    #[test]
    fn msghdr_reports_name_iov_and_control_with_their_lengths() {
        let mut name = [0u8; 16];
        let mut control = [0u8; 24];
        let mut payload = [0u8; 8];
        let mut iov = [
            libc::iovec {
                iov_base: payload.as_mut_ptr().cast(),
                iov_len: 8,
            },
            libc::iovec {
                iov_base: payload.as_mut_ptr().cast(),
                iov_len: 4,
            },
        ];
        // SAFETY: all-zero is a valid `msghdr`.
        let mut msg: libc::msghdr = unsafe { core::mem::zeroed() };
        msg.msg_name = name.as_mut_ptr().cast();
        msg.msg_namelen = 16;
        msg.msg_iov = iov.as_mut_ptr();
        msg.msg_iovlen = 2;
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = 24;
        let regions = direct_referents(&msg);
        let got: Vec<(usize, usize)> = regions.iter().map(|r| (r.addr(), r.len())).collect();
        assert_eq!(
            got,
            [
                (name.as_ptr() as usize, 16),
                (
                    iov.as_ptr() as usize,
                    2 * core::mem::size_of::<libc::iovec>()
                ),
                (control.as_ptr() as usize, 24),
            ]
        );
        // One level only: the payload behind the iovecs is not a direct
        // referent of the msghdr.
        assert!(!got.iter().any(|(a, _)| *a == payload.as_ptr() as usize));
    }

    #[test]
    fn mmsghdr_and_aiocb_report_what_they_hold() {
        let mut buf = [0u8; 32];
        // SAFETY: all-zero is a valid `mmsghdr` and `aiocb`.
        let mut mm: libc::mmsghdr = unsafe { core::mem::zeroed() };
        mm.msg_hdr.msg_name = buf.as_mut_ptr().cast();
        mm.msg_hdr.msg_namelen = 4;
        assert_eq!(direct_referents(&mm).len(), 1);
        // SAFETY: as above.
        let mut cb: libc::aiocb = unsafe { core::mem::zeroed() };
        cb.aio_buf = buf.as_mut_ptr().cast();
        cb.aio_nbytes = 32;
        let regions = direct_referents(&cb);
        assert_eq!(regions.len(), 1);
        assert_eq!(regions[0].len(), 32);
    }

    #[test]
    fn msghdr_check_follows_msg_iov_to_the_payload() {
        use crate::check::try_check_referents_through_raw;
        use crate::Pinner;
        let mut payload = [3u8; 8];
        let mut iov = [libc::iovec {
            iov_base: payload.as_mut_ptr().cast(),
            iov_len: 8,
        }];
        // SAFETY: all-zero is a valid `msghdr`.
        let mut msg: libc::msghdr = unsafe { core::mem::zeroed() };
        msg.msg_iov = iov.as_mut_ptr();
        msg.msg_iovlen = 1;
        // SAFETY: the iovec array and the payload are live.
        let failure =
            unsafe { try_check_referents_through_raw(&msg) }.expect_err("nothing is pinned");
        assert!(failure.to_string().contains("msg_iov"), "{failure}");
        let mut pinner = Pinner::new();
        pinner.pin(&iov);
        // SAFETY: as above.
        let failure = unsafe { try_check_referents_through_raw(&msg) }
            .expect_err("the payload is not pinned");
        assert!(failure.to_string().contains("iov_base"), "{failure}");
        pinner.pin(&payload);
        // SAFETY: as above.
        unsafe { try_check_referents_through_raw(&msg) }.expect("all pinned");
        pinner.unpin();
    }

    #[test]
    fn pointer_free_structs_report_nothing() {
        use crate::referents::Referents;
        const {
            assert!(!<libc::cmsghdr as Referents>::HOLDS_POINTERS);
            assert!(!<libc::sigevent as Referents>::HOLDS_POINTERS);
            assert!(!<libc::pollfd as Referents>::HOLDS_POINTERS);
            assert!(!<libc::epoll_event as Referents>::HOLDS_POINTERS);
            assert!(<libc::aiocb as Referents>::HOLDS_POINTERS);
        }
        // An address in the user data is not reported: the kernel never
        // follows it.
        let target = 7u8;
        let ev = libc::epoll_event {
            events: 1,
            u64: &target as *const u8 as u64,
        };
        assert!(direct_referents(&ev).is_empty());
    }
}
