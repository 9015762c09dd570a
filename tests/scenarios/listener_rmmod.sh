# The RCU guard (listener_guard=1, the default: an RCU read-side section and module_is_live
# around each call, an expedited grace period at unregister) under an interrupt storm on CPU0
# while edu_client is removed from CPU1 (tests/guest/lib.sh: storm_rmmod). No reference is taken,
# so rmmod is never refused with EAGAIN; no call may reach the client once its exit began, and
# none may outlive its unregister (KASAN). tests/scenarios/controls.sh (variant rcu) runs the same
# rounds on the two deliberately broken guards and shows each oracle fire.
# qemu: -device edu
. /tests/lib.sh
# Rounds of storm and rmmod; storm_rounds=N on the kernel command line overrides.
storm_rounds=${storm_rounds:-20}
check "insmod edu (listener_guard=1 by default)" load
storm_rmmod "rcu guard" "$storm_rounds"
check_eq "rcu guard: rmmod was never refused with EAGAIN" 0 echo "$storm_eagain"
check "rmmod edu" unload
kmemleak_check "kmemleak clean"
scenario_end
