//! The registry gives memory back when pins go, not only when the last one
//! does: a burst of pins released while another pin lives must not keep
//! the burst's tables for the life of the process. Counted in bytes the
//! registry holds (`snapshot().registry_bytes`), never timed.
//!
//! One test in its own binary: the byte count is process-wide.

use pointer_escapes::{snapshot, Pinner};

const MIB: usize = 1 << 20;

/// A million pins (a few thousand under Miri), made and released while one
/// other pin lives, made before the burst or after it.
#[test]
fn registry_memory_falls_after_a_burst_of_pins_is_released() {
    let burst = if cfg!(miri) { 1_500 } else { 1_000_000 };
    let buf = vec![0u8; burst];
    let other = [0u64; 4];
    for other_first in [true, false] {
        let mut lasting = Pinner::new();
        if other_first {
            lasting.pin(&other);
        }
        let mut pins = Pinner::new();
        for i in 0..burst {
            pins.pin_slice(&buf[i..i + 1]);
        }
        if !other_first {
            lasting.pin(&other);
        }
        let peak = snapshot().registry_bytes;
        assert!(peak > 2 * MIB || cfg!(miri), "the burst used {peak} bytes");
        drop(pins);
        let after = snapshot().registry_bytes;
        assert!(
            after <= MIB,
            "{after} bytes kept after the burst (peak {peak}, other pin made {})",
            if other_first { "first" } else { "last" }
        );
        assert!(pointer_escapes::is_pinned(&other), "the other pin lives on");
        assert!(!pointer_escapes::is_pinned(&buf[burst / 2]));
        drop(lasting);
    }
}
