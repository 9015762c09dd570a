# Module and device lifetime with open files: rmmod is refused while /dev/edu0 is open (the
# kernel answers busybox's non-blocking delete_module with EWOULDBLOCK = EAGAIN); unbinding
# with the file open and callers blocked in the driver completes promptly, every call on the
# file then fails with ENODEV, close is safe, and a rebind gives a working device.
# qemu: -device edu
. /tests/lib.sh
kmemleak_reset
# A long completion timeout: unbind must not depend on it.
check "insmod edu timeout_ms=60000" load timeout_ms=60000
bdf=$(edu_bdfs)

exec 3<>/dev/edu0
check_err "rmmod with /dev/edu0 open is refused" EAGAIN unload
check_eq "device works after the refused rmmod" 120 eductl fd:3 factorial 5
check "the open file holds module references" sh -c "awk '\$1 == \"edu\" {exit !(\$3 > 0)}' /proc/modules"
exec 3>&-
check "rmmod after the last close" unload
check "insmod again" load timeout_ms=60000

# Three DMA loops and an ioctl loop share the open file: one DMA (100 ms of device time) runs,
# the rest wait in the driver for the device.
exec 3<>/dev/edu0
start_callers 3 7
sleep 1
t0=$(cut -d' ' -f1 /proc/uptime)
check "unbind with callers blocked in the driver" write_file /sys/bus/pci/drivers/edu/unbind $bdf
t1=$(cut -d' ' -f1 /proc/uptime)
check "unbind took under 5 s (the driver timeout is 60 s)" awk "BEGIN { exit !($t1 - $t0 < 5.0) }"
echo "unbind with blocked callers took $(awk "BEGIN { print $t1 - $t0 }") s"
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
check "close after unbind dropped the file's module references" sh -c \
	"awk '\$1 == \"edu\" {exit !(\$3 == 0)}' /proc/modules"
check "rebind" write_file /sys/bus/pci/drivers/edu/bind $bdf
check_eq "rebound device works" 5040 eductl /dev/edu0 factorial 7
check_eq "rebound device DMA works" c0ffee00 sh -c \
	"eductl /dev/edu0 pwrite 16 c0ffee00 >/dev/null && eductl /dev/edu0 pread 16 4"
check "rmmod" unload
kmemleak_check "kmemleak clean"
scenario_end
