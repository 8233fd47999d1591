#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make check: lint, build, boot the test kernel, run every test, print one closing line.

set -uo pipefail

TOP=$(cd "$(dirname "$0")/../../.." && pwd)
RIG=$TOP/tools/testing/kportreserve
: "${KPR_CACHE:=${XDG_CACHE_HOME:-$HOME/.cache}/kportreserve}"
export KPR_CACHE

"$RIG/kpr.sh" build || { echo "0 passed, 1 failed"; exit 1; }
"$RIG/lint.sh" > /dev/null
"$RIG/initramfs.sh" "$KPR_CACHE/initramfs.cpio" >/dev/null || { echo "0 passed, 1 failed"; exit 1; }

res=$KPR_CACHE/results.txt
log=$KPR_CACHE/console.log
t0=$SECONDS
"$RIG/vm.sh" ${VMFLAGS:-} --results "$res" --log "$log" "$RIG/guest-tests.sh"
rc=$?
echo "check: guest ran for $((SECONDS - t0)) s (exit $rc); results: $res; console: $log"
grep -E '^(not ok|#.*(FAIL|fail))' "$res" | head -n 40

# The benchmark's smoke run, which the guest printed as "# kpr_bench: " lines.
bench=$KPR_CACHE/bench-smoke
sed -n 's/^# kpr_bench: //p' "$res" > "$bench.out"
{
	echo "# selftest: bench"
	echo "1..1"
	if python3 "$RIG/bench/report.py" --check "$bench.out" > "$bench.log" 2>&1 &&
	   [ -s "$bench.out" ]; then
		echo "ok 1 smoke"
	else
		echo "not ok 1 smoke"
		sed 's/^/# /' "$bench.log"
	fi
} > "$bench.tap"
grep -A20 '^not ok' "$bench.tap"

grep '^not ok' -A20 "$KPR_CACHE/lint.tap"
awk -f "$RIG/summarize.awk" "$log" "$KPR_CACHE/lint.tap" "$res" "$bench.tap"
