#!/bin/bash
# make check-asan (issue 15): the host unit tests and the CLI tests with the
# tool and libcryptsnap.a built with -fsanitize=address,undefined, in a
# separate tree (build/asan/) so the normal objects never mix with these.
# Any ASan or UBSan report aborts the process that hit it (halt_on_error,
# -fno-sanitize-recover), so a report is a failed test, never a warning.
set -uo pipefail
TOP=$(cd "$(dirname "$0")/.." && pwd)
B=$TOP/build/asan
CC=${CC:-gcc}
SAN="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
JOBS=${JOBS:-2}

rm -rf "$B" && mkdir -p "$B/scripts" "$B/tests" || exit 1
cp -a "$TOP/userspace" "$TOP/include" "$TOP/kmod" "$B/" &&
	cp -a "$TOP/scripts/check-layers.sh" "$B/scripts/" &&
	cp -a "$TOP/tests/unit" "$B/tests/" || exit 1
make -s -C "$B/userspace" clean && make -s -C "$B/tests/unit" clean

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:halt_on_error=1:detect_stack_use_after_return=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
echo "# check-asan: CC=$CC $SAN"
# Through the environment: the Makefiles append their own flags to these.
# gcc's value ranges are weaker under the sanitizers, so its
# format-truncation guesses (a warning-only heuristic) go wrong there;
# the normal build keeps that warning as an error.
export CC CFLAGS="-O1 -g $SAN -Wno-format-truncation" LDFLAGS="$SAN"
make --no-print-directory -j"$JOBS" -C "$B/userspace" ||
	{ echo "not ok - asan build"; exit 1; }
echo "ok - asan build"
rc=0
make --no-print-directory -j"$JOBS" -C "$B/tests/unit" all ||
	{ echo "not ok - asan unit build"; exit 1; }
# ASan intercepts mlock() and mlockall() and makes them succeed without
# locking anything ("mlock is not supported"), so the tests that check key
# memory really is locked (smaps "lo") cannot hold under it; they run in
# the normal make check-unit.  Everything else runs.
NOLOCK="test_secmem test_secrets"
tests=$(cd "$B/tests/unit" && ls test_*.c | sed 's/\.c$//' | grep -vxF -f <(tr ' ' '\n' <<<"$NOLOCK"))
echo "# check-asan: not under ASan (mlock): $NOLOCK"
make --no-print-directory -C "$B/tests/unit" run TESTS="$(echo $tests)" || rc=1
CRYPTSNAP=$B/userspace/cryptsnap bash "$TOP/tests/cli/run.sh" || rc=1
exit $rc
