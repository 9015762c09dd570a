# Taking the device away from a running rig: unbinding vfio-pci while edu-rig holds the device
# (serving clients, or in the middle of probe/remove churn) completes within 3 s of the rig's own
# remove (and, in the churn, of the probe it may land in), because the rig listens to the
# request interrupt and releases the device (without it, vfio-pci would only ask again after
# 10 s); the rig exits 1 with a clear error and never panics. On the debug kernel closing the
# VFIO device alone takes most of a second, hence the bound relative to the rig's own times. Then the same with a PCI hot removal (sysfs remove), where vfio-ioctls' own
# VfioDevice drop would panic on the vanished sysfs directory if the rig did not guard against it.
# needs: vfio
# qemu: -device intel-iommu,intremap=on -device edu
# append: intel_iommu=on
. /tests/lib.sh
. /tests/vfio.sh
kmemleak_reset
bdf=$(edu_bdfs | head -n 1)

# limit_s: how long taking the device away may take, from the rig's output: its remove (serve
# prints "removed in N us"; the churn's summary line gives the longest probe and remove, since
# the unbind may land in either) plus 3 s for noticing the request and the kernel's own part of
# the removal on a loaded debug kernel (1.3 s measured). A rig that ignored the request would
# hold the device until vfio-pci's next request 10 s later, or until its run ends (an hour for
# serve). Empty if the output has none.
limit_s() {
	local us p r
	us=$(sed -n 's/^removed in \([0-9]*\) us.*/\1/p' /tmp/rig.out)
	if [ -z "$us" ]; then
		p=$(field probe_max_us /tmp/rig.out) r=$(field remove_max_us /tmp/rig.out)
		[ -n "$p" ] && [ -n "$r" ] && us=$((p + r))
	fi
	[ -n "$us" ] && awk "BEGIN { print $us / 1000000 + 3.0 }"
}

# take_away LABEL CMD...: runs CMD (a sysfs write taking the device away) with the rig in the
# background and checks timing, exit status and message.
take_away() {
	label=$1
	shift
	t0=$(uptime_s)
	check "$label: completes" "$@"
	t1=$(uptime_s)
	wait $rig
	rc=$?
	cat /tmp/rig.out
	limit=$(limit_s)
	echo "$label took $(awk "BEGIN { print $t1 - $t0 }") s (limit ${limit:-unknown} s)"
	check "$label: took under the rig's remove + 3 s" \
		awk "BEGIN { exit !(\"$limit\" != \"\" && $t1 - $t0 < ${limit:-0}) }"
	check_eq "$label: the rig exited with status 1" 1 echo $rc
	check "$label: the rig reported ENODEV" grep -q '^error: ENODEV (' /tmp/rig.out
	check "$label: no panic" no_panic /tmp/rig.out
}

check "bind $bdf to vfio-pci" to_vfio $bdf
start_rig $bdf '^serving' serve --clients 2
check "serve is running" grep -q '^serving' /tmp/rig.out
sleep 1
take_away "unbind while serving" write_file /sys/bus/pci/drivers/vfio-pci/unbind $bdf
check "serve: clients made calls before the unbind" grep -q 'after [1-9][0-9]* calls$' /tmp/rig.out
check "the message says vfio-pci asked for the device back" grep -q 'asked for the device back' /tmp/rig.out
check "$bdf is unbound" test ! -e /sys/bus/pci/devices/$bdf/driver

check "bind $bdf to vfio-pci again" to_vfio $bdf
check_eq "the device works after the forced release" 0x010000ed edu-rig $bdf ident
# Each cycle holds the device 100 ms, so that the clients' calls complete in every cycle.
start_rig $bdf '^race: first cycle done' race --clients 2 --cycles 1000000 --hold-ms 100
check "churn: the first probe/remove cycle is done" grep -q '^race: first cycle done' /tmp/rig.out
sleep 2
take_away "unbind during probe/remove churn" write_file /sys/bus/pci/drivers/vfio-pci/unbind $bdf
check "churn: the summary line still printed" grep -q '^race cycles=' /tmp/rig.out
check "churn: probe/remove cycles ran before the unbind" field_gt cycles 0 /tmp/rig.out
check "churn: calls completed" field_gt calls_ok 0 /tmp/rig.out
check_eq "churn: 0 violations" 0 field violations /tmp/rig.out

check "bind $bdf to vfio-pci for hot removal" to_vfio $bdf
start_rig $bdf '^serving' serve --clients 2
check "hot removal: serve is running" grep -q '^serving' /tmp/rig.out
sleep 1
take_away "hot removal while serving" write_file /sys/bus/pci/devices/$bdf/remove 1
check "hot removal: clients made calls before the removal" grep -q 'after [1-9][0-9]* calls$' /tmp/rig.out
check "$bdf is gone" test ! -e /sys/bus/pci/devices/$bdf
check "rescan" write_file /sys/bus/pci/rescan 1
check "$bdf is back" wait_for /sys/bus/pci/devices/$bdf
check "bind the rescanned $bdf to vfio-pci" to_vfio $bdf
check_eq "the rescanned device works" 0x010000ed edu-rig $bdf ident
check "unbind from vfio-pci" from_vfio $bdf
kmemleak_check "kmemleak clean"
scenario_end
