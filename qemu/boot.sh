#!/usr/bin/env bash
# Boots the test guest under TCG with the devices of one scenario and the serial console on
# stdout. Usage: boot.sh KERNEL INITRD SCENARIO [QEMU ARGS...]
# Environment: QEMU (binary), GUEST_MEM (MiB), GUEST_CPUS, GUEST_APPEND (extra kernel args),
# RESULTS (file that receives the second serial port, the scenario's results channel),
# QMP (a UNIX socket path for QEMU's monitor, for scenarios that hot-plug devices),
# GUEST_ARCH (x86_64, the default: q35; arm64: the virt machine), GUEST_CPU (QEMU's -cpu; default
# max, on x86_64 without 5-level paging).
set -euo pipefail
kernel=$1 initrd=$2 scenario=$3
shift 3
results=null
[ -n "${RESULTS:-}" ] && results=file:$RESULTS
append=${GUEST_APPEND:-}
case ${GUEST_ARCH:-x86_64} in
x86_64)
	# No 5-level paging (la57=off): identify_cpu() clears the boot CPU's feature words for a
	# moment, and with LA57 the direct map's addresses (0xff11...) then look wild to KASAN; a
	# timer interrupt taken in that window gave "BUG: KASAN: wild-memory-access in
	# do_raw_spin_lock" about once in a hundred boots, and once, with kasan_multi_shot, an
	# endless run of such reports that never reached /init.
	qemu=${QEMU:-qemu-system-x86_64} machine=q35 console=ttyS0 cpu=${GUEST_CPU:-max,la57=off}
	# No check of the IO-APIC timer at boot (no_timer_check, as KVM guests do): on a loaded host
	# the emulated timer can miss the check's window, and behind interrupt remapping
	# (intel-iommu,intremap=on) the kernel then panics ("timer doesn't work through
	# Interrupt-remapped IO-APIC") instead of falling back; seen with four guests on two cores.
	append="no_timer_check $append"
	;;
arm64)
	# The virt machine: GICv3 with its ITS (MSI), PL011 serial ports (ttyAMA0 the console,
	# ttyAMA1 the results channel), PCIe through the generic ECAM host bridge, and always the
	# SMMUv3 in front of every PCI device: edu's 28-bit DMA mask reaches none of the virt
	# machine's RAM (it starts at 1 GiB) without an IOMMU, and VFIO needs one anyway.
	qemu=${QEMU:-qemu-system-aarch64} machine=virt,gic-version=3,iommu=smmuv3 console=ttyAMA0
	cpu=${GUEST_CPU:-max}
	append="results_tty=ttyAMA1 $append"
	# The scenarios' headers speak q35: the one place their x86-only words are translated.
	# The Intel IOMMU becomes the machine's SMMUv3 (already there), intel_iommu=on nothing.
	args=()
	while [ $# -gt 0 ]; do
		if [ "$1" = -device ] && [[ ${2:-} == intel-iommu* ]]; then
			shift 2
			continue
		fi
		args+=("$1")
		shift
	done
	set -- ${args[@]+"${args[@]}"}
	append=$(sed -E 's/(^| )intel_iommu=[^ ]*//g' <<<"$append")
	;;
*)
	echo "boot.sh: GUEST_ARCH=$GUEST_ARCH: x86_64 or arm64" >&2
	exit 2
	;;
esac
exec "$qemu" -M "$machine" -accel tcg -cpu "$cpu" -m "${GUEST_MEM:-512}" \
	-smp "${GUEST_CPUS:-2}" -display none -nic none -no-reboot -serial mon:stdio \
	-serial "$results" ${QMP:+-qmp "unix:$QMP,server=on,wait=off"} \
	-kernel "$kernel" -initrd "$initrd" \
	-append "console=$console panic=-1 scenario=$scenario $append" "$@"
