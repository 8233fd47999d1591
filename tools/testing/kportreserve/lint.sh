#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The kernel's quality gates, on this project's files only: rustfmtcheck, CLIPPY=1 (the
# build always runs clippy), rustdoc, W=1 (the build always uses it) and checkpatch --strict;
# rustfmt and clippy (-D warnings) on kportreservectl (tools/kportreserve/); and
# systemd-analyze verify on the sample systemd unit (samples/kportreserve/).
# Prints TAP to stdout and to $KPR_CACHE/lint.tap; exits non-zero if a gate fails.

set -uo pipefail

TOP=$(cd "$(dirname "$0")/../../.." && pwd)
RIG=$TOP/tools/testing/kportreserve
: "${KPR_CACHE:=${XDG_CACHE_HOME:-$HOME/.cache}/kportreserve}"
: "${KPR_TREE:=$KPR_CACHE/tree}"
: "${KPR_OUT:=$KPR_CACHE/out}"
tap=$KPR_CACHE/lint.tap
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# This project's files, as paths in the kernel tree.
dirs="security/kportreserve rust samples/kportreserve tools/testing/selftests/kportreserve"
ours=$(cd "$TOP" &&
	{ git ls-files -co --exclude-standard $dirs 2>/dev/null || find $dirs -type f; })
# checkpatch also reads the documentation and this rig.
docs=$(cd "$TOP" && ls Documentation/*/kportreserve.rst Documentation/*/*/kportreserve.rst \
	Makefile tools/kportreserve/src/*.rs 2>/dev/null
	find tools/testing/kportreserve -type f | sort)
ours_re=$(printf '%s\n' $ours | sed 's/[.]/\\./g' | paste -sd'|')
# Files that the patch series touches count as ours for warnings too.
patched_re=$(cat "$TOP"/patches/*.patch | sed -n 's|^+++ b/||p' | sort -u |
	sed 's/[.]/\\./g' | paste -sd'|')

n=0 failed=0
gate() { # gate NAME LOGFILE: fails if LOGFILE is not empty
	n=$((n + 1))
	if [ -s "$2" ]; then
		echo "not ok $n $1"
		sed 's/^/# /' "$2" | head -n 60
		failed=1
	else
		echo "ok $n $1"
	fi
}

{
echo "# selftest: lint"
echo "1..7"

# rustfmt, as 'make rustfmtcheck' runs it, on our Rust files.
rs=$(printf '%s\n' $ours | grep '\.rs$')
(cd "$KPR_TREE" && rustfmt --check --edition 2021 --config-path .rustfmt.toml $rs) > "$tmp/fmt" 2>&1
gate rustfmtcheck "$tmp/fmt"

# CLIPPY=1 and W=1: warnings of the last builds that concern our files.
grep -E -A8 '^(warning|error)' "$KPR_OUT/build.log" 2>/dev/null |
	grep -E -B3 -A5 "($ours_re|$patched_re)" > "$tmp/clippy"
grep -E "($ours_re|$patched_re):[0-9]+:[0-9]+: (warning|error)" "$KPR_OUT/build.log" \
	>> "$tmp/clippy"
gate "clippy_and_w1" "$tmp/clippy"

# rustdoc of the kernel crate, which holds our abstractions.
"$RIG/kpr.sh" make rustdoc > "$tmp/rustdoc.log" 2>&1 ||
	echo "make rustdoc failed" >> "$tmp/rustdoc.log"
grep -E -A6 '^(warning|error)' "$tmp/rustdoc.log" | grep -E -B2 -A4 "($ours_re)" > "$tmp/rustdoc"
grep -q 'make rustdoc failed' "$tmp/rustdoc.log" && tail -n 20 "$tmp/rustdoc.log" >> "$tmp/rustdoc"
gate rustdoc "$tmp/rustdoc"

# checkpatch --strict on the patch series and on every file we add.
(cd "$KPR_TREE" && for p in "$TOP"/patches/*.patch; do
	scripts/checkpatch.pl --strict -q --no-summary "$p" | sed "s|^|$(basename "$p"): |"
done) > "$tmp/cp-patches" 2>&1
gate checkpatch_patches "$tmp/cp-patches"
(cd "$KPR_TREE" && scripts/checkpatch.pl --strict -q --no-summary --ignore FILE_PATH_CHANGES \
	-f $ours $(printf "$TOP/%s " $docs)) > "$tmp/cp-files" 2>&1
gate checkpatch_files "$tmp/cp-files"

# kportreservectl: rustfmt with the kernel's configuration, and clippy.
(cd "$TOP/tools/kportreserve" &&
	rustfmt --check --edition 2021 --config-path "$KPR_TREE/.rustfmt.toml" src/*.rs &&
	CARGO_TARGET_DIR=$KPR_CACHE/ctl-target cargo clippy --quiet --locked --all-targets \
		-- -D warnings) > "$tmp/ctl" 2>&1 ||
	echo "kportreservectl: rustfmt or clippy failed" >> "$tmp/ctl"
gate kportreservectl_fmt_clippy "$tmp/ctl"

# The sample unit, as systemd reads it: any message (an unknown key, a bad value) fails.
# verify also wants the programs it runs to exist: kportreservectl is a stub here.
unit=samples/kportreserve/kportreserve-policy.service
if command -v systemd-analyze >/dev/null; then
	mkdir -p "$tmp/unit"
	printf '#!/bin/sh\n' > "$tmp/unit/kportreservectl"
	chmod +x "$tmp/unit/kportreservectl"
	sed "s|/usr/sbin/kportreservectl|$tmp/unit/kportreservectl|g" "$TOP/$unit" \
		> "$tmp/unit/$(basename "$unit")"
	(cd "$tmp/unit" && systemd-analyze verify "./$(basename "$unit")") > "$tmp/unit.log" 2>&1 ||
		echo "systemd-analyze verify $unit failed" >> "$tmp/unit.log"
	gate systemd_unit "$tmp/unit.log"
else
	n=$((n + 1))
	echo "ok $n systemd_unit # SKIP systemd-analyze not found"
fi
} | tee "$tap"
! grep -q '^not ok' "$tap"
