# The full user-visible contract on two edu devices with MSI only (irq_mode=1). The chip is
# PCI-MSI on x86 and ITS-PCI-MSI on arm64 (the GICv3 ITS): the check matches either.
# qemu: -device edu -device edu
IRQ_MODE=1 WANT_MODE=msi WANT_TYPE=PCI-MSI . /tests/functional.sh
scenario_end
