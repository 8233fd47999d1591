#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Drives the kportreserve kernel tree: lays the project over a Linux 7.3 tree,
# configures and builds it.  Called by the top-level Makefile.
#
#   kpr.sh [--debug] tree     sync patches and overlay into the work tree
#   kpr.sh [--debug] build    configure (if a fragment changed) and build bzImage
#   kpr.sh [--debug] vars     print the make variables used for the kernel build
#   kpr.sh overlay            print the files of this repository laid over the tree
#
# --debug: the debug kernel (kernel.config + kernel-debug.config: KASAN, lockdep,
# every LSM...), from the same work tree, in its own output directory (out-debug).

set -euo pipefail

TOP=$(cd "$(dirname "$0")/../../.." && pwd)
RIG=$TOP/tools/testing/kportreserve
: "${KPR_CACHE:=${XDG_CACHE_HOME:-$HOME/.cache}/kportreserve}"
: "${KPR_TREE:=$KPR_CACHE/tree}"
DEBUG=
if [ "${1:-}" = --debug ]; then
	DEBUG=1
	shift
fi
if [ -n "$DEBUG" ]; then
	: "${KPR_OUT_DEBUG:=$KPR_CACHE/out-debug}"
	KPR_OUT=$KPR_OUT_DEBUG
	FRAGS="$RIG/kernel.config $RIG/kernel-debug.config"
else
	: "${KPR_OUT:=$KPR_CACHE/out}"
	FRAGS="$RIG/kernel.config"
fi
: "${JOBS:=$(nproc)}"
export KPR_CACHE

# Paths of this repository that are laid over the kernel tree as they are.
OVERLAY_DIRS="security/kportreserve rust/kernel rust/helpers
	tools/testing/selftests/kportreserve samples/kportreserve
	Documentation"

die() { echo "kpr: error: $*" >&2; exit 1; }
log() { echo "kpr: $*" >&2; }

# The pristine tree: KSRC if given, else Debian's linux-source-7.3.
pristine() {
	if [ -n "${KSRC:-}" ]; then
		[ -f "$KSRC/Makefile" ] && grep -q '^PATCHLEVEL = 3' "$KSRC/Makefile" &&
			grep -q '^VERSION = 7' "$KSRC/Makefile" ||
			die "KSRC=$KSRC is not a Linux 7.3 source tree"
		[ -f "$KSRC/.config" ] &&
			die "KSRC=$KSRC is configured in-tree; run 'make mrproper' there first"
		(cd "$KSRC" && pwd)
	else
		"$RIG/setup.sh" ksrc
	fi
}

# The files the overlay provides (relative paths).
overlay_files() {
	(cd "$TOP" && for d in $OVERLAY_DIRS; do
		[ -d "$d" ] && find "$d" -type f ! -name '*.orig' ! -name '*~'
	done) | sort
}

# Paths that the patch series touches.
patched_files() {
	cat "$TOP"/patches/*.patch 2>/dev/null | sed -n 's|^+++ b/||p' | sort -u
}

cmd_tree() {
	local src stage f manifest=$KPR_TREE/.kpr-manifest
	src=$(pristine)
	if [ ! -e "$KPR_TREE/.kpr-src" ] || [ "$(cat "$KPR_TREE/.kpr-src")" != "$src" ]; then
		log "creating work tree $KPR_TREE from $src"
		rm -rf "$KPR_TREE" "$KPR_CACHE/out" "$KPR_CACHE/out-debug" "$KPR_OUT"
		mkdir -p "$(dirname "$KPR_TREE")"
		cp -al "$src" "$KPR_TREE" 2>/dev/null || cp -a "$src" "$KPR_TREE"
		echo "$src" > "$KPR_TREE/.kpr-src"
	fi
	stage=$(mktemp -d)
	# Patched files start from their pristine version.
	for f in $(patched_files); do
		[ -e "$src/$f" ] || continue
		mkdir -p "$stage/$(dirname "$f")"
		cp "$src/$f" "$stage/$f"
	done
	for p in "$TOP"/patches/*.patch; do
		[ -e "$p" ] || continue
		patch -s -p1 -d "$stage" --no-backup-if-mismatch < "$p" ||
			die "patch $(basename "$p") does not apply to $src"
	done
	for f in $(overlay_files); do
		mkdir -p "$stage/$(dirname "$f")"
		cp "$TOP/$f" "$stage/$f"
	done
	# Copy only what differs, so that unchanged files keep their timestamps.
	(cd "$stage" && find . -type f | sed 's|^\./||' | sort) > "$stage/.new-manifest"
	while read -r f; do
		[ "$f" = .new-manifest ] && continue
		if ! cmp -s "$stage/$f" "$KPR_TREE/$f"; then
			mkdir -p "$KPR_TREE/$(dirname "$f")"
			rm -f "$KPR_TREE/$f"	# never write through a hard link
			cp "$stage/$f" "$KPR_TREE/$f"
		fi
	done < "$stage/.new-manifest"
	# Files we laid down before but not now: back to pristine, or gone.
	if [ -e "$manifest" ]; then
		comm -23 "$manifest" "$stage/.new-manifest" | while read -r f; do
			rm -f "$KPR_TREE/$f"
			if [ -e "$src/$f" ]; then
				cp "$src/$f" "$KPR_TREE/$f"
			fi
		done
	fi
	grep -v '^\.new-manifest$' "$stage/.new-manifest" > "$manifest"
	rm -rf "$stage"
}

make_vars() {
	local rs bg
	rs=${RUST_LIB_SRC:-$("$RIG/setup.sh" rustsrc)}
	bg=$("$RIG/setup.sh" bindgen)
	echo "O=$KPR_OUT LLVM=${KPR_LLVM:--19} RUST_LIB_SRC=$rs BINDGEN=$bg CLIPPY=1 W=1"
}

kmake() {
	# shellcheck disable=SC2046
	make -C "$KPR_TREE" -s $(make_vars) "$@"
}

# The lines that the fragments ask for, the last one of each symbol winning:
# "CONFIG_X=..." must be in .config as it is, "# CONFIG_X is not set" must not be set.
wanted() {
	# shellcheck disable=SC2086
	awk '/^CONFIG_[A-Za-z0-9_]+=/ { k = $0; sub(/=.*/, "", k) }
	     /^# CONFIG_[A-Za-z0-9_]+ is not set$/ { k = $2 }
	     k != "" { if (!(k in line)) order[n++] = k; line[k] = $0; k = "" }
	     END { for (i = 0; i < n; i++) print line[order[i]] }' $FRAGS
}

cmd_config() {
	local sum
	mkdir -p "$KPR_OUT"
	# shellcheck disable=SC2086
	sum=$(cat $FRAGS "$KPR_TREE"/security/kportreserve/Kconfig 2>/dev/null | sha256sum)
	if [ -f "$KPR_OUT/.config" ] &&
	   [ "$(cat "$KPR_OUT/.kpr-config-sum" 2>/dev/null)" = "$sum" ]; then
		return 0
	fi
	rm -f "$KPR_OUT/.kpr-config-sum"
	# shellcheck disable=SC2086
	log "configuring (tinyconfig + $(for f in $FRAGS; do basename "$f"; done | paste -sd+))"
	wanted > "$KPR_OUT/.kpr-allconfig"
	kmake KCONFIG_ALLCONFIG="$KPR_OUT/.kpr-allconfig" tinyconfig >/dev/null
	# tinyconfig merges tiny.config last, which forces -Os (and SLUB_TINY, which KASAN
	# excludes): the fragments have the last word.
	(cd "$KPR_TREE" && scripts/kconfig/merge_config.sh -m -Q -O "$KPR_OUT" \
		"$KPR_OUT/.config" "$KPR_OUT/.kpr-allconfig") >/dev/null
	kmake olddefconfig >/dev/null
	# Every line of the fragments must have survived.
	local miss=0 l l2
	while read -r l; do
		case "$l" in
		'# '*) l2=${l#\# }; ! grep -q "^${l2%% *}=" "$KPR_OUT/.config" ;;
		*) grep -qxF "$l" "$KPR_OUT/.config" ;;
		esac || { log "config: $l did not stick"; miss=1; }
	done < <(wanted)
	[ $miss = 0 ] || die "config fragment not satisfied (see above)"
	echo "$sum" > "$KPR_OUT/.kpr-config-sum"
}

cmd_build() {
	cmd_tree
	cmd_config
	kmake rustavailable >/dev/null || kmake rustavailable
	log "building ${DEBUG:+the debug }bzImage (log: $KPR_OUT/build.log)"
	local t0=$SECONDS
	if ! kmake -j"$JOBS" bzImage > "$KPR_OUT/build.log" 2>&1; then
		tail -n 60 "$KPR_OUT/build.log" >&2
		die "kernel build failed"
	fi
	log "built in $((SECONDS - t0)) s: $KPR_OUT/arch/x86/boot/bzImage"
}

case "${1:-}" in
tree) cmd_tree ;;
config) cmd_tree; cmd_config ;;
build) cmd_build ;;
vars) make_vars ;;
overlay) overlay_files ;;
make) shift; kmake "$@" ;;
*) die "usage: kpr.sh [--debug] tree|config|build|vars|overlay|make ARGS" ;;
esac
