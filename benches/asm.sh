#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# The machine code of the measured loops of `benches/dispatch.rs`: the floor and one
# `dispatch_loop` per variant (plus a variant's `dispatch` where the compiler did not inline it),
# as built for `make bench` (release profile, this machine's target; v0 symbol mangling so that
# objdump names each instance by its types). For each: the instruction count and what costs
# (locked instructions, fences, calls, thread-local loads).
#
#   benches/asm.sh             the counts
#   benches/asm.sh -v [RE]     and the code of the functions whose name matches RE
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
target="${CARGO_TARGET_DIR:-$root/target}"
case "$target" in /*) ;; *) target="$root/$target" ;; esac
# A target directory of its own: different RUSTFLAGS would rebuild the benches' cache.
export CARGO_TARGET_DIR="$target/asm"
cd "$root"
RUSTFLAGS="-C symbol-mangling-version=v0" \
    cargo bench -q -p edu-benches --bench dispatch --no-run 2>/dev/null
bin=$(find "$CARGO_TARGET_DIR/release/deps" -maxdepth 1 -type f -executable -name 'dispatch-*' \
    -printf '%T@ %p\n' | sort -n | tail -n 1 | cut -d' ' -f2)
objdump -d --no-show-raw-insn -C "$bin" | python3 -c '
import re, sys
verbose = len(sys.argv) > 1 and sys.argv[1] == "-v"
want = re.compile(sys.argv[2] if verbose and len(sys.argv) > 2 else "")
head = re.compile(r"^[0-9a-f]+ <((?:dispatch::floor_loop|dispatch::dispatch_loop::<.*>|<dispatch::\w+Bench.* as dispatch::Bench>::dispatch))>:$")
funcs, cur = {}, None
for line in sys.stdin:
    line = line.rstrip("\n")
    m = head.match(line)
    if m:
        cur = m.group(1)
        funcs[cur] = []
    elif not line.strip():
        cur = None
    elif cur is not None:
        funcs[cur].append(line)
for name, body in funcs.items():
    ins = [l.split("\t", 1)[1].strip() for l in body if "\t" in l]
    ins = [i for i in ins if not i.startswith(("int3", "nop", "data16", "xchg   %ax,%ax"))]
    n = lambda p: sum(1 for i in ins if re.search(p, i))
    counts = (len(ins), n(r"^lock "), n(r"fence"), n(r"^call"), n(r"%fs:"))
    print(name)
    print("    %d instructions: %d locked, %d fences, %d calls, %d thread-local loads" % counts)
    if verbose and want.search(name):
        for l in body:
            print("   ", re.sub(r"<[^>]*\+(0x[0-9a-f]+)>", r"<+\1>", l))
' "$@"
