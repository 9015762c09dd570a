# Every ioctl, read/write/lseek path and sysfs file of /dev/eduN, with their errors, on every edu
# device of the guest at once. Sourced by a scenario that sets IRQ_MODE (module parameter) and
# WANT_MODE (what sysfs irq_mode must say).
. /tests/lib.sh
kmemleak_reset

check "insmod edu irq_mode=$IRQ_MODE" load irq_mode="$IRQ_MODE"
set -- $(edu_bdfs)
check_eq "two edu devices" 2 echo $#
n=0
for bdf in "$@"; do
	dev=/dev/edu$n sys=/sys/bus/pci/devices/$bdf p="edu$n"
	check "$p: char device" test -c $dev
	check_eq "$p: ioctl IDENT" 0x010000ed eductl $dev ident
	for x in 0 1 0x12345678 0xffffffff; do
		check_eq "$p: ioctl LIVENESS $x" "$(printf '0x%08x' $((~x & 0xffffffff)))" eductl $dev liveness $x
	done
	want=1
	for k in 0 1 2 3 4 5 6 7 8 9 10 11 12; do
		[ $k -gt 0 ] && want=$((want * k))
		check_eq "$p: ioctl FACTORIAL $k" $want eductl $dev factorial $k
	done
	check_err "$p: ioctl FACTORIAL 13 is EOVERFLOW" EOVERFLOW eductl $dev factorial 13
	check_err "$p: ioctl FACTORIAL 4294967295 is EOVERFLOW" EOVERFLOW eductl $dev factorial 0xffffffff
	before=$(cat $sys/irq_count)
	check "$p: ioctl RAISE 0x1000" eductl $dev raise 0x1000
	check "$p: irq_count grew after RAISE" test "$(cat $sys/irq_count)" -gt "$before"
	check_err "$p: ioctl RAISE 0 is EINVAL" EINVAL eductl $dev raise 0
	check_err "$p: ioctl RAISE of the factorial completion bit is EINVAL" EINVAL eductl $dev raise 0x1
	check_err "$p: ioctl RAISE of the DMA completion bit is EINVAL" EINVAL eductl $dev raise 0x101
	check_err "$p: unknown ioctl nr is ENOTTY" ENOTTY eductl $dev ioctl 0xc0044563
	check_err "$p: unknown ioctl magic is ENOTTY" ENOTTY eductl $dev ioctl 0x80045801
	for op in ident liveness factorial raise; do
		check_err "$p: ioctl $op with a bad pointer is EFAULT" EFAULT eductl $dev badptr $op
	done

	# The buffer, through the DMA engine.
	head -c 4096 /dev/urandom >/tmp/pattern$n
	check_eq "$p: pwrite 4096 at 0" 4096 eductl $dev pwrite 0 @/tmp/pattern$n
	check_eq "$p: pread 4096 at 0" "" eductl $dev pread 0 4096 @/tmp/back$n
	check "$p: DMA data byte for byte" cmp /tmp/pattern$n /tmp/back$n
	check_eq "$p: pwrite 4 at 100" 4 eductl $dev pwrite 100 deadbeef
	check_eq "$p: pread 4 at 100" deadbeef eductl $dev pread 100 4
	check_eq "$p: pread at 4096 returns 0 bytes" "" eductl $dev pread 4096 16
	check_eq "$p: pread at 5000 returns 0 bytes" "" eductl $dev pread 5000 16
	check_err "$p: pwrite at 4096 is ENOSPC" ENOSPC eductl $dev pwrite 4096 00
	check_err "$p: pwrite at 8192 is ENOSPC" ENOSPC eductl $dev pwrite 8192 00
	check_eq "$p: pwrite crossing the end is shortened" 6 eductl $dev pwrite 4090 00112233445566778899aabbccddeeff
	check_eq "$p: pread crossing the end is shortened" 001122334455 eductl $dev pread 4090 16
	check_eq "$p: lseek SET 4096" 4096 eductl $dev seek 4096 set
	check_eq "$p: lseek END 0" 4096 eductl $dev seek 0 end
	check_eq "$p: lseek SET 0" 0 eductl $dev seek 0 set
	check_err "$p: lseek SET 4097 is EINVAL" EINVAL eductl $dev seek 4097 set
	check_err "$p: lseek SET -1 is EINVAL" EINVAL eductl $dev seek 1 set neg
	check_err "$p: lseek END 1 is EINVAL" EINVAL eductl $dev seek 1 end
	check "$p: read(2)/write(2) at the file offset" sh -c \
		"printf 'hello' >$dev && dd if=$dev bs=5 count=1 2>/dev/null | grep -qx hello"

	# sysfs.
	check_eq "$p: sysfs ident" 0x010000ed cat $sys/ident
	check_eq "$p: sysfs irq_mode" "$WANT_MODE" cat $sys/irq_mode
	check "$p: sysfs irq_count is decimal" sh -c "cat $sys/irq_count | grep -qE '^[0-9]+$'"
	check_err "$p: sysfs factorial before any write is ENODATA" ENODATA read_file $sys/factorial
	check "$p: sysfs factorial write 10" write_file $sys/factorial 10
	check_eq "$p: sysfs factorial reads 10!" 3628800 cat $sys/factorial
	check_err "$p: sysfs factorial write 13 is EOVERFLOW" EOVERFLOW write_file $sys/factorial 13
	check_err "$p: sysfs factorial write junk is EINVAL" EINVAL write_file $sys/factorial junk
	check_err "$p: sysfs ident is read-only" EACCES write_file $sys/ident 1
	irq=$(cat $sys/irq)
	check "$p: /proc/interrupts has edu on IRQ $irq ($WANT_TYPE)" sh -c \
		"grep -E '^ *$irq:.*$WANT_TYPE.* edu[0-9]+\$' /proc/interrupts"
	check "$p: /proc/iomem has the edu region" grep -q ': edu$' /proc/iomem
	n=$((n + 1))
done

# The devices are independent: each keeps its own data.
check_eq "edu0 and edu1 hold different data" 2 sh -c \
	"eductl /dev/edu0 pwrite 0 00000000 >/dev/null && eductl /dev/edu1 pwrite 0 11111111 >/dev/null &&
	 { eductl /dev/edu0 pread 0 4; eductl /dev/edu1 pread 0 4; } | sort -u | wc -l"

# Concurrent users of one device are serialised, not corrupted.
writer() {
	i=0
	while [ $i -lt 8 ]; do
		eductl /dev/edu0 pwrite $1 $2 >/dev/null || return 1
		[ "$(eductl /dev/edu0 pread $1 8)" = "$2" ] || return 1
		i=$((i + 1))
	done
}
writer 0 aaaaaaaaaaaaaaaa & a=$!
writer 2048 bbbbbbbbbbbbbbbb & b=$!
# `wait` must run in this shell, not in the subshell `check` would give it.
wait $a
check_eq "concurrent DMA user A saw only its data" 0 echo $?
wait $b
check_eq "concurrent DMA user B saw only its data" 0 echo $?

# Unbinding one device leaves the other working; rebinding takes the lowest free number.
bdf1=$2
check "unbind edu1" write_file /sys/bus/pci/drivers/edu/unbind $bdf1
check "no /dev/edu1 after unbind" test ! -e /dev/edu1
check "no sysfs ident after unbind" test ! -e /sys/bus/pci/devices/$bdf1/ident
check_eq "edu0 works with edu1 unbound" 120 eductl /dev/edu0 factorial 5
check_eq "edu0 DMA works with edu1 unbound" 5a5a5a5a sh -c \
	"eductl /dev/edu0 pwrite 0 5a5a5a5a >/dev/null && eductl /dev/edu0 pread 0 4"
check "rebind edu1" write_file /sys/bus/pci/drivers/edu/bind $bdf1
check_eq "rebound device is /dev/edu1 again" 0x010000ed eductl /dev/edu1 ident

check "rmmod edu" unload
check "no /dev/edu* after rmmod" sh -c "! ls /dev/edu* 2>/dev/null"
check "no edu interrupt after rmmod" sh -c "! grep -qE ' edu[0-9]*\$' /proc/interrupts"
for bdf in $(edu_bdfs); do
	check "device $bdf disabled after rmmod" test "$(cat /sys/bus/pci/devices/$bdf/enable)" = 0
done
kmemleak_check "kmemleak clean"
