# Module and device lifetime with open files: rmmod is refused while /dev/edu0 is open (the
# kernel answers busybox's non-blocking delete_module with EWOULDBLOCK = EAGAIN); unbinding
# with the file open and callers blocked in the driver completes promptly, every call on the
# file then fails with ENODEV, close is safe, and a rebind gives a working device.
# DMA is in flight at unbind: behind the emulated IOMMU, a transfer that outlives its buffer faults
# (the harness fails on an IOMMU fault), as on arm64, whose SMMUv3 is always there; strict mode,
# since lazy IOTLB invalidation lets a transfer that ends within 10 ms of the unmap through.
# qemu: -device intel-iommu,intremap=on -device edu
# append: intel_iommu=on iommu.strict=1
. /tests/lib.sh
kmemleak_reset
# A long completion timeout (120 s): unbind must not depend on it.
check "insmod edu timeout_ms=120000" load timeout_ms=120000
bdf=$(edu_bdfs)

exec 3<>/dev/edu0
check_err "rmmod with /dev/edu0 open is refused" EAGAIN unload
check_eq "device works after the refused rmmod" 120 eductl fd:3 factorial 5
check "the open file holds module references" module_refs_above edu 0
exec 3>&-
check "rmmod after the last close" unload
check "insmod again" load timeout_ms=120000

# Three DMA loops and an ioctl loop share the open file: one DMA (100 ms of device time) runs,
# the rest wait in the driver for the device.
exec 3<>/dev/edu0
irqs=$(cat /sys/bus/pci/devices/$bdf/irq_count)
start_callers 3 7
# They are at work once the device has completed one of their commands (its interrupt counted).
check "the callers' commands reach the device" \
	wait_until 60 count_above /sys/bus/pci/devices/$bdf/irq_count "$irqs"
# The unbind runs in the background, and is waited for up to 60 s. That bound is not a speed but
# half the command timeout: an unbind that waited for a blocked command to time out would take
# the whole 120 s, less at most the 0.1 s that the command in flight (a DMA) had run.
rm -f /tmp/unbound
t0=$(cut -d' ' -f1 /proc/uptime)
(write_file /sys/bus/pci/drivers/edu/unbind $bdf >/tmp/unbind.out 2>&1
	echo "$? $(cut -d' ' -f1 /proc/uptime)" >/tmp/unbound.t && mv /tmp/unbound.t /tmp/unbound) &
ub=$!
check "unbind with callers blocked in the driver returns within half the command timeout" \
	wait_until 60 test -e /tmp/unbound
wait $ub
check_eq "unbind with callers blocked in the driver succeeds" 0 sh -c \
	"cut -d' ' -f1 /tmp/unbound; cat /tmp/unbind.out"
[ -s /tmp/unbound ] && echo "unbind with blocked callers took $(awk "BEGIN { print $(cut -d' ' -f2 /tmp/unbound) - $t0 }") s"
for p in $pids; do wait $p; done
for i in 1 2 3; do
	check "blocked DMA caller $i got ENODEV" grep -q "error: ENODEV" /tmp/dma$i
done
check "blocked ioctl caller got ENODEV" grep -q "error: ENODEV" /tmp/fact
check_err "IDENT on the open file after unbind" ENODEV eductl fd:3 ident
check_err "LIVENESS on the open file after unbind" ENODEV eductl fd:3 liveness 1
check_err "FACTORIAL on the open file after unbind" ENODEV eductl fd:3 factorial 3
check_err "RAISE on the open file after unbind" ENODEV eductl fd:3 raise 0x1000
check_err "pread on the open file after unbind" ENODEV eductl fd:3 pread 0 4
check_err "pwrite on the open file after unbind" ENODEV eductl fd:3 pwrite 0 00
check_err "lseek on the open file after unbind" ENODEV eductl fd:3 seek 0 set
check_err "rmmod with the file still open is refused" EAGAIN unload
exec 3>&-
check_eq "close after unbind dropped the file's module references" 0 module_refs edu
check "rebind" write_file /sys/bus/pci/drivers/edu/bind $bdf
check_eq "rebound device works" 5040 eductl /dev/edu0 factorial 7
check_eq "rebound device DMA works" c0ffee00 sh -c \
	"eductl /dev/edu0 pwrite 16 c0ffee00 >/dev/null && eductl /dev/edu0 pread 16 4"
check "rmmod" unload
kmemleak_check "kmemleak clean"
scenario_end
