#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make check: lint, build, boot the test kernel, run every test; meanwhile build and boot
# the debug kernel (kernel-debug.config) and run every test on it too; print one closing
# line.
# DEBUG_KERNEL=0 skips the debug kernel (quick local runs; CI runs it).
# The stress test and the policy fuzzer are time-boxed; KPR_STRESS_SECONDS, KPR_STRESS_SEED,
# KPR_FUZZ_LINES, KPR_FUZZ_SECONDS and KPR_FUZZ_SEED reach the guest. On the host, the tests
# of kportreservectl fuzz the kernel's grammar with KPR_PROPTEST_CASES cases per property
# (default 40,000: about 20 s on 2 cores).
#
# check.sh --fuzz (make fuzz): build, boot, run only the policy fuzzer, for
# KPR_FUZZ_LINES lines (default 1,000,000) with no time limit; it prints its figures.

set -uo pipefail

TOP=$(cd "$(dirname "$0")/../../.." && pwd)
RIG=$TOP/tools/testing/kportreserve
: "${KPR_CACHE:=${XDG_CACHE_HOME:-$HOME/.cache}/kportreserve}"
: "${DEBUG_KERNEL:=1}"
export KPR_CACHE

# The test knobs, for the guest (guest-tests.sh exports them).
knobs=()
for v in KPR_STRESS_SECONDS KPR_STRESS_SEED KPR_FUZZ_LINES KPR_FUZZ_SECONDS KPR_FUZZ_SEED; do
	[ -z "${!v:-}" ] || knobs+=("$v=${!v}")
done

if [ "${1:-}" = --fuzz ]; then
	"$RIG/kpr.sh" build || exit 1
	"$RIG/initramfs.sh" "$KPR_CACHE/initramfs.cpio" >/dev/null || exit 1
	log=$KPR_CACHE/fuzz-console.log
	t0=$SECONDS
	"$RIG/vm.sh" ${VMFLAGS:-} --timeout 14400 --log "$log" "$RIG/guest-tests.sh" fuzz \
		KPR_FUZZ_LINES="${KPR_FUZZ_LINES:-1000000}" KPR_FUZZ_SECONDS=0 "${knobs[@]}"
	rc=$?
	echo "fuzz: guest ran for $((SECONDS - t0)) s (exit $rc); console: $log"
	if grep -E '(BUG:|WARNING:|Oops|Call Trace:|suspicious RCU usage)' "$log"; then
		echo "fuzz: the console log has a kernel splat"
		rc=1
	fi
	exit $rc
fi

"$RIG/kpr.sh" build || { echo "0 passed, 1 failed"; exit 1; }
"$RIG/initramfs.sh" "$KPR_CACHE/initramfs.cpio" >/dev/null || { echo "0 passed, 1 failed"; exit 1; }

# boot NAME SUFFIX VM-OPTIONS...: runs guest-tests.sh; results and console in the cache.
boot() {
	local name=$1 res=$KPR_CACHE/results$2.txt log=$KPR_CACHE/console$2.log t0=$SECONDS rc
	shift 2
	: > "$res"
	: > "$log"
	"$RIG/vm.sh" ${VMFLAGS:-} "$@" --results "$res" --log "$log" "$RIG/guest-tests.sh" \
		"${knobs[@]}"
	rc=$?
	echo "check: $name: guest ran for $((SECONDS - t0)) s (exit $rc); results: $res;" \
		"console: $log"
	grep -E '^(not ok|#.*(FAIL|fail))' "$res" | head -n 40
}

extra=$((${KPR_STRESS_SECONDS:-0} + ${KPR_FUZZ_SECONDS:-0}))

# The debug kernel is built and booted while the lint gates, the host tests and the test
# kernel's guest run: each side has a core, and the debug kernel's run is the longer one.
# Its output comes after the test kernel's.
if [ "$DEBUG_KERNEL" != 0 ]; then
	debug_out=$KPR_CACHE/check-debug.out
	(
		t0=$SECONDS
		if "$RIG/kpr.sh" --debug build; then
			echo "check: debug kernel: built in $((SECONDS - t0)) s"
			boot "debug kernel" -debug --debug --timeout $((1500 + 3 * extra))
		else
			# Counted as a failed run: no KUnit results, no exit status.
			: > "$KPR_CACHE/results-debug.txt"
			: > "$KPR_CACHE/console-debug.log"
		fi
	) > "$debug_out" 2>&1 &
	debug_pid=$!
fi

"$RIG/lint.sh" > /dev/null

# The host tests of kportreservectl and of the grammar that it shares with the kernel
# (proptest), as TAP.
ctl=$KPR_CACHE/ctl-host
PROPTEST_CASES=${KPR_PROPTEST_CASES:-40000} CARGO_TARGET_DIR=$KPR_CACHE/ctl-target \
	timeout 600 cargo test --locked --manifest-path "$TOP/tools/kportreserve/Cargo.toml" \
	> "$ctl.out" 2>&1
ctl_rc=$?
awk -v rc=$ctl_rc '
	/^test .* \.\.\. / { n++; r[n] = ($NF == "ok" ? "ok " : "not ok ") n " " $2 }
	END {
		print "# selftest: kportreservectl_host"
		if (n == 0 || rc != 0 && !fail) {
			n++
			r[n] = "not ok " n " cargo_test (exit " rc ")"
		}
		print "1.." n
		for (i = 1; i <= n; i++) print r[i]
	}
	/^test .* \.\.\. FAILED$/ { fail = 1 }' "$ctl.out" > "$ctl.tap"
grep -q '^not ok' "$ctl.tap" && tail -n 40 "$ctl.out"

# The cheap part of make series-check: the series is complete, applies with git am, gives
# this work tree, names its maintainers, and its documents build with Sphinx.
series_tap=$KPR_CACHE/series.tap
"$RIG/series.sh" quick > "$series_tap" 2> "$KPR_CACHE/series.log"
grep -q '^1\.\.' "$series_tap" ||
	printf '# selftest: series\n1..1\nnot ok 1 series_sh # see %s\n' "$KPR_CACHE/series.log" \
		> "$series_tap"

boot "test kernel" "" --timeout $((900 + extra))
res=$KPR_CACHE/results.txt
log=$KPR_CACHE/console.log

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

# The boot-policy boots (guest-boot.sh): a short boot each, without KUnit, whose first
# program is the test script. "good" has a policy file and kportreserve.policy= with a
# lock; "bad" a malformed file named by kportreserve.policy_file=: nothing is loaded.
owner=/kselftest/kportreserve/kpr_bind
bootdir=$KPR_CACHE/boot-policy
rm -rf "$bootdir" && mkdir -p "$bootdir"
printf '%s\n' '# The boot policy of check.sh.' "40000/tcp $owner" > "$bootdir/policy"
printf '%s\n' "40000/tcp $owner" '# line 2' '40002 relative/path' lock > "$bootdir/bad-policy"
boot_tap=()
for c in good bad; do
	case $c in
	good)
		add="$bootdir/policy:/etc/kportreserve/policy"
		line="40001/udp $owner;40003/tcp /usr/bin/linked-srv;lock"
		append="kportreserve.policy=\"$line\"" ;;
	bad)
		add="$bootdir/bad-policy:/etc/kpr-bad"
		append="kportreserve.policy_file=/etc/kpr-bad"
		append="$append kportreserve.policy=\"40001/udp $owner\"" ;;
	esac
	"$RIG/vm.sh" ${VMFLAGS:-} --timeout 300 --results "$bootdir/$c.tap" \
		--log "$bootdir/console-$c.log" \
		--add "$KPR_CACHE/kselftest/kpr_bind:/usr/bin/impostor" \
		--add "$add" --append "rdinit=/kpr/run kunit.enable=0 $append" \
		"$RIG/guest-boot.sh" "$c" >/dev/null
	brc=$?
	echo "check: boot-policy boot '$c' (exit $brc); console: $bootdir/console-$c.log"
	{
		# The guest came back with its plan, and its console has no kernel splat.
		echo "# selftest: boot_guest"
		if [ $brc = 0 ] && grep -q '^1\.\.' "$bootdir/$c.tap"; then
			echo "ok 1 ${c}_reported"
		else
			echo "not ok 1 ${c}_reported"
		fi
		if grep -E '(BUG:|WARNING:|Oops|Call Trace:|suspicious RCU usage)' \
			"$bootdir/console-$c.log"; then
			echo "not ok 2 ${c}_no_splat"
		else
			echo "ok 2 ${c}_no_splat"
		fi
	} >> "$bootdir/$c.tap"
	grep -A5 '^not ok' "$bootdir/$c.tap"
	boot_tap+=("$bootdir/$c.tap")
done

runs=(console=1 "$log" console=0 "$KPR_CACHE/lint.tap" "$ctl.tap" "$series_tap" "$res" "$bench.tap"
      "${boot_tap[@]}")
if [ "$DEBUG_KERNEL" != 0 ]; then
	wait "$debug_pid"
	cat "$debug_out"
	runs+=(run=debug. console=1 "$KPR_CACHE/console-debug.log"
	       console=0 "$KPR_CACHE/results-debug.txt")
fi

grep '^not ok' -A20 "$KPR_CACHE/lint.tap"
grep '^not ok' -A20 "$series_tap"
awk -f "$RIG/summarize.awk" "${runs[@]}"
