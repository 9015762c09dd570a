# Every probe fails at each of its steps in turn (fail_probe=k): an essential step leaves nothing
# behind, the optional one (the DMA buffer) leaves working devices without DMA. One past the last
# step binds fine, which proves the documented list of steps is complete.
# qemu: -device edu -device edu
. /tests/lib.sh
PROBE_STEPS=12
OPTIONAL_STEP=4
kmemleak_reset
ndev=$(edu_bdfs | wc -l)
k=1
while [ $k -le $PROBE_STEPS ]; do
	dmesg -c >/dev/null
	if [ $k -eq $OPTIONAL_STEP ]; then
		check "fail_probe=$k (DMA buffer, optional): insmod" load fail_probe=$k
		check_eq "fail_probe=$k: the injected step is step $k, on every device" $ndev sh -c \
			"dmesg | grep -c 'probe step $k (DMA buffer) failed (injected): error -12'"
		check_eq "fail_probe=$k: the log says what is missing" $ndev sh -c \
			"dmesg | grep -c 'continuing without DMA buffer'"
		check_eq "fail_probe=$k: the probe line says what is missing" $ndev sh -c \
			"dmesg | grep -c 'edu[0-9]: .* interrupts, no DMA buffer (pread/pwrite: EOPNOTSUPP)'"
		check_eq "fail_probe=$k: every device bound" $ndev sh -c "ls /dev/edu* | wc -l"
		for d in /dev/edu*; do
			check_eq "fail_probe=$k: $d ident" 0x010000ed eductl $d ident
			check_eq "fail_probe=$k: $d factorial" 720 eductl $d factorial 6
			check "fail_probe=$k: $d raise" eductl $d raise 0x1000
			check_err "fail_probe=$k: $d pread gives EOPNOTSUPP" EOPNOTSUPP eductl $d pread 0 16
			check_err "fail_probe=$k: $d pwrite gives EOPNOTSUPP" EOPNOTSUPP eductl $d pwrite 0 00
		done
		check "fail_probe=$k: rmmod" unload
		assert_clean "fail_probe=$k"
		k=$((k + 1))
		continue
	fi
	check "fail_probe=$k: insmod (module init succeeds)" load fail_probe=$k
	check_eq "fail_probe=$k: every probe failed with ENOMEM" $ndev sh -c \
		"dmesg | grep -c 'probe with driver edu failed with error -12'"
	check_eq "fail_probe=$k: the injected step is step $k" $ndev sh -c \
		"dmesg | grep -c 'probe step $k (.*) failed (injected): error -12'"
	assert_clean "fail_probe=$k"
	check "fail_probe=$k: rmmod" unload
	assert_works "fail_probe=$k"
	k=$((k + 1))
done
check "fail_probe=$k (past the last step): insmod" load fail_probe=$k
check_eq "fail_probe=$k: every device bound" $ndev sh -c "ls /dev/edu* | wc -l"
check "fail_probe=$k: rmmod" unload
kmemleak_check "kmemleak clean after every probe failure"
scenario_end
