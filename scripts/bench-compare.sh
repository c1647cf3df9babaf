#!/usr/bin/env bash
# Issue 15's Go rows in one run: our criterion bench and Go's benchmark of
# the same name, back to back, ROUNDS times (order alternating each round),
# and the ratio ours / Go per round. Prints per row the median of each side
# and the median, lowest and highest per-round ratio. Same-run ratios are
# what BENCHMARKS.md compares with the targets: absolute times on this
# shared machine move by up to 2x between minutes.
#
# Usage: scripts/bench-compare.sh [FILTER]
#   FILTER   only rows whose name contains it (e.g. `parallel`)
# Environment:
#   ROUNDS      rounds per row (default 3)
#   BENCHTIME   Go's -test.benchtime (default 1s)
#   GO_VENV, WORK   as for scripts/bench-go.sh (Go comes from there)
#   CARGO_TARGET_DIR as for cargo
set -euo pipefail
cd "$(dirname "$0")/.."

FILTER=${1:-}
ROUNDS=${ROUNDS:-3}
BENCHTIME=${BENCHTIME:-1s}

# Rows: our bench (exact criterion id) | Go benchmark | Go's -test.cpu
# (GOMAXPROCS, which is also RunParallel's goroutine count).
ROWS="pin_unpin|BenchmarkPinnerPinUnpin|2
pin_unpin_dated|BenchmarkPinnerPinUnpin|2
pin_unpin_batch|BenchmarkPinnerPinUnpinBatch|2
pin_unpin_parallel/2|BenchmarkPinnerPinUnpinParallel|2
pin_unpin_parallel/4|BenchmarkPinnerPinUnpinParallel|4
pin_unpin_parallel/8|BenchmarkPinnerPinUnpinParallel|8
is_pinned_on_pinned|BenchmarkPinnerIsPinnedOnPinned|2
floor/pin_unpin|BenchmarkPinnerPinUnpin|2
floor/clock|BenchmarkPinnerPinUnpin|2
floor/is_pinned|BenchmarkPinnerIsPinnedOnPinned|2"

GO_OUT=$(scripts/bench-go.sh --build-only)
TESTBIN=$(sed -n 's/^TESTBIN=//p' <<<"$GO_OUT")
GOVERSION=$(sed -n 's/^GOVERSION=//p' <<<"$GO_OUT")
[ -x "$TESTBIN" ] || { echo "bench-compare.sh: no Go test binary" >&2; exit 1; }

OURS=$(cargo bench -p pointer-escapes-core --bench pinner --no-run 2>&1 |
       sed -n 's/.*Executable .*pinner.rs (\(.*\))$/\1/p' | tail -n 1)
[ -n "$OURS" ] && [ -x "$OURS" ] || { echo "bench-compare.sh: could not build pin-core/benches/pinner.rs" >&2; exit 1; }

echo "== ours: $OURS"
echo "== Go: $GOVERSION, $TESTBIN"
echo "== $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%Y-%m-%dT%H:%MZ), $ROUNDS rounds"

# ns/op of our criterion bench: the middle (point) estimate of its
# `time: [low mid high]` line.
ours_ns() {
    "$OURS" --bench --exact "$1" 2>/dev/null | awk '
        / time: *\[/ {
            sub(/.*time: *\[/, ""); v = $3; u = $4
            f = (u == "ps") ? 0.001 : (u == "ns") ? 1 : (u == "µs" || u == "us") ? 1000 : (u == "ms") ? 1e6 : 1e9
            printf "%.3f\n", v * f; exit }'
}

# ns/op of Go's benchmark at -test.cpu=CPU.
go_ns() {
    "$TESTBIN" -test.run '^$' -test.bench "^$1\$" -test.cpu="$2" \
        -test.benchtime="$BENCHTIME" -test.count=1 2>/dev/null |
        awk -v name="$1-$2" '$1 == name { for (i = 2; i <= NF; i++) if ($(i + 1) == "ns/op") { print $i; exit } }'
}

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

printf '%-24s %-34s %12s %12s %8s %8s %8s\n' ours "Go (-test.cpu)" "ours ns/op" "Go ns/op" ratio lowest highest
while IFS='|' read -r ours go cpu; do
    case "$ours" in *"$FILTER"*) ;; *) continue ;; esac
    o_all="" g_all="" r_all=""
    for round in $(seq 1 "$ROUNDS"); do
        if [ $((round % 2)) = 1 ]; then
            o=$(ours_ns "$ours"); g=$(go_ns "$go" "$cpu")
        else
            g=$(go_ns "$go" "$cpu"); o=$(ours_ns "$ours")
        fi
        if [ -z "$o" ] || [ -z "$g" ]; then
            echo "bench-compare.sh: no figure for $ours (ours '$o') or $go-$cpu (Go '$g')" >&2
            exit 1
        fi
        o_all+="$o"$'\n'; g_all+="$g"$'\n'
        r_all+=$(awk -v o="$o" -v g="$g" 'BEGIN { printf "%.4f", o / g }')$'\n'
    done
    r_sorted=$(printf '%s' "$r_all" | sort -g)
    printf '%-24s %-34s %12.2f %12.2f %8.3f %8.3f %8.3f\n' "$ours" "$go-$cpu" \
        "$(printf '%s' "$o_all" | median)" "$(printf '%s' "$g_all" | median)" \
        "$(printf '%s' "$r_all" | median)" "$(head -n 1 <<<"$r_sorted")" "$(tail -n 1 <<<"$r_sorted")"
done <<<"$ROWS"
