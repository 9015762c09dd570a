# The full user-visible contract on two edu devices with INTx only (irq_mode=2), which on q35
# shares the line with other devices (and CONFIG_DEBUG_SHIRQ fires the handler spuriously). The
# line is the I/O APIC's on x86, the GIC's on arm64 (lib.sh: intx_chip).
# qemu: -device edu -device edu
IRQ_MODE=2 WANT_MODE=intx WANT_TYPE=$(intx_chip) . /tests/functional.sh
scenario_end
