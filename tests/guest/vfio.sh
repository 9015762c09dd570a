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
