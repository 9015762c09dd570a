#!/usr/bin/env bash
# Boots the test guest under TCG with the devices of one scenario and the serial console on
# stdout. Usage: boot.sh KERNEL INITRD SCENARIO [QEMU ARGS...]
# Environment: QEMU (binary), GUEST_MEM (MiB), GUEST_CPUS, GUEST_APPEND (extra kernel args),
# RESULTS (file that receives the second serial port, the scenario's results channel),
# QMP (a UNIX socket path for QEMU's monitor, for scenarios that hot-plug devices).
set -euo pipefail
kernel=$1 initrd=$2 scenario=$3
shift 3
results=null
[ -n "${RESULTS:-}" ] && results=file:$RESULTS
exec "${QEMU:-qemu-system-x86_64}" -M q35 -accel tcg -cpu max -m "${GUEST_MEM:-512}" \
	-smp "${GUEST_CPUS:-2}" -display none -nic none -no-reboot -serial mon:stdio \
	-serial "$results" ${QMP:+-qmp "unix:$QMP,server=on,wait=off"} \
	-kernel "$kernel" -initrd "$initrd" \
	-append "console=ttyS0 panic=-1 scenario=$scenario ${GUEST_APPEND:-}" "$@"
