# The VFIO rig's race benchmark as a test: client threads call continuously through the
# callback-core port while probe/remove cycles run under them ($race_cycles with MSI, then
# $race_intx_cycles with INTx); every call either completes with a correct result or is refused,
# and no call is still running when remove tears its device down: violations=0, where the oracle
# is the port's generation, checked at the end of every call (the host test
# race_oracle_catches_a_remove_that_does_not_drain shows that it fires on a remove that does not
# drain). The drain must really have been exercised: removes_with_calls_in_flight > 0 (a late
# BAR access would also fault on the PROT_NONE canary left where BAR0 was, killing the rig). In
# the same guest run, the kernel driver's counterpart: $race_kernel_cycles unbind/bind cycles of
# the second edu while two processes use its /dev/eduN (value-checked); both lifecycles are
# printed side by side.
#
# Cycle counts: `make test` runs a short race, the defaults below (on the debug kernel under TCG
# a probe/remove cycle takes about 0.7 s; 100 MSI cycles took 69 s and every one of them removed
# with calls in flight, so 50 still prove the point); `make bench` (vfio-rig/bench-guest.sh) runs
# the full 1000 MSI + 200 INTx + 200 kernel cycles by overriding them on the kernel command line.
# qemu: -device intel-iommu,intremap=on -device edu -device edu
# append: intel_iommu=on race_cycles=50 race_intx_cycles=30 race_kernel_cycles=30
. /tests/lib.sh
. /tests/vfio.sh
kmemleak_reset
set -- $(edu_bdfs)
bdf=$1 kbdf=$2
check "bind $bdf to vfio-pci" to_vfio $bdf

# race LABEL CYCLES ARGS...
race() {
	label=$1 cycles=$2
	shift 2
	t0=$(uptime_s)
	edu-rig "$@" $bdf race --clients 2 --cycles $cycles >/tmp/race.out 2>&1
	rc=$?
	t1=$(uptime_s)
	cat /tmp/race.out
	echo "$label: $cycles cycles took $(awk "BEGIN { print $t1 - $t0 }") s"
	check_eq "$label: exit status 0" 0 echo $rc
	check "$label: $cycles cycles done" grep -q "^race cycles=$cycles " /tmp/race.out
	check_eq "$label: 0 violations" 0 field violations /tmp/race.out
	check_eq "$label: no wrong result" 0 field wrong /tmp/race.out
	check_eq "$label: no error" 0 field errors /tmp/race.out
	check "$label: removes had to wait for calls in flight" \
		field_gt removes_with_calls_in_flight 0 /tmp/race.out
	check "$label: calls completed during churn" field_gt calls_ok 0 /tmp/race.out
	check "$label: calls were refused during churn" field_gt calls_refused 0 /tmp/race.out
	check "$label: no panic" no_panic /tmp/race.out
}

race "msi" $race_cycles --irq msi
cp /tmp/race.out /tmp/race.msi
race "intx" $race_intx_cycles --irq intx
check_eq "the device works after the churn" 0x010000ed edu-rig $bdf ident

# The kernel driver's lifecycle under load, on the second device; $bdf stays on vfio-pci, so
# the edu driver binds $kbdf only, and the node is the one sysfs names for $kbdf.
check "insmod edu" load
knode=$(ls /sys/bus/pci/devices/$kbdf/edu 2>/dev/null)
kdev=/dev/$knode
check "$kbdf has a /dev/edu node ($kdev)" test -c "$kdev"
check_eq "/dev/edu* is only $kbdf's" "$kdev" sh -c 'ls /dev/edu*'
eductl $kdev hammer 3600 /sys/bus/pci/devices/$kbdf >/tmp/kh1 2>&1 &
kh1=$!
eductl $kdev hammer 3600 /sys/bus/pci/devices/$kbdf >/tmp/kh2 2>&1 &
kh2=$!
sleep 1
check "kernel driver: $race_kernel_cycles unbind/bind cycles under load" \
	sh -c "eductl $kbdf cycle $race_kernel_cycles >/tmp/kcycles"
check_eq "kernel driver: $kbdf kept its node" "$knode" ls /sys/bus/pci/devices/$kbdf/edu
kill $kh1 $kh2
wait $kh1
rc1=$?
wait $kh2
rc2=$?
cat /tmp/kcycles /tmp/kh1 /tmp/kh2
for h in 1 2; do
	eval rc=\$rc$h
	check_eq "hammer $h: exit status 0 (every value right)" 0 echo $rc
	check_eq "hammer $h: no wrong value" 0 field wrong /tmp/kh$h
	check "hammer $h: ioctls succeeded on $kdev" field_gt ioctl_ok 0 /tmp/kh$h
	check "hammer $h: sysfs reads succeeded" field_gt sysfs_ok 0 /tmp/kh$h
	check "hammer $h: its ioctls saw $kbdf go away (reopened)" field_gt reopened 0 /tmp/kh$h
done
check "rmmod edu" unload
check "unbind from vfio-pci" from_vfio $bdf

us_to_ms() { awk "BEGIN { printf \"%.1f\", $1 / 1000 }"; }
echo "=== lifecycle table"
echo "| lifecycle | cycles | probe / bind median ms | remove / unbind median ms | callers | calls done | calls refused | removes that waited |"
echo "|---|---:|---:|---:|---|---:|---:|---:|"
echo "| kernel driver: unbind + bind | $race_kernel_cycles | $(field bind_median_ms /tmp/kcycles) | $(field unbind_median_ms /tmp/kcycles) | 2 processes, ioctls + sysfs | $(($(field ok /tmp/kh1) + $(field ok /tmp/kh2))) | $(($(field failed /tmp/kh1) + $(field failed /tmp/kh2))) | |"
echo "| VFIO rig: remove + probe (MSI) | $(field cycles /tmp/race.msi) | $(us_to_ms $(field probe_median_us /tmp/race.msi)) | $(us_to_ms $(field remove_median_us /tmp/race.msi)) | 2 threads, callback-core port | $(field calls_ok /tmp/race.msi) | $(field calls_refused /tmp/race.msi) | $(field removes_with_calls_in_flight /tmp/race.msi) |"
echo "=== end"
# The callers' latency during churn, as 101 quantiles each (make bench charts them).
check_eq "the kernel callers' latency quantiles" 101 \
	echo "$(field ioctl_quantiles_us /tmp/kh1 | tr , '\n' | grep -c .)"
check_eq "the rig callers' latency quantiles" 101 \
	echo "$(field call_quantiles_us /tmp/race.msi | tr , '\n' | grep -c .)"
echo "=== latency quantiles"
printf 'kernel driver: ioctl during unbind/bind (%s calls)\t%s\n' "$(field ioctl_ok /tmp/kh1)" \
	"$(field ioctl_quantiles_us /tmp/kh1)"
printf 'VFIO rig: port call during remove/probe, MSI (%s calls)\t%s\n' \
	"$(field calls_ok /tmp/race.msi)" "$(field call_quantiles_us /tmp/race.msi)"
echo "=== end"
kmemleak_check "kmemleak clean"
scenario_end
