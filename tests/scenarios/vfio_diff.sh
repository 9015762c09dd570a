# Differential test of the VFIO rig against the kernel driver: two edu devices, one on the edu
# driver (/dev/eduN, through eductl), one on vfio-pci (edu-rig); the same operations must give
# identical results (identification, liveness values, factorials 0..13, raise, DMA of the same
# data, DMA bounds).
# needs: vfio
# qemu: -device intel-iommu,intremap=on -device edu -device edu
# append: intel_iommu=on iommu.strict=1
. /tests/lib.sh
. /tests/vfio.sh
kmemleak_reset
check "insmod edu" load
set -- $(edu_bdfs)
check_eq "two edu devices" 2 echo $#
kb=$1 vb=$2
check "move $vb from edu to vfio-pci" to_vfio $vb
check_eq "one /dev/edu left" 1 sh -c "ls /dev/edu* | wc -l"
dev=$(ls /dev/edu* | head -n 1)

# The comparisons (same, tests/guest/vfio.sh) as a table.
same_header
same "ident" 0x010000ed ident
for x in 0 1 0x12345678 0xdeadbeef 0xffffffff; do
	same "liveness $x" "$(printf '0x%08x' $((~x & 0xffffffff)))" liveness $x
done
want=1
for k in 0 1 2 3 4 5 6 7 8 9 10 11 12; do
	[ $k -gt 0 ] && want=$((want * k))
	same "factorial $k" $want factorial $k
done
same "factorial 13" "error: EOVERFLOW" factorial 13
same "raise 0x1000" "" raise 0x1000
same "raise 0" "error: EINVAL" raise 0
head -c 4096 /dev/urandom >/tmp/pattern
same "pwrite 4096 random bytes at 0" 4096 pwrite 0 @/tmp/pattern
check "kernel pread 4096" eductl $dev pread 0 4096 @/tmp/kernel
check "rig pread 4096" edu-rig $vb pread 0 4096 @/tmp/rig
check "kernel DMA data byte for byte" cmp /tmp/pattern /tmp/kernel
check "rig DMA data identical to the kernel's" cmp /tmp/kernel /tmp/rig
same "pread 16 at 0" "$(head -c 16 /tmp/pattern | od -An -tx1 | tr -d ' \n')" pread 0 16
same "pwrite crossing the end" 6 pwrite 4090 00112233445566778899aabbccddeeff
same "pread crossing the end" 001122334455 pread 4090 16
same "pread at 4096" "" pread 4096 16
same "pwrite at 4096" "error: ENOSPC" pwrite 4096 00
same "pwrite at 8192" "error: ENOSPC" pwrite 8192 00
same "pwrite 4 at 100" 4 pwrite 100 c0ffee00
same "pread 4 at 100" c0ffee00 pread 100 4
check "unbind from vfio-pci" from_vfio $vb
check "rmmod" unload
kmemleak_check "kmemleak clean"
scenario_end
