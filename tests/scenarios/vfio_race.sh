# The VFIO rig's race benchmark as a test: client threads call continuously through the
# callback-core port while 1000 probe/remove cycles run under them (MSI), then 200 more with
# INTx; every call either completes with a correct result or is refused, and none reaches a
# removed device (violations=0; a late access would also fault on the PROT_NONE canary left
# where BAR0 was, killing the rig). In the same guest run, the kernel driver's counterpart: 200
# unbind/bind cycles of a second edu while two processes use its /dev/eduN; both lifecycles are
# printed side by side.
# qemu: -device intel-iommu,intremap=on -device edu -device edu
# append: intel_iommu=on
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
	check "$label: 0 violations" grep -q ' violations=0$' /tmp/race.out
	check "$label: no wrong result, no error" grep -q ' wrong=0 errors=0 ' /tmp/race.out
	check "$label: calls completed during churn" sh -c "! grep -q ' calls_ok=0 ' /tmp/race.out"
	check "$label: calls were refused during churn" sh -c "! grep -q ' calls_refused=0 ' /tmp/race.out"
	check "$label: no panic" no_panic /tmp/race.out
}

race "msi" 1000 --irq msi
cp /tmp/race.out /tmp/race.msi
race "intx" 200 --irq intx
check_eq "the device works after the churn" 0x010000ed edu-rig $bdf ident
check "unbind from vfio-pci" from_vfio $bdf

# The kernel driver's lifecycle under load, on the second device.
check "insmod edu" load
kdev=$(ls /dev/edu* | head -n 1)
eductl $kdev hammer 3600 /sys/bus/pci/devices/$kbdf >/tmp/kh1 2>&1 &
kh1=$!
eductl $kdev hammer 3600 /sys/bus/pci/devices/$kbdf >/tmp/kh2 2>&1 &
kh2=$!
check "kernel driver: 200 unbind/bind cycles under load" sh -c "eductl $kbdf cycle 200 >/tmp/kcycles"
kill $kh1 $kh2
wait $kh1 $kh2
cat /tmp/kcycles /tmp/kh1 /tmp/kh2
check "rmmod edu" unload

# field NAME FILE: the value of NAME=value in FILE's summary line.
field() { sed -n "s/.*\b$1=\([^ ]*\).*/\1/p" "$2" | head -n 1; }
us_to_ms() { awk "BEGIN { printf \"%.1f\", $1 / 1000 }"; }
echo "=== lifecycle table"
echo "| lifecycle | cycles | probe / bind median ms | remove / unbind median ms | callers | calls done | calls refused |"
echo "|---|---:|---:|---:|---|---:|---:|"
echo "| kernel driver: unbind + bind | 200 | $(field bind_median_ms /tmp/kcycles) | $(field unbind_median_ms /tmp/kcycles) | 2 processes, ioctls + sysfs | $(($(field ok /tmp/kh1) + $(field ok /tmp/kh2))) | $(($(field failed /tmp/kh1) + $(field failed /tmp/kh2))) |"
echo "| VFIO rig: remove + probe (MSI) | $(field cycles /tmp/race.msi) | $(us_to_ms $(field probe_median_us /tmp/race.msi)) | $(us_to_ms $(field remove_median_us /tmp/race.msi)) | 2 threads, callback-core port | $(field calls_ok /tmp/race.msi) | $(field calls_refused /tmp/race.msi) |"
echo "=== end"
kmemleak_check "kmemleak clean"
scenario_end
