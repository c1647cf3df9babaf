//! A small deterministic generator for the unit tests' random cases (no
//! dependency, no shared state): xorshift64, the same sequence for a seed
//! on every run and under Miri.

/// Numbers below the bound passed to each call (`bound` > 0), from `seed`.
pub(crate) fn xorshift(mut seed: u64) -> impl FnMut(usize) -> usize {
    move |bound: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % bound as u64) as usize
    }
}
