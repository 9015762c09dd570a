#!/usr/bin/env bash
# The test harness: host tests, then one guest boot per scenario. Prints every check, a line per
# scenario and one closing line "N passed, N failed"; exits non-zero on any failure.
#
# Usage: run.sh [--show [--quiet]] [--no-host | --no-guest] [SCENARIO...]
#        --show: print each scenario's results channel as it runs; --quiet: without its PASS
#        lines (they are counted all the same; FAIL lines are shown), as `make run` does
#        (no scenario: every scenario of tests/scenarios/ not marked "# manual")
# Environment: KERNEL, INITRD (required for guest runs), QEMU, GUEST_TIMEOUT (seconds per scenario),
#              GUEST_GROUP=0 (every scenario boots alone; see group_key),
#              GUEST_APPEND (kernel arguments added to every scenario's),
#              GUEST_LOG_DIR (default target/guest), KTAP_OUT (the KTAP file of the run,
#              default target/test.ktap), GUEST_JOBS (guests booted at once, default 1),
#              ALSO_ARCH, ALSO_SCENARIOS, ALSO_ENV (a second guest architecture; see use_arch).
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
# The features of tests/kconfig-needs the guest kernel lacks, as qemu/kconfig.sh --missing prints
# them (the Makefile passes them for every kernel; none for the test kernel): a scenario that
# needs one ("# needs:" header) is skipped, and the guest's own checks learn them from
# kconfig_missing= on the kernel command line (tests/guest/lib.sh: have). TEST_KERNEL=1 (the
# Makefile's, for the test kernel it builds) says the kernel must have them all: then a missing
# one fails the run and skips nothing (every check runs, and fails if it must).
kconfig_missing=${KCONFIG_MISSING:-}
failures=()
# A second guest architecture in the same run (make test: arm64 beside x86_64): ALSO_ARCH names
# it, ALSO_SCENARIOS its scenarios, ALSO_ENV its environment, one VAR=value line each (KERNEL,
# INITRD, QEMU, GUEST_LOG_DIR, KCONFIG_MISSING). Its scenarios are named ARCH:NAME in the output
# and in the run's one KTAP file; the primary architecture's keep their names.
primary_arch=$guest_arch also_arch=${ALSO_ARCH:-} also_scenarios=${ALSO_SCENARIOS:-}
declare -A arch_env=(["$primary_arch"]="KERNEL=${KERNEL:-}
INITRD=${INITRD:-}
QEMU=${QEMU:-}
GUEST_LOG_DIR=$logdir
KCONFIG_MISSING=$kconfig_missing
TEST_KERNEL=${TEST_KERNEL:-0}")
[ -z "$also_arch" ] || arch_env[$also_arch]=${ALSO_ENV:?ALSO_ENV must give the environment of ALSO_ARCH}
tag=
# use_arch ARCH: what follows runs on guest ARCH (boot.sh reads GUEST_ARCH, QEMU).
use_arch() {
	local l
	TEST_KERNEL=0
	while IFS= read -r l; do
		[ -z "$l" ] || export "${l?}"
	done <<<"${arch_env[$1]}"
	export GUEST_ARCH=$1
	guest_arch=$1 logdir=$GUEST_LOG_DIR kconfig_missing=$KCONFIG_MISSING tag=
	[ "$TEST_KERNEL" != 1 ] || kconfig_missing=
	[ "$1" = "$primary_arch" ] || tag=$1:
	mkdir -p "$logdir"
}
# test_kernel_complete ARCH: on the test kernel of ARCH (TEST_KERNEL=1), a missing option is a
# failure of the run, not a reason to skip.
test_kernel_complete() {
	use_arch "$1"
	[ "$TEST_KERNEL" = 1 ] && [ -n "$KCONFIG_MISSING" ] || return 0
	echo "FAIL: ${tag}the test kernel lacks options of tests/kconfig-needs: $KCONFIG_MISSING (nothing is skipped for them: the checks that need them run and fail)"
	failures+=("${tag}test kernel: lacks $KCONFIG_MISSING")
	ktap_subtest kconfig "FAIL: the test kernel lacks $KCONFIG_MISSING"
	total_fail=$((total_fail + 1))
	arch_count "$1" 0 1 0
}
# Every run's results also go to a KTAP file (Documentation/dev-tools/ktap.rst): one subtest per
# scenario (and one for the host tests), its checks nested inside.
ktap_out=${KTAP_OUT:-$top/target/test.ktap}
tmp=$(mktemp -d)
ktap_body=$tmp/ktap
: >"$ktap_body"
trap 'rm -rf "$tmp"' EXIT

# ktap_subtest NAME RESULTS: adds subtest NAME (with the guest architecture's tag); RESULTS has
# lines "PASS: name", "FAIL: name (why)" or "SKIP: name (why)". The subtest fails if any line
# failed or none passed. Subtests are numbered when the file is written (ktap_write): runs in
# parallel lanes each write their own part.
ktap_subtest() {
	local name=$tag$1 results=$2 n=0 bad=0 l kind rest
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
		if [ $bad -eq 0 ]; then echo "ok 0 $name"; else echo "not ok 0 $name"; fi
	} >>"$ktap_body"
	# A subtest with no test proves nothing: it fails, and is counted.
	if ! grep -q -E '^(PASS|FAIL|SKIP): ' <<<"$results"; then
		echo "FAIL: $name: no test result (an empty KTAP subtest)"
		failures+=("$name: no test result")
		total_fail=$((total_fail + 1))
	fi
}

# ktap_write: the KTAP file of everything run so far.
ktap_write() {
	mkdir -p "$(dirname "$ktap_out")"
	{
		echo "KTAP version 1"
		echo "1..$(grep -c -E '^(not )?ok ' "$ktap_body")"
		awk '/^(not )?ok / { sub(/ok [0-9]+ /, "ok " ++n " ") } 1' "$ktap_body"
	} >"$ktap_out"
}

# What in a kernel log fails a run whatever the checks said: one extended regular expression, in
# tests/guest/splats, which the guest's own log judges (failnth) read too. Kernel reports,
# sanitizers, lockdep, lockups, and IOMMU faults (the Intel IOMMU's DMAR fault records and
# interrupt-remapping faults, the SMMUv3's events): a DMA into memory the driver no longer maps.
SPLATS=$(cat "$top/tests/guest/splats")
# The taint flags the project sets on purpose (Documentation/admin-guide/tainted-kernels.rst):
# O (12) out-of-tree module, E (13) unsigned module, N (18) a test (KUnit, the control modules).
TAINT_OURS=$(((1 << 12) | (1 << 13) | (1 << 18)))
# taint_names MASK: the letters and meanings of the taint flags in MASK.
taint_names() {
	local bits=(P:proprietary-module F:forced-load S:unsafe-smp R:forced-rmmod M:machine-check
		B:bad-page U:user D:died A:acpi-override W:warning C:staging I:firmware-workaround
		O:out-of-tree E:unsigned L:soft-lockup K:livepatch X:aux T:randstruct N:test J:fwctl) i out=
	for i in "${!bits[@]}"; do
		[ $(($1 >> i & 1)) = 0 ] || out+=" ${bits[$i]}"
	done
	echo "${out# }"
}

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

# judge [--part] RC LOG OUT SCRIPT [SPLATS]: prints why a guest run failed, one reason per line,
# nothing if it passed. --part: LOG and OUT are one scenario's part of a group's boot, which only
# the last part sees power off. RC is QEMU's exit status (124: killed by the timeout), LOG the
# kernel console, OUT the results channel (tests/guest/lib.sh, qemu/init), SCRIPT the scenario,
# whose "# log: REGEX" lines name console lines that must appear (for what happens after the
# script, such as the driver's shutdown at power-off); at most SPLATS (default 5) distinct splat
# lines. A run passes only if
# - QEMU exited 0, after the kernel's own "reboot: Power down": the kernel prints it after every
#   driver's .shutdown has run, so nothing of the driver happens after the last sign of life;
# - the script reached its end (SCENARIO-END) and exited 0, having run at least one check, and
#   the counts its end line reports are the check lines read (none lost);
# - the kernel, asked at the scenario's end (qemu/init), is not tainted but for TAINT_OURS, and
#   lockdep is still on (debug_locks 1; on a kernel without lockdep, only if the harness was
#   told it lacks the "oracles" options);
# - the console has no splat, and every "# log:" line appears.
judge() {
	local part=0
	if [ "$1" = --part ]; then
		part=1
		shift
	fi
	local rc=$1 log=$2 out=$3 script=$4 splats=${5:-5} status regex end counts read k start
	if [ "$rc" -eq 124 ]; then
		echo "timeout: the guest ran longer than ${guest_timeout}s"
	elif [ "$rc" -ne 0 ]; then
		echo "qemu: exited with status $rc, not 0 (a clean power-off)"
	fi
	[ $part -eq 1 ] || grep -q '^\[ *[0-9.]*\] reboot: Power down$' "$log" ||
		echo "no power-off: the kernel never logged 'reboot: Power down' (qemu status $rc)"
	end=$(grep -m1 '^SCENARIO-END\( \|$\)' "$out")
	if [ -z "$end" ]; then
		echo "early stop: the script did not reach its end"
	else
		counts=$(sed -n 's/^SCENARIO-END passed=\([0-9]*\) failed=\([0-9]*\) skipped=\([0-9]*\)$/\1 \2 \3/p' <<<"$end")
		read="$(grep -c '^PASS: ' "$out") $(grep -c '^FAIL: ' "$out") $(grep -c '^SKIP: ' "$out")"
		[ "$counts" = "$read" ] || echo "lost checks: the script counted ${counts:-nothing ($end)}" \
			"(passed failed skipped), the results channel has $read"
	fi
	status=$(sed -n 's/^=== scenario .* exit \([0-9]*\)\( at .*\)\{0,1\}$/\1/p' "$out")
	[ "${status:-none}" = 0 ] || echo "exit status: the script exited ${status:-without a status}"
	# The kernel's state at the scenario's start and end (qemu/init: kernel_state).
	k=$(sed -n 's/^=== kernel tainted=\([0-9]*\) debug_locks=\([0-9a-z]*\)$/\1 \2/p' "$out")
	if [ "$(wc -l <<<"$k")" -lt 2 ]; then
		echo "kernel state: the guest did not report the kernel's state at the scenario's end"
	else
		start=($(head -n 1 <<<"$k")) end=($(tail -n 1 <<<"$k"))
		# "# taint-judged: W REASON" (failnth): the scenario judges every WARNING itself, line by
		# line in the kernel log, and lets through only a known kernel bug's pinned one; W is
		# the one flag that can be so judged (a WARN does not turn lockdep off).
		local ours=$TAINT_OURS l
		for l in $(sed -n 's/^# taint-judged: \([^ ]*\).*/\1/p' "$script"); do
			case $l in W) ours=$((ours | 1 << 9)) ;; *) echo "taint-judged: $l: only W can be" ;; esac
		done
		local bad=$((end[0] & ~ours))
		if [ $bad -ne 0 ]; then
			if [ $((bad & ~start[0])) -ne 0 ]; then
				echo "taint: the kernel was tainted during this scenario: $(taint_names $((bad & ~start[0]))) (tainted=${end[0]})"
			else
				echo "taint: the kernel was tainted before this scenario began: $(taint_names $bad) (tainted=${end[0]})"
			fi
		fi
		case ${start[1]}/${end[1]} in
		1/1) ;;
		none/none)
			[[ " $kconfig_missing" == *" oracles:"* ]] ||
				echo "lockdep: the kernel has none (no /proc/lockdep_stats), and the harness was not told it lacks it"
			;;
		1/*) echo "lockdep: switched off during this scenario (debug_locks ${end[1]}): it ran, and the scenarios after it run, without lock checking" ;;
		*) echo "lockdep: already off when this scenario began (debug_locks ${start[1]}): it ran without lock checking" ;;
		esac
	fi
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
		failures+=("$tag$name: no such scenario")
		total_fail=$((total_fail + 1))
		ktap_subtest "$name" "FAIL: no such scenario"
		return
	fi
	local skip lacks
	skip=$(sed -n "s/^# skip-arch: $guest_arch //p" "$file" | head -n 1)
	if [ -n "$skip" ]; then
		skip_scenario "$name" "on $guest_arch: $skip"
		return
	fi
	lacks=$(lacks "$file")
	if [ -n "$lacks" ]; then
		skip_scenario "$name" "the kernel lacks$lacks (qemu/kconfig.sh)"
		return
	fi
	local qargs append
	qargs=$(header "$file" qemu)
	append=$(header "$file" append)
	if grep -q '^# control: ' "$file"; then
		local variant after expect
		for variant in $(sed -n 's/^# control: \([^ ]*\) .*/\1/p' "$file" | awk '!seen[$0]++'); do
			expect=$(sed -n "s/^# control: $variant //p" "$file")
			# "# control-after: VARIANT SCENARIO": the variant runs as the second part of a
			# boot shared with SCENARIO (which must pass), its logs in a directory of their own.
			after=$(sed -n "s/^# control-after: $variant //p" "$file")
			if [ -n "$after" ]; then
				mkdir -p "$logdir/$name.$variant"
				logdir=$logdir/$name.$variant boot_and_judge "$after,$name" "$after+$name.$variant" \
					"$append control=$variant" "$qargs" "$expect"
			else
				boot_and_judge "$name" "$name.$variant" "$append control=$variant" "$qargs" "$expect"
			fi
		done
	else
		boot_and_judge "$name" "$name" "$append" "$qargs" ""
	fi
}

# header FILE KEY: the words of scenario FILE's "# KEY: ..." header lines (qemu, append), joined.
header() { sed -n "s/^# $2: //p" "$1" | tr '\n' ' '; }

# lacks FILE: the options the kernel lacks of the features scenario FILE needs ("# needs:"
# header), as " CONFIG_A CONFIG_B..."; nothing if it lacks none.
lacks() {
	local need w out=
	for need in $(sed -n 's/^# needs: //p' "$1"); do
		for w in $kconfig_missing; do
			[ "${w%%:*}" = "$need" ] && out+=" CONFIG_${w#*:}"
		done
	done
	echo "${out//,/ CONFIG_}"
}

# skip_scenario NAME REASON: counts scenario NAME as skipped, with REASON.
skip_scenario() {
	echo "SKIP: scenario $tag$1 ($2)"
	echo "ok 0 $tag$1 # SKIP ${2//#/No.}" >>"$ktap_body"
	total_skip=$((total_skip + 1))
}

# group_key NAME: how scenario NAME boots, its QEMU arguments and kernel arguments; nothing if it
# boots alone: a positive control, a scenario that talks to QEMU's monitor ("# qmp") or checks the
# console after its end ("# log:"), one skipped here, one that asks to ("# alone"), or every
# scenario with GUEST_GROUP=0. Scenarios with the same key share a boot (qemu/init runs them one
# after the other, each from a clean state), which saves a debug kernel's boot and power-off
# (~12 s under TCG) per scenario.
group_key() {
	local file=$top/tests/scenarios/$1.sh
	[ "${GUEST_GROUP:-1}" = 1 ] && [ -f "$file" ] || return 0
	! grep -qE '^# (control: |qmp$|log: |alone$)' "$file" || return 0
	! grep -q "^# skip-arch: $guest_arch " "$file" || return 0
	[ -z "$(lacks "$file")" ] || return 0
	echo "$(header "$file" qemu)|$(header "$file" append)"
}

# group A,B,...: boots scenarios A, B, ... together (one alone as guest does) and judges each.
group() {
	local first=${1%%,*} file
	if [ "$first" = "$1" ]; then
		guest "$1"
		return
	fi
	file=$top/tests/scenarios/$first.sh
	boot_and_judge "$1" "${1//,/+}" "$(header "$file" append)" "$(header "$file" qemu)" ""
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

# boot_and_judge SCENARIO[,SCENARIO...] LABEL APPEND QEMU_ARGS EXPECT: one guest run, logs under
# LABEL; several scenarios run one after the other in it (a group, below), each judged on its own
# part of the logs.
boot_and_judge() {
	local name=$1 label=$2 append=$3 qargs=$4 expect=$5
	local log=$logdir/$label.log out=$logdir/$label.out t0 rc tailer= agent= qmp= timeout
	local count=$(($(tr -cd , <<<"$name" | wc -c) + 1))
	t0=$(date +%s.%N)
	echo "==> scenario $tag$label"
	: >"$out"
	if [ $show -eq 1 ]; then
		# The results port is raw (qemu/init), so there is no CR to strip: tail writes straight
		# through, with nothing buffered to lose when it is stopped.
		if [ $quiet -eq 1 ]; then
			# A subshell, so that stopping it (below: its children, then itself) stops both.
			(tail -n +1 -f "$out" | grep --line-buffered -v -E '^(PASS: |SCENARIO-END( |$)|=== kernel )') &
		else
			tail -n +1 -f "$out" &
		fi
		tailer=$!
	fi
	if [ "$count" -eq 1 ] && grep -q '^# qmp$' "$top/tests/scenarios/$name.sh"; then
		# The scenario asks for monitor commands by printing "QMP: COMMAND ARG=VALUE..." on its
		# results channel (tests/guest/lib.sh: qmp); replies go to LABEL.qmp.log.
		qmp=$logdir/$label.qmp
		rm -f "$qmp"
		qmp_agent "$out" "$qmp" "$logdir/$label.qmp.log" &
		agent=$!
	fi
	# Lower case: option names such as KASAN on the command line would match the splat grep.
	[ -z "$kconfig_missing" ] || append+=" kconfig_missing=$(echo "${kconfig_missing// /+}" | tr A-Z a-z)"
	timeout=$((guest_timeout * count))
	# shellcheck disable=SC2086
	QMP=$qmp RESULTS=$out GUEST_APPEND="$append ${GUEST_APPEND:-}" timeout "$timeout" \
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
	if [ "$count" -gt 1 ]; then
		split_group "$label" "$name"
		local n last=${name##*,} prc end start=0
		for n in ${name//,/ }; do
			# QEMU's status is the last part's, or that of the part where the run stopped.
			prc=$rc
			end=$(sed -n "s/^=== scenario $n exit [0-9]* at \([0-9.]*\)$/\1/p" "$logdir/$n.out")
			[ "$n" = "$last" ] || [ -z "$end" ] || prc=0
			# A positive control that runs after another scenario (guest: control-after) is
			# the last part, judged as a control under its own label.
			local lab=$n ex=
			if [ "$n" = "$last" ] && [ -n "$expect" ]; then
				lab=${label##*+} ex=$expect
				mv "$logdir/$n.log" "$logdir/$lab.log" && mv "$logdir/$n.out" "$logdir/$lab.out"
			fi
			verdict "$n" "$lab" "$prc" "$ex" "$(echo "${end:-$start} - $start" | bc)" "in $label" \
				"$([ "$n" = "$last" ] || echo --part)"
			start=${end:-$start}
		done
	else
		verdict "$name" "$label" "$rc" "$expect" "$(echo "$(date +%s.%N) - $t0" | bc)" "" ""
	fi
}

# split_group LABEL A,B,...: splits a group's logs LABEL.out and LABEL.log into each scenario's
# A.out, A.log, ...: its results between its "=== scenario" lines, its console from its marker
# (qemu/init) to the next one's, the boot before the first marker going to the first scenario.
split_group() {
	local n
	for n in ${2//,/ }; do
		awk -v n="$n" '/^=== scenario / { on = ($3 == n) } on' "$logdir/$1.out" >"$logdir/$n.out"
		# A part the boot never reached has an empty console.
		: >"$logdir/$n.log"
	done
	awk -v names="$2" -v dir="$logdir" 'BEGIN { k = split(names, a, ","); f = dir "/" a[1] ".log" }
		/edu-test: === scenario / { n = $NF; for (i = 1; i <= k; i++) if (a[i] == n) f = dir "/" n ".log" }
		{ print > f }' "$logdir/$1.log"
}

# verdict NAME LABEL RC EXPECT SECONDS WHERE [--part]: judges the run of scenario NAME whose logs
# are LABEL.log and LABEL.out, and counts it; WHERE is printed beside its time.
verdict() {
	local name=$1 label=$2 rc=$3 expect=$4 secs=$5 where=$6 part=$7
	local log=$logdir/$label.log out=$logdir/$label.out
	# A positive control's own check lines are expected to fail: shown indented, so that only
	# the harness's verdict on the control starts a line with PASS or FAIL.
	[ $show -eq 1 ] || grep -E '^(PASS|FAIL|SKIP): ' "$out" | sed "${expect:+s/^/  guest: /}"
	local passed failed skipped reasons l
	passed=$(grep -c '^PASS: ' "$out")
	failed=$(grep -c '^FAIL: ' "$out")
	skipped=$(grep -c '^SKIP: ' "$out")
	if [ -n "$expect" ]; then
		# A positive control: the harness must fail this run, for each expected reason.
		reasons=$(judge "$rc" "$log" "$out" "$top/tests/scenarios/$name.sh" 1000)
		passed=0 failed=0 skipped=0
		local regex verdicts=
		while read -r regex; do
			if echo "$reasons" | grep -qE "$regex"; then
				verdicts+="PASS: control $label: the harness failed it for: $(echo "$reasons" | grep -E "$regex" | head -n 1)"$'\n'
				passed=$((passed + 1))
			else
				verdicts+="FAIL: control $label: want a failure matching '$regex', got: $(echo "${reasons:-none}" | head -n 3 | paste -sd'|')"$'\n'
				failures+=("$tag$label: control did not fire (want '$regex')")
				failed=$((failed + 1))
			fi
		done <<<"$expect"
		printf '%s' "$verdicts"
		ktap_subtest "$label" "$verdicts"
	else
		# Every reason fails the run; failed checks are already counted.
		reasons=$(judge $part "$rc" "$log" "$out" "$top/tests/scenarios/$name.sh")
		local extra
		extra=$(echo "$reasons" | grep -v -e '^check: ' -e '^$' | wc -l)
		failed=$((failed + extra))
		while read -r l; do [ -n "$l" ] && failures+=("$tag$label: $l"); done <<<"$reasons"
		ktap_subtest "$label" "$(grep -E '^(PASS|FAIL|SKIP): ' "$out"
			echo "$reasons" | grep -v -e '^check: ' -e '^$' | sed 's/^/FAIL: harness: /')"
	fi
	local skips=
	[ "$skipped" -eq 0 ] || skips=", $skipped skipped"
	printf '<== scenario %s: %d passed, %d failed%s (%.1fs%s, logs %s, %s)\n' "$tag$label" "$passed" \
		"$failed" "$skips" "$secs" "${where:+ $where}" "${log#"$top"/}" "${out#"$top"/}"
	total_pass=$((total_pass + passed))
	total_fail=$((total_fail + failed))
	total_skip=$((total_skip + skipped))
}

# cached NAME INPUT... -- CMD...: runs CMD and prints its output; or, when a run of CMD passed
# (exit 0) on exactly these inputs before (the contents of the files and directories INPUT, under
# the top directory, and the toolchain), prints that run's output again, with a line saying so.
# For the mutation runs, which are deterministic and take minutes: their verdicts are kept in
# CACHE (the Makefile's, outside the tree) like the kernel build; EDU_FRESH=1 runs them anyway.
cached() {
	local name=$1 inputs=() key file rc
	shift
	while [ "$1" != -- ]; do inputs+=("$1"); shift; done
	shift
	key=$( { cd "$top" && find "${inputs[@]}" -type f ! -path '*/target/*' -print0 | sort -z |
		xargs -0 sha256sum; rustc --version; } | sha256sum | cut -c1-16)
	file=${CACHE:-$HOME/.cache/edu-rust}/verdicts/$name-$key
	if [ "${EDU_FRESH:-0}" != 1 ] && [ -f "$file" ]; then
		echo "(the passing verdict of $name on these inputs, $key, kept from $(date -r "$file" '+%F %T'); EDU_FRESH=1 runs it again)"
		cat "$file"
		return 0
	fi
	"$@" >"$tmp/cached.$name" 2>&1
	rc=$?
	cat "$tmp/cached.$name"
	if [ $rc -eq 0 ]; then
		mkdir -p "$(dirname "$file")" && cp "$tmp/cached.$name" "$file"
	fi
	return $rc
}

# Each fence and ordering of the callback core, removed in turn, must make a loom model fail.
loom_mutations() {
	local out rc
	out=$(cached loom-mutations callback-core Cargo.lock Cargo.toml rust-toolchain.toml -- \
		sh -c "cd '$top' && python3 callback-core/tests/loom-mutations.py")
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
	out=$(cached setup-checks Makefile qemu rust-toolchain.toml tests/run.sh tests/kconfig-needs \
		tests/scenarios tests/guest tests/host -- "$top/tests/host/setup.sh")
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
# units ARCH SCENARIO...: the boots of SCENARIOS on guest ARCH, one line each, "ARCH|A,B,...":
# scenarios that boot alike share one boot, run in the place of the group's first.
units() {
	local arch=$1 s key o
	shift
	use_arch "$arch"
	declare -A members=()
	local order=()
	for s in "$@"; do
		key=$(group_key "$s")
		if [ -z "$key" ]; then
			order+=("$s")
		elif [ -z "${members[$key]+set}" ]; then
			order+=("@$key")
			members[$key]=$s
		else
			members[$key]+=",$s"
		fi
	done
	for o in "${order[@]}"; do
		case $o in
		@*) echo "$arch|${members[${o#@}]}" ;;
		*) echo "$arch|$o" ;;
		esac
	done
}

# run_unit ARCH|A,B,...: boots and judges one unit.
run_unit() {
	use_arch "${1%%|*}"
	group "${1#*|}"
}

# Each guest architecture's own totals, for the closing lines of a run with two.
declare -A arch_total=()
# arch_count ARCH PASSED FAILED SKIPPED: adds to ARCH's totals.
arch_count() {
	local t=(${arch_total[$1]:-0 0 0})
	arch_total[$1]="$((t[0] + $2)) $((t[1] + $3)) $((t[2] + $4))"
}

# The guest lanes: up to GUEST_JOBS units run at once, each in a subshell whose output and counts
# go to files under $tmp; its output is shown and its counts added once it ends (in the order the
# units end). A guest mostly keeps one host CPU busy (the scenario's one task, the vCPU that runs
# it), so two lanes on two cores nearly halve the suite. --show (make run) runs one lane, live.
lane_start() {
	local k=$1
	(
		total_pass=0 total_fail=0 total_skip=0 failures=() ktap_body=$tmp/ktap.$k
		: >"$ktap_body"
		run_unit "$2"
		{
			echo "u_pass=$total_pass u_fail=$total_fail u_skip=$total_skip"
			declare -p failures | sed 's/^declare -a failures=/u_failures=/'
		} >"$tmp/state.$k"
	) >"$tmp/out.$k" 2>&1 &
	lane_pid[$!]=$k
}
lane_end() {
	local k=${lane_pid[$1]} u_pass=0 u_fail=0 u_skip=0
	local -a u_failures=()
	unset "lane_pid[$1]"
	cat "$tmp/out.$k"
	# shellcheck disable=SC1090
	if [ -f "$tmp/state.$k" ]; then
		. "$tmp/state.$k"
	else
		u_fail=1 u_failures=("unit $k (${lane_unit[$k]}): its lane ended without its counts")
	fi
	cat "$tmp/ktap.$k" >>"$ktap_body"
	total_pass=$((total_pass + u_pass)) total_fail=$((total_fail + u_fail))
	total_skip=$((total_skip + u_skip))
	arch_count "${lane_unit[$k]%%|*}" $u_pass $u_fail $u_skip
	failures+=(${u_failures[@]+"${u_failures[@]}"})
}
# lanes_below N: ends lanes, each as it ends, until fewer than N run.
lanes_below() {
	local done_pid
	while [ ${#lane_pid[@]} -ge "$1" ]; do
		wait -n -p done_pid "${!lane_pid[@]}"
		lane_end "$done_pid"
	done
}

if [ ${#scenarios[@]} -gt 0 ]; then
	: "${KERNEL:?KERNEL must name the guest kernel}" "${INITRD:?INITRD must name the initramfs}"
	[ -z "$also_arch" ] || [ -z "$also_scenarios" ] || test_kernel_complete "$also_arch"
	test_kernel_complete "$primary_arch"
	# The second architecture's units first: they are few and long, and the first lane to free
	# up takes the next.
	mapfile -t lane_unit < <(
		[ -z "$also_arch" ] || [ -z "$also_scenarios" ] || units "$also_arch" $also_scenarios
		units "$primary_arch" "${scenarios[@]}"
	)
	jobs=${GUEST_JOBS:-1}
	[ $show -eq 0 ] || jobs=1
	declare -A lane_pid=()
	for k in "${!lane_unit[@]}"; do
		if [ "$jobs" -le 1 ]; then
			before=($total_pass $total_fail $total_skip)
			run_unit "${lane_unit[$k]}"
			arch_count "${lane_unit[$k]%%|*}" $((total_pass - before[0])) \
				$((total_fail - before[1])) $((total_skip - before[2]))
			continue
		fi
		lanes_below "$jobs"
		lane_start "$k" "${lane_unit[$k]}"
	done
	lanes_below 1
fi
ktap_write
echo "KTAP results: ${ktap_out#"$top"/}"
if [ -n "$also_arch" ]; then
	host_total=($total_pass $total_fail $total_skip)
	for a in "$primary_arch" "$also_arch"; do
		t=(${arch_total[$a]:-0 0 0})
		echo "$a guest: ${t[0]} passed, ${t[1]} failed, ${t[2]} skipped"
		host_total=($((host_total[0] - t[0])) $((host_total[1] - t[1])) $((host_total[2] - t[2])))
	done
	echo "host: ${host_total[0]} passed, ${host_total[1]} failed, ${host_total[2]} skipped"
fi
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
