#!/usr/bin/env bash
# The listener's in-kernel calibration on the bench kernel: boots tests/scenarios/bench_kernel.sh
# with 1 and with 2 vCPUs and writes target/bench/kernel.md (and kernel.tsv): ns per call of each
# dispatch variant and its ratio to the plain call, per vCPU count, plus the evidence for why the
# RCU guard's rcu_read_lock()/rcu_read_unlock() are calls here.
# Usage: KERNEL=bzImage INITRD=initramfs BENCH_KDIR=build-dir BENCH_KO=edu.ko tests/bench-kernel.sh
# (as `make bench-kernel` runs it).
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
: "${KERNEL:?}" "${INITRD:?}" "${BENCH_KDIR:?}" "${BENCH_KO:?}"
out=$top/target/bench/kernel.md
mkdir -p "$top/target/bench"
status=0
for cpus in 1 2; do
	GUEST_CPUS=$cpus GUEST_LOG_DIR=$top/target/bench/smp$cpus \
		KTAP_OUT=$top/target/bench/smp$cpus/test.ktap "$top/tests/run.sh" --no-host bench_kernel ||
		status=1
	sed -n '/^=== calibration/,/^=== end/p' "$top/target/bench/smp$cpus/bench_kernel.out" |
		sed '1d;$d' >"$top/target/bench/smp$cpus/calibration.txt"
done
# variant <TAB> ns <TAB> ratio, per vCPU count.
rows() {
	sed -n 's/^\(.*[^ ]\)  *\([0-9]*\.[0-9]\)  \([0-9]*\.[0-9]*\)x$/\1\t\2\t\3/p' \
		"$top/target/bench/smp$1/calibration.txt"
}
if [ "$(rows 1 | wc -l)" -ne 7 ] || [ "$(rows 2 | wc -l)" -ne 7 ]; then
	echo "bench-kernel: no complete table in target/bench/smp{1,2}/calibration.txt" >&2
	exit 1
fi
cfg() { grep -E "^(# )?$1[= ]" "$BENCH_KDIR/.config" || echo "$1 absent"; }
calls=$(objdump -dr "$BENCH_KO" | grep -cE 'R_X86_64_(PLT|PC)32[[:space:]]+rust_helper_rcu_read_(un)?lock')
{
	echo "# In-kernel calibration of the listener dispatch (bench kernel)"
	echo
	echo "Measured $(date -u +%Y-%m-%d) by \`make bench-kernel\` on the bench kernel"
	echo "(qemu/kernel.config + qemu/kernel-bench.config: no lockdep, KASAN, kmemleak, UBSAN, fault"
	echo "injection), $(uname -m) host with $(nproc) CPUs, QEMU TCG: absolute times are emulation"
	echo "times, compare the ratios. Each variant runs 1,000,000 calls per CPU on every online CPU at"
	echo "once, in hard-IRQ context (an IPI), best of 3; the callback is one plain store. Source:"
	echo "driver/calibrate.rs, read from /sys/kernel/debug/edu/calibrate."
	echo
	echo "| variant | 1 vCPU ns/call | ratio | 2 vCPUs ns/call | ratio |"
	echo "|---|---:|---:|---:|---:|"
	paste <(rows 1) <(rows 2) | awk -F'\t' '{ printf "| %s | %s | %sx | %s | %sx |\n", $1, $2, $3, $5, $6 }'
	echo
	echo "## Why the RCU guard's read side is two calls here"
	echo
	echo "rcu_read_lock() and rcu_read_unlock() are C static inlines; Rust reaches them through the"
	echo "kernel's C helpers (rust/helpers/rcu.c), which are inlined into Rust only with"
	echo "CONFIG_RUST_INLINE_HELPERS, and that needs rustc's LLVM to match clang's. On this build:"
	echo
	echo '```'
	echo "rustc: $(rustc --version --verbose | grep '^LLVM')"
	echo "clang: $(sed -n 's/^CONFIG_CC_VERSION_TEXT=//p' "$BENCH_KDIR/.config")"
	cfg CONFIG_RUSTC_LLVM_MAJOR_VERSION
	cfg CONFIG_RUSTC_CLANG_LLVM_COMPATIBLE
	cfg CONFIG_RUST_INLINE_HELPERS
	cfg CONFIG_PREEMPT_RCU
	cfg CONFIG_PREEMPT_LAZY
	echo "call sites of rust_helper_rcu_read_lock/unlock in edu.ko: $calls (0 if they were inlined)"
	echo '```'
	echo
	echo "So every RCU-guarded dispatch makes two out-of-line calls. Without PREEMPT_RCU each helper"
	echo "is only preempt_disable()/preempt_enable(), a per-CPU increment and decrement (and a"
	echo "preemption check) that C code would inline: the calls, not RCU, are the guard's cost above"
	echo "the plain call."
} >"$out"
paste <(rows 1) <(rows 2) | awk -F'\t' 'BEGIN { print "variant\tns_1cpu\tratio_1cpu\tns_2cpu\tratio_2cpu" }
	{ print $1 "\t" $2 "\t" $3 "\t" $5 "\t" $6 }' >"${out%.md}.tsv"
cat "$out"
echo "bench-kernel: wrote ${out#"$top"/}"
exit $status
