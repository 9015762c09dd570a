#!/usr/bin/env bash
# The test harness: host tests, then one guest boot per scenario. Prints every check, a line per
# scenario and one closing line "N passed, N failed"; exits non-zero on any failure.
#
# Usage: run.sh [--show] [--no-host | --no-guest] [SCENARIO...]
#        (no scenario: every scenario of tests/scenarios/ not marked "# manual")
# Environment: KERNEL, INITRD (required for guest runs), QEMU, GUEST_TIMEOUT (seconds),
#              GUEST_APPEND (kernel arguments added to every scenario's),
#              GUEST_LOG_DIR (default target/guest).
#
# A scenario is tests/scenarios/NAME.sh: a guest shell script whose "# qemu:" header lines give
# the QEMU devices and "# append:" lines extra kernel arguments. It reports checks as
# "PASS: name" / "FAIL: name (why)" lines (tests/guest/lib.sh).
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/qemu/lib.sh"
show=0 host=1 guest=1
while [ $# -gt 0 ]; do
	case $1 in
	--show) show=1 ;;
	--no-host) host=0 ;;
	--no-guest) guest=0 ;;
	*) break ;;
	esac
	shift
done
scenarios=("$@")
[ $guest -eq 1 ] || scenarios=()
if [ $guest -eq 1 ] && [ ${#scenarios[@]} -eq 0 ]; then
	for f in "$top"/tests/scenarios/*.sh; do
		n=$(basename "$f" .sh)
		# Scenarios marked "# manual" (the demo, the shell) are not part of the suite.
		grep -q '^# manual' "$f" || scenarios+=("$n")
	done
fi
logdir=${GUEST_LOG_DIR:-$top/target/guest}
# The Makefile passes qemu/config.mk's GUEST_TIMEOUT; this default is for direct use.
guest_timeout=${GUEST_TIMEOUT:-900}
mkdir -p "$logdir"
total_pass=0 total_fail=0
failures=()

# What in a kernel log fails a run whatever the checks said.
SPLATS='BUG: |WARNING: |Oops|Kernel panic|general protection fault|possible circular locking|possible recursive locking|inconsistent lock state|suspicious RCU usage|INFO: task .* blocked|unreferenced object|KASAN|UBSAN|nobody cared|Call Trace:|rcu_sched self-detected|soft lockup'

host_tests() {
	local out passed failed
	out=$(cd "$top" && cargo test --workspace --all-features 2>&1)
	local rc=$?
	echo "$out" | grep -E '^test |test result:|^error' | grep -v '^test result: ok. 0 passed' || true
	passed=$(echo "$out" | sed -n 's/^test result: .* \([0-9]*\) passed; \([0-9]*\) failed.*/\1/p' | paste -sd+ | bc)
	failed=$(echo "$out" | sed -n 's/^test result: .* \([0-9]*\) passed; \([0-9]*\) failed.*/\2/p' | paste -sd+ | bc)
	passed=${passed:-0} failed=${failed:-0}
	if [ $rc -ne 0 ] && [ "$failed" -eq 0 ]; then
		echo "$out" | tail -n 20
		failed=1
		failures+=("host: cargo test exited $rc")
	fi
	[ "$failed" -gt 0 ] && failures+=("host: $failed cargo tests failed")
	echo "host: $passed passed, $failed failed"
	total_pass=$((total_pass + passed))
	total_fail=$((total_fail + failed))
}

# guest NAME: boots scenario NAME and judges its log.
guest() {
	local name=$1 file=$top/tests/scenarios/$1.sh log=$logdir/$1.log
	[ -f "$file" ] || { failures+=("$name: no such scenario"); total_fail=$((total_fail + 1)); return; }
	local qargs append t0 rc
	qargs=$(sed -n 's/^# qemu: //p' "$file" | tr '\n' ' ')
	append=$(sed -n 's/^# append: //p' "$file" | tr '\n' ' ')
	t0=$(date +%s.%N)
	echo "==> scenario $name"
	# shellcheck disable=SC2086
	if [ $show -eq 1 ]; then
		GUEST_APPEND="$append ${GUEST_APPEND:-}" timeout "$guest_timeout" \
			"$top/qemu/boot.sh" "$KERNEL" "$INITRD" "$name" $qargs </dev/null 2>&1 |
			tr -d '\r' | tee "$log"
		rc=${PIPESTATUS[0]}
	else
		GUEST_APPEND="$append ${GUEST_APPEND:-}" timeout "$guest_timeout" \
			"$top/qemu/boot.sh" "$KERNEL" "$INITRD" "$name" $qargs </dev/null 2>&1 |
			tr -d '\r' >"$log"
		rc=${PIPESTATUS[0]}
		grep -E '^(PASS|FAIL): ' "$log"
	fi
	local passed failed
	passed=$(grep -c '^PASS: ' "$log")
	failed=$(grep -c '^FAIL: ' "$log")
	if [ "$rc" -eq 124 ] || ! grep -q '^GUEST-DONE' "$log"; then
		failed=$((failed + 1))
		failures+=("$name: guest did not power off (qemu status $rc, timeout ${guest_timeout}s)")
	fi
	local splat
	splat=$(grep -E "$SPLATS" "$log" | head -n 3)
	if [ -n "$splat" ]; then
		failed=$((failed + 1))
		failures+=("$name: kernel log shows: $(echo "$splat" | head -n 1)")
	fi
	if [ "$passed" -eq 0 ] && [ "$failed" -eq 0 ]; then
		failed=1
		failures+=("$name: no check ran")
	fi
	while read -r l; do failures+=("$name: $l"); done < <(grep '^FAIL: ' "$log")
	printf '<== scenario %s: %d passed, %d failed (%.1fs, log %s)\n' "$name" "$passed" "$failed" \
		"$(echo "$(date +%s.%N) - $t0" | bc)" "${log#"$top"/}"
	total_pass=$((total_pass + passed))
	total_fail=$((total_fail + failed))
}

[ $host -eq 1 ] && step "host tests (cargo test)" host_tests
if [ ${#scenarios[@]} -gt 0 ]; then
	: "${KERNEL:?KERNEL must name the guest kernel}" "${INITRD:?INITRD must name the initramfs}"
	for s in "${scenarios[@]}"; do guest "$s"; done
fi
if [ ${#failures[@]} -gt 0 ]; then
	echo "failures:"
	printf '  %s\n' "${failures[@]}"
fi
echo "$total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]
