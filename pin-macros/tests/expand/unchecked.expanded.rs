fn send(p: *const u8, n: usize, bufs: &[Vec<u8>]) -> usize {
    let _ = || {
        {
            struct PointeeNotChecked;
            #[allow(dead_code)]
            impl PointeeNotChecked {
                #[deprecated(
                    note = "the referents of `p` cannot be checked in a safe fn (nothing promises the pointer is valid); make the fn `unsafe fn`, or take a reference `&T` / `&[T]`"
                )]
                #[inline(always)]
                fn warn(self) {}
            }
            #[allow(unused_imports)]
            use ::pointer_escapes::__private::{
                PointeeHasReferents as _, PointeeHoldsNoPointers as _,
                PointeeUnknown as _,
            };
            (&&::pointer_escapes::__private::LintProbe::of(&p))
                .lint(PointeeNotChecked)
                .warn();
        }
        (&p, &bufs, n)
    };
    { n }
}
fn keep(n: usize) -> *const u8 {
    core::ptr::null()
}
#[inline(always)]
#[allow(non_snake_case, clippy::missing_safety_doc)]
pub unsafe fn writev(fd: c_int, iov: *const libc::iovec, iovcnt: c_int) -> isize {
    unsafe extern "C" {
        #[link_name = "writev"]
        fn writev(fd: c_int, iov: *const libc::iovec, iovcnt: c_int) -> isize;
    }
    unsafe { writev(fd, iov, iovcnt) }
}
