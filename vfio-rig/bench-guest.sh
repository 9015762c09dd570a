#!/usr/bin/env bash
# Boots the guest benchmark scenario (tests/scenarios/bench_guest.sh: edu-rig-bench, the VFIO
# rig beside the kernel driver) and extracts its final table into target/bench/guest.md.
# Usage: KERNEL=... INITRD=... vfio-rig/bench-guest.sh   (as the Makefile's GUEST_ENV passes them)
# Environment: GUEST_LOG_DIR (default target/guest), like tests/run.sh.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
: "${KERNEL:?KERNEL must name the guest kernel}" "${INITRD:?INITRD must name the initramfs}"
"$top/tests/run.sh" --no-host bench_guest
status=$?
log=${GUEST_LOG_DIR:-$top/target/guest}/bench_guest.out
out=$top/target/bench/guest.md
mkdir -p "$(dirname "$out")"
table=$(sed -n '/^=== edu-rig-bench table/,/^=== end/p' "$log" 2>/dev/null | sed '1d;$d')
if [ -z "$table" ]; then
	echo "bench-guest: no table in $log" >&2
	exit 1
fi
{
	echo "# Guest benchmarks: VFIO rig vs kernel driver"
	echo
	echo "Medians measured by edu-rig-bench (criterion) inside the TCG guest, $(date -u +%Y-%m-%d)."
	echo "Absolute figures are TCG figures (10-50x slower than hardware); compare the ratios."
	echo
	echo "$table"
} >"$out"
echo "bench-guest: wrote ${out#"$top"/}"
exit $status
