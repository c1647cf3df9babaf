//! `Region`: a range of addresses, the unit everything else pins and checks.
//!
//! A region is `[addr, addr + len)`. A zero-length region still names its
//! address: pinning it pins that one address (Go pins zero-size objects the
//! same way), so `is_pinned(addr)` holds while it lives.

use core::fmt;
use core::mem;

/// A range of memory `[addr, addr + len)`, in bytes.
///
/// ```
/// use pointer_escapes::Region;
///
/// let buf = [0u8; 16];
/// let whole = Region::of_slice(&buf);
/// assert_eq!(whole.len(), 16);
/// assert_eq!(whole.addr(), buf.as_ptr() as usize);
///
/// // An end past the address space is refused, never wrapped.
/// assert!(Region::new(usize::MAX as *const u8, 2).is_err());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Region {
    addr: usize,
    len: usize,
}

/// Why [`Region::new`] refused a range.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RegionError {
    /// `addr + len` does not fit in the address space.
    EndOverflows {
        /// The start address given.
        addr: usize,
        /// The length given, in bytes.
        len: usize,
    },
}

impl fmt::Display for RegionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            RegionError::EndOverflows { addr, len } => write!(
                f,
                "region {addr:#x} + {len} bytes ends past the end of the address space; \
                 a pointer's extent must stay inside memory it points to"
            ),
        }
    }
}

impl std::error::Error for RegionError {}

impl Region {
    /// The region of `len` bytes starting at `ptr`.
    ///
    /// Fails when `ptr + len` overflows the address space. `ptr` is never
    /// dereferenced; null is allowed (pinning a null region pins nothing).
    ///
    /// ```
    /// use pointer_escapes::Region;
    /// let x = 7u64;
    /// let r = Region::new(&x as *const u64, 8).unwrap();
    /// assert_eq!(r, Region::of(&x));
    /// ```
    pub fn new<T: ?Sized>(ptr: *const T, len: usize) -> Result<Region, RegionError> {
        let addr = ptr.cast::<u8>() as usize;
        match addr.checked_add(len) {
            Some(_) => Ok(Region { addr, len }),
            None => Err(RegionError::EndOverflows { addr, len }),
        }
    }

    /// The memory a reference points at (`size_of_val(value)` bytes).
    ///
    /// ```
    /// use pointer_escapes::Region;
    /// let x = [1u32, 2, 3];
    /// assert_eq!(Region::of(&x).len(), 12);
    /// ```
    pub fn of<T: ?Sized>(value: &T) -> Region {
        Region {
            addr: (value as *const T).cast::<u8>() as usize,
            len: mem::size_of_val(value),
        }
    }

    /// The memory of a slice's elements (`len * size_of::<T>()` bytes).
    ///
    /// ```
    /// use pointer_escapes::Region;
    /// let v = vec![0u16; 5];
    /// assert_eq!(Region::of_slice(&v).len(), 10);
    /// ```
    pub fn of_slice<T>(slice: &[T]) -> Region {
        Region::of(slice)
    }

    /// `count` elements of `T` starting at `ptr`, or an error when the byte
    /// length or the end overflows.
    pub(crate) fn of_elements<T>(ptr: *const T, count: usize) -> Result<Region, RegionError> {
        let addr = ptr as usize;
        match count.checked_mul(mem::size_of::<T>()) {
            Some(len) => Region::new(ptr, len),
            None => Err(RegionError::EndOverflows {
                addr,
                len: usize::MAX,
            }),
        }
    }

    /// Builds a region whose end is already known not to overflow.
    pub(crate) const fn from_parts(addr: usize, len: usize) -> Region {
        Region { addr, len }
    }

    /// The first address.
    pub const fn addr(&self) -> usize {
        self.addr
    }

    /// The length in bytes.
    pub const fn len(&self) -> usize {
        self.len
    }

    /// Whether the region is zero bytes long (it still names its address).
    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// One past the last address (`addr + len`; never overflows).
    pub const fn end(&self) -> usize {
        self.addr + self.len
    }

    /// Whether the region starts at address 0.
    pub const fn is_null(&self) -> bool {
        self.addr == 0
    }

    /// Whether `addr` lies in the region; a zero-length region contains its
    /// own address only.
    ///
    /// ```
    /// use pointer_escapes::Region;
    /// let r = Region::new(0x1000 as *const u8, 0x10).unwrap();
    /// assert!(r.contains(0x1000) && r.contains(0x100f));
    /// assert!(!r.contains(0x0fff) && !r.contains(0x1010));
    /// ```
    pub const fn contains(&self, addr: usize) -> bool {
        if self.len == 0 {
            addr == self.addr
        } else {
            self.addr <= addr && addr < self.end()
        }
    }

    /// Whether the two regions share a byte, counting a zero-length region
    /// as its address.
    pub const fn overlaps(&self, other: &Region) -> bool {
        if self.len == 0 {
            return other.contains(self.addr);
        }
        if other.len == 0 {
            return self.contains(other.addr);
        }
        self.addr < other.end() && other.addr < self.end()
    }
}

impl fmt::Debug for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:#x}..{:#x} ({})",
            self.addr,
            self.end(),
            ByteCount(self.len)
        )
    }
}

/// A size for messages: "1 byte", "64 bytes" (never "1 bytes").
#[derive(Clone, Copy, Debug)]
pub(crate) struct ByteCount(pub(crate) usize);

impl fmt::Display for ByteCount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 == 1 {
            f.write_str("1 byte")
        } else {
            write!(f, "{} bytes", self.0)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overflowing_end_is_refused_with_a_message() {
        let err = Region::new(usize::MAX as *const u8, 1).unwrap_err();
        assert_eq!(
            err,
            RegionError::EndOverflows {
                addr: usize::MAX,
                len: 1
            }
        );
        assert!(err
            .to_string()
            .contains("past the end of the address space"));
        assert!(Region::new((usize::MAX - 1) as *const u8, 1).is_ok());
    }

    #[test]
    fn element_count_overflow_is_refused() {
        assert!(Region::of_elements(0x1000 as *const u64, usize::MAX / 4).is_err());
        assert_eq!(
            Region::of_elements(0x1000 as *const u64, 3).unwrap().len(),
            24
        );
    }

    #[test]
    fn byte_counts_are_singular_for_one() {
        assert_eq!(ByteCount(1).to_string(), "1 byte");
        assert_eq!(ByteCount(0).to_string(), "0 bytes");
        assert_eq!(ByteCount(64).to_string(), "64 bytes");
    }

    #[test]
    fn zero_length_contains_only_its_address() {
        let r = Region::new(0x40 as *const u8, 0).unwrap();
        assert!(r.contains(0x40));
        assert!(!r.contains(0x41));
        assert!(r.overlaps(&Region::new(0x3f as *const u8, 2).unwrap()));
        assert!(!r.overlaps(&Region::new(0x41 as *const u8, 2).unwrap()));
    }
}
