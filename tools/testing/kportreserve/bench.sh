#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make bench: boots the test kernel alternately with kportreserve on and off (the same
# bzImage, "lsm=" with and without it), runs bench/kpr_bench.c in each boot, and writes
# a table of the medians with on/off ratios and the targets, the results as JSON and a
# plot of cost against rule count.
#
# Variables:
#   BENCH_PAIRS=N   on/off boot pairs, booted on, off, on, off, ... (default 5)
#   BENCH_SCALE=X   the length of a round and the time box of a measurement, times X
#                   (default 1; 0.2 for a quick look)
#   BENCH_OUT=DIR   where the results go (default: out/bench in the repository)
#   BENCH_ARGS=...  more options for kpr_bench, e.g. "--only load,read"
#   BENCH_CLOCK=C   icount (default): QEMU counts guest instructions (vm.sh --icount) and
#                   the guest's TSC reads that count, 1 ns of virtual time per instruction,
#                   so a result does not depend on the host's load or speed;
#                   tsc: wall time, the host's TSC, as a cross-check
#   KPR_LOCK=FILE   hold this lock (flock(1)) around the kernel build and each boot,
#                   when other builds or boots share the machine
#
# Each boot is a benchmark of a few tens of seconds.  Its numbers differ from the next
# boot's by several percent, as much as some of the differences measured, which is why
# on and off alternate and the ratios are medians over pairs.  See README.md,
# "Benchmarks".

set -euo pipefail

TOP=$(cd "$(dirname "$0")/../../.." && pwd)
RIG=$TOP/tools/testing/kportreserve
: "${KPR_CACHE:=${XDG_CACHE_HOME:-$HOME/.cache}/kportreserve}"
: "${KPR_OUT:=$KPR_CACHE/out}"
: "${BENCH_PAIRS:=5}"
: "${BENCH_SCALE:=1}"
: "${BENCH_OUT:=$TOP/out/bench}"
: "${BENCH_ARGS:=}"
: "${BENCH_CLOCK:=icount}"
export KPR_CACHE KPR_OUT

die() { echo "bench: error: $*" >&2; exit 1; }
log() { echo "bench: $*" >&2; }

case "$BENCH_CLOCK" in icount|tsc) ;; *) die "BENCH_CLOCK=$BENCH_CLOCK: icount or tsc" ;; esac
case "$BENCH_PAIRS" in ''|*[!0-9]*|0) die "BENCH_PAIRS=$BENCH_PAIRS: need a number >= 1" ;; esac
awk -v s="$BENCH_SCALE" 'BEGIN { exit !(s + 0 > 0) }' ||
	die "BENCH_SCALE=$BENCH_SCALE: need a number > 0"

# KPR_LOCK: taken before the build and each boot, released after; the time spent
# waiting for it is counted apart from the run's.
lock_wait=0
if [ -n "${KPR_LOCK:-}" ]; then
	exec 9>>"$KPR_LOCK"
fi
lock() {
	local t0=$SECONDS

	[ -z "${KPR_LOCK:-}" ] || flock 9
	lock_wait=$((lock_wait + SECONDS - t0))
}
unlock() {
	[ -z "${KPR_LOCK:-}" ] || flock -u 9
}

t_start=$SECONDS
# What is measured: the tree as it is now, before the build.
rev=$(git -C "$TOP" describe --always --dirty 2>/dev/null || echo unknown)
date=$(date -u '+%Y-%m-%d %H:%M UTC')
lock
"$RIG/kpr.sh" build 9>&-
unlock
"$RIG/initramfs.sh" "$KPR_CACHE/initramfs.cpio" >/dev/null

# "on" is the kernel's own LSM list; "off" the same list without kportreserve.
lsm_on=$(sed -n 's/^CONFIG_LSM="\(.*\)"$/\1/p' "$KPR_OUT/.config")
echo ",$lsm_on," | grep -q ',kportreserve,' ||
	die "CONFIG_LSM=\"$lsm_on\" does not list kportreserve"
lsm_off=$(echo ",$lsm_on," | sed 's/,kportreserve,/,/; s/^,//; s/,$//')

mkdir -p "$BENCH_OUT"
rm -f "$BENCH_OUT"/boot-*.txt "$BENCH_OUT"/console-*.log "$BENCH_OUT"/results.json \
	"$BENCH_OUT"/table.md "$BENCH_OUT"/cost-vs-rules.*

# The guest's TSC is the host's (TCG reads the host's TSC; KVM runs it at the host's
# rate), and the host's clock is the better reference: calibrate here, once.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
${HOSTCC:-gcc} -Wall -Wextra -O2 "$RIG/bench/kpr_bench.c" -o "$tmp/kpr_bench" ||
	die "building bench/kpr_bench.c for the host failed"
vmclock=
if [ "$BENCH_CLOCK" = icount ]; then
	# -icount shift=0: the guest's TSC is QEMU's virtual clock, one tick per instruction.
	tsc_mhz=1000
	vmclock=--icount
	log "clock: icount, 1 ns of virtual time per guest instruction"
else
	tsc_mhz=$("$tmp/kpr_bench" --calibrate | sed -n 's/.*"tsc_mhz":\([0-9.e+]*\).*/\1/p')
	[ -n "$tsc_mhz" ] || die "calibrating the TSC on the host failed"
	log "host TSC: $tsc_mhz MHz"
fi

# kunit.enable=0: the KUnit suites ran in 'make check'; here they only cost boot time.
# tsc=unstable: under TCG the kernel's calibration of the TSC against the PIT fails in
# some boots and not in others, which changes the clock every timestamp reads (TSC or
# jiffies); every boot uses jiffies, so that boots compare.
# maxcpus=1: one CPU, as the rig's guest had when issue 9 was measured. With the second
# vCPU online, RCU grace periods and the slab allocator's freeing interleave with its ticks:
# socket()+close() then costs 200-400 more instructions in some boots than in others (the
# hook itself is about 40), and a policy load waits 1-2 ticks (4-8 ms) for its grace period.
append_common="kunit.enable=0 tsc=unstable maxcpus=1"
# BENCH_ARGS is split into words, as make passes it.
# shellcheck disable=SC2206
args=(--scale "$BENCH_SCALE" --tsc-mhz "$tsc_mhz" $BENCH_ARGS)
timeout=$(awk -v s="$BENCH_SCALE" 'BEGIN { t = 300 + 600 * s; print int(t > 1800 ? 1800 : t) }')

failed=0
for i in $(seq 1 "$BENCH_PAIRS"); do
	for mode in on off; do
		name=$(printf 'boot-%02d-%s' "$i" "$mode")
		console=$BENCH_OUT/console-${name#boot-}.log
		lsm=$lsm_on
		[ "$mode" = on ] || lsm=$lsm_off
		lock
		t0=$SECONDS
		set +e
		# shellcheck disable=SC2086 # VMFLAGS: words, as in check.sh
		"$RIG/vm.sh" ${VMFLAGS:-} ${vmclock:+"$vmclock"} --timeout "$timeout" \
			--append "lsm=$lsm $append_common" \
			--results "$BENCH_OUT/$name.txt" --log "$console" \
			"$RIG/bench/guest-bench.sh" "${args[@]}" 9>&-
		rc=$?
		set -e
		unlock
		# The host's load: a busy host makes a whole boot slower.
		{ echo "KPR-WALL=$((SECONDS - t0))"
		  echo "KPR-HOSTLOAD=$(cut -d' ' -f1 /proc/loadavg)"; } >> "$BENCH_OUT/$name.txt"
		log "$name: $((SECONDS - t0)) s, exit $rc"
		if [ $rc != 0 ]; then
			failed=1
			grep '"type":"error"' "$BENCH_OUT/$name.txt" >&2 || true
			# A guest that hung or panicked will do so again: stop.
			[ $rc = 1 ] || die "$name did not finish (console: $console)"
		fi
	done
done

wall=$((SECONDS - t_start))
python3 "$RIG/bench/report.py" --out "$BENCH_OUT" --wall "$((wall - lock_wait))" \
	--lock-wait "$lock_wait" --tsc-mhz "$tsc_mhz" --clock "$BENCH_CLOCK" \
	--git "$rev" --date "$date" \
	"$BENCH_OUT"/boot-*.txt || failed=1
log "results: $BENCH_OUT/results.json, table: $BENCH_OUT/table.md ($((wall - lock_wait)) s" \
	"${KPR_LOCK:+and $lock_wait s waiting for $KPR_LOCK})"
exit $failed
