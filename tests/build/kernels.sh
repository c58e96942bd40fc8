#!/bin/bash
# Host test of kernel selection (scripts/kernels.sh) and of the Makefile
# resolving the demo/bench kernel only after `deps` installed it (the
# fresh-machine bug: the kernel list was computed before deps ran).  Uses
# a fake tree through KERNELS_ROOT; prints TAP.
set -uo pipefail
TOP=$(cd "$(dirname "$0")/../.." && pwd)
F=$(mktemp -d)
trap 'rm -rf "$F"' EXIT
n=0 failed=0
ok() { n=$((n + 1)); echo "ok $n - kernels: $*"; }
no() { n=$((n + 1)); failed=1; echo "not ok $n - kernels: $*"; }
is() { [ "$2" = "$3" ] && ok "$1" || no "$1 (got '$2', want '$3')"; }

# kernel ROOT RELEASE [noboot]: headers, modules and (unless noboot) vmlinuz.
kernel() {
	mkdir -p "$1/usr/src/linux-headers-$2" "$1/lib/modules/$2/kernel" "$1/boot"
	[ "${3:-}" = noboot ] || : >"$1/boot/vmlinuz-$2"
}
K() { KERNELS_ROOT=$1 bash "$TOP/scripts/kernels.sh" "$2" | tr '\n' ' ' | sed 's/ $//'; }

R=$F/mixed
kernel $R 6.1.0-9-amd64
kernel $R 6.1.0-57-amd64
kernel $R 6.1.0-57-cloud-amd64
kernel $R 6.1.0-57-rt-amd64
kernel $R 6.1.0-58-amd64 noboot
kernel $R 6.12.95+deb12-amd64
kernel $R 6.12.95+deb12-cloud-amd64
kernel $R 6.10.1-amd64
is "generic lane: 6.1 and 6.12 amd64, newest ABI, never cloud or rt" "$(K $R generic)" \
	"6.1.0-57-amd64 6.12.95+deb12-amd64"
is "cloud lane: both series in cloud-amd64" "$(K $R cloud)" \
	"6.1.0-57-cloud-amd64 6.12.95+deb12-cloud-amd64"
is "demo boots the generic 6.1" "$(K $R demo)" "6.1.0-57-amd64"
rep=$(KERNELS_ROOT=$R bash "$TOP/scripts/kernels.sh" --report)
[[ $rep == *MISSING* ]] &&
	no "report with all four installed says MISSING" || ok "report names all four kernels"
R=$F/generic-only
kernel $R 6.1.0-57-amd64
is "cloud headers absent: cloud lane empty, generic lane unchanged" \
	"$(K $R cloud)|$(K $R generic)" "|6.1.0-57-amd64"
rep=$(KERNELS_ROOT=$R bash "$TOP/scripts/kernels.sh" --report)
grep -q '6.12 .*amd64 *MISSING' <<<"$rep" &&
	ok "report says which kernel is missing" || no "report does not name the missing 6.12"

# The fresh machine: nothing installed until deps runs inside make demo.
for target in demo bench; do
	R=$F/fresh-$target
	mkdir -p "$R"
	out=$(cd "$TOP" && KERNELS_ROOT=$R make -s --no-print-directory $target \
		DEPS_CMD="bash -c 'mkdir -p $R/usr/src/linux-headers-6.1.0-57-amd64 $R/lib/modules/6.1.0-57-amd64/kernel $R/boot && : >$R/boot/vmlinuz-6.1.0-57-amd64'" \
		DEMO_STEPS=demo-vm BENCH_STEPS=bench-vm VM_RUN=echo 2>&1)
	is "make $target on a fresh machine boots the kernel deps installed" "$out" "--$target 6.1.0-57-amd64"
done
R=$F/none
mkdir -p "$R"
out=$(cd "$TOP" && KERNELS_ROOT=$R make -s --no-print-directory demo DEPS_CMD=true \
	DEMO_STEPS=demo-vm VM_RUN=echo 2>&1)
[ $? != 0 ] && [[ $out == *"no supported kernel"* ]] && ok "no kernel after deps: a clear error" ||
	no "no kernel after deps: '$out'"
echo "1..$n"
exit $failed
