# Waits on the device end the way the contract says: a signal interrupts a DMA wait with EINTR,
# and a completion that does not come in time gives ETIMEDOUT; the device stays usable after
# both. The DMA engine always takes 100 ms of device time, which makes both deterministic.
# qemu: -device edu
. /tests/lib.sh
kmemleak_reset
check "insmod edu" load
check_err "a signal during a DMA read gives EINTR" EINTR eductl /dev/edu0 sigread 20
check_eq "the device works after the interrupted DMA" 4096 eductl /dev/edu0 sigread 5000
check "rmmod" unload
check "insmod edu timeout_ms=50" load timeout_ms=50
check_err "a DMA read slower than timeout_ms gives ETIMEDOUT" ETIMEDOUT eductl /dev/edu0 pread 0 16
check_eq "fast commands still complete" 3628800 eductl /dev/edu0 factorial 10
check "the device was not given up" sh -c "! dmesg | grep -q 'giving the device up'"
check "rmmod" unload
kmemleak_check "kmemleak clean"
scenario_end
