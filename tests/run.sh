#!/usr/bin/env bash
# The test harness: host tests, then one guest boot per scenario. Prints every check, a line per
# scenario and one closing line "N passed, N failed"; exits non-zero on any failure.
#
# Usage: run.sh [--show [--quiet]] [--no-host | --no-guest] [SCENARIO...]
#        --show: print each scenario's results channel as it runs; --quiet: without its PASS
#        lines (they are counted all the same; FAIL lines are shown), as `make run` does
#        (no scenario: every scenario of tests/scenarios/ not marked "# manual")
# Environment: KERNEL, INITRD (required for guest runs), QEMU, GUEST_TIMEOUT (seconds),
#              GUEST_APPEND (kernel arguments added to every scenario's),
#              GUEST_LOG_DIR (default target/guest), KTAP_OUT (the KTAP file of the run,
#              default target/test.ktap).
#
# A scenario is tests/scenarios/NAME.sh: a guest shell script whose "# qemu:" header lines give
# the QEMU devices and "# append:" lines extra kernel arguments. It reports checks as
# "PASS: name" / "FAIL: name (why)" lines (tests/guest/lib.sh) on the results channel (the
# guest's second serial port, target/guest/NAME.out); the kernel console goes to NAME.log. A run
# passes only if every check passed, the script reached its end and exited 0, the guest powered
# off in time, and the kernel log shows no splat. A "# skip-arch: ARCH REASON" header line skips
# the scenario on that guest architecture (GUEST_ARCH, default x86_64): it is counted as
# skipped, with its reason, in the closing line and in KTAP ("# SKIP"), never as passed.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/qemu/lib.sh"
show=0 quiet=0 host=1 guest=1
while [ $# -gt 0 ]; do
	case $1 in
	--show) show=1 ;;
	--quiet) quiet=1 ;;
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
total_pass=0 total_fail=0 total_skip=0
guest_arch=${GUEST_ARCH:-x86_64}
failures=()
# Every run's results also go to a KTAP file (Documentation/dev-tools/ktap.rst): one subtest per
# scenario (and one for the host tests), its checks nested inside.
ktap_out=${KTAP_OUT:-$top/target/test.ktap}
ktap_body=$(mktemp)
ktap_n=0
trap 'rm -f "$ktap_body"' EXIT

# ktap_subtest NAME RESULTS: adds subtest NAME; RESULTS has lines "PASS: name", "FAIL: name
# (why)" or "SKIP: name (why)". The subtest fails if any line failed or none passed.
ktap_subtest() {
	local name=$1 results=$2 n=0 bad=0 l kind rest
	ktap_n=$((ktap_n + 1))
	{
		echo "    KTAP version 1"
		echo "    # Subtest: $name"
		echo "    1..$(echo "$results" | grep -c -E '^(PASS|FAIL|SKIP): ')"
		while IFS= read -r l; do
			kind=${l%%: *} rest=${l#*: }
			# '#' starts a directive in KTAP: keep it out of names.
			rest=${rest//#/No.}
			case $kind in
			PASS) n=$((n + 1)); echo "    ok $n $rest" ;;
			FAIL) n=$((n + 1)) bad=1; echo "    not ok $n $rest" ;;
			SKIP) n=$((n + 1)); echo "    ok $n ${rest%% (*} # SKIP $rest" ;;
			esac
		done <<<"$results"
		[ $n -gt 0 ] || bad=1
		if [ $bad -eq 0 ]; then echo "ok $ktap_n $name"; else echo "not ok $ktap_n $name"; fi
	} >>"$ktap_body"
}

# ktap_write: the KTAP file of everything run so far.
ktap_write() {
	mkdir -p "$(dirname "$ktap_out")"
	{
		echo "KTAP version 1"
		echo "1..$ktap_n"
		cat "$ktap_body"
	} >"$ktap_out"
}

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
	ktap_subtest host "$(echo "$out" | sed -n -e 's/^test \(.*\) \.\.\. ok$/PASS: \1/p' \
		-e 's/^test \(.*\) \.\.\. FAILED$/FAIL: \1/p' -e 's/^test \(.*\) \.\.\. ignored.*/SKIP: \1 (ignored)/p'
		[ $rc -eq 0 ] || echo "FAIL: cargo test exited $rc")"
	total_pass=$((total_pass + passed))
	total_fail=$((total_fail + failed))
}

# judge RC LOG OUT SCRIPT [SPLATS]: prints why a guest run failed, one reason per line, nothing
# if it passed. RC is QEMU's exit status (124: killed by the timeout), LOG the kernel console, OUT
# the results channel (tests/guest/lib.sh, qemu/init), SCRIPT the scenario, whose "# log: REGEX"
# lines name console lines that must appear (for what happens after the script, such as the
# driver's shutdown at power-off); at most SPLATS (default 5) distinct splat lines.
judge() {
	local rc=$1 log=$2 out=$3 script=$4 splats=${5:-5} status regex
	[ "$rc" -eq 124 ] && echo "timeout: the guest ran longer than ${guest_timeout}s"
	grep -q '^GUEST-DONE' "$log" || echo "no power-off: the guest did not reach its end (qemu status $rc)"
	grep -q '^SCENARIO-END$' "$out" || echo "early stop: the script did not reach its end"
	status=$(sed -n 's/^=== scenario .* exit \([0-9]*\)$/\1/p' "$out")
	[ "${status:-none}" = 0 ] || echo "exit status: the script exited ${status:-without a status}"
	grep -E "$SPLATS" "$log" | sort -u | head -n "$splats" | sed 's/^/kernel log shows: /'
	grep '^FAIL: ' "$out" | sed 's/^/check: /'
	grep -q -E '^(PASS|FAIL): ' "$out" || echo "no check ran"
	while read -r regex; do
		[ -z "$regex" ] || grep -qE "$regex" "$log" || echo "console: no line matches '$regex'"
	done < <(sed -n 's/^# log: //p' "$script")
}

# guest NAME: boots scenario NAME and judges it. A scenario with "# control: VARIANT REGEX"
# header lines is a positive control: it is booted once per VARIANT with control=VARIANT, and
# each of its lines passes only if the judge fails that boot for a reason matching REGEX.
guest() {
	local name=$1 file=$top/tests/scenarios/$1.sh
	if [ ! -f "$file" ]; then
		failures+=("$name: no such scenario")
		total_fail=$((total_fail + 1))
		ktap_subtest "$name" "FAIL: no such scenario"
		return
	fi
	local skip
	skip=$(sed -n "s/^# skip-arch: $guest_arch //p" "$file" | head -n 1)
	if [ -n "$skip" ]; then
		echo "SKIP: scenario $name on $guest_arch ($skip)"
		ktap_n=$((ktap_n + 1))
		echo "ok $ktap_n $name # SKIP on $guest_arch: ${skip//#/No.}" >>"$ktap_body"
		total_skip=$((total_skip + 1))
		return
	fi
	local qargs append
	qargs=$(sed -n 's/^# qemu: //p' "$file" | tr '\n' ' ')
	append=$(sed -n 's/^# append: //p' "$file" | tr '\n' ' ')
	if grep -q '^# control: ' "$file"; then
		local variant
		for variant in $(sed -n 's/^# control: \([^ ]*\) .*/\1/p' "$file" | awk '!seen[$0]++'); do
			boot_and_judge "$name" "$name.$variant" "$append control=$variant" "$qargs" \
				"$(sed -n "s/^# control: $variant //p" "$file")"
		done
	else
		boot_and_judge "$name" "$name" "$append" "$qargs" ""
	fi
}

# qmp_agent OUT SOCKET LOG: forwards every "QMP: ..." line the guest prints on its results
# channel OUT to QEMU's monitor at SOCKET.
qmp_agent() {
	local l
	tail -n +1 -F "$1" 2>/dev/null | while read -r l; do
		l=${l%$'\r'}
		case $l in
		"QMP: "*)
			# shellcheck disable=SC2086
			"$top/qemu/qmp.py" "$2" ${l#QMP: } >>"$3" 2>&1 || echo "qmp failed: $l" >>"$3"
			;;
		esac
	done
}

# boot_and_judge SCENARIO LABEL APPEND QEMU_ARGS EXPECT: one guest run, logs under LABEL.
boot_and_judge() {
	local name=$1 label=$2 append=$3 qargs=$4 expect=$5
	local log=$logdir/$label.log out=$logdir/$label.out t0 rc tailer= agent= qmp=
	t0=$(date +%s.%N)
	echo "==> scenario $label"
	: >"$out"
	if [ $show -eq 1 ]; then
		# The results port is raw (qemu/init), so there is no CR to strip: tail writes straight
		# through, with nothing buffered to lose when it is stopped.
		if [ $quiet -eq 1 ]; then
			# A subshell, so that stopping it (below: its children, then itself) stops both.
			(tail -n +1 -f "$out" | grep --line-buffered -v -E '^(PASS: |SCENARIO-END$)') &
		else
			tail -n +1 -f "$out" &
		fi
		tailer=$!
	fi
	if grep -q '^# qmp$' "$top/tests/scenarios/$name.sh"; then
		# The scenario asks for monitor commands by printing "QMP: COMMAND ARG=VALUE..." on its
		# results channel (tests/guest/lib.sh: qmp); replies go to LABEL.qmp.log.
		qmp=$logdir/$label.qmp
		rm -f "$qmp"
		qmp_agent "$out" "$qmp" "$logdir/$label.qmp.log" &
		agent=$!
	fi
	# shellcheck disable=SC2086
	QMP=$qmp RESULTS=$out GUEST_APPEND="$append ${GUEST_APPEND:-}" timeout "$guest_timeout" \
		"$top/qemu/boot.sh" "$KERNEL" "$INITRD" "$name" $qargs </dev/null 2>&1 |
		tr -d '\r' >"$log"
	rc=${PIPESTATUS[0]}
	for p in $tailer $agent; do
		sleep 0.2
		pkill -P "$p" 2>/dev/null
		kill "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	sed -i 's/\r$//' "$out"
	# A positive control's own check lines are expected to fail: shown indented, so that only
	# the harness's verdict on the control starts a line with PASS or FAIL.
	[ $show -eq 1 ] || grep -E '^(PASS|FAIL): ' "$out" | sed "${expect:+s/^/  guest: /}"
	local passed failed reasons
	passed=$(grep -c '^PASS: ' "$out")
	failed=$(grep -c '^FAIL: ' "$out")
	if [ -n "$expect" ]; then
		# A positive control: the harness must fail this run, for each expected reason.
		reasons=$(judge "$rc" "$log" "$out" "$top/tests/scenarios/$name.sh" 1000)
		passed=0 failed=0
		local regex verdicts=
		while read -r regex; do
			if echo "$reasons" | grep -qE "$regex"; then
				verdicts+="PASS: control $label: the harness failed it for: $(echo "$reasons" | grep -E "$regex" | head -n 1)"$'\n'
				passed=$((passed + 1))
			else
				verdicts+="FAIL: control $label: want a failure matching '$regex', got: $(echo "${reasons:-none}" | head -n 3 | paste -sd'|')"$'\n'
				failures+=("$label: control did not fire (want '$regex')")
				failed=$((failed + 1))
			fi
		done <<<"$expect"
		printf '%s' "$verdicts"
		ktap_subtest "$label" "$verdicts"
	else
		# Every reason fails the run; failed checks are already counted.
		reasons=$(judge "$rc" "$log" "$out" "$top/tests/scenarios/$name.sh")
		local extra
		extra=$(echo "$reasons" | grep -v -e '^check: ' -e '^$' | wc -l)
		failed=$((failed + extra))
		while read -r l; do [ -n "$l" ] && failures+=("$label: $l"); done <<<"$reasons"
		ktap_subtest "$label" "$(grep -E '^(PASS|FAIL): ' "$out"
			echo "$reasons" | grep -v -e '^check: ' -e '^$' | sed 's/^/FAIL: harness: /')"
	fi
	printf '<== scenario %s: %d passed, %d failed (%.1fs, logs %s, %s)\n' "$label" "$passed" \
		"$failed" "$(echo "$(date +%s.%N) - $t0" | bc)" "${log#"$top"/}" "${out#"$top"/}"
	total_pass=$((total_pass + passed))
	total_fail=$((total_fail + failed))
}

# Each fence and ordering of the callback core, removed in turn, must make a loom model fail.
loom_mutations() {
	local out rc
	out=$(cd "$top" && python3 callback-core/tests/loom-mutations.py 2>&1)
	rc=$?
	echo "$out" | sed 's/^/  /'
	ktap_subtest loom-mutations "$(echo "$out" | sed -n -e 's/^\([a-z-]*\) *caught by .*/PASS: \1 caught/p' \
		-e 's/^\([a-z-]*\) *NOT CAUGHT (known.*/SKIP: \1 not caught (known, README)/p' \
		-e 's/^\([a-z-]*\) *\(NOT CAUGHT\|NOT APPLIED\|DOES NOT BUILD\|is listed\).*/FAIL: \1 \2/p'
		[ $rc -eq 0 ] || echo "FAIL: loom-mutations.py exited $rc")"
	total_pass=$((total_pass + $(echo "$out" | grep -c ' caught by ')))
	if [ $rc -ne 0 ]; then
		total_fail=$((total_fail + 1))
		failures+=("host: loom mutations (callback-core/tests/loom-mutations.py)")
	fi
}

# The set-up scripts, offline (tests/host/setup.sh): fake rustup, QEMU, cargo and apt binaries,
# and each check's logic broken in turn (its mutations) must fail it.
setup_checks() {
	local out rc passed failed
	out=$("$top/tests/host/setup.sh" 2>&1)
	rc=$?
	echo "$out" | grep -v '^[0-9]* passed, [0-9]* failed$' | sed 's/^/  /'
	passed=$(grep -c '^PASS: ' <<<"$out")
	failed=$(grep -c '^FAIL: ' <<<"$out")
	if [ $rc -ne 0 ] && [ "$failed" -eq 0 ]; then
		failed=1
	fi
	[ "$failed" -eq 0 ] || failures+=("host: $failed set-up checks failed (tests/host/setup.sh)")
	echo "setup checks: $passed passed, $failed failed"
	ktap_subtest setup "$(grep -E '^(PASS|FAIL): ' <<<"$out"
		[ $rc -eq 0 ] || echo "FAIL: tests/host/setup.sh exited $rc")"
	total_pass=$((total_pass + passed))
	total_fail=$((total_fail + failed))
}

[ $host -eq 1 ] && step "host tests (cargo test)" host_tests
[ $host -eq 1 ] && step "loom mutations" loom_mutations
[ $host -eq 1 ] && step "setup checks" setup_checks
if [ ${#scenarios[@]} -gt 0 ]; then
	: "${KERNEL:?KERNEL must name the guest kernel}" "${INITRD:?INITRD must name the initramfs}"
	for s in "${scenarios[@]}"; do guest "$s"; done
fi
ktap_write
echo "KTAP results: ${ktap_out#"$top"/}"
if [ ${#failures[@]} -gt 0 ]; then
	echo "failures:"
	printf '  %s\n' "${failures[@]}"
fi
if [ $total_skip -gt 0 ]; then
	echo "$total_pass passed, $total_fail failed, $total_skip skipped"
else
	echo "$total_pass passed, $total_fail failed"
fi
[ "$total_fail" -eq 0 ]
