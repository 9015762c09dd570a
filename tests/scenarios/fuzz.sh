# Hostile clients: four seeded `eductl fuzz` processes (two per device) issue random ioctls (random
# numbers, and the valid ones with valid, NULL, unmapped, read-only, kernel, non-canonical and
# misaligned pointers), random pread/pwrite/lseek, mmap attempts and random sysfs reads and
# writes, while another process unbinds and rebinds the first device. Every result is judged
# against the driver's documented errnos (the table in tools/eductl/src/fuzz.rs); any other
# errno, or a success the contract does not allow, fails the run. Afterwards both devices work,
# no task is stuck in D state, no splat, no leak.
#
# make test: fuzz_calls (default 5000) calls per process, at least 20,000 in all. make fuzz:
# fuzz_seconds=S runs each process for S seconds. fuzz_seed=N replays a run (default: the clock).
# qemu: -device edu -device edu
. /tests/lib.sh
kmemleak_reset
set -- $(edu_bdfs)
a=$1 b=$2
drv=/sys/bus/pci/drivers/edu
limit=${fuzz_calls:-5000}
[ -n "${fuzz_seconds:-}" ] && limit=${fuzz_seconds}s
seed=${fuzz_seed:-$(date +%s)}
MIN_CALLS=20000
echo "fuzz: seed $seed, limit $limit per process, unbinding $a"

check "insmod edu" load
node_a=/dev/$(ls /sys/bus/pci/devices/$a/edu)
node_b=/dev/$(ls /sys/bus/pci/devices/$b/edu)
check "both devices have a node ($node_a, $node_b)" test -c $node_a -a -c $node_b

# The unbinder: unbind and rebind $a until /tmp/fuzz.stop appears; every write must succeed.
rm -f /tmp/fuzz.stop
# It reports the slowest unbind and bind (ms).
uptime_ms() {
	local u
	read -r u _ </proc/uptime
	local c=${u#*.}
	echo $((${u%.*} * 1000 + 10 * ${c#0}))
}
(
	cycles=0 errors=0 max_unbind=0 max_bind=0
	while [ ! -e /tmp/fuzz.stop ]; do
		t=$(uptime_ms)
		write_file $drv/unbind $a >/dev/null || errors=$((errors + 1))
		d=$(($(uptime_ms) - t))
		[ $d -gt $max_unbind ] && max_unbind=$d
		sleep 0.0$((RANDOM % 9 + 1))
		t=$(uptime_ms)
		write_file $drv/bind $a >/dev/null || errors=$((errors + 1))
		d=$(($(uptime_ms) - t))
		[ $d -gt $max_bind ] && max_bind=$d
		sleep 0.$((RANDOM % 5 + 1))
		cycles=$((cycles + 1))
	done
	echo "unbinder max_unbind_ms=$max_unbind max_bind_ms=$max_bind cycles=$cycles errors=$errors"
) >/tmp/fuzz.unbinder 2>&1 &
unbinder=$!

t0=$(cut -d' ' -f1 /proc/uptime)
pids=
i=0
for node in $node_a $node_a $node_b $node_b; do
	[ $node = $node_a ] && dir=/sys/bus/pci/devices/$a || dir=/sys/bus/pci/devices/$b
	eductl fuzz $((seed + i)) $limit $node $dir >/tmp/fuzz.$i 2>&1 &
	pids="$pids $!"
	i=$((i + 1))
done
i=0
for p in $pids; do
	wait $p
	echo "fuzzer $i exit $?" >>/tmp/fuzz.$i
	i=$((i + 1))
done
t1=$(cut -d' ' -f1 /proc/uptime)
touch /tmp/fuzz.stop
wait $unbinder
cat /tmp/fuzz.unbinder /tmp/fuzz.[0-3]
echo "fuzz took $(awk "BEGIN { printf \"%.1f\", $t1 - $t0 }") s"

total=0
for i in 0 1 2 3; do
	check "fuzzer $i: every result is one the driver documents" grep -q "^fuzzer $i exit 0$" /tmp/fuzz.$i
	n=$(sed -n 's/^fuzz seed=[0-9]* calls=\([0-9]*\) .*/\1/p' /tmp/fuzz.$i)
	total=$((total + ${n:-0}))
done
echo "fuzz calls in all: $total"
check "at least $MIN_CALLS calls ($total)" test $total -ge $MIN_CALLS
check "the unbinder cycled, every unbind and bind succeeded" grep -q 'cycles=[1-9][0-9]* errors=0$' \
	/tmp/fuzz.unbinder

# No task stuck in D state: a task in D now and still in D two seconds later.
dstate() {
	local s l st
	for s in /proc/[0-9]*/stat; do
		read -r l <$s 2>/dev/null || continue
		st=${l##*) }
		[ "${st%% *}" = D ] && echo "${l%% *}"
	done
}
d1=$(dstate)
sleep 2
d2=$(dstate)
stuck=$(for t in $d1; do echo "$d2" | grep -qxF -- "$t" && cat /proc/$t/stat; done)
check_eq "no task stuck in D state" "" echo $stuck

[ -e /sys/bus/pci/devices/$a/driver ] || write_file $drv/bind $a >/dev/null
for d in $node_a $node_b; do
	check_eq "$d: factorial after the fuzz" 479001600 eductl $d factorial 12
	check "$d: pwrite after the fuzz" eductl $d pwrite 256 f00dfeed
	check_eq "$d: pread after the fuzz" f00dfeed eductl $d pread 256 4
	check "$d: raise after the fuzz" eductl $d raise 0x1000
done
check_eq "every device bound" 2 sh -c "ls /dev/edu* | wc -l"
check "rmmod" unload
assert_clean "after the fuzz"
assert_works "after the fuzz"
kmemleak_check "kmemleak clean after the fuzz"
scenario_end
