# Shared shell helpers for the qemu/ scripts. Source it; do not run it.

# step NAME CMD...: runs CMD, printing the step name before and its time after.
step() {
	local name=$1 t0 rc
	shift
	t0=$(date +%s.%N)
	printf '==> %s\n' "$name"
	"$@"
	rc=$?
	printf '<== %s: %s (%.1fs)\n' "$name" "$([ $rc -eq 0 ] && echo ok || echo "FAILED rc=$rc")" \
		"$(echo "$(date +%s.%N) - $t0" | bc)"
	return $rc
}

die() {
	printf 'error: %s\n' "$*" >&2
	exit 1
}
