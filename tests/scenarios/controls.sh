# Positive controls: every oracle is shown to fire. tests/run.sh boots this script once per
# variant (control=VARIANT) and counts each "# control:" line as passed only when the harness
# failed that boot for a reason matching its regex. How a script ends (early stop, exit status,
# lost check lines, no check), QEMU's exit status and the power-off are judged from the results
# and the console alone: tests/host/setup.sh shows those oracles fire against a fake QEMU.
# `kernel` commits every kernel-side bug in one boot, each caught by its own oracle, and the
# end-of-scenario kernel state (taint: W and B; lockdep off after the KASAN reports). `taint2`
# WARNs in the second part of a boot shared with basic (control-after), which stays clean.
# `failnth` runs two of failnth's sweeps with a WARN and a KASAN report planted in them, for its
# own log oracle and its per-sweep lockdep check. The bugs are in tests/controls/edu_break.c. `rcu` runs the listener's
# storm+rmmod rounds (tests/guest/lib.sh: storm_rmmod, as listener_rmmod does) on the two
# deliberately broken RCU guards of edu_guard_break.ko (driver/ built with EDU_GUARD_BREAK=y):
# listener_guard=3 ignores module_is_live, listener_guard=2 skips the grace period. The same build
# has the driver's own bugs, chosen by break_bug (driver/guard_break.rs): `rustkasan` loads it with
# break_bug=1 (init reads past the end of a KVec), `dmafree` with break_bug=2 (unbind frees the DMA
# buffer before it stops the engine), which needs the IOMMU: every variant boots behind it, in
# strict mode (iommu.strict=1: with lazy IOTLB invalidation a transfer that ends within 10 ms of
# the unmap still goes through, unseen).
# needs: kasan kmemleak hungtask oracles faultinject
# qemu: -device intel-iommu,intremap=on -device edu
# append: kasan_multi_shot intel_iommu=on iommu.strict=1
# control: kernel check: FAIL: kmemleak sees the leak \(kmemleak reports leaks\)
# control: kernel check: FAIL: kmemleak after "off" \(kmemleak scan failed
# control: kernel check: FAIL: broken unregister: no listener call after its unregister returned
# control: kernel kernel log shows: .*BUG: KASAN: slab-use-after-free in .*edu_break
# control: kernel kernel log shows: .*BUG: KASAN: slab-out-of-bounds in .*edu_break
# control: kernel kernel log shows: .*UBSAN: array-index-out-of-bounds in .*edu_break
# control: kernel kernel log shows: .*WARNING: .*edu_break
# control: kernel kernel log shows: .*BUG: sleeping function called from invalid context
# control: kernel kernel log shows: .*possible circular locking dependency
# control: kernel kernel log shows: .*INFO: task insmod:[0-9]* blocked for more than
# control: kernel taint: the kernel was tainted during this scenario: .*W:warning
# control: kernel taint: the kernel was tainted during this scenario: .*B:bad-page
# control: kernel lockdep: switched off during this scenario
# control: taint2 taint: the kernel was tainted during this scenario: W:warning
# control-after: taint2 basic
# control: failnth check: FAIL: failnth ioctl-ident n=1 .*: no splat \(.*WARNING: .*edu_break
# control: failnth check: FAIL: failnth ioctl-liveness: lockdep still on after the sweep
# control: rcu check: FAIL: ignoring module_is_live: no call after the module was going
# control: rcu kernel log shows: .*BUG: KASAN: slab-use-after-free in edu_client_event
# control: rustkasan kernel log shows: .*BUG: KASAN: slab-out-of-bounds in _R.*edu_main11guard_break18out_of_bounds_read
# control: dmafree kernel log shows: .*(DMAR: \[DMA (Read|Write)|arm-smmu-v3 .*: event 0x[0-9a-f]+ received)
. /tests/lib.sh
check "edu_break.ko is in the initramfs" test -f /lib/modules/edu_break.ko
case $control in
kernel)
	# kmemleak first, while no other bug has run: the leak it reports is this one. Planted
	# once: the slab sheaves that hid it in about one boot of ten are flushed by kmemleak_check.
	kmemleak_reset
	insmod /lib/modules/edu_break.ko bug=leak
	kmemleak_check "kmemleak sees the leak"
	echo off >/sys/kernel/debug/kmemleak
	kmemleak_check 'kmemleak after "off"'
	# The listener's late counter: a client that "unregisters" without draining.
	load
	insmod /lib/modules/edu_client.ko broken_detach=1
	listener_detach_check "broken unregister"
	rmmod edu_client
	unload
	# edu_break's init commits its bug and fails with EAGAIN, so it loads again for the next.
	# Lockdep goes first: it turns itself off after its report and after any taint that makes it
	# unreliable, such as a KASAN report. The hang (12 s in D state, the detector set to 4 s)
	# comes last.
	for bug in lockorder warn atomic index uaf oob; do
		insmod /lib/modules/edu_break.ko bug=$bug
	done
	echo 4 >/proc/sys/kernel/hung_task_timeout_secs
	insmod /lib/modules/edu_break.ko bug=hang
	;;
taint2)
	# The second part of a boot shared with basic (control-after): a WARN taints the kernel,
	# and the end-of-scenario taint check must name this part, not the first.
	insmod /lib/modules/edu_break.ko bug=warn
	;;
failnth)
	# failnth's own log oracle, which judges the kernel log after every injected fault: a WARN
	# planted after the first call of one sweep fails that call, and a KASAN report planted in
	# the next sweep turns lockdep off, which that sweep's lockdep check must see.
	failnth_only="ioctl-ident ioctl-liveness" failnth_plant="ioctl-ident:1:warn ioctl-liveness:1:uaf" \
		. /tests/scenarios/failnth.sh
	;;
rcu)
	check "edu_guard_break.ko is in the initramfs" test -f /lib/modules/edu_guard_break.ko
	# Whether a round's storm lands a call in the broken window is a race: runs of 6 rounds go
	# on until the oracle has fired, up to 5 runs.
	insmod /lib/modules/edu_guard_break.ko listener_guard=3
	run=0
	until [ $run -ge 5 ]; do
		run=$((run + 1))
		storm_rmmod "ignoring module_is_live" 6
		[ "$storm_late" -gt 0 ] && break
	done
	rmmod edu
	insmod /lib/modules/edu_guard_break.ko listener_guard=2
	run=0
	until [ $run -ge 5 ]; do
		run=$((run + 1))
		storm_rmmod "no grace period" 6
		dmesg | grep -q 'KASAN: slab-use-after-free in edu_client_event' && break
	done
	rmmod edu
	;;
rustkasan)
	# Init reads past the end of a KVec, then loads as usual.
	insmod /lib/modules/edu_guard_break.ko break_bug=1
	rmmod edu
	;;
dmafree)
	# A loop of DMA reads keeps a transfer in flight (each takes 100 ms) most of the time, and
	# the broken unbind frees the buffer under it: the transfer then ends at an unmapped
	# address. The buffer goes some 15-70 ms after unbind begins, so the transfer may have
	# ended already. Until one outlives the buffer (the driver saw the engine still busy after
	# the free, or the IOMMU has reported it already), bind again and retry, up to 8 times.
	insmod /lib/modules/edu_guard_break.ko break_bug=2
	bdf=$(edu_bdfs | head -n 1)
	for attempt in 1 2 3 4 5 6 7 8; do
		eductl /dev/edu0 loop-read 30 >/dev/null 2>&1 &
		sleep 1
		echo "$bdf" >/sys/bus/pci/drivers/edu/unbind
		wait
		sleep 0.2
		freed=$(dmesg | grep 'break_bug=2: ' | tail -n 1)
		echo "# attempt $attempt: ${freed#*: }"
		case $freed in *"busy: true)") break ;; esac
		dmesg | grep -q -E 'DMAR: \[DMA (Read|Write)|arm-smmu-v3 .*: event 0x' && break
		echo "$bdf" >/sys/bus/pci/drivers/edu/bind
		wait_for /dev/edu0
	done
	rmmod edu
	;;
esac
scenario_end
