#!/usr/bin/env bash
# Checks a kernel build tree's .config against tests/kconfig-needs: which options the driver and
# the tests need, yes or no per option, and what a missing one costs.
#
# Usage: kconfig.sh KDIR ARCH            the report (make check-kconfig); exits 1 when the tree
#                                        cannot run the driver at all (wrong architecture, no
#                                        .config, a "driver" option missing)
#        kconfig.sh --brief KDIR ARCH    the same, only the features with a missing option
#                                        (make test KDIR=... prints it up front)
#        kconfig.sh --missing KDIR ARCH  one word per missing feature, FEATURE:OPTION,OPTION...
#                                        (tests/run.sh: KCONFIG_MISSING), nothing if none
#
# An option counts only when built in (=y): the guest loads no kernel modules but the project's.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
needs=$top/tests/kconfig-needs
mode=report
case ${1:-} in
--missing | --brief)
	mode=${1#--}
	shift
	;;
esac
[ $# -eq 2 ] || { echo "usage: $0 [--brief | --missing] KDIR ARCH" >&2; exit 2; }
kdir=$1 arch=$2
config=$kdir/.config
if [ ! -r "$config" ]; then
	echo "error: $config: no kernel configuration there (KDIR must be a configured build tree)" >&2
	exit 1
fi
case $arch in
x86_64) archopt=X86_64 ;;
arm64) archopt=ARM64 ;;
*) echo "error: ARCH=$arch: the guest architecture is x86_64 or arm64" >&2; exit 1 ;;
esac
if ! grep -q "^CONFIG_$archopt=y" "$config"; then
	other=$(sed -n 's/^CONFIG_X86_64=y/x86_64/p; s/^CONFIG_ARM64=y/arm64/p' "$config" | head -n 1)
	echo "error: $kdir is not an $arch kernel tree${other:+ (it is $other: add ARCH=$other)}" >&2
	exit 1
fi

# has OPTION: built in.
has() { grep -q "^CONFIG_$1=y$" "$config"; }

# The features in file order, and each one's options and purpose on this architecture.
declare -A opts why
features=()
while read -r feature farch rest; do
	case $feature in '' | '#'*) continue ;; esac
	[ "$farch" = any ] || [ "$farch" = "$arch" ] || continue
	[ -n "${opts[$feature]+set}" ] || features+=("$feature")
	opts[$feature]+=" ${rest%% -- *}"
	case $rest in *' -- '*) why[$feature]+="${why[$feature]:+; }${rest#* -- }" ;; esac
done <"$needs"

# users FEATURE: the scenarios that need FEATURE whole ("# needs:"), and the ones that skip
# checks without it: those that call `have FEATURE`, or a helper of tests/guest/lib.sh that does.
users() {
	local f n helpers whole=() part=()
	helpers=$(awk -v re="(^|[^a-z_])have $1( |\$)" '/^[a-z_]+\(\) \{/ { fn = $1; sub(/\(\)/, "", fn) }
		$0 ~ re && fn { print fn }' "$top/tests/guest/lib.sh" | paste -sd'|')
	for f in "$top"/tests/scenarios/*.sh; do
		n=$(basename "$f" .sh)
		if grep -qE "^# needs:.* $1( |$)" "$f"; then
			whole+=("$n")
		elif grep -qE "(^|[^a-z_])(have $1|${helpers:-have $1})( |$)" "$f"; then
			part+=("$n")
		fi
	done
	[ ${#whole[@]} -eq 0 ] || echo -n "skips scenarios ${whole[*]}"
	if [ ${#part[@]} -gt 6 ]; then
		echo -n "${whole[*]:+; }skips checks in ${#part[@]} scenarios${helpers:+ (${helpers//|/, })}"
	elif [ ${#part[@]} -gt 0 ]; then
		echo -n "${whole[*]:+; }skips checks in ${part[*]}"
	fi
}

missing_words=() driver_missing=0
[ $mode = missing ] || echo "kernel options in $config ($arch), from tests/kconfig-needs:"
for feature in "${features[@]}"; do
	lacks=()
	for o in ${opts[$feature]}; do has "$o" || lacks+=("$o"); done
	if [ ${#lacks[@]} -gt 0 ]; then
		missing_words+=("$feature:$(IFS=,; echo "${lacks[*]}")")
		[ "$feature" = driver ] && driver_missing=1
	fi
	[ $mode = report ] || { [ $mode = brief ] && [ ${#lacks[@]} -gt 0 ]; } || continue
	echo
	echo "$feature: ${why[$feature]}"
	for o in ${opts[$feature]}; do
		if has "$o"; then
			printf '  %-34s yes\n' "CONFIG_$o"
		elif grep -q "^CONFIG_$o=m$" "$config"; then
			printf '  %-34s no (a module; the guest loads no kernel modules)\n' "CONFIG_$o"
		else
			printf '  %-34s no\n' "CONFIG_$o"
		fi
	done
	if [ ${#lacks[@]} -gt 0 ]; then
		case $feature in
		driver) echo "  -> missing: the driver cannot run on this kernel" ;;
		oracles) echo "  -> missing: the suite runs, and its splat grep catches less" ;;
		*) echo "  -> missing: $(users "$feature")" ;;
		esac
	fi
done
if [ $mode = missing ]; then
	echo "${missing_words[*]}"
else
	echo
	if [ ${#missing_words[@]} -eq 0 ]; then
		echo "all options present: the whole suite can run on this kernel"
	else
		echo "missing: ${missing_words[*]}"
	fi
fi
[ $driver_missing -eq 0 ]
