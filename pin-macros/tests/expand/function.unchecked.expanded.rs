unsafe fn readv(fd: c_int, iov: *const libc::iovec, iovcnt: c_int) -> isize {
    let _ = || { (&iov, iovcnt) };
    { unsafe { libc::readv(fd, iov, iovcnt) } }
}
/// A safe function: its raw pointer is pinned but never read through.
pub fn send(buf: *const c_void, n: usize, __pe_arg2: *mut u8) -> isize {
    let _ = __pe_arg2;
    let _ = || {
        {
            struct PointeeNotChecked;
            #[allow(dead_code)]
            impl PointeeNotChecked {
                #[deprecated(
                    note = "the referents of `buf` cannot be checked in a safe fn (nothing promises the pointer is valid); make the fn `unsafe fn`, or take a reference `&T` / `&[T]`"
                )]
                #[inline(always)]
                fn warn(self) {}
            }
            #[allow(unused_imports)]
            use ::my_ffi::pointer_escapes::__private::{
                PointeeHasReferents as _, PointeeHoldsNoPointers as _,
                PointeeUnknown as _,
            };
            (&&::my_ffi::pointer_escapes::__private::LintProbe::of(&buf))
                .lint(PointeeNotChecked)
                .warn();
        }
        {
            struct PointeeNotChecked;
            #[allow(dead_code)]
            impl PointeeNotChecked {
                #[deprecated(
                    note = "the referents of `#3` cannot be checked in a safe fn (nothing promises the pointer is valid); make the fn `unsafe fn`, or take a reference `&T` / `&[T]`"
                )]
                #[inline(always)]
                fn warn(self) {}
            }
            #[allow(unused_imports)]
            use ::my_ffi::pointer_escapes::__private::{
                PointeeHasReferents as _, PointeeHoldsNoPointers as _,
                PointeeUnknown as _,
            };
            (&&::my_ffi::pointer_escapes::__private::LintProbe::of(&__pe_arg2))
                .lint(PointeeNotChecked)
                .warn();
        }
        (&buf, &__pe_arg2, n)
    };
    { 0 }
}
async fn fill(bufs: &mut [IoSliceMut<'_>], tag: u8) -> usize {
    let _ = || { (&bufs,) };
    { bufs.len() + usize::from(tag) }
}
impl Stream {
    fn push(&mut self, data: &[&[u8]], (a, b): (u8, u8)) {
        let _ = || { (&data,) };
        {}
    }
}
/// Out-parameters: `out` is pinned and never read; an unmarked `*mut` is
/// pinned, not read, and warns when its pointee has referents; `inout` is
/// checked; an alias is checked only if its type is a `*const`.
unsafe fn produce(
    out: *mut *const u8,
    slot: *mut *const u8,
    io: *mut *const u8,
    n: usize,
    alias: IovPtr,
) {
    let _ = || {
        {
            struct PointeeNotChecked;
            #[allow(dead_code)]
            impl PointeeNotChecked {
                #[deprecated(
                    note = "`*mut` parameter `slot`'s pointee is not checked: it may be an uninitialised out-parameter; write #[escapes(out)] if C writes it, or #[escapes(inout)] / #[flow_through] if it holds pointers C reads"
                )]
                #[inline(always)]
                fn warn(self) {}
            }
            #[allow(unused_imports)]
            use ::pointer_escapes::__private::{
                PointeeHasReferents as _, PointeeHoldsNoPointers as _,
                PointeeUnknown as _,
            };
            (&&::pointer_escapes::__private::LintProbe::of(&slot))
                .lint(PointeeNotChecked)
                .warn();
        }
        (&out, &slot, &io, &alias, n, 1)
    };
    {}
}
/// A safe function whose raw pointer's pointee has referents: a warning.
fn inspect(p: *const Vec<u8>) -> bool {
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
        (&p,)
    };
    { !p.is_null() }
}
/// Pointers C keeps: a retained context taken as a `*const Payload`, and a
/// returned buffer C keeps (checked after the call's own pins are released).
pub unsafe extern "C" fn value_blob(
    ctx: *mut c_void,
    buf: *const u8,
    n: usize,
) -> *const u8 {
    let _ = || { (&ctx, &buf, n) };
    {
        if n == 0 {
            return std::ptr::null();
        }
        buf
    }
}
