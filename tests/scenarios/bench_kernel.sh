# The listener's in-kernel calibration (driver/calibrate.rs) on the bench kernel. Run from the
# host by tests/bench-kernel.sh (make bench-kernel) at -smp 1 and -smp 2, which extracts the
# table into target/bench/kernel.md. It refuses a debug kernel: timings are never taken there.
# manual
# needs: debugfs
# qemu: -device edu
. /tests/lib.sh
check "insmod edu" load
cat /sys/kernel/debug/edu/calibrate >/tmp/cal
echo "=== calibration"
cat /tmp/cal
echo "=== end"
check "a kernel without debug options" grep -q '^kernel: no debug options' /tmp/cal
check_eq "online CPUs as booted" "$(grep -c ^processor /proc/cpuinfo)" \
	sed -n 's/^cpus: \([0-9]*\) .*/\1/p' /tmp/cal
check_eq "seven variants measured" 7 grep -cE ' [0-9]+\.[0-9]  [0-9]+\.[0-9]+x$' /tmp/cal
check "rmmod edu" unload
scenario_end
