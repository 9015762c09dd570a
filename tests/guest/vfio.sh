# Helpers of the VFIO rig scenarios, sourced after /tests/lib.sh.

# vfio_group BDF: the IOMMU group number of BDF.
vfio_group() { basename "$(readlink /sys/bus/pci/devices/$1/iommu_group)"; }

# to_vfio BDF: unbinds BDF from its driver (if any), binds it to vfio-pci and waits for its
# group's /dev/vfio node.
to_vfio() {
	d=/sys/bus/pci/devices/$1
	if [ -e $d/driver ]; then echo $1 >$d/driver/unbind || return 1; fi
	echo vfio-pci >$d/driver_override || return 1
	echo $1 >/sys/bus/pci/drivers_probe || return 1
	[ "$(basename "$(readlink $d/driver)")" = vfio-pci ] || return 1
	wait_for /dev/vfio/$(vfio_group $1)
}

# from_vfio BDF: unbinds BDF from vfio-pci and clears the driver override.
from_vfio() {
	echo $1 >/sys/bus/pci/drivers/vfio-pci/unbind || return 1
	echo >/sys/bus/pci/devices/$1/driver_override
}

# IOMMU_FAULT: what an IOMMU translation fault looks like in the kernel log: the Intel IOMMU's
# "DMAR: [DMA Read/Write ...]" on x86, the SMMUv3's "event 0x.. received" on arm64.
IOMMU_FAULT='DMAR: \[DMA\|arm-smmu-v3 .*: event 0x[0-9a-f]* received'

# uptime_s: seconds since boot, with centiseconds.
uptime_s() { cut -d' ' -f1 /proc/uptime; }

# no_panic FILE: FILE (a rig's output) shows no Rust panic.
no_panic() { ! grep -q 'panicked' "$1"; }

# field NAME FILE: the value of NAME=value in FILE's first line that has one (empty if none).
field() { sed -n "s/.*\b$1=\([^ ]*\).*/\1/p" "$2" | head -n 1; }

# field_gt NAME MIN FILE: FILE has NAME=value with an integer value > MIN.
field_gt() {
	local v
	v=$(field "$1" "$3")
	case $v in '' | *[!0-9]*) echo "no integer $1= in $3 (got '$v')"; return 1 ;; esac
	[ "$v" -gt "$2" ] || { echo "$1=$v, want > $2"; return 1; }
}

# no_dmesg PATTERN: the kernel log (which must be readable) has no line matching PATTERN.
no_dmesg() {
	local log
	log=$(dmesg) || { echo "dmesg failed"; return 1; }
	[ -n "$log" ] || { echo "dmesg is empty"; return 1; }
	! echo "$log" | grep -q "$1" || { echo "$log" | grep "$1" | tail -n 1; return 1; }
}

# start_rig BDF READY ARGS...: starts `edu-rig BDF ARGS` in the background (output /tmp/rig.out,
# pid in $rig) and waits up to 30 s (a probe takes seconds on a loaded debug kernel) until its
# output has a line matching READY.
start_rig() {
	local bdf=$1 ready=$2 i=0
	shift 2
	edu-rig "$bdf" "$@" >/tmp/rig.out 2>&1 &
	rig=$!
	while ! grep -q "$ready" /tmp/rig.out && [ $i -lt 300 ]; do
		sleep 0.1
		i=$((i + 1))
	done
}

# same NAME WANT ARGS...: the differential check: `eductl $dev ARGS` (the kernel driver) and
# `edu-rig $vb ARGS` (the rig on vfio-pci; the scenario sets dev and vb) must both give WANT
# (errors compared by errno name, see result), so that two sides failing alike do not pass.
# Prints the comparison as a table row (same_header prints the header).
same() {
	local name=$1 want=$2 k r ok=yes
	shift 2
	k=$(result eductl $dev "$@")
	r=$(result edu-rig $vb "$@")
	if [ "$k" = "$want" ] && [ "$r" = "$want" ]; then
		pass "same: $name ($want)"
	else
		ok=NO
		fail "same: $name" "want '$want', kernel '$k', rig '$r'"
	fi
	echo "| $name | ${k:-(nothing)} | ${r:-(nothing)} | $ok |"
}
same_header() {
	echo "| operation | $dev | edu-rig $vb | same? |"
	echo "|---|---|---|---|"
}

# rig_race LABEL BDF CYCLES [FLAGS...]: the rig's race on BDF (bound to vfio-pci): 2 client
# threads call through the port during CYCLES probe/remove cycles. Its summary line goes to
# /tmp/race.LABEL, its wall time (seconds) to $took; checked: exit 0, every cycle done, no
# violation (no call still running when its device was torn down), no wrong result or error,
# and the drain exercised (removes that waited for calls in flight; calls done and refused).
rig_race() {
	local label=$1 bdf=$2 cycles=$3 rc t0
	shift 3
	t0=$(uptime_s)
	edu-rig "$@" $bdf race --clients 2 --cycles $cycles >/tmp/race.$label 2>&1
	rc=$?
	took=$(awk "BEGIN { print $(uptime_s) - $t0 }")
	check_eq "$label: exit status 0" 0 echo $rc
	check "$label: $cycles cycles done" grep -q "^race cycles=$cycles " /tmp/race.$label
	check_eq "$label: 0 violations" 0 field violations /tmp/race.$label
	check_eq "$label: no wrong result" 0 field wrong /tmp/race.$label
	check_eq "$label: no error" 0 field errors /tmp/race.$label
	check "$label: removes had to wait for calls in flight" \
		field_gt removes_with_calls_in_flight 0 /tmp/race.$label
	check "$label: calls completed during churn" field_gt calls_ok 0 /tmp/race.$label
	check "$label: calls were refused during churn" field_gt calls_refused 0 /tmp/race.$label
	check "$label: no panic" no_panic /tmp/race.$label
}

# kernel_churn BDF CYCLES: the kernel driver's lifecycle under load: CYCLES unbind/bind cycles of
# BDF (bound to edu) while two value-checking `eductl hammer` processes use its /dev/eduN and its
# sysfs files. Results in /tmp/kcycles (timings) and /tmp/kh1, /tmp/kh2 (the callers), checked:
# every cycle done, BDF kept its node, every value right, calls succeeded and saw BDF go away.
kernel_churn() {
	local bdf=$1 cycles=$2 node h p1 p2 rc1 rc2 rc
	node=$(ls /sys/bus/pci/devices/$bdf/edu 2>/dev/null)
	eductl /dev/$node hammer 3600 /sys/bus/pci/devices/$bdf >/tmp/kh1 2>&1 &
	p1=$!
	eductl /dev/$node hammer 3600 /sys/bus/pci/devices/$bdf >/tmp/kh2 2>&1 &
	p2=$!
	sleep 1
	check "kernel driver: $cycles unbind/bind cycles under load" \
		sh -c "eductl $bdf cycle $cycles >/tmp/kcycles"
	check_eq "kernel driver: $bdf kept its node" "$node" ls /sys/bus/pci/devices/$bdf/edu
	kill $p1 $p2
	wait $p1
	rc1=$?
	wait $p2
	rc2=$?
	for h in 1 2; do
		eval rc=\$rc$h
		check_eq "hammer $h: exit status 0 (every value right)" 0 echo $rc
		check_eq "hammer $h: no wrong value" 0 field wrong /tmp/kh$h
		check "hammer $h: ioctls succeeded on /dev/$node" field_gt ioctl_ok 0 /tmp/kh$h
		check "hammer $h: sysfs reads succeeded" field_gt sysfs_ok 0 /tmp/kh$h
		check "hammer $h: its ioctls saw $bdf go away (reopened)" field_gt reopened 0 /tmp/kh$h
	done
}

# lifecycle_table RACE: the kernel driver's lifecycle (kernel_churn's results) beside the rig's
# (RACE, a rig_race summary file), as a table between "=== lifecycle table" and "=== end"
# (vfio-rig/bench-guest.sh takes it from there).
lifecycle_table() {
	local ms='{ printf "%.1f", $1 / 1000 }'
	echo "=== lifecycle table"
	echo "| lifecycle | cycles | probe / bind median ms | remove / unbind median ms | callers | calls done | calls refused | removes that waited |"
	echo "|---|---:|---:|---:|---|---:|---:|---:|"
	echo "| kernel driver: unbind + bind | $(field cycles /tmp/kcycles) | $(field bind_median_ms /tmp/kcycles) | $(field unbind_median_ms /tmp/kcycles) | 2 processes, ioctls + sysfs | $(($(field ok /tmp/kh1) + $(field ok /tmp/kh2))) | $(($(field failed /tmp/kh1) + $(field failed /tmp/kh2))) | |"
	echo "| VFIO rig: remove + probe ($(field irq $1 | tr a-z A-Z)) | $(field cycles $1) | $(echo $(field probe_median_us $1) | awk "$ms") | $(echo $(field remove_median_us $1) | awk "$ms") | 2 threads, callback-core port | $(field calls_ok $1) | $(field calls_refused $1) | $(field removes_with_calls_in_flight $1) |"
	echo "=== end"
}
