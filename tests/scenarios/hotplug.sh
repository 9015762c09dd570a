# Surprise removal with calls in flight: the edu behind a PCIe root port is removed through QEMU's
# monitor (ACPI hotplug, q35's default for root ports) while processes are blocked in DMA and
# factorial waits and hold the file open. Every caller gets ENODEV, close is safe, nothing splats;
# added back, it is /dev/eduN again and works.
# skip-arch: arm64 virt has no ACPI hotplug; 7.3's native pciehp trips lockdep on removal (kernel.config)
# needs: hotplug
# qmp
# DMA is in flight at unbind (hot removal, shutdown): behind the emulated IOMMU, a transfer that
# outlives its buffer faults (the harness fails on an IOMMU fault), as on arm64, whose SMMUv3 is
# always there; strict mode, since lazy IOTLB invalidation lets a transfer that ends within 10 ms
# of the unmap through.
# qemu: -device intel-iommu,intremap=on
# qemu: -device pcie-root-port,id=rp1,slot=1,chassis=1 -device edu,bus=rp1,id=e1
# append: intel_iommu=on iommu.strict=1
. /tests/lib.sh
kmemleak_reset
bdf=0000:01:00.0
check "the edu is behind the root port" test -e /sys/bus/pci/devices/$bdf
check "insmod edu" load
check_eq "it is /dev/edu0" 0x010000ed eductl /dev/edu0 ident

for round in 1 2; do
	exec 3<>/dev/edu0
	start_callers 2 12
	sleep 1
	qmp device_del id=e1
	check "round $round: the device is removed" wait_gone /sys/bus/pci/devices/$bdf 30
	for p in $pids; do wait $p; done
	for i in 1 2; do
		check "round $round: DMA caller $i was served, then got ENODEV" sh -c \
			"grep -q 'reads=[1-9]' /tmp/dma$i && grep -q 'error: ENODEV' /tmp/dma$i"
	done
	check "round $round: the factorial caller got ENODEV" grep -q "error: ENODEV" /tmp/fact
	check_err "round $round: IDENT on the open file" ENODEV eductl fd:3 ident
	check_err "round $round: pread on the open file" ENODEV eductl fd:3 pread 0 4
	check "round $round: no /dev/edu0" test ! -e /dev/edu0
	exec 3>&-
	check_eq "round $round: close dropped the file's module references" 0 module_refs edu
	qmp device_add driver=edu bus=rp1 id=e1
	check "round $round: the device is back and bound" wait_for /dev/edu0 30
	check_eq "round $round: it works again" 479001600 eductl /dev/edu0 factorial 12
	check_eq "round $round: its DMA works again" 0badcafe sh -c \
		"eductl /dev/edu0 pwrite 8 0badcafe >/dev/null && eductl /dev/edu0 pread 8 4"
done
check "rmmod" unload
kmemleak_check "kmemleak clean"
scenario_end
