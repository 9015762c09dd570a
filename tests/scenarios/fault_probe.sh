# Every probe fails at each of its steps in turn (fail_probe=k) and leaves nothing behind; one past
# the last step binds fine, which proves the documented list of steps is complete.
# qemu: -device edu -device edu
. /tests/lib.sh
PROBE_STEPS=13
kmemleak_reset
ndev=$(edu_bdfs | wc -l)
k=1
while [ $k -le $PROBE_STEPS ]; do
	dmesg -c >/dev/null
	check "fail_probe=$k: insmod (module init succeeds)" load fail_probe=$k
	check_eq "fail_probe=$k: every probe failed with ENOMEM" $ndev sh -c \
		"dmesg | grep -c 'probe with driver edu failed with error -12'"
	check_eq "fail_probe=$k: the injected step is step $k" $ndev sh -c \
		"dmesg | grep -c 'probe step $k (.*) failed (injected): error -12'"
	assert_clean "fail_probe=$k"
	check "fail_probe=$k: rmmod" unload
	assert_works "fail_probe=$k"
	k=$((k + 1))
done
check "fail_probe=$k (past the last step): insmod" load fail_probe=$k
check_eq "fail_probe=$k: every device bound" $ndev sh -c "ls /dev/edu* | wc -l"
check "fail_probe=$k: rmmod" unload
kmemleak_check "kmemleak clean after every probe failure"
scenario_end
