# manual: `make run` boots this to show the driver at work; it is not part of `make test`.
# One guest run, in titled sections: two devices on the driver, the probe ladder, module safety,
# the listener, the VFIO rig beside the driver, and a short race. Every value shown is checked
# (got, same, check_*: tests/guest/lib.sh, vfio.sh); `make run` hides the PASS lines, shows each
# section's tally and any FAIL line, and fails if any check failed.
# Race length: demo_race_cycles (rig probe/remove cycles) and demo_kernel_cycles (kernel
# unbind/bind cycles) on the kernel command line.
# needs: vfio
# qemu: -device intel-iommu,intremap=on -device edu -device edu
# append: intel_iommu=on
. /tests/lib.sh
. /tests/vfio.sh
race_cycles=${demo_race_cycles:-50}
kernel_cycles=${demo_kernel_cycles:-6}

# node BDF: the eduN the driver gave BDF.
node() { ls /sys/bus/pci/devices/$1/edu 2>/dev/null; }
# refs: the edu module's reference count and users, from /proc/modules.
refs() {
	awk '$1 == "edu" { sub(/,$/, "", $4)
		print $3 " reference" ($3 == 1 ? "" : "s") ($4 == "-" ? "" : ", used by " $4) }' /proc/modules
}

section_devices() {
	check "insmod edu" load
	dmesg | grep -E 'edu[0-9]+: .*interrupts' | sed 's/^\[[ 0-9.]*\] //'
	set -- $(edu_bdfs)
	check_eq "two edu devices, /dev/edu0 and /dev/edu1" "/dev/edu0 /dev/edu1" echo $(ls /dev/edu*)
	for b in "$@"; do
		d=/dev/$(node $b)
		got "$d: ident" 0x010000ed eductl $d ident
		id=$v
		got "$d: liveness 0x12345678" 0xedcba987 eductl $d liveness 0x12345678
		echo "$d ($b): ident $id, liveness(0x12345678) = $v"
	done
	line=
	for n in 0 5 10 12 13; do
		case $n in 0) want=1 ;; 5) want=120 ;; 10) want=3628800 ;; 12) want=479001600 ;; 13) want="error: EOVERFLOW" ;; esac
		got "/dev/edu0: factorial $n" "$want" eductl /dev/edu0 factorial $n
		line="$line  $n! = ${v#error: }"
	done
	echo "factorials computed by /dev/edu0:$line"
	got "/dev/edu1: factorial 12" 479001600 eductl /dev/edu1 factorial 12
	echo "factorials computed by /dev/edu1:  12! = $v"
	head -c 4096 /dev/urandom >/tmp/pattern
	got "/dev/edu0: pwrite 4096 random bytes" 4096 eductl /dev/edu0 pwrite 0 @/tmp/pattern
	check "/dev/edu0: pread 4096" eductl /dev/edu0 pread 0 4096 @/tmp/back
	check "/dev/edu0: DMA round trip byte for byte" cmp /tmp/pattern /tmp/back
	got "/dev/edu1: pwrite 4 at 100" 4 eductl /dev/edu1 pwrite 100 c0ffee00
	got "/dev/edu1: pread 4 at 100" c0ffee00 eductl /dev/edu1 pread 100 4
	echo "DMA: 4096 random bytes through /dev/edu0's buffer and back: identical;" \
		"/dev/edu1 at 100: wrote c0ffee00, read $v"
	s=/sys/bus/pci/devices/$1
	got "sysfs ident" 0x010000ed cat $s/ident
	line="ident=$v"
	got "sysfs irq_mode" msi cat $s/irq_mode
	line="$line irq_mode=$v"
	check "sysfs irq_count counted the interrupts" sh -c "test \$(cat $s/irq_count) -gt 5"
	line="$line irq_count=$(cat $s/irq_count)"
	check "sysfs factorial: write 10" write_file $s/factorial 10
	got "sysfs factorial: read 10!" 3628800 cat $s/factorial
	echo "sysfs $s: $line factorial(write 10)=$v"
}

# trace_lines BDF: the ladder's lines about BDF in the kernel log, without time stamp and address.
trace_lines() { dmesg | sed -n "s/^\[[ 0-9.]*\] edu $1: \(probe .*step .*\)/    \1/p"; }

section_ladder() {
	local b k=9
	b=$(edu_bdfs | head -n 1)
	check "rmmod edu" unload
	dmesg -c >/dev/null
	check "insmod edu trace_ladder=1" load trace_ladder=1
	check_eq "$b: probe did steps 1..12 in order" "$(seq -s ' ' 1 12)" ladder_trace probe step $b
	echo "insmod edu trace_ladder=1: the probe of $b registers, in order:"
	trace_lines $b
	check "rmmod edu" unload
	dmesg -c >/dev/null
	check "insmod edu fail_probe=$k trace_ladder=1 (init works, every probe fails)" \
		load fail_probe=$k trace_ladder=1
	check_eq "$b: steps 1..8 done" "$(seq -s ' ' 1 8)" ladder_trace probe step $b
	check_eq "$b: undone 8 7 6 5 1 (3 is a check, 2 and 4 belong to 6)" "8 7 6 5 1" \
		ladder_trace probe undo $b
	check "$b: probe failed with ENOMEM" sh -c \
		"dmesg | grep -q '$b: probe with driver edu failed with error -12'"
	check "no /dev/edu* and nothing left behind" sh -c \
		"! ls /dev/edu* 2>/dev/null && ! grep -q ' edu[0-9]*\$' /proc/interrupts"
	echo "insmod edu fail_probe=$k trace_ladder=1: step $k fails, and the kernel log of $b shows" \
		"exactly what was undone, in reverse:"
	trace_lines $b | sed -n "/step $((k - 1)) /,\$p"
	echo "    (step 3 is a check; the BAR (2) and the DMA buffer (4) went to step 6, whose undo" \
		"released them)"
	check "rmmod edu" unload
	check "insmod edu" load
}

section_safety() {
	b=$(edu_bdfs | head -n 1)
	exec 3<>/dev/edu0
	got "rmmod edu with /dev/edu0 open is refused" "error: EAGAIN" unload
	echo "/dev/edu0 open: rmmod edu -> ${v#error: }, refused ($(refs): the open file holds the module)"
	check "the open file holds module references" sh -c "awk '\$1 == \"edu\" {exit !(\$3 > 0)}' /proc/modules"
	# Two DMA loops and a factorial loop on the open file: one DMA (100 ms of device time) runs,
	# the others wait in the driver for the device.
	start_callers 2 7
	sleep 1
	echo "2 DMA readers and a factorial loop inside /dev/edu0 (one DMA running, the others waiting)"
	t0=$(uptime_s)
	check "unbind with callers blocked in the driver" write_file /sys/bus/pci/drivers/edu/unbind $b
	echo "unbind $b with them inside: returned in $(awk "BEGIN { print $(uptime_s) - $t0 }") s"
	for p in $pids; do wait $p; done
	for i in 1 2; do
		check "blocked DMA caller $i got ENODEV" grep -q "error: ENODEV" /tmp/dma$i
		echo "  DMA reader $i: $(field reads /tmp/dma$i) reads, then $(result cat /tmp/dma$i | sed -n 's/^error: //p')"
	done
	check "blocked factorial caller got ENODEV" grep -q "error: ENODEV" /tmp/fact
	echo "  factorial loop: $(result cat /tmp/fact | sed -n 's/^error: //p')"
	got "IDENT on the open file after unbind" "error: ENODEV" eductl fd:3 ident
	echo "ident on the still open file: ${v#error: }"
	exec 3>&-
	check "close dropped the file's module references" sh -c \
		"awk '\$1 == \"edu\" {exit !(\$3 == 0)}' /proc/modules"
	echo "close: edu has $(refs)"
	check "rebind" write_file /sys/bus/pci/drivers/edu/bind $b
	got "rebound device is /dev/edu0" edu0 node $b
	got "rebound /dev/edu0 works" 5040 eductl /dev/edu0 factorial 7
	echo "bind $b: /dev/$(node $b) again, 7! = $v"
}

section_listener() {
	ev=/sys/module/edu_client/parameters/events
	check "insmod edu_client" load_client
	for i in 1 2 3 4 5; do check "raise 0x1000 on /dev/edu0" eductl /dev/edu0 raise 0x1000; done
	n=$(cat $ev)
	check "edu_client counted the 5 raised interrupts" test "$n" -ge 5
	echo "insmod edu_client, 5 interrupts raised on /dev/edu0: edu_client counted $n events"
	got "rmmod edu while edu_client is loaded is refused" "error: EAGAIN" unload
	echo "rmmod edu -> ${v#error: }, refused ($(refs))"
	# The storm: two processes raise interrupts as fast as they can while the client goes.
	eductl /dev/edu0 hammer 3600 >/tmp/h1 2>&1 &
	h1=$!
	eductl /dev/edu0 hammer 3600 >/tmp/h2 2>&1 &
	h2=$!
	echo "interrupt storm (2 processes raising on /dev/edu0), edu_client removed under it:"
	for round in 1 2 3; do
		[ $round -eq 1 ] || check "storm round $round: insmod edu_client" load_client
		sleep 0.3
		dmesg -c >/dev/null
		# A call in flight holds the client's module reference for a moment; rmmod -n is then
		# refused (EAGAIN) and tried again.
		tries=1
		until unload_client >/dev/null; do
			[ $tries -lt 10 ] || break
			tries=$((tries + 1))
			sleep 0.1
		done
		check "storm round $round: rmmod edu_client" test ! -e /sys/module/edu_client
		line=$(dmesg | grep -o 'edu_client: [0-9]* events, [0-9]* after exit began')
		check "storm round $round: events counted, none after exit began" \
			sh -c "echo '$line' | grep -q 'edu_client: [1-9][0-9]* events, 0 after exit began'"
		echo "  round $round: rmmod edu_client ok (try $tries): ${line#edu_client: }"
	done
	kill $h1 $h2
	wait $h1
	check_eq "storm process 1: every value right" 0 echo $?
	wait $h2
	check_eq "storm process 2: every value right" 0 echo $?
}

section_vfio() {
	dev=/dev/edu0 vb=$(edu_bdfs | sed -n 2p)
	check "move $vb from edu to vfio-pci" to_vfio $vb
	check_eq "only /dev/edu0 left" /dev/edu0 ls /dev/edu*
	echo "$vb moved from edu to vfio-pci (IOMMU group $(vfio_group $vb)); /dev/edu0 stays on the driver"
	same_header
	same "ident" 0x010000ed ident
	same "liveness 0x12345678" 0xedcba987 liveness 0x12345678
	same "factorial 12" 479001600 factorial 12
	same "factorial 13" "error: EOVERFLOW" factorial 13
	same "raise 0x1000" "" raise 0x1000
	same "raise 0" "error: EINVAL" raise 0
	same "pwrite 4 at 100" 4 pwrite 100 c0ffee00
	same "pread 4 at 100" c0ffee00 pread 100 4
	same "pwrite at 4096" "error: ENOSPC" pwrite 4096 00
}

section_race() {
	kb=$(edu_bdfs | head -n 1)
	rig_race rig $vb $race_cycles --irq msi
	echo "edu-rig race on $vb: $race_cycles probe/remove cycles under 2 client threads, $took s:" \
		"$(field violations /tmp/race.rig) violations, $(field wrong /tmp/race.rig) wrong results"
	kernel_churn $kb $kernel_cycles
	echo "kernel driver on $kb: $kernel_cycles unbind/bind cycles under 2 hammer processes:" \
		"$(($(field wrong /tmp/kh1) + $(field wrong /tmp/kh2))) wrong values"
	lifecycle_table /tmp/race.rig | sed '/^=== /d'
	check "unbind $vb from vfio-pci" from_vfio $vb
	check "rmmod edu" unload
}

section "1. two devices" section_devices
section "2. the probe ladder" section_ladder
section "3. module safety" section_safety
section "4. the listener" section_listener
section "5. the VFIO rig beside the driver" section_vfio
section "6. a short race" section_race
echo
scenario_end
