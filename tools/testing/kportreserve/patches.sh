#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Edits the patch series in patches/ with git.
#
#   patches.sh edit DIR     DIR becomes a git repository holding the pristine files that
#                           the series touches (commit "base") with the series applied by
#                           git am; change it with git commit/rebase as usual.
#   patches.sh export DIR   writes DIR's commits after "base" back to patches/.

set -euo pipefail

TOP=$(cd "$(dirname "$0")/../../.." && pwd)
RIG=$TOP/tools/testing/kportreserve
die() { echo "patches: error: $*" >&2; exit 1; }

cmd=${1:-}
dir=${2:-}
[ -n "$dir" ] || die "usage: patches.sh edit|export DIR"

case "$cmd" in
edit)
	[ -e "$dir" ] && die "$dir exists"
	src=${KSRC:-$("$RIG/setup.sh" ksrc)}
	mkdir -p "$dir"
	cd "$dir"
	git init -q
	for f in $(sed -n 's|^+++ b/||p' "$TOP"/patches/*.patch | sort -u); do
		[ -e "$src/$f" ] || continue
		mkdir -p "$(dirname "$f")"
		cp "$src/$f" "$f"
	done
	git add -A
	git -c user.name=base -c user.email=base@localhost commit -q -m base
	git tag base
	git am -q "$TOP"/patches/*.patch
	git log --oneline base..
	;;
export)
	[ -d "$dir/.git" ] || die "$dir is not a repository made by 'patches.sh edit'"
	rm -f "$TOP"/patches/*.patch
	git -C "$dir" format-patch -q --zero-commit --no-signature -o "$TOP/patches" base..HEAD
	ls "$TOP/patches"
	;;
*)
	die "usage: patches.sh edit|export DIR"
	;;
esac
