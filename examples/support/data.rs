//! Deterministic inputs for the examples, their tests and the benches
//! (included by `support/mod.rs` and, with `#[path]`, by the zlib benches).

/// `len` pseudo-random bytes from `seed` (xorshift64*): the same every run,
/// and every 64-byte window distinct, so a misplaced chunk fails to verify.
pub fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed | 1;
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        let word = state.wrapping_mul(0x2545_f491_4f6c_dd1d).to_le_bytes();
        let take = word.len().min(len - out.len());
        out.extend_from_slice(&word[..take]);
    }
    out
}

/// `len` bytes of compressible, text-like data (words from a small
/// vocabulary picked by a deterministic generator), the same every run.
pub fn text_like(len: usize, seed: u64) -> Vec<u8> {
    const WORDS: [&str; 24] = [
        "pointer", "escapes", "pinned", "buffer", "the", "kernel", "keeps", "a", "copy", "of",
        "iovec", "while", "C", "holds", "it", "and", "Rust", "must", "not", "move", "free",
        "region", "call", "returns",
    ];
    let mut out = Vec::with_capacity(len + 16);
    let mut state = seed | 1;
    let mut words_on_line = 0;
    while out.len() < len {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        let r = state.wrapping_mul(0x2545_f491_4f6c_dd1d);
        out.extend_from_slice(WORDS[(r % WORDS.len() as u64) as usize].as_bytes());
        words_on_line += 1;
        if words_on_line == 12 {
            out.extend_from_slice(b".\n");
            words_on_line = 0;
        } else {
            out.push(b' ');
        }
    }
    out.truncate(len);
    out
}
