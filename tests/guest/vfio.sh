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

# uptime_s: seconds since boot, with centiseconds.
uptime_s() { cut -d' ' -f1 /proc/uptime; }

# no_panic FILE: FILE (a rig's output) shows no Rust panic.
no_panic() { ! grep -q 'panicked' "$1"; }
