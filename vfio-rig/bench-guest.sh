#!/usr/bin/env bash
# Boots the guest benchmark scenario (tests/scenarios/bench_guest.sh: edu-rig-bench, the VFIO
# rig beside the kernel driver) and extracts its final table into target/bench/guest.md and its
# chart guest.svg; then runs the race scenario (tests/scenarios/vfio_race.sh): 1000 MSI + 200 INTx
# probe/remove cycles and 200 kernel unbind/bind cycles, a tenth of that when QUICK
# (GUEST_APPEND=bench_quick=1; `make test` runs a shorter race), appends its lifecycle table and
# charts its callers' latency in race-latency.svg.
# Usage: KERNEL=... INITRD=... vfio-rig/bench-guest.sh   (as the Makefile's BENCH_ENV passes them,
# with KCONFIG_MISSING: the bench kernel has no kmemleak, and the checks that need it are skipped)
# Environment: GUEST_LOG_DIR (default target/guest), like tests/run.sh; RACE_TIMEOUT (seconds,
# default 3600) bounds the race run; RACE_CYCLES, RACE_INTX_CYCLES and RACE_KERNEL_CYCLES set
# its counts.
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
# The chart: one pair of bars per operation (rig, kernel), the ratio above the rig's.
echo "$table" | awk -F'|' 'BEGIN { print "operation\tpath\tmedian ns\tratio" }
	NR > 2 {
		for (i = 2; i <= 5; i++) gsub(/^ +| +$/, "", $i)
		if ($3 != "-") print $2 "\trig (VFIO)\t" $3 "\t" ($5 == "-" ? "" : $5 "x")
		if ($4 != "-") print $2 "\tkernel (/dev/eduN)\t" $4 "\t"
	}' >"${out%.md}.tsv"
(cd "$top" && cargo run -q --release -p edu-benches --bin edu-plot -- bars \
	"VFIO rig vs kernel driver, TCG guest (bench kernel), $(date -u +%Y-%m-%d)" "median ns per operation" \
	"${out%.md}.tsv" "${out%.md}.svg") || status=1
# The race with its full counts (1000 MSI, 200 INTx, 200 kernel cycles), or a tenth of them in
# a quick run; RACE_CYCLES, RACE_INTX_CYCLES, RACE_KERNEL_CYCLES override them.
case " ${GUEST_APPEND:-} " in
*" bench_quick=1 "*) msi=100 intx=20 kernel=20 ;;
*) msi=1000 intx=200 kernel=200 ;;
esac
GUEST_TIMEOUT=${RACE_TIMEOUT:-3600} \
	GUEST_APPEND="${GUEST_APPEND:-} race_cycles=${RACE_CYCLES:-$msi} race_intx_cycles=${RACE_INTX_CYCLES:-$intx} race_kernel_cycles=${RACE_KERNEL_CYCLES:-$kernel}" \
	"$top/tests/run.sh" --no-host vfio_race || status=1
race=$(sed -n '/^=== lifecycle table/,/^=== end/p' "$logdir/vfio_race.out" 2>/dev/null |
	sed '1d;$d')
if [ -z "$race" ]; then
	echo "bench-guest: no lifecycle table in $logdir/vfio_race.out" >&2
	status=1
else
	{
		echo
		echo "## Lifecycles under load (vfio_race)"
		echo
		echo "$race"
		echo
		grep '^race cycles=' "$logdir/vfio_race.out" | sed 's/ call_quantiles_us=[^ ]*//'
	} >>"$out"
	# The callers' latency during churn: each line's 101 quantiles as samples of a CDF.
	sed -n '/^=== latency quantiles/,/^=== end/p' "$logdir/vfio_race.out" | sed '1d;$d' |
		awk -F'\t' 'BEGIN { print "series\tmicroseconds" }
			{ n = split($2, q, ","); for (i = 1; i <= n; i++) print $1 "\t" q[i] }' \
		>"$top/target/bench/race-latency.tsv"
	(cd "$top" && cargo run -q --release -p edu-benches --bin edu-plot -- cdf \
		"Callers' latency during probe/remove churn, TCG guest (bench kernel), $(date -u +%Y-%m-%d)" \
		"microseconds per call" target/bench/race-latency.tsv target/bench/race-latency.svg) ||
		status=1
fi
echo "bench-guest: wrote ${out#"$top"/}"
exit $status
