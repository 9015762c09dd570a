# The foundation: the driver binds edu, checks it, computes a factorial, and unloads cleanly.
# qemu: -device edu
. /tests/lib.sh
kmemleak_reset
check_eq "modinfo alias" "alias:          pci:v00001234d000011E8sv*sd*bc*sc*i*" \
	sh -c "modinfo edu | grep '^alias'"
# The deliberate bugs of the positive controls live only in their build (edu_guard_break.ko).
check_err "break_bug=1 is refused (only the controls' build has the deliberate bugs)" EINVAL load break_bug=1
check_err "break_bug=2 is refused" EINVAL load break_bug=2
check "insmod edu" load
kunit=/sys/kernel/debug/kunit/edu/results
if have kunit "KUnit: the edu suite ran at load" "KUnit: 9 edu tests passed" \
	"KUnit: no edu test failed"; then
	check "KUnit: the edu suite ran at load" test -r $kunit
	check_eq "KUnit: 9 edu tests passed" 9 sh -c "grep -cE '^ +ok [0-9]+ ' $kunit"
	check "KUnit: no edu test failed" sh -c "! grep -q 'not ok' $kunit"
fi
check "/dev/edu0 exists" test -c /dev/edu0
bdf=$(edu_bdfs | head -n 1)
check_eq "bound to edu driver" edu basename "$(readlink /sys/bus/pci/devices/$bdf/driver)"
check_eq "ioctl IDENT" 0x010000ed eductl /dev/edu0 ident
check_eq "ioctl FACTORIAL 5" 120 eductl /dev/edu0 factorial 5
check_eq "ioctl FACTORIAL 12" 479001600 eductl /dev/edu0 factorial 12
check "unbind" sh -c "echo $bdf > /sys/bus/pci/drivers/edu/unbind"
check "no /dev/edu0 after unbind" test ! -e /dev/edu0
check "rebind" sh -c "echo $bdf > /sys/bus/pci/drivers/edu/bind"
check_eq "ioctl IDENT after rebind" 0x010000ed eductl /dev/edu0 ident
check "rmmod edu" unload
check "device disabled after rmmod" test "$(cat /sys/bus/pci/devices/$bdf/enable)" = 0
kmemleak_check "kmemleak clean"
scenario_end
