#!/usr/bin/env bash
# Machine code of #[pointer_escapes] against the same code written by hand,
# for BENCHMARKS.md (part 2). Builds benches/escapes_callgrind.rs (bench
# profile) with `--cfg pointer_escapes_unchecked` and without, and for each pair of
# functions in benches/escapes_support/bindings.rs (hand_X / annotated_X,
# call_raw_X / call_annotated_X) compares their disassembly.
#
# Normalisation (so that two copies of the same code at different addresses
# compare equal): `objdump -d --no-show-raw-insn -C` of the symbol's
# [address, address + size) range from `nm -S`; each line's own address is
# cut; a jump or call target `1234 <sym+0x10>` keeps only `<sym+0x10>`, with
# the function's own name replaced by SELF; rip-relative displacements
# become `X(%rip)` and their `# 1234 <...>` comments `# <...>`; LLVM's
# `anon.<hash>.<n>.llvm.<n>` names become `anon`. What is left is the
# instruction sequence, operands and symbolic targets.
#
# With `unchecked` each pair must be identical (or LLVM merged the two
# functions into one, in which case both names have the same address). The
# default build shows what the attribute adds (in Off mode, the prologue's
# branch and the guard).
#
# Usage: scripts/disasm-call.sh [--show] [--only-unchecked]
#   --show            print the normalised listings of every pair, not just the verdicts
#   --only-unchecked  skip the default build
set -euo pipefail
cd "$(dirname "$0")/.."

SHOW=0
BUILDS=(default unchecked)
for arg in "$@"; do
    case "$arg" in
        --show) SHOW=1 ;;
        --only-unchecked) BUILDS=(unchecked) ;;
        *) echo "disasm-call.sh: unknown argument '$arg'" >&2; exit 2 ;;
    esac
done

PAIRS=(
    "hand_touch annotated_touch"
    "hand_fake_readv annotated_fake_readv"
    "hand_fake_readv annotated_fake_readv_array_only"
    "hand_readv annotated_readv"
    "hand_readv annotated_readv_array_only"
    "call_raw_touch call_annotated_touch"
    "call_raw_fake_readv call_annotated_fake_readv"
    "call_raw_adler32 call_annotated_adler32"
)

build() {
    local vars=()
    [ "$1" = unchecked ] &&
        vars=(RUSTFLAGS="--cfg pointer_escapes_unchecked" CARGO_TARGET_DIR=target/unchecked)
    env "${vars[@]}" cargo bench --no-run --bench escapes_callgrind 2>&1 |
        sed -n 's/.*Executable .*escapes_callgrind.rs (\(.*\))$/\1/p' | tail -n 1
}

# "ADDRESS SIZE" of bindings::NAME in BIN.
symbol() {
    nm -C -S --defined-only "$1" |
        awk -v want="::escapes_support::bindings::$2" '
            substr($4, length($4) - length(want) + 1) == want { print $1, $2; found = 1; exit }
            END { if (!found) print "none none" }'
}

# The normalised instructions of NAME in BIN.
listing() {
    local bin=$1 name=$2 addr size
    read -r addr size < <(symbol "$bin" "$name")
    if [ "$addr" = none ]; then
        echo "disasm-call.sh: no symbol bindings::$name in $bin" >&2
        exit 1
    fi
    objdump -d --no-show-raw-insn -C --start-address=$((16#$addr)) \
        --stop-address=$((16#$addr + 16#$size)) "$bin" |
        grep -E '^ +[0-9a-f]+:' |
        sed -E -e 's/^ +[0-9a-f]+:\s+//' \
            -e 's/[0-9a-f]+ <([^>]*)>/<\1>/g' \
            -e "s/<[^<>+]*bindings::$name(\+0x[0-9a-f]+)?>/<SELF\1>/g" \
            -e 's/-?0x[0-9a-f]+\(%rip\)/X(%rip)/g' \
            -e 's/anon\.[0-9a-f]+\.[0-9]+(\.llvm\.[0-9]+)?/anon/g' \
            -e 's/\s+/ /g' -e 's/ $//'
}

for build_name in "${BUILDS[@]}"; do
    BIN=$(build "$build_name")
    if [ -z "$BIN" ] || [ ! -x "$BIN" ]; then
        echo "disasm-call.sh: could not build benches/escapes_callgrind.rs ($build_name)" >&2
        exit 1
    fi
    echo "== $build_name build: $BIN"
    for pair in "${PAIRS[@]}"; do
        read -r hand ours <<<"$pair"
        read -r a_hand s_hand < <(symbol "$BIN" "$hand")
        read -r a_ours s_ours < <(symbol "$BIN" "$ours")
        if [ "$a_hand" = none ] || [ "$a_ours" = none ]; then
            echo "disasm-call.sh: $hand or $ours is not a symbol of $BIN" >&2
            exit 1
        fi
        if [ "$a_hand" = "$a_ours" ]; then
            printf '  %-28s %-34s same address 0x%s: merged by LLVM (identical code)\n' \
                "$hand" "$ours" "${a_hand#"${a_hand%%[!0]*}"}"
            continue
        fi
        left=$(listing "$BIN" "$hand")
        right=$(listing "$BIN" "$ours")
        n_left=$(printf '%s\n' "$left" | wc -l)
        n_right=$(printf '%s\n' "$right" | wc -l)
        if [ "$left" = "$right" ]; then
            verdict="identical ($n_left instructions each)"
        else
            verdict="DIFFERENT: $n_left vs $n_right instructions"
        fi
        printf '  %-28s %-34s %s\n' "$hand" "$ours" "$verdict"
        if [ "$SHOW" = 1 ]; then
            diff -u --label "$hand" --label "$ours" <(printf '%s\n' "$left") \
                <(printf '%s\n' "$right") | sed 's/^/    /' || true
        fi
    done
done
