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
    export EDU_BENCH_QUICK=1
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
    rm -rf "$crit/dispatch" "$crit/removing" "$crit/unregister" "$out_dir/overlap.tsv" \
        "$out_dir/removal.tsv"
fi
mkdir -p "$out_dir"

cd "$root"
cargo bench -p edu-benches --bench dispatch -- "${args[@]}"

python3 - "$crit" "$out_dir/dispatch.md" "$out_dir" <<'PY'
import json, os, sys

crit, out, out_dir = sys.argv[1], sys.argv[2], sys.argv[3]

def tsv(name):
    path = os.path.join(out_dir, name)
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [l.rstrip("\n").split("\t") for l in f.readlines()[1:] if l.strip()]

overlap = {(r[0], int(r[1])): (float(r[2]), float(r[3])) for r in tsv("overlap.tsv")}
removal = {(r[0], int(r[1])): (int(r[3]), int(r[4])) for r in tsv("removal.tsv")}
rows = {}
for group in ("dispatch", "removing"):
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

order = ["fnptr", "atomic", "sharded", "membarrier", "mb-gate+atomic-owner", "domain",
         "domain-fences"]
def key(k):
    g, v, t = k
    return (("dispatch", "removing").index(g), t,
            order.index(v) if v in order else len(order), v)

lines = [
    "| benchmark | variant | threads | median ns | mean ns | ratio to fnptr | overlap | cpu/wall |",
    "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
]
for k in sorted(rows, key=key):
    g, v, t = k
    med, mean = rows[k]
    floor = rows.get(("dispatch", "fnptr", t))
    ratio = f"{med / floor[0]:.2f}x" if g == "dispatch" and floor else ""
    ov, cw = overlap.get((v, t), (None, None)) if g == "dispatch" else (None, None)
    ov = f"{ov:.2f}" if ov is not None and t > 1 else ""
    cw = f"{cw:.2f}" if cw is not None else ""
    lines.append(f"| {g} | {v} | {t} | {med:.2f} | {mean:.2f} | {ratio} | {ov} | {cw} |")

if removal:
    lines += [
        "",
        "| unregister under load | threads | median us | max us |",
        "| --- | ---: | ---: | ---: |",
    ]
    for (v, t) in sorted(removal, key=lambda k: (k[1], order.index(k[0]) if k[0] in order else 99)):
        med, mx = removal[(v, t)]
        lines.append(f"| {v} | {t} | {med / 1000:.1f} | {mx / 1000:.1f} |")

notes = [
    "",
    "dispatch: ns per call in each thread, from each thread's CPU clock (all threads dispatching",
    "at once, started at a barrier); overlap: mean fraction of a sample during which every",
    "thread's loop was running; cpu/wall: the smallest CPU-time/wall-time ratio of any thread",
    "in any sample (1.00: never descheduled);",
    "removing: ns per failed dispatch while an unregister waits for an in-flight call;",
    "unregister under load: one unregister (revoke/grace period + drain) with threads-1 other",
    "threads dispatching, median and max of the rounds.",
]
text = "\n".join(lines + notes) + "\n"
# The chart's input: one bar per variant and thread count, its ratio to the floor above it.
with open(os.path.join(out_dir, "dispatch.tsv"), "w") as f:
    f.write("variant\tthreads\tmedian ns\tratio\n")
    for k in sorted(rows, key=key):
        g, v, t = k
        floor = rows.get(("dispatch", "fnptr", t))
        if g == "dispatch" and floor:
            label = f"{t} thread" + ("s" if t > 1 else "")
            f.write(f"{v}\t{label}\t{rows[k][0]:.3f}\t{rows[k][0] / floor[0]:.2f}x\n")
with open(out, "w") as f:
    f.write(text)
print(text, end="")
print(f"(written to {out})")
PY

cargo run -q --release -p edu-benches --bin edu-plot -- bars \
    "callback dispatch, $(date -u +%Y-%m-%d), $(nproc) CPUs ($(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -n 1))" \
    "ns per dispatch (per thread, CPU time)" "$out_dir/dispatch.tsv" "$out_dir/dispatch.svg"
echo "(chart: $out_dir/dispatch.svg; criterion's report: $crit/report/index.html)"
