#!/usr/bin/env bash
# Instruction counts for BENCHMARKS.md (part 2): runs every pair of workloads of
# benches/escapes_callgrind.rs under callgrind (collecting only the measured
# calls) and prints Ir per call for the baseline and ours, and their
# difference. Instruction counts do not wobble with the machine's load, so
# these are the steady figures beside criterion's timings.
#
# Usage: scripts/callgrind-call.sh [--unchecked] [--annotate] [FILTER]
#   --unchecked  build with `--cfg pointer_escapes_unchecked` (the attribute compiled out)
#   --annotate   also print callgrind_annotate's inclusive breakdown of ours
#   FILTER       only pairs whose name contains it (e.g. `off/`, `zlib`)
# Environment:
#   CARGO_TARGET_DIR  as for cargo (default: target)
#   OUT               where callgrind's files go (default $CARGO_TARGET_DIR/callgrind-call)
#   N                 calls per workload instead of each workload's default
set -euo pipefail
cd "$(dirname "$0")/.."

FEATURES=()
ANNOTATE=0
FILTER=""
for arg in "$@"; do
    case "$arg" in
        --unchecked) FEATURES=(RUSTFLAGS="--cfg pointer_escapes_unchecked" CARGO_TARGET_DIR=target/unchecked) ;;
        --annotate) ANNOTATE=1 ;;
        --*) echo "callgrind-call.sh: unknown option '$arg'" >&2; exit 2 ;;
        *) FILTER=$arg ;;
    esac
done
command -v valgrind >/dev/null || { echo "callgrind-call.sh: needs valgrind" >&2; exit 1; }

TARGET=${CARGO_TARGET_DIR:-target}
OUT=${OUT:-$TARGET/callgrind-call}
mkdir -p "$OUT"

# Build the driver; cargo names the executable on stderr.
BIN=$(env "${FEATURES[@]}" cargo bench --no-run --bench escapes_callgrind 2>&1 |
      sed -n 's/.*Executable .*escapes_callgrind.rs (\(.*\))$/\1/p' | tail -n 1)
if [ -z "$BIN" ] || [ ! -x "$BIN" ]; then
    echo "callgrind-call.sh: could not build benches/escapes_callgrind.rs" >&2
    exit 1
fi
echo "== $BIN${FEATURES:+ (cfg pointer_escapes_unchecked)}"
echo "== $(valgrind --version), $(lscpu | sed -n 's/^Model name: *//p'), $(date -u +%Y-%m-%dT%H:%MZ)"

# Ir collected in one run of WORKLOAD with N calls.
count() {
    local workload=$1 n=$2 file
    file="$OUT/$(echo "$workload" | tr '/' '.').out"
    valgrind --tool=callgrind --toggle-collect='*escapes_callgrind::measured*' \
        --callgrind-out-file="$file" "$BIN" "$workload" "$n" </dev/null >/dev/null 2>"$file.log" ||
        { echo "callgrind-call.sh: $workload failed:" >&2; cat "$file.log" >&2; exit 1; }
    callgrind_annotate "$file" | awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1 }'
}

printf '%-44s %8s %14s %14s %14s %8s\n' pair n "baseline Ir" "ours Ir" "ours-base Ir" ratio
# The driver lists workloads in pairs: baseline first, then ours.
"$BIN" --list | paste - - | while read -r base n ours _; do
    pair=${base%/*}
    case "$pair" in *"$FILTER"*) ;; *) continue ;; esac
    n=${N:-$n}
    ir_base=$(count "$base" "$n")
    ir_ours=$(count "$ours" "$n")
    awk -v p="$pair (${base##*/} vs ${ours##*/})" -v n="$n" -v b="$ir_base" -v o="$ir_ours" 'BEGIN {
        printf "%-44s %8d %14.1f %14.1f %+14.1f %8.4f\n", p, n, b / n, o / n, (o - b) / n, o / b }'
    if [ "$ANNOTATE" = 1 ]; then
        echo "--- callgrind_annotate --inclusive=yes: $ours (n=$n)"
        callgrind_annotate --inclusive=yes "$OUT/$(echo "$ours" | tr '/' '.').out" |
            sed -n '/^Ir/,$p' | head -n 25
    fi
done
