# The listener interface: a client module counts edu interrupt events through owner-guarded
# dispatch (the default guard, listener_guard=1: RCU and module_is_live; listener_module and
# listener_rmmod storm both guards); it cannot load without edu, edu cannot be removed under it,
# and removing it during an interrupt storm never calls into it after its exit began.
# needs: debugfs
# qemu: -device edu
. /tests/lib.sh
# Storm rounds; edu_client_rounds=N on the kernel command line overrides.
edu_client_rounds=${edu_client_rounds:-20}
kmemleak_reset
ev=/sys/module/edu_client/parameters/events
check_err "edu_client without edu fails to load" ENOENT load_client
check "the kernel names the missing symbol" sh -c \
	"dmesg | grep -q 'edu_client: Unknown symbol edu_listener_register'"
check_err "listener_guard=2 is refused (only the controls' build has the broken guards)" EINVAL \
	load listener_guard=2
check "insmod edu" load
check "insmod edu_client" load_client
check_eq "edu_client saw no event yet" 0 cat $ev
for i in 1 2 3 4 5; do eductl /dev/edu0 raise 0x1000; done
check "edu_client saw the 5 raised interrupts" sh -c "test \$(cat $ev) -ge 5"
check_err "rmmod edu while edu_client uses it is refused" EAGAIN unload
check_eq "edu works after the refused rmmod" 0x010000ed eductl /dev/edu0 ident
check "rmmod edu_client" unload_client
check "insmod edu_client again" load_client
listener_detach_check "run-time unregister"
p=/sys/module/edu_client/parameters
check "edu_client registers again" sh -c "echo 1 >$p/attach"
check_eq "its old, stale handle is refused with EINVAL" -22 cat $p/stale
before=$(cat $ev)
for i in 1 2 3; do eductl /dev/edu0 raise 0x1000; done
check "the new registration still gets events" sh -c "test \$(cat $ev) -ge $((before + 3))"
check "rmmod the re-attached edu_client" unload_client

# The storm: two processes raise interrupts as fast as they can while the client comes and goes.
# Each hammer checks every value it gets back; SIGTERM ends it with its counts, and with exit
# status 1 if a value was wrong. It handles SIGTERM from before it opens the device.
eductl /dev/edu0 hammer 3600 >/tmp/h1 2>&1 &
h1=$!
eductl /dev/edu0 hammer 3600 >/tmp/h2 2>&1 &
h2=$!
check "hammer 1 has /dev/edu0 open" wait_until 60 holds_open $h1 /dev/edu0
check "hammer 2 has /dev/edu0 open" wait_until 60 holds_open $h2 /dev/edu0
dmesg -c >/dev/null
round=1
while [ $round -le "$edu_client_rounds" ]; do
	load_client || fail "storm round $round: insmod edu_client"
	wait_until 60 count_above $ev 0 || fail "storm round $round: no event reached the client"
	unload_client || fail "storm round $round: rmmod edu_client"
	round=$((round + 1))
done
kill $h1 $h2
wait $h1
rc1=$?
wait $h2
rc2=$?
cat /tmp/h1 /tmp/h2
for h in 1 2; do
	eval rc=\$rc$h
	check_eq "hammer $h: exit status 0 (every value right)" 0 echo $rc
	check "hammer $h: its ioctls succeeded" grep -q ' ioctl_ok=[1-9]' /tmp/h$h
	check "hammer $h: no wrong value" grep -q ' wrong=0 ' /tmp/h$h
done
check_eq "every storm round reported its exit" "$edu_client_rounds" sh -c \
	"dmesg | grep -c 'edu_client: [0-9]* events, [0-9]* after exit began'"
check_eq "no call after exit began, in any round" "$edu_client_rounds" sh -c \
	"dmesg | grep -c 'edu_client: [1-9][0-9]* events, 0 after exit began'"
dmesg | grep 'edu_client: .* events' | tail -n 3

echo "--- in-kernel calibration (a debug kernel: it runs, its figures mean nothing)"
cat /sys/kernel/debug/edu/calibrate | tee /tmp/cal
# The test kernel has KASAN, so the calibration must call it a debug kernel; a kernel of the
# user's without it may be either.
if have kasan; then
	check "calibration says this is a debug kernel" grep -q '^kernel: debug' /tmp/cal
else
	check "calibration says what kernel this is" grep -qE '^kernel: (debug|no debug options)' /tmp/cal
fi
check_eq "calibration reports seven variants" 7 sh -c "grep -cE ' [0-9]+\.[0-9]  [0-9]+\.[0-9]+x$' /tmp/cal"
check "rmmod edu" unload
kmemleak_check "kmemleak clean"
scenario_end
