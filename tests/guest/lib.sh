# Guest test library, sourced by every scenario. Each check prints one line, "PASS: name" or
# "FAIL: name (why)", on the results channel (qemu/init); the host harness counts them. Checks
# never stop the scenario: later checks still run and report. Every scenario ends with
# `scenario_end`: a script that stops before it fails, whatever its checks said. Helpers keep
# their variables local, so a scenario's own variables are never overwritten.

EDU_KO=/lib/modules/edu.ko

# Every check also counts itself: in this shell, for `section`'s tally, and in the file
# $checks_log (qemu/init gives each scenario its own), where the checks of subshells and
# background jobs count too. scenario_end reports the file's counts, and the harness compares
# them with the lines it read: a check line lost, or printed other than at the start of a line,
# fails the scenario.
checks_passed=0 checks_failed=0
checks_log=${checks_log:-/dev/null}
pass() {
	echo "PASS: $1"
	echo P >>"$checks_log"
	checks_passed=$((checks_passed + 1))
}
fail() {
	echo "FAIL: $1${2:+ ($2)}"
	echo F >>"$checks_log"
	checks_failed=$((checks_failed + 1))
}
skip() {
	echo "SKIP: $1"
	echo S >>"$checks_log"
}

# scenario_end: the last line of every scenario, with its counts of checks; the harness fails a
# run without it.
scenario_end() {
	echo "SCENARIO-END $(awk '{ n[$1]++ } END { printf "passed=%d failed=%d skipped=%d", n["P"], n["F"], n["S"] }' \
		"$checks_log" 2>/dev/null)"
	exit 0
}

# have FEATURE [CHECK...]: whether the kernel has FEATURE (tests/kconfig-needs). If not, each
# CHECK the caller is about to leave out is reported as skipped, with the options the kernel
# lacks. On a kernel of the user's (make test KDIR=...), the harness passes the missing features
# as kconfig_missing=FEATURE:OPTION,...+FEATURE:... (qemu/kconfig.sh --missing, in lower case:
# option names such as KASAN would match the harness's splat grep on the console); the test
# kernel has them all.
have() {
	local feature=$1 w c
	shift
	for w in $(echo "${kconfig_missing:-}" | tr + ' '); do
		[ "${w%%:*}" = "$feature" ] || continue
		for c in "$@"; do
			skip "$c (the kernel lacks $(echo "${w#*:}" | tr a-z A-Z | sed 's/^/CONFIG_/; s/,/ CONFIG_/g'))"
		done
		return 1
	done
}

# check NAME CMD...: CMD must exit 0.
check() {
	local name=$1 out
	shift
	if out=$("$@" 2>&1); then pass "$name"; else fail "$name" "$(echo "$out" | tail -n 1)"; fi
}

# check_eq NAME EXPECTED CMD...: CMD must exit 0 and print exactly EXPECTED.
check_eq() {
	local name=$1 want=$2 out
	shift 2
	if out=$("$@" 2>&1) && [ "$out" = "$want" ]; then
		pass "$name"
	else
		fail "$name" "want '$want', got '$(echo "$out" | tail -n 1)'"
	fi
}

# check_err NAME ERRNO CMD...: CMD must fail with ERRNO (as eductl or check_write spell it).
check_err() {
	local name=$1 want=$2 out
	shift 2
	if out=$("$@" 2>&1); then
		fail "$name" "succeeded, want $want: $out"
	elif echo "$out" | grep -q "error: $want\b"; then
		pass "$name"
	else
		fail "$name" "want $want, got '$(echo "$out" | tail -n 1)'"
	fi
}

# result CMD...: what CMD prints, standard output and errors; an error as eductl and edu-rig
# print it, "error: ENAME (message)", is shortened to "error: ENAME".
result() { "$@" 2>&1 | sed 's/^\(error: [A-Z]*\) (.*/\1/'; }

# got NAME WANT CMD...: check_eq for a scenario that shows what it checks: CMD's result (see
# result) must be exactly WANT, and is left in $v for the scenario to print.
got() {
	local name=$1 want=$2
	shift 2
	v=$(result "$@")
	if [ "$v" = "$want" ]; then pass "$name"; else fail "$name" "want '$want', got '$v'"; fi
}

# section TITLE FUNCTION: one titled section of a scenario that is shown as it runs (the demo,
# `make run`, whose harness hides PASS lines): prints "=== TITLE", runs FUNCTION, then the
# section's tally of checks, so the reader sees how much was checked behind the lines shown.
section() {
	# Unusual names: FUNCTION runs in this shell and may use any plain name.
	local _sect_p=$checks_passed _sect_f=$checks_failed _sect_t
	_sect_t=$(cut -d' ' -f1 /proc/uptime)
	echo
	echo "=== $1"
	"$2"
	_sect_t=$(awk "BEGIN { printf \"%.1f\", $(cut -d' ' -f1 /proc/uptime) - $_sect_t }")
	_sect_p=$((checks_passed - _sect_p)) _sect_f=$((checks_failed - _sect_f))
	if [ $_sect_f -eq 0 ]; then
		echo "    [$_sect_p checks passed, ${_sect_t} s]"
	else
		echo "    [$_sect_p checks passed, $_sect_f FAILED, ${_sect_t} s]"
	fi
}

# read_file FILE: prints FILE; prints "error: ENAME" on failure.
read_file() { eductl "$1" read; }

# write_file FILE VALUE: writes VALUE to FILE in one write(2); prints "error: ENAME" on failure.
write_file() { eductl "$1" write "$2"; }

# errname MESSAGE: maps a strerror text (as busybox prints it) to the errno name.
errname() {
	case $1 in
	*"Value too large"*) echo EOVERFLOW ;;
	*"Invalid argument"*) echo EINVAL ;;
	*"No such device"*) echo ENODEV ;;
	*"Out of memory"* | *"Cannot allocate memory"*) echo ENOMEM ;;
	*"No data available"*) echo ENODATA ;;
	*"Permission denied"*) echo EACCES ;;
	*"Resource busy"* | *"Device or resource busy"*) echo EBUSY ;;
	*"Resource temporarily unavailable"*) echo EAGAIN ;;
	*"Timer expired"* | *"timed out"*) echo ETIMEDOUT ;;
	*"No such file"* | *"nknown symbol"*) echo ENOENT ;;
	*) echo "EOTHER[$1]" ;;
	esac
}

# load [PARAMS...]: insmod the driver; prints "error: ENAME" on failure.
load() {
	local msg
	if ! msg=$(insmod "$EDU_KO" "$@" 2>&1); then
		echo "error: $(errname "$msg")"
		return 1
	fi
}

# load_client / unload_client: the listener client module.
load_client() {
	local msg
	if ! msg=$(insmod /lib/modules/edu_client.ko 2>&1); then
		echo "error: $(errname "$msg")"
		return 1
	fi
}

unload_client() {
	local msg
	if ! msg=$(rmmod edu_client 2>&1); then
		echo "error: $(errname "$msg")"
		return 1
	fi
}

unload() {
	local msg
	if ! msg=$(rmmod edu 2>&1); then
		echo "error: $(errname "$msg")"
		return 1
	fi
}

# listener_detach_check LABEL [DEV]: the loaded edu_client unregisters at run time; interrupts
# raised on DEV (default /dev/edu0) afterwards must not reach it.
listener_detach_check() {
	local p=/sys/module/edu_client/parameters i
	check "$1: edu_client detaches" sh -c "echo 1 >$p/detach"
	for i in 1 2 3 4 5; do eductl "${2:-/dev/edu0}" raise 0x1000 >/dev/null; done
	check_eq "$1: no listener call after its unregister returned" 0 cat $p/late
}

# ladder_trace LADDER step|undo [BDF]: the step numbers of the kernel log's trace lines of LADDER
# (init or probe; of the device at BDF only, if given), in log order, on one line: "step" for the
# steps it completed ("probe step 6 (device state)"), "undo" for the undos ("probe undo step 6
# (device state)"). The driver logs them when loaded with trace_ladder=1.
ladder_trace() {
	local what="step"
	[ "$2" = undo ] && what="undo step"
	dmesg | sed -n "s/.*${3:+ $3:} $1 $what \([0-9]*\) ([^)]*)\$/\1/p" | tr '\n' ' ' | sed 's/ $//'
}

# intx_chip: the interrupt controller that /proc/interrupts names for a PCI INTx line: the I/O
# APIC on x86, the GIC on arm64 (QEMU's virt machine routes INTx to GICv3 SPIs).
intx_chip() {
	case $(uname -m) in
	aarch64) echo GICv3 ;;
	*) echo IO-APIC ;;
	esac
}

# edu_bdfs: the PCI addresses of every edu device, one per line.
edu_bdfs() {
	local d
	for d in /sys/bus/pci/devices/*; do
		[ "$(cat "$d/vendor")" = 0x1234 ] && [ "$(cat "$d/device")" = 0x11e8 ] && basename "$d"
	done
}

# wait_for PATH [SECONDS]: waits for PATH to exist.
wait_for() {
	local i=0
	while [ ! -e "$1" ] && [ $i -lt $((${2:-5} * 10)) ]; do
		sleep 0.1
		i=$((i + 1))
	done
	[ -e "$1" ]
}

# kmemleak_check NAME: fails NAME if kmemleak finds anything, if kmemleak is missing or disabled,
# or if a scan fails; skips it on a kernel built without kmemleak (have). In a boot shared by
# several scenarios (qemu/init) only the last one scans, once, for the whole boot: one check per
# boot instead of one per scenario saves minutes of make test. A leak is then reported by the
# boot's last scenario, with every scenario of the boot named; kmemleak's report gives each
# object's allocation backtrace. kmemleak reports an object only when it is 5 s old, and only on
# the second scan that finds it unreferenced: the first one takes its checksum, and a new or
# changed object is grey until the next scan (mm/kmemleak.c, __kmemleak_scan). So the sheaves
# are flushed (kmemleak_flush_sheaves), the first scan runs at once, and the second 6 s after the
# check began (under TCG, the flush and a scan mostly take longer than that). The old check (6 s,
# then two scans, no flush) missed the controls' planted leak in about one boot of ten: a sheaf
# still pointed at each of its objects in the second scan, or in the first, and the second then
# only took their checksums.
kmemleak_check() {
	local f=/sys/kernel/debug/kmemleak leaks t
	# The bench kernel (make bench) and a user's kernel may have no kmemleak; the test kernel
	# must have it.
	have kmemleak "$1" || return 0
	if [ "${boot_last:-1}" != 1 ]; then
		echo "# $1: left to the last scenario of this boot ($scenario), whose scan covers it"
		return 0
	fi
	if [ ! -w $f ]; then
		fail "$1" "kmemleak not available"
		return
	fi
	t=$(cut -d' ' -f1 /proc/uptime)
	kmemleak_flush_sheaves
	# kmemleak refuses "scan" with EPERM once it is disabled (by "off" or by an internal error).
	# A scan stops early, and reports nothing, when its task has a signal pending: the scans run
	# in a subshell, which has no children whose exit could send it SIGCHLD.
	if ! (echo scan >$f && sleep "$(awk -v t="$t" '{ d = t + 6 - $1; printf "%.2f", (d > 0 ? d : 0) }' \
		/proc/uptime)" && echo scan >$f) 2>/dev/null; then
		fail "$1" "kmemleak scan failed: kmemleak is disabled"
		return
	fi
	if ! leaks=$(cat $f); then
		fail "$1" "cannot read the kmemleak report"
		return
	fi
	if [ -z "$leaks" ]; then
		pass "$1"
	else
		echo "$leaks"
		case $scenario in
		*,*) fail "$1" "kmemleak reports leaks (in this boot: $scenario)" ;;
		*) fail "$1" "kmemleak reports leaks" ;;
		esac
	fi
}

# kmemleak_flush_sheaves: SLUB's sheaves hide leaks from kmemleak. A sheaf is a kmalloc'd array of
# free objects per CPU and cache, and kmemleak scans it whole; an allocation takes the top object
# but leaves its pointer in the array, so the object looks referenced until that slot is written
# again, for as long as the sheaf lives (main, spare, or empty in the barn). Each cache's sysfs
# "shrink" frees its spare and barn sheaves and empties the main ones, which keep the pointers of
# the objects they handed out last (the flush takes about 2 s under TCG).
kmemleak_flush_sheaves() {
	local c
	for c in /sys/kernel/slab/*/shrink; do
		[ -L "${c%/shrink}" ] || echo 1 >"$c"
	done 2>/dev/null
}

# kmemleak_reset: forgets objects reported so far (boot-time noise); in the boot's first scenario
# only: a later one would forget what kmemleak's own periodic scan found in an earlier one.
kmemleak_reset() {
	[ "${boot_first:-1}" = 1 ] || return 0
	[ -w /sys/kernel/debug/kmemleak ] && echo clear >/sys/kernel/debug/kmemleak
	return 0
}

# assert_clean LABEL: nothing of the driver is left on any edu device.
assert_clean() {
	local b
	check "$1: no /dev/edu*" sh -c "! ls /dev/edu* 2>/dev/null"
	check "$1: no edu line in /proc/interrupts" sh -c "! grep -q ' edu[0-9]*\$' /proc/interrupts"
	check "$1: no edu region in /proc/iomem" sh -c "! grep -q ': edu\$' /proc/iomem"
	for b in $(edu_bdfs); do
		check "$1: $b has no sysfs attributes" test ! -e /sys/bus/pci/devices/$b/ident
		check "$1: $b is unbound" test ! -e /sys/bus/pci/devices/$b/driver
		check "$1: $b is disabled" test "$(cat /sys/bus/pci/devices/$b/enable)" = 0
	done
}

# assert_works LABEL: a plain load gives working devices, and unloads.
assert_works() {
	local d
	check "$1: plain load" load
	for d in $(ls /dev/edu* 2>/dev/null); do
		check_eq "$1: $d factorial" 720 eductl $d factorial 6
	done
	check_eq "$1: every device bound" "$(edu_bdfs | wc -l)" sh -c "ls /dev/edu* | wc -l"
	check "$1: rmmod" unload
}

# start_callers N FACTORIAL: N DMA loops (output /tmp/dmaI) and a loop of FACTORIAL! (output
# /tmp/fact: the error that ended it) on the open file fd 3, in the background; each ends when a
# call fails. Their pids are in $pids.
start_callers() {
	local i=1
	pids=
	while [ $i -le "$1" ]; do
		eductl fd:3 loop-read 120 >/tmp/dma$i 2>&1 &
		pids="$pids $!"
		i=$((i + 1))
	done
	(while out=$(eductl fd:3 factorial "$2" 2>&1); do :; done; echo "$out" >/tmp/fact) &
	pids="$pids $!"
}

# qmp COMMAND [ARG=VALUE...]: asks the host to send COMMAND to QEMU's monitor (scenarios with a
# "# qmp" header line; tests/run.sh forwards the request). Returns at once: wait for the effect.
qmp() { echo "QMP: $*"; }

# wait_gone PATH [SECONDS]: waits for PATH to disappear.
wait_gone() {
	local i=0
	while [ -e "$1" ] && [ $i -lt $((${2:-5} * 10)) ]; do
		sleep 0.1
		i=$((i + 1))
	done
	[ ! -e "$1" ]
}

# wait_until SECONDS CMD...: runs CMD every 0.1 s until it succeeds, for up to SECONDS of the
# guest's clock (not a count of tries: on a loaded machine each try takes longer); returns
# whether it did. For a condition a scenario needs before it goes on: the bound only ends the
# wait for one that never comes, so it is generous and judges no speed.
wait_until() {
	local up end
	read -r up _ </proc/uptime
	end=$((${up%.*} + $1))
	shift
	until "$@"; do
		read -r up _ </proc/uptime
		[ "${up%.*}" -lt $end ] || return 1
		sleep 0.1
	done
}

# holds_open PID PATH: whether process PID has PATH open.
holds_open() {
	local fd
	for fd in /proc/$1/fd/*; do
		[ "$(readlink "$fd")" = "$2" ] && return 0
	done
	return 1
}

# count_above FILE N: whether FILE (a counter, such as a sysfs attribute) reads more than N.
count_above() { [ "$(cat "$1")" -gt "$2" ]; }

# module_refs MODULE: MODULE's reference count (/proc/modules' third field); fails, printing
# nothing, when MODULE is not loaded.
module_refs() { awk -v m="$1" '$1 == m { print $3; found = 1 } END { exit !found }' /proc/modules; }

# module_refs_above MODULE N: whether MODULE is loaded with more than N references.
module_refs_above() {
	local n
	n=$(module_refs "$1") || { echo "$1 is not loaded"; return 1; }
	[ "$n" -gt "$2" ] || { echo "$1 has $n references"; return 1; }
}

# edu_irq: the interrupt number of edu0 (/proc/interrupts).
edu_irq() {
	awk '/ edu0$/ { sub(":", "", $1); print $1; exit }' /proc/interrupts
}

# storm_rmmod LABEL ROUNDS: with edu loaded and two CPUs online, an interrupt storm on /dev/edu0
# runs on CPU0 (the storm process and the interrupt both pinned there) while, ROUNDS times,
# edu_client is loaded on CPU1 with delay_us=1000 (each call busy-waits 1 ms before it touches its
# registration's context) and removed from CPU1, retrying rmmod until it succeeds. Odd rounds
# remove it registered, with exit_delay_us=20000 (its exit waits 20 ms before it unregisters: a
# call into the going module in that window is late). Even rounds first detach it (unregister,
# then free the context) while a call is running (detach=2): a call that outlives its unregister
# touches freed memory, for KASAN. Prints "storm+rmmod LABEL: attempts=A eagain=E late=L
# raced=R detaches=D" and sets storm_attempts, storm_eagain, storm_late. Checks that every round
# reached the client, that every refused rmmod was EAGAIN, that every detach raced with a call (a
# detach that found none is retried), that every round reported its exit, and that no call was
# late.
storm_rmmod() {
	local label=$1 rounds=$2 irq storm round=1 tries msg err bad= raced=0 detaches=0
	local p=/sys/module/edu_client/parameters
	storm_attempts=0 storm_eagain=0 storm_late=0
	irq=$(edu_irq)
	check "$label: edu0 has an interrupt" test -n "$irq"
	check "$label: two CPUs online" test "$(cat /sys/devices/system/cpu/online)" = 0-1
	check "$label: edu0's interrupt pinned to CPU0" sh -c "echo 1 >/proc/irq/$irq/smp_affinity"
	taskset 1 eductl /dev/edu0 storm 3600 >/tmp/storm 2>&1 &
	storm=$!
	dmesg -c >/dev/null
	while [ $round -le "$rounds" ]; do
		if ! msg=$(taskset 2 insmod /lib/modules/edu_client.ko delay_us=1000 \
			exit_delay_us=$(((round % 2) * 20000)) 2>&1); then
			bad="round $round: insmod edu_client: $msg"
			break
		fi
		wait_until 60 count_above $p/events 0 || bad="round $round: no event reached the client"
		# Whether a detach catches a call running is a race of its own (detach=2 polls 1 s for
		# one): one that did not is attached again and retried, up to 20 times.
		tries=0
		while [ $((round % 2)) = 0 ] && [ $tries -lt 20 ]; do
			[ $tries = 0 ] || taskset 2 sh -c "echo 1 >$p/attach"
			taskset 2 sh -c "echo 2 >$p/detach"
			tries=$((tries + 1)) detaches=$((detaches + 1))
			[ "$(cat $p/raced)" -gt 0 ] && raced=$((raced + 1)) && break
		done
		tries=0
		while :; do
			tries=$((tries + 1))
			msg=$(taskset 2 rmmod edu_client 2>&1) && break
			err=$(errname "$msg")
			if [ "$err" != EAGAIN ] || [ $tries -ge 1000 ]; then
				bad="round $round: rmmod edu_client failed $tries times, last with $err"
				break 2
			fi
			storm_eagain=$((storm_eagain + 1))
		done
		storm_attempts=$((storm_attempts + tries))
		round=$((round + 1))
	done
	kill $storm
	wait $storm
	check_eq "$label: the storm's interrupts were delivered to CPU0" 1 sh -c \
		"echo \$((0x\$(cat /proc/irq/$irq/effective_affinity)))"
	if [ -z "$bad" ]; then
		pass "$label: $rounds storm rounds, each reaching the client, each rmmod done"
	else
		fail "$label: $rounds storm rounds, each reaching the client, each rmmod done" "$bad"
	fi
	check_eq "$label: every detach unregistered while a call was running" $((rounds / 2)) echo "$raced"
	storm_late=$(dmesg | sed -n 's/.*edu_client: [0-9]* events, \([0-9]*\) after exit began.*/\1/p' |
		awk '{ s += $1 } END { print s + 0 }')
	check_eq "$label: every round reported its exit" "$rounds" sh -c \
		"dmesg | grep -c 'edu_client: [0-9]* events, [0-9]* after exit began'"
	echo "storm+rmmod $label: attempts=$storm_attempts eagain=$storm_eagain late=$storm_late raced=$raced detaches=$detaches ($(cat /tmp/storm))"
	check_eq "$label: no call after the module was going" 0 echo "$storm_late"
}
