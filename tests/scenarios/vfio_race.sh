# The VFIO rig's race benchmark as a test: client threads call continuously through the
# callback-core port while 1000 probe/remove cycles run under them (MSI), then 200 more with
# INTx; every call either completes with a correct result or is refused, and none reaches a
# removed device (violations=0; a late access would also fault on the PROT_NONE canary left
# where BAR0 was, killing the rig).
# qemu: -device intel-iommu,intremap=on -device edu
# append: intel_iommu=on
. /tests/lib.sh
. /tests/vfio.sh
kmemleak_reset
bdf=$(edu_bdfs | head -n 1)
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
	check "$label: 0 violations" grep -q ' violations=0$' /tmp/race.out
	check "$label: no wrong result, no error" grep -q ' wrong=0 errors=0 ' /tmp/race.out
	check "$label: calls completed during churn" sh -c "! grep -q ' calls_ok=0 ' /tmp/race.out"
	check "$label: calls were refused during churn" sh -c "! grep -q ' calls_refused=0 ' /tmp/race.out"
	check "$label: no panic" no_panic /tmp/race.out
}

race "msi" 1000 --irq msi
race "intx" 200 --irq intx
check_eq "the device works after the churn" 0x010000ed edu-rig $bdf ident
check "unbind from vfio-pci" from_vfio $bdf
kmemleak_check "kmemleak clean"
