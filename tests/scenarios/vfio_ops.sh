# Every operation of the VFIO rig (vfio-rig/, edu-rig) on an edu bound to vfio-pci behind the
# emulated IOMMU, over MSI and over INTx: identification, liveness, factorials polled and by
# interrupt, raise/ack, DMA byte for byte through an IOVA mapping, and the bounds errors.
# needs: vfio
# qemu: -device intel-iommu,intremap=on -device edu
# append: intel_iommu=on iommu.strict=1
. /tests/lib.sh
. /tests/vfio.sh
kmemleak_reset
bdf=$(edu_bdfs | head -n 1)
check "bind $bdf to vfio-pci" to_vfio $bdf
check "/dev/vfio/vfio is a char device" test -c /dev/vfio/vfio
check "the group node /dev/vfio/$(vfio_group $bdf) exists" test -c /dev/vfio/$(vfio_group $bdf)
echo "reserved regions of group $(vfio_group $bdf):"
cat /sys/kernel/iommu_groups/$(vfio_group $bdf)/reserved_regions
edu-rig --trace $bdf info
for irq in msi intx; do
	edu-rig --irq $irq $bdf info >/tmp/info 2>&1
	rc=$?
	cat /tmp/info
	check_eq "$irq: info exit status 0" 0 echo $rc
	check_eq "$irq: info names the irq mode" $irq field irq /tmp/info
	check_eq "$irq: info names the group" "$(vfio_group $bdf)" field group /tmp/info
	iova=$(field iova /tmp/info)
	check "$irq: info iova $iova is page-aligned and inside the 28-bit mask" \
		sh -c "[ -n '$iova' ] && [ \$(($iova % 4096)) -eq 0 ] && [ \$(($iova + 4096)) -le \$((0x10000000)) ]"
	check "$irq: info ident" grep -qx 'ident=0x010000ed' /tmp/info
	check "$irq: info liveness" grep -qx 'liveness=ok' /tmp/info
done

for irq in msi intx; do
	# Each call is bounded: once in the closing runs of this change, an INTx `factorial-polled 1`
	# never returned (the rig idle, no kernel task blocked); bounded, it fails its check instead
	# of stalling the whole scenario until GUEST_TIMEOUT.
	r="timeout -s KILL 120 edu-rig --irq $irq $bdf"
	check_eq "$irq: ident" 0x010000ed $r ident
	for x in 0 1 0x12345678 0xffffffff; do
		check_eq "$irq: liveness $x" "$(printf '0x%08x' $((~x & 0xffffffff)))" $r liveness $x
	done
	want=1
	for k in 0 1 2 3 4 5 6 7 8 9 10 11 12; do
		[ $k -gt 0 ] && want=$((want * k))
		check_eq "$irq: factorial $k (interrupt)" $want $r factorial $k
		check_eq "$irq: factorial $k (polled)" $want $r factorial-polled $k
	done
	check_err "$irq: factorial 13 is EOVERFLOW" EOVERFLOW $r factorial 13
	check_err "$irq: factorial-polled 13 is EOVERFLOW" EOVERFLOW $r factorial-polled 13
	check "$irq: raise 0x1000 (acked, then the next one arrives too)" $r raise 0x1000 20
	check "$irq: raise 0x1 and 0x100 values" sh -c "$r raise 0x1 && $r raise 0x100"
	check_err "$irq: raise 0 is EINVAL" EINVAL $r raise 0

	head -c 4096 /dev/urandom >/tmp/pattern
	check_eq "$irq: dma-write 4096 at 0" 4096 $r dma-write /tmp/pattern
	check_eq "$irq: dma-read 4096 at 0" "" $r dma-read 0 4096 @/tmp/back
	check "$irq: DMA data byte for byte" cmp /tmp/pattern /tmp/back
	check_eq "$irq: pwrite 4 at 100" 4 $r pwrite 100 deadbeef
	check_eq "$irq: pread 4 at 100" deadbeef $r pread 100 4
	check_eq "$irq: pread at 4096 returns 0 bytes" "" $r pread 4096 16
	check_eq "$irq: pread at 5000 returns 0 bytes" "" $r pread 5000 16
	check_err "$irq: pwrite at 4096 is ENOSPC" ENOSPC $r pwrite 4096 00
	check_err "$irq: pwrite at 8192 is ENOSPC" ENOSPC $r pwrite 8192 00
	check_eq "$irq: pwrite crossing the end is shortened" 6 $r pwrite 4090 00112233445566778899aabbccddeeff
	check_eq "$irq: pread crossing the end is shortened" 001122334455 $r pread 4090 16
	check_err "$irq: not a number is EINVAL" EINVAL $r factorial x
done
check_err "unknown --irq is EINVAL" EINVAL edu-rig --irq msix $bdf ident
# A second rig on a device that one already holds: the kernel refuses the group (EBUSY), and
# that errno, not a generic EIO, is what the second rig reports.
start_rig $bdf '^serving' serve --seconds 120
check "a rig holds $bdf" grep -q '^serving' /tmp/rig.out
check_err "a second rig on the held device is EBUSY" EBUSY edu-rig $bdf ident
{ kill $rig && wait $rig; } 2>/dev/null
check_eq "the device works once the holder is gone" 0x010000ed edu-rig $bdf ident
# vfio-ioctls logs through the log crate: env_logger shows its debug lines (the regions and
# interrupts of the device it opened) when RUST_LOG asks for them, and only then.
check "RUST_LOG=vfio_ioctls=debug shows vfio-ioctls' own messages" \
	sh -c "RUST_LOG=vfio_ioctls=debug edu-rig $bdf ident 2>&1 | grep -q '^edu-rig: DEBUG vfio_ioctls[a-z_:]*: Region #0'"
check "without RUST_LOG no debug line" sh -c "! edu-rig $bdf ident 2>&1 | grep -q DEBUG"
check_err "a device not on vfio-pci is ENODEV" ENODEV edu-rig 0000:00:00.0 ident
check "no IOMMU fault in the kernel log" no_dmesg "$IOMMU_FAULT"
check "unbind from vfio-pci" from_vfio $bdf
kmemleak_check "kmemleak clean"
scenario_end
