#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Runs the dispatch benchmarks and prints a table (also written to
# target/bench/dispatch.md).
#
#   QUICK=1               short warm-up/measurement (about a minute in all)
#   EDU_BENCH_THREADS=1,2 thread counts to measure (default 1,2)
#   BENCH_FILTER=regex    only run matching benchmarks
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
target="${CARGO_TARGET_DIR:-$root/target}"
case "$target" in /*) ;; *) target="$root/$target" ;; esac
out_dir="$target/bench"
crit="$target/criterion"

args=()
if [[ "${QUICK:-0}" == 1 ]]; then
    args+=(--warm-up-time 0.2 --measurement-time 0.5 --sample-size 20)
else
    args+=(--warm-up-time 1 --measurement-time 3)
fi
if [[ -n "${BENCH_FILTER:-}" ]]; then
    args+=("$BENCH_FILTER")
fi

# Old results for other thread counts would otherwise show up in the table
# (kept when filtering, so a partial re-run updates the full table).
if [[ -z "${BENCH_FILTER:-}" ]]; then
    rm -rf "$crit/dispatch" "$crit/removing" "$crit/unregister"
fi
mkdir -p "$out_dir"

cd "$root"
cargo bench -p edu-benches --bench dispatch -- "${args[@]}"

python3 - "$crit" "$out_dir/dispatch.md" <<'PY'
import json, os, sys

crit, out = sys.argv[1], sys.argv[2]
rows = {}
for group in ("dispatch", "removing", "unregister"):
    gdir = os.path.join(crit, group)
    if not os.path.isdir(gdir):
        continue
    for dirpath, _, files in os.walk(gdir):
        if os.path.basename(dirpath) != "new" or "estimates.json" not in files:
            continue
        with open(os.path.join(dirpath, "benchmark.json")) as f:
            meta = json.load(f)
        with open(os.path.join(dirpath, "estimates.json")) as f:
            est = json.load(f)
        threads = int(meta.get("value_str") or 1)
        rows[(group, meta["function_id"], threads)] = (
            est["median"]["point_estimate"],
            est["mean"]["point_estimate"],
        )

if not rows:
    sys.exit("no criterion results found under " + crit)

order = ["fnptr", "atomic", "sharded", "membarrier", "mb-gate+atomic-owner"]
def key(k):
    g, v, t = k
    return (("dispatch", "removing", "unregister").index(g), t,
            order.index(v) if v in order else len(order), v)

lines = [
    "| benchmark | variant | threads | median ns | mean ns | ratio to fnptr |",
    "| --- | --- | ---: | ---: | ---: | ---: |",
]
for k in sorted(rows, key=key):
    g, v, t = k
    med, mean = rows[k]
    floor = rows.get(("dispatch", "fnptr", t))
    ratio = f"{med / floor[0]:.2f}x" if g == "dispatch" and floor else ""
    lines.append(f"| {g} | {v} | {t} | {med:.2f} | {mean:.2f} | {ratio} |")

notes = [
    "",
    "dispatch: ns per call in each thread (all threads dispatching at once);",
    "removing: ns per failed dispatch while an unregister waits for an in-flight call;",
    "unregister: ns per unregister (revoke + drain) with threads-1 other threads dispatching.",
]
text = "\n".join(lines + notes) + "\n"
with open(out, "w") as f:
    f.write(text)
print(text, end="")
print(f"(written to {out})")
PY
