# manual: `make run` boots this to show the driver at work; it is not part of `make test`.
# qemu: -device edu
. /tests/lib.sh
echo "--- loading edu.ko"
modinfo edu | grep -E '^(alias|parm)'
check "insmod edu" load
dmesg | grep -E 'edu [0-9a-f:.]+: ' | tail -n 5
bdf=$(edu_bdfs | head -n 1)
echo "--- /dev/edu0 on $bdf"
check_eq "identification" 0x010000ed eductl /dev/edu0 ident
echo "identification: $(eductl /dev/edu0 ident)"
echo "liveness(0x12345678): $(eductl /dev/edu0 liveness 0x12345678)"
for n in 0 1 5 10 12; do
	echo "factorial($n) = $(eductl /dev/edu0 factorial $n)"
done
check_eq "factorial 12" 479001600 eductl /dev/edu0 factorial 12
echo "factorial(13): $(eductl /dev/edu0 factorial 13 2>&1)"
echo "--- sysfs in /sys/bus/pci/devices/$bdf"
for f in ident irq_mode irq_count; do echo "$f: $(cat /sys/bus/pci/devices/$bdf/$f)"; done
echo "--- DMA through the device buffer"
echo "pwrite 4 bytes at 0: $(eductl /dev/edu0 pwrite 0 cafef00d)"
echo "pread 4 bytes at 0: $(eductl /dev/edu0 pread 0 4)"
check "rmmod edu" unload
scenario_end
