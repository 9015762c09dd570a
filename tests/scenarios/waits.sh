# Waits on the device end the way the contract says: a signal interrupts a DMA wait with EINTR
# (ERESTARTSYS inside: with SA_RESTART the read is restarted), and a completion that does not
# come in time gives ETIMEDOUT; the device stays usable after both. The DMA engine always takes
# 100 ms of device time, which makes both deterministic.
# At the end the driver stays bound with a DMA reader inside the device: power-off must run the
# driver's shutdown (revoke, quiesce, bus mastering off), which the harness finds on the console.
# DMA is in flight at unbind (hot removal, shutdown): behind the emulated IOMMU, a transfer that
# outlives its buffer faults (the harness fails on an IOMMU fault), as on arm64, whose SMMUv3 is
# always there; strict mode, since lazy IOTLB invalidation lets a transfer that ends within 10 ms
# of the unmap through.
# qemu: -device intel-iommu,intremap=on -device edu
# append: intel_iommu=on iommu.strict=1
# log: edu 0000:00:..\..: edu0: shut down: callers revoked, interrupt sources off, bus mastering off
. /tests/lib.sh
kmemleak_reset
check "insmod edu" load
check_err "a signal during a DMA read gives EINTR" EINTR eductl /dev/edu0 sigread 20
check_eq "the device works after the interrupted DMA" 4096 eductl /dev/edu0 sigread 5000
# ERESTARTSYS, not EINTR: a handler with SA_RESTART gets the read restarted, and it completes.
check_eq "a signal with SA_RESTART during a DMA read restarts it" "4096 after 1 signals" \
	eductl /dev/edu0 sigread 20 restart
check "rmmod" unload
check "insmod edu timeout_ms=50" load timeout_ms=50
check_err "a DMA read slower than timeout_ms gives ETIMEDOUT" ETIMEDOUT eductl /dev/edu0 pread 0 16
check_eq "fast commands still complete" 3628800 eductl /dev/edu0 factorial 10
check "the device was not given up" sh -c "! dmesg | grep -q 'giving the device up'"
check "rmmod" unload
kmemleak_check "kmemleak clean"
check "insmod edu (left bound for the shutdown at power-off)" load
eductl /dev/edu0 loop-read 100000 >/dev/null 2>&1 &
check "a DMA reader is running when the script ends" sh -c "sleep 1; kill -0 $!"
scenario_end
