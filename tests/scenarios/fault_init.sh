# Module init fails at each of its steps in turn (fail_init=k): an essential step leaves nothing
# behind, an optional one (debugfs) leaves a working driver without it. One past the last step
# loads fine, which proves the documented list of steps is complete.
# qemu: -device edu -device edu
. /tests/lib.sh
INIT_STEPS=5
OPTIONAL_STEP=4
kmemleak_reset

# repeat N CMD...: CMD's output N times, on one line.
repeat() {
	local n=$1
	shift
	for _ in $(seq "$n"); do "$@"; done | tr '\n' ' ' | sed 's/ $//'
}

k=1
while [ $k -le $INIT_STEPS ]; do
	dmesg -c >/dev/null
	if [ $k -eq $OPTIONAL_STEP ]; then
		check "fail_init=$k (debugfs, optional): insmod succeeds" load fail_init=$k
		check "fail_init=$k: the injected step is step $k" sh -c \
			"dmesg | grep -q 'init step $k (debugfs) failed (injected): error -12'"
		check "fail_init=$k: the log says what is missing" sh -c \
			"dmesg | grep -q 'continuing without debugfs'"
		check "fail_init=$k: no debugfs directory" test ! -e /sys/kernel/debug/edu
		check_eq "fail_init=$k: the devices work" 720 eductl /dev/edu1 factorial 6
		check "fail_init=$k: rmmod" unload
		assert_clean "fail_init=$k"
		k=$((k + 1))
		continue
	fi
	check_err "fail_init=$k: insmod fails with ENOMEM" ENOMEM load fail_init=$k trace_ladder=1
	# busybox's insmod tries finit_module, then init_module: each attempt walks the ladder.
	n=$(dmesg | grep -c "init step $k (.*) failed (injected)")
	check "fail_init=$k: the load was attempted" test "$n" -ge 1
	check_eq "fail_init=$k: steps before $k done ($n attempts)" "$(repeat $n seq 1 $((k - 1)))" \
		ladder_trace init step
	check_eq "fail_init=$k: and undone in reverse" "$(repeat $n seq $((k - 1)) -1 1)" \
		ladder_trace init undo
	check "fail_init=$k: the injected step is step $k" sh -c \
		"dmesg | grep -q 'init step $k (.*) failed (injected): error -12'"
	check "fail_init=$k: module not loaded" sh -c "! grep -q '^edu ' /proc/modules"
	check "fail_init=$k: no edu class" test ! -e /sys/class/edu
	check "fail_init=$k: no edu char major" sh -c "! grep -q ' edu\$' /proc/devices"
	assert_clean "fail_init=$k"
	assert_works "fail_init=$k"
	k=$((k + 1))
done
dmesg -c >/dev/null
check "fail_init=$k (past the last step): insmod succeeds" load fail_init=$k trace_ladder=1
check_eq "fail_init=$k: device works" 0x010000ed eductl /dev/edu0 ident
check "fail_init=$k: rmmod" unload
check_eq "fail_init=$k: module exit undid every step in reverse" "5 4 3 2 1" ladder_trace init undo
check "fail_init=$k: the driver unregistered (and its devices unbound) first" sh -c \
	"dmesg | sed -n '/init undo step 5/,/init undo step 4/p' | grep -q 'probe undo step 1 '"
kmemleak_check "kmemleak clean after every init failure"
scenario_end
