# Surprise removal under a serving VFIO rig: the edu behind a PCIe root port, bound to vfio-pci and
# served by edu-rig, is removed through QEMU's monitor. vfio-pci asks the rig for the device back,
# the rig releases it and exits 1 with a clear error, never panics; added back, the device is
# bound to vfio-pci again and works.
# skip-arch: arm64 virt has no ACPI hotplug; 7.3's native pciehp trips lockdep on removal (kernel.config)
# needs: hotplug vfio
# qmp
# qemu: -device intel-iommu,intremap=on
# qemu: -device pcie-root-port,id=rp1,slot=1,chassis=1 -device edu,bus=rp1,id=e1
# append: intel_iommu=on iommu.strict=1
. /tests/lib.sh
. /tests/vfio.sh
kmemleak_reset
bdf=0000:01:00.0
rig_ident() { to_vfio $bdf >/dev/null && edu-rig $bdf ident; }
for round in 1 2; do
	check "round $round: bind $bdf to vfio-pci" to_vfio $bdf
	start_rig $bdf '^serving' serve --clients 2
	check "round $round: the rig is serving" grep -q '^serving' /tmp/rig.out
	sleep 1
	qmp device_del id=e1
	check "round $round: the device is removed" wait_gone /sys/bus/pci/devices/$bdf 30
	wait $rig
	rc=$?
	cat /tmp/rig.out
	check_eq "round $round: the rig exited with status 1" 1 echo $rc
	check "round $round: the rig reported ENODEV" grep -q '^error: ENODEV (' /tmp/rig.out
	check "round $round: no panic" no_panic /tmp/rig.out
	qmp device_add driver=edu bus=rp1 id=e1
	check "round $round: the device is back" wait_for /sys/bus/pci/devices/$bdf 30
	# The driver_override went with the removed device: the new one is unbound.
	check_eq "round $round: the new device works through the rig" 0x010000ed rig_ident
	check "round $round: unbind from vfio-pci" from_vfio $bdf
done
kmemleak_check "kmemleak clean"
scenario_end
