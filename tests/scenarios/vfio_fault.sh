# Fault injection at every probe step of the VFIO rig: with --fail-step k (k = 1..7) probe fails
# with the injected error after building steps 1..k-1, which are undone in exact reverse order;
# the device is then fully usable again (the group can be opened again). k = 8 succeeds.
# needs: vfio
# qemu: -device intel-iommu,intremap=on -device edu
# append: intel_iommu=on iommu.strict=1
. /tests/lib.sh
. /tests/vfio.sh
kmemleak_reset
bdf=$(edu_bdfs | head -n 1)
check "bind $bdf to vfio-pci" to_vfio $bdf

# seq_down N: N N-1 ... 1 on one line (empty for 0).
seq_down() { i=$1; s=; while [ $i -ge 1 ]; do s="$s $i"; i=$((i - 1)); done; echo $s; }
seq_up() { i=1; s=; while [ $i -le $1 ]; do s="$s $i"; i=$((i + 1)); done; echo $s; }
# has PATTERN: the last rig output ($rout) has a line matching PATTERN (not $out: check uses it).
has() { echo "$rout" | grep -q "$1"; }
hasnt() { ! has "$1"; }

for irq in msi intx; do
	for k in 1 2 3 4 5 6 7 8; do
		p="$irq: fail-step $k"
		rout=$(edu-rig --irq $irq --trace --fail-step $k $bdf info 2>&1)
		rc=$?
		echo "$rout" | grep -v '^rig: '
		built=$(echo "$rout" | sed -n 's/^rig: step \([0-9]\) (.*) done .*/\1/p' | tr '\n' ' ')
		undone=$(echo "$rout" | sed -n 's/^rig: undo step \([0-9]\) .*/\1/p' | tr '\n' ' ')
		if [ $k -le 7 ]; then
			check "$p: probe fails" test $rc -ne 0
			check "$p: the error names the injected step" \
				has "^error: ENOMEM (probe step $k ([A-Za-z0-9 ]*) failed: injected"
			check_eq "$p: steps 1..$((k - 1)) were built" "$(seq_up $((k - 1)))" echo $built
			check_eq "$p: and undone in reverse" "$(seq_down $((k - 1)))" echo $undone
		else
			check "$p: probe succeeds" test $rc -eq 0
			check "$p: info works" has '^ident=0x010000ed$'
			check_eq "$p: all 7 steps built" "$(seq_up 7)" echo $built
			check_eq "$p: and undone in reverse on remove" "$(seq_down 7)" echo $undone
		fi
		check "$p: no panic" hasnt panicked
		check_eq "$p: the device works afterwards" 0x010000ed edu-rig $bdf ident
	done
done
check_err "fail-step 0 is EINVAL" EINVAL edu-rig --fail-step 0 $bdf info
check_err "fail-step 9 is EINVAL" EINVAL edu-rig --fail-step 9 $bdf info
check_eq "factorial by interrupt after all of it" 5040 edu-rig --irq intx $bdf factorial 7
check "unbind from vfio-pci" from_vfio $bdf
kmemleak_check "kmemleak clean"
scenario_end
