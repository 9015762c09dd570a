# The literal owner (listener_guard=0: try_module_get/module_put around each call) under an
# interrupt storm on CPU0 while edu_client is removed from CPU1 (tests/guest/lib.sh:
# storm_rmmod). An interrupt holds the client's module reference for its whole call, so rmmod is
# refused with EAGAIN whenever it comes during one: this shows it happening. No call may reach
# the client once its exit began, and no call may outlive its unregister (KASAN).
# qemu: -device edu
. /tests/lib.sh
# Rounds of storm and rmmod; storm_rounds=N on the kernel command line overrides.
storm_rounds=${storm_rounds:-20}
check "insmod edu listener_guard=0" load listener_guard=0
storm_rmmod "module guard" "$storm_rounds"
check "module guard: rmmod was refused with EAGAIN while an interrupt held the reference" \
	test "$storm_eagain" -gt 0
check "rmmod edu" unload
kmemleak_check "kmemleak clean"
scenario_end
