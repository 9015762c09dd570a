# Bind/unbind cycles (edu_cycles: 30 in make test on the debug kernel, where a cycle under load
# takes a second or more; 50 until the suite's time budget; the old 200 with edu_cycles=200)
# while two processes hammer ioctls and sysfs reads on the device, checking every value they get
# back.
# qemu: -device edu
. /tests/lib.sh
edu_cycles=${edu_cycles:-30}
kmemleak_reset
check "insmod edu" load
bdf=$(edu_bdfs)
eductl /dev/edu0 hammer 3600 /sys/bus/pci/devices/$bdf >/tmp/h1 2>&1 &
h1=$!
eductl /dev/edu0 hammer 3600 /sys/bus/pci/devices/$bdf >/tmp/h2 2>&1 &
h2=$!
sleep 1
check "$edu_cycles bind/unbind cycles under load" sh -c "eductl $bdf cycle $edu_cycles >/tmp/cycles"
cat /tmp/cycles
kill $h1 $h2
wait $h1
rc1=$?
wait $h2
rc2=$?
cat /tmp/h1 /tmp/h2
# eductl hammer checks every value it gets back and exits 1 if any was wrong.
check_eq "hammer 1: exit status 0 (every value right)" 0 echo $rc1
check_eq "hammer 2: exit status 0 (every value right)" 0 echo $rc2
check "hammer 1 made ioctls" grep -q ' ioctl_ok=[1-9]' /tmp/h1
check "hammer 2 made ioctls" grep -q ' ioctl_ok=[1-9]' /tmp/h2
check "hammer 1 read sysfs" grep -q ' sysfs_ok=[1-9]' /tmp/h1
check "hammer 2 read sysfs" grep -q ' sysfs_ok=[1-9]' /tmp/h2
check "hammer 1: no wrong value" grep -q ' wrong=0 ' /tmp/h1
check "hammer 2: no wrong value" grep -q ' wrong=0 ' /tmp/h2
check_eq "device works after the cycles" 0x010000ed eductl /dev/edu0 ident
check_eq "factorial after the cycles" 479001600 eductl /dev/edu0 factorial 12
check_eq "DMA after the cycles" 0123456789abcdef sh -c \
	"eductl /dev/edu0 pwrite 0 0123456789abcdef >/dev/null && eductl /dev/edu0 pread 0 8"
check "rmmod" unload
kmemleak_check "kmemleak clean"
scenario_end
