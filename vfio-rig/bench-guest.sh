#!/usr/bin/env bash
# Boots the guest benchmark scenario (tests/scenarios/bench_guest.sh: edu-rig-bench, the VFIO
# rig beside the kernel driver) and extracts its final table into target/bench/guest.md; then,
# unless QUICK (GUEST_APPEND=bench_quick=1), runs the race scenario (tests/scenarios/vfio_race.sh)
# with its full cycle counts, 1000 MSI + 200 INTx probe/remove cycles and 200 kernel
# unbind/bind cycles (`make test` runs a short race), and appends its lifecycle table.
# Usage: KERNEL=... INITRD=... vfio-rig/bench-guest.sh   (as the Makefile's GUEST_ENV passes them)
# Environment: GUEST_LOG_DIR (default target/guest), like tests/run.sh; RACE_TIMEOUT (seconds,
# default 3600) bounds the full race run.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
: "${KERNEL:?KERNEL must name the guest kernel}" "${INITRD:?INITRD must name the initramfs}"
logdir=${GUEST_LOG_DIR:-$top/target/guest}
"$top/tests/run.sh" --no-host bench_guest
status=$?
log=$logdir/bench_guest.out
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
case " ${GUEST_APPEND:-} " in
*" bench_quick=1 "*) ;;
*)
	GUEST_TIMEOUT=${RACE_TIMEOUT:-3600} \
		GUEST_APPEND="${GUEST_APPEND:-} race_cycles=1000 race_intx_cycles=200 race_kernel_cycles=200" \
		"$top/tests/run.sh" --no-host vfio_race || status=1
	race=$(sed -n '/^=== lifecycle table/,/^=== end/p' "$logdir/vfio_race.out" 2>/dev/null |
		sed '1d;$d')
	if [ -z "$race" ]; then
		echo "bench-guest: no lifecycle table in $logdir/vfio_race.out" >&2
		status=1
	else
		{
			echo
			echo "## Lifecycles under load (vfio_race, full counts)"
			echo
			echo "$race"
			echo
			grep '^race cycles=' "$logdir/vfio_race.out"
		} >>"$out"
	fi
	;;
esac
echo "bench-guest: wrote ${out#"$top"/}"
exit $status
