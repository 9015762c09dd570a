# The full user-visible contract on two edu devices with INTx only (irq_mode=2), which on q35
# shares the line with other devices (and CONFIG_DEBUG_SHIRQ fires the handler spuriously).
# qemu: -device edu -device edu
IRQ_MODE=2 WANT_MODE=intx WANT_TYPE=IO-APIC . /tests/functional.sh
scenario_end
