# Guest criterion benchmarks of the VFIO rig beside the kernel driver (edu-rig-bench): one edu
# on vfio-pci, one on the edu driver. Run from the host with vfio-rig/bench-guest.sh (make bench),
# which extracts the final table into target/bench/guest.md.
# manual
# needs: vfio
# qemu: -device intel-iommu,intremap=on -device edu -device edu
# append: intel_iommu=on
. /tests/lib.sh
. /tests/vfio.sh
check "insmod edu" load
set -- $(edu_bdfs)
kb=$1 vb=$2
check "move $vb to vfio-pci" to_vfio $vb
dev=$(ls /dev/edu* | head -n 1)
export CRITERION_HOME=/tmp/criterion
t0=$(uptime_s)
edu-rig-bench --bdf $vb --dev $dev --kernel-bdf $kb ${bench_quick:+--quick} 2>&1
rc=$?
t1=$(uptime_s)
echo "edu-rig-bench took $(awk "BEGIN { print $t1 - $t0 }") s"
check_eq "edu-rig-bench exit status" 0 echo $rc
check "unbind from vfio-pci" from_vfio $vb
scenario_end
