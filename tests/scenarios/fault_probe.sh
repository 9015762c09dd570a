# Every probe fails at each of its steps in turn (fail_probe=k): an essential step leaves nothing
# behind, the optional one (the DMA buffer) leaves working devices without DMA. One past the last
# step binds fine, which proves the documented list of steps is complete. The ladder's trace
# (trace_ladder=1) shows, per device, the steps done and exactly those undone, in reverse.
# qemu: -device edu -device edu
. /tests/lib.sh
PROBE_STEPS=12
OPTIONAL_STEP=4
kmemleak_reset
ndev=$(edu_bdfs | wc -l)

# undo_want K: the undo trace of a probe whose step K failed: every step before K in reverse, but
# step 3 (a check: nothing to undo) and the steps whose guards a later step took over once that
# one had run: 2 and 4 (the BAR, the DMA buffer) by 6, 5 (the vectors) by 9.
undo_want() {
	local j=$(($1 - 1)) s=
	while [ $j -ge 1 ]; do
		case $j in
		3) ;;
		2 | 4) [ $1 -le 6 ] && s="$s $j" ;;
		5) [ $1 -le 9 ] && s="$s $j" ;;
		*) s="$s $j" ;;
		esac
		j=$((j - 1))
	done
	echo $s
}

# trace_check LABEL DONE UNDONE: every device's probe trace shows steps DONE, then UNDONE undone.
trace_check() {
	local b
	for b in $(edu_bdfs); do
		check_eq "$1: $b did steps $2" "$2" ladder_trace probe step $b
		check_eq "$1: $b undid steps $3" "$3" ladder_trace probe undo $b
	done
}
k=1
while [ $k -le $PROBE_STEPS ]; do
	dmesg -c >/dev/null
	if [ $k -eq $OPTIONAL_STEP ]; then
		check "fail_probe=$k (DMA buffer, optional): insmod" load fail_probe=$k trace_ladder=1
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
		trace_check "fail_probe=$k" "1 2 3 5 6 7 8 9 10 11 12" "12 11 10 9 8 7 6 1"
		assert_clean "fail_probe=$k"
		k=$((k + 1))
		continue
	fi
	check "fail_probe=$k: insmod (module init succeeds)" load fail_probe=$k trace_ladder=1
	check_eq "fail_probe=$k: every probe failed with ENOMEM" $ndev sh -c \
		"dmesg | grep -c 'probe with driver edu failed with error -12'"
	check_eq "fail_probe=$k: the injected step is step $k" $ndev sh -c \
		"dmesg | grep -c 'probe step $k (.*) failed (injected): error -12'"
	trace_check "fail_probe=$k" "$(seq -s ' ' 1 $((k - 1)))" "$(undo_want $k)"
	assert_clean "fail_probe=$k"
	check "fail_probe=$k: rmmod" unload
	assert_works "fail_probe=$k"
	k=$((k + 1))
done
dmesg -c >/dev/null
check "fail_probe=$k (past the last step): insmod" load fail_probe=$k trace_ladder=1
check_eq "fail_probe=$k: every device bound" $ndev sh -c "ls /dev/edu* | wc -l"
check "fail_probe=$k: rmmod" unload
trace_check "fail_probe=$k: remove" "$(seq -s ' ' 1 $PROBE_STEPS)" "12 11 10 9 8 7 6 1"
kmemleak_check "kmemleak clean after every probe failure"
scenario_end
