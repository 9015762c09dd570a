# Positive controls: each variant breaks one thing on purpose, and the harness must fail the run
# for that reason; tests/run.sh boots it once per "# control:" line and counts the variant as
# passed only when the right oracle fired. The bugs are in tests/controls/edu_break.c.
# qemu: -device edu
# control: early early stop: the script did not reach its end
# control: status exit status: the script exited 3
# control: leak check: FAIL: kmemleak clean after the bug \(kmemleak reports leaks\)
# control: kmemleak_off check: FAIL: kmemleak clean after the bug \(kmemleak scan failed
# control: uaf kernel log shows: .*BUG: KASAN: slab-use-after-free
# control: oob kernel log shows: .*BUG: KASAN: slab-out-of-bounds
# control: index kernel log shows: .*UBSAN: array-index-out-of-bounds
# control: warn kernel log shows: .*WARNING: .*edu_break
# control: atomic kernel log shows: .*BUG: sleeping function called from invalid context
# control: lockorder kernel log shows: .*possible circular locking dependency
# control: late check: FAIL: broken unregister: no listener call after its unregister returned
# control: hang kernel log shows: .*INFO: task insmod:[0-9]* blocked for more than
. /tests/lib.sh
check "edu_break.ko is in the initramfs" test -f /lib/modules/edu_break.ko
kmemleak_reset
# Only the kmemleak variants scan: the others are judged on the kernel log alone.
case $control in
early)
	exit 0
	;;
status)
	echo SCENARIO-END
	exit 3
	;;
late)
	load
	insmod /lib/modules/edu_client.ko broken_detach=1
	listener_detach_check "broken unregister"
	rmmod edu_client
	unload
	;;
leak)
	insmod /lib/modules/edu_break.ko bug=leak
	kmemleak_check "kmemleak clean after the bug"
	;;
kmemleak_off)
	echo off >/sys/kernel/debug/kmemleak
	kmemleak_check "kmemleak clean after the bug"
	;;
hang)
	echo 4 >/proc/sys/kernel/hung_task_timeout_secs
	insmod /lib/modules/edu_break.ko bug=hang
	;;
*)
	insmod /lib/modules/edu_break.ko bug="$control"
	;;
esac
scenario_end
