#!/usr/bin/env bash
# Issue 15's allocator rows in instructions: PinAwareAlloc against System on
# 1M 64-byte boxes plus a 100k-entry BTreeMap<String, Vec<u8>>
# (pin-core/benches/alloc_mix.rs), with no pin live and with PINS (default
# 10 000) 4 KiB buffers pinned elsewhere. Counts only the workload
# (`--toggle-collect` on `measured`) with valgrind's callgrind, one process
# per side, and prints the Ir of each and the ratio PinAwareAlloc / System.
# Instruction counts do not move with the machine's load.
#
# Usage: scripts/callgrind-alloc.sh
# Environment:
#   PINS              live pins of the second pair (default 10000)
#   CARGO_TARGET_DIR  as for cargo (default: target)
#   OUT               where callgrind's files go (default $CARGO_TARGET_DIR/callgrind-alloc)
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { echo "callgrind-alloc.sh: needs valgrind" >&2; exit 1; }

PINS=${PINS:-10000}
TARGET=${CARGO_TARGET_DIR:-target}
OUT=${OUT:-$TARGET/callgrind-alloc}
mkdir -p "$OUT"

BIN=$(cargo bench -p pointer-escapes-core --bench alloc_mix --no-run 2>&1 |
      sed -n 's/.*Executable .*alloc_mix.rs (\(.*\))$/\1/p' | tail -n 1)
[ -n "$BIN" ] && [ -x "$BIN" ] || { echo "callgrind-alloc.sh: could not build pin-core/benches/alloc_mix.rs" >&2; exit 1; }
echo "== $BIN"
echo "== $(valgrind --version), $(lscpu | sed -n 's/^Model name: *//p'), $(date -u +%Y-%m-%dT%H:%MZ)"

# Ir of one side's workload with `pins` pins live.
count() {
    local side=$1 pins=$2 file="$OUT/$1.pins$2.out"
    valgrind --tool=callgrind --toggle-collect='*alloc_mix::measured*' \
        --callgrind-out-file="$file" "$BIN" "$side" --pins "$pins" </dev/null >/dev/null 2>"$file.log" ||
        { echo "callgrind-alloc.sh: $side --pins $pins failed:" >&2; cat "$file.log" >&2; exit 1; }
    callgrind_annotate "$file" | awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1 }'
}

printf '%-10s %16s %16s %10s\n' pins "System Ir" "PinAwareAlloc Ir" ratio
for pins in 0 "$PINS"; do
    sys=$(count system "$pins")
    aware=$(count pinaware "$pins")
    awk -v p="$pins" -v s="$sys" -v a="$aware" 'BEGIN { printf "%-10s %16d %16d %10.4f\n", p, s, a, a / s }'
done
