# Module init fails at each of its steps in turn (fail_init=k): an essential step leaves nothing
# behind, an optional one (debugfs) leaves a working driver without it. One past the last step
# loads fine, which proves the documented list of steps is complete.
# qemu: -device edu -device edu
. /tests/lib.sh
INIT_STEPS=5
OPTIONAL_STEP=4
kmemleak_reset
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
	check_err "fail_init=$k: insmod fails with ENOMEM" ENOMEM load fail_init=$k
	check "fail_init=$k: the injected step is step $k" sh -c \
		"dmesg | grep -q 'init step $k (.*) failed (injected): error -12'"
	check "fail_init=$k: module not loaded" sh -c "! grep -q '^edu ' /proc/modules"
	check "fail_init=$k: no edu class" test ! -e /sys/class/edu
	check "fail_init=$k: no edu char major" sh -c "! grep -q ' edu\$' /proc/devices"
	assert_clean "fail_init=$k"
	assert_works "fail_init=$k"
	k=$((k + 1))
done
check "fail_init=$k (past the last step): insmod succeeds" load fail_init=$k
check_eq "fail_init=$k: device works" 0x010000ed eductl /dev/edu0 ident
check "fail_init=$k: rmmod" unload
kmemleak_check "kmemleak clean after every init failure"
scenario_end
