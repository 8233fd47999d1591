#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The upstream patch series, generated from this repository: the edits of patches/ and the
# new files of the overlay, committed in the order of series/order onto the pristine tree,
# then written out with git format-patch and a cover letter.
#
#   series.sh make [DIR]   write the series to DIR (default $SERIES_OUT, else out/series)
#   series.sh plan         print each patch of the series and the files it adds
#   series.sh quick        make check's part, as TAP: the map is complete, the series is
#                          generated and applies with git am to the pristine files, the result
#                          equals the work tree that make check tests, get_maintainer.pl names
#                          the MAINTAINERS entry, and the two documents pass docutils
#   series.sh check        make series-check: git am onto a git tree of the whole pristine
#                          kernel, build after every patch (config on), checkpatch --strict
#                          every patch, build the last one with CONFIG_SECURITY_KPORTRESERVE=n,
#                          Sphinx on the two documents, compare the final tree with the work
#                          tree; one line per patch and a closing "N passed, N failed"
#
# Environment: KPR_CACHE, KSRC and JOBS as for kpr.sh; SERIES_OUT=DIR; SERIES_BUILD=0 (check:
# everything but the builds); SERIES_PREFIX="RFC PATCH"
# (default PATCH) and SERIES_REROLL=N (git format-patch -v N) for the subjects; SERIES_NOCACHE=1
# makes series.sh check build every patch even when an identical tree was built before.

set -euo pipefail
shopt -s inherit_errexit

TOP=$(cd "$(dirname "$0")/../../.." && pwd)
RIG=$TOP/tools/testing/kportreserve
SDIR=$RIG/series
: "${KPR_CACHE:=${XDG_CACHE_HOME:-$HOME/.cache}/kportreserve}"
: "${KPR_TREE:=$KPR_CACHE/tree}"
: "${JOBS:=$(nproc)}"
export KPR_CACHE
AUTHOR_NAME="kportreserve developers"
AUTHOR_EMAIL="kportreserve@example.org"
SOB="Signed-off-by: $AUTHOR_NAME <$AUTHOR_EMAIL>"
# checkpatch as lint.sh runs it. FILE_PATH_CHANGES ("does MAINTAINERS need updating?") is
# ignored: the MAINTAINERS entry, in the last patch, covers every file that the series adds.
CHECKPATCH_OPTS=(--strict -q --no-summary --ignore FILE_PATH_CHANGES)

die() { echo "series: error: $*" >&2; exit 1; }
log() { echo "series: $*" >&2; }

pristine() {
	if [ -n "${KSRC:-}" ]; then
		(cd "$KSRC" && pwd)
	else
		"$RIG/setup.sh" ksrc
	fi
}

# git as the series' author and committer, with no user configuration.
sgit() {
	GIT_AUTHOR_NAME=$AUTHOR_NAME GIT_AUTHOR_EMAIL=$AUTHOR_EMAIL \
	GIT_COMMITTER_NAME=$AUTHOR_NAME GIT_COMMITTER_EMAIL=$AUTHOR_EMAIL \
	GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1 git "$@"
}

# ---------------------------------------------------------------------------------------
# The plan: series/order, resolved against patches/ and the overlay.

STEP_KIND=() STEP_NAME=() STEP_PATCH=() STEP_FILES=()
declare -A STEP_OF=() FILE_STEP=()

plan() {
	local order=$SDIR/order kind name f p slug i n=0 best dir len
	local -A explicit=() default=() patch_of_slug=() patch_used=() txt_used=()
	[ -f "$order" ] || die "missing $order"
	for p in "$TOP"/patches/*.patch; do
		[ -e "$p" ] || continue
		slug=$(basename "$p" .patch)
		slug=${slug#[0-9][0-9][0-9][0-9]-}
		[ -z "${patch_of_slug[$slug]:-}" ] ||
			die "patches/ has two patches named $slug"
		patch_of_slug[$slug]=$p
	done
	declare -A overlay=()
	while read -r f; do overlay[$f]=1; done < <("$RIG/kpr.sh" overlay)

	while read -r kind name rest; do
		case "$kind" in
		''|'#'*) continue ;;
		patch|new)
			[ -n "$name" ] || die "$order: '$kind' without a name"
			[ -z "${STEP_OF[$name]:-}" ] || die "$order: $name is listed twice"
			STEP_OF[$name]=$n
			STEP_KIND[n]=$kind
			STEP_NAME[n]=$name
			STEP_FILES[n]=
			if [ "$kind" = patch ]; then
				p=${patch_of_slug[$name]:-}
				[ -n "$p" ] || die "$order: no patches/NNNN-$name.patch" \
					"(was the patch renamed? see ls patches/)"
				STEP_PATCH[n]=$p
				patch_used[$name]=1
			else
				[ -f "$SDIR/$name.txt" ] ||
					die "$order: new patch $name has no description" \
						"$SDIR/$name.txt"
				STEP_PATCH[n]=
				txt_used[$name]=1
			fi
			for f in $rest; do
				[ -n "${overlay[$f]:-}" ] ||
					die "$order: $f (in $name) is not a file of the overlay"
				[ -z "${explicit[$f]:-}" ] ||
					die "$order: $f is in two patches:" \
						"${explicit[$f]} and $name"
				explicit[$f]=$name
			done
			n=$((n + 1))
			;;
		default)
			[ -n "$name" ] && [ -n "$rest" ] || die "$order: usage: default DIR/ NAME"
			case "$name" in
			*/) ;;
			*) die "$order: default $name: DIR must end in /" ;;
			esac
			default[$name]=$rest
			;;
		*) die "$order: unknown line '$kind $name $rest'" ;;
		esac
	done < "$order"

	for dir in "${!default[@]}"; do
		[ -n "${STEP_OF[${default[$dir]}]:-}" ] ||
			die "$order: default $dir names no patch: ${default[$dir]}"
	done
	for slug in "${!patch_of_slug[@]}"; do
		[ -n "${patch_used[$slug]:-}" ] ||
			die "$(basename "${patch_of_slug[$slug]}") is in no patch of the series:" \
				"add a line 'patch $slug' to $order where it belongs"
	done
	for p in "$SDIR"/*.txt; do
		name=$(basename "$p" .txt)
		[ "$name" = cover ] && continue
		[ -n "${txt_used[$name]:-}" ] ||
			die "$p describes no patch of $order (add 'new $name FILES' or remove it)"
	done
	for f in $(printf '%s\n' "${!overlay[@]}" | sort); do
		name=${explicit[$f]:-}
		if [ -z "$name" ]; then
			best=0
			for dir in "${!default[@]}"; do
				len=${#dir}
				if [ "${f#"$dir"}" != "$f" ] && [ "$len" -gt "$best" ]; then
					best=$len
					name=${default[$dir]}
				fi
			done
		fi
		[ -n "$name" ] ||
			die "$f is in no patch of the series: name it on a line of $order," \
				"or add a 'default DIR/ PATCH' rule for its directory"
		FILE_STEP[$f]=$name
		i=${STEP_OF[$name]}
		STEP_FILES[i]+="$f "
	done
}

# The paths that the series touches: the patched files and the overlay.
touched_files() {
	{
		sed -n 's|^+++ b/||p' "$TOP"/patches/*.patch
		printf '%s\n' "${!FILE_STEP[@]}"
	} | sort -u
}

# subject of step i
step_subject() {
	local i=$1
	if [ "${STEP_KIND[i]}" = patch ]; then
		awk '/^Subject: /{sub(/^Subject: (\[[^]]*\] )?/, ""); s = $0; c = 1; next}
		     c && /^ /{s = s $0; next} c {print s; exit}' "${STEP_PATCH[i]}"
	else
		head -n1 "$SDIR/${STEP_NAME[i]}.txt"
	fi
}

cmd_plan() {
	local i
	plan
	for i in "${!STEP_NAME[@]}"; do
		printf '%-5s %-55s %s\n' "${STEP_KIND[i]}" "${STEP_NAME[i]}" "${STEP_FILES[i]}"
	done
}

# ---------------------------------------------------------------------------------------
# Generating the series.

# base_repo DIR SRC: a git repository of the pristine versions of the touched files.
base_repo() {
	local dir=$1 src=$2 f
	rm -rf "$dir"
	mkdir -p "$dir"
	while read -r f; do
		[ -e "$src/$f" ] || continue
		mkdir -p "$dir/$(dirname "$f")"
		cp -p "$src/$f" "$dir/$f"
	done < <(touched_files)
	sgit -C "$dir" init -q
	sgit -C "$dir" add -A -f .
	sgit -C "$dir" commit -q -m "Linux (the pristine files that the series touches)"
	sgit -C "$dir" tag base
}

# A date for a new commit: the last commit of this repository that touched its files.
files_date() {
	local d
	# shellcheck disable=SC2086
	d=$(git -C "$TOP" log -1 --format=%aD -- $1 2>/dev/null || true)
	echo "${d:-$(date -R)}"
}

# commit_steps DIR: commits every step of the plan in DIR (made by base_repo).
commit_steps() {
	local dir=$1 i f date msg
	msg=$(mktemp)
	for i in "${!STEP_NAME[@]}"; do
		if [ "${STEP_KIND[i]}" = patch ]; then
			sgit -C "$dir" am -q --committer-date-is-author-date "${STEP_PATCH[i]}" ||
				die "$(basename "${STEP_PATCH[i]}") does not apply with git am"
		fi
		for f in ${STEP_FILES[i]}; do
			mkdir -p "$dir/$(dirname "$f")"
			cp "$TOP/$f" "$dir/$f"
			sgit -C "$dir" add -f "$f"
		done
		[ -n "${STEP_FILES[i]}" ] || [ "${STEP_KIND[i]}" = patch ] || {
			log "note: ${STEP_NAME[i]} has no files; left out"
			continue
		}
		if [ "${STEP_KIND[i]}" = patch ]; then
			[ -z "${STEP_FILES[i]}" ] && continue
			date=$(sgit -C "$dir" log -1 --format=%aD)
			GIT_COMMITTER_DATE=$date sgit -C "$dir" commit -q --amend --no-edit
		else
			{
				cat "$SDIR/${STEP_NAME[i]}.txt"
				grep -qxF "$SOB" "$SDIR/${STEP_NAME[i]}.txt" ||
					printf '\n%s\n' "$SOB"
			} > "$msg"
			date=$(files_date "${STEP_FILES[i]}")
			GIT_AUTHOR_DATE=$date GIT_COMMITTER_DATE=$date \
				sgit -C "$dir" commit -q -F "$msg"
		fi
	done
	rm -f "$msg"
}

# The cover letter's parts, taken from the repository when the series is generated.
readme_summary() {
	# README's list of what the LSM does, up to the links to the documents, as plain text.
	awk '/^(## |Documentation: |The \[admin guide\])/ {exit}
	     /^- / {p = 1} p {print}' "$TOP/README.md" |
		sed -e 's/\*\*//g' -e 's/\[\([^]]*\)\]([^)]*)/\1/g' | sed -e '/./,$!d'
}

rst_section() { # rst_section FILE TITLE: the section's text, up to the next title
	awk -v t="$2" '
		{ line[NR] = $0 }
		END {
			for (i = 1; i < NR; i++)
				if (line[i] == t && line[i + 1] ~ /^[=~-]+$/) { s = i + 2; break }
			if (!s) exit 1
			for (i = s; i <= NR; i++) {
				if (i < NR && line[i] != "" && line[i + 1] ~ /^[=~-]+$/ &&
				    length(line[i + 1]) >= length(line[i]))
					break
				print line[i]
			}
		}' "$1" | sed -e '/./,$!d' | sed -e :a -e '/^\n*$/{$d;N;ba' -e '}'
}

bench_file() { # the newest benchmark table of bench-results/ (not a "before" one)
	find "$TOP/bench-results" -name '*.md' ! -name '*before*' 2>/dev/null | sort | tail -n1
}

cover_blurb() {
	local src=$1 adm=$TOP/Documentation/admin-guide/LSM/kportreserve.rst b kver
	kver=$(awk -F' = ' '/^VERSION/{v=$2} /^PATCHLEVEL/{p=$2} /^SUBLEVEL/{s=$2}
		END {print v "." p (s ? "." s : "")}' "$src/Makefile")
	b=$(bench_file)
	while IFS= read -r line; do
		case "$line" in
		@SUMMARY@) readme_summary ;;
		@THREAT_MODEL@) rst_section "$adm" "Threat model" ;;
		@LIMITATIONS@) rst_section "$adm" "Limitations" ;;
		@TEST_RESULTS@)
			# README's record of the last make check, as it stands.
			awk '/^The last `make check`/ {p = 1} p && /^$/ {exit} p {print}' \
				"$TOP/README.md" | sed 's/`//g'
			;;
		@BENCH_TABLE@)
			if [ -n "$b" ]; then
				echo "From bench-results/$(basename "$b"):"
				echo
				cat "$b"
			else
				echo "(no benchmark results in bench-results/)"
			fi
			;;
		@SERIES_CHECK@)
			if [ -s "$KPR_CACHE/series/last-check.txt" ]; then
				# Its closing lines; the per-patch lines are in the cache.
				grep -v '^[0-9]*/[0-9]* ' "$KPR_CACHE/series/last-check.txt"
			else
				echo "(make series-check has not been run in this cache)"
			fi
			;;
		*) printf '%s\n' "${line//@KVERSION@/$kver}" ;;
		esac
	done < <(sed 1,2d "$SDIR/cover.txt")
}

# write_series REPO OUT SRC: format-patch base..HEAD into OUT, cover letter filled in.
write_series() {
	local repo=$1 out=$2 src=$3 cover subject blurb
	mkdir -p "$out"
	rm -f "$out"/*[0-9][0-9][0-9][0-9]-*.patch
	sgit -C "$repo" format-patch -q --cover-letter --zero-commit --no-signature \
		--subject-prefix="${SERIES_PREFIX:-PATCH}" ${SERIES_REROLL:+-v "$SERIES_REROLL"} \
		-o "$out" base..HEAD
	cover=$(ls "$out"/*0000-cover-letter.patch)
	subject=$(head -n1 "$SDIR/cover.txt")
	blurb=$(mktemp)
	cover_blurb "$src" > "$blurb"
	SUBJECT=$subject BLURB=$blurb python3 - "$cover" <<'EOF'
import os, sys
p = sys.argv[1]
s = open(p, encoding="utf-8").read()
assert "*** SUBJECT HERE ***" in s and "*** BLURB HERE ***" in s
s = s.replace("*** SUBJECT HERE ***", os.environ["SUBJECT"], 1)
s = s.replace("*** BLURB HERE ***\n", open(os.environ["BLURB"], encoding="utf-8").read(), 1)
open(p, "w", encoding="utf-8").write(s)
EOF
	rm -f "$blurb"
}

# generate OUT: the whole pipeline in a scratch repository; prints the scratch dir.
generate() {
	local out=$1 src work
	src=$(pristine)
	work=$(mktemp -d "${TMPDIR:-/tmp}/kpr-series.XXXXXX")
	base_repo "$work/gen" "$src"
	commit_steps "$work/gen"
	write_series "$work/gen" "$out" "$src"
	echo "$work"
}

cmd_make() {
	local out=${1:-${SERIES_OUT:-$TOP/out/series}} work
	mkdir -p "$out"
	out=$(cd "$out" && pwd)
	plan
	work=$(generate "$out")
	rm -rf "$work"
	ls "$out"
	log "$(ls "$out"/*.patch | wc -l) files (cover letter and $(($(ls "$out"/*.patch |
		wc -l) - 1)) patches) in $out"
}

# ---------------------------------------------------------------------------------------
# make check's part.

patches_in() { # patches_in DIR: the series' patches in DIR, in order, less the cover letter
	local p
	for p in "$1"/*[0-9][0-9][0-9][0-9]-*.patch; do
		case "$p" in *0000-cover-letter.patch) ;; *) [ ! -e "$p" ] || echo "$p" ;; esac
	done
}

# same_as_worktree REPO: the files that the series touches are those of the work tree.
same_as_worktree() {
	local repo=$1 f bad=0
	while read -r f; do
		if [ -e "$KPR_TREE/$f" ] || [ -e "$repo/$f" ]; then
			cmp -s "$repo/$f" "$KPR_TREE/$f" ||
				{ echo "differs from the work tree: $f"; bad=1; }
		fi
	done < <(touched_files)
	# ... and the series changes nothing else.
	comm -23 <(sgit -C "$repo" diff --name-only base HEAD | sort) <(touched_files) |
		sed 's/^/changed by the series only: /' | grep . && bad=1
	return $bad
}

docutils_check() { # docutils_check FILE...: warnings are errors
	python3 - "$@" <<'EOF'
import sys
import docutils.core
from docutils.parsers.rst import directives, roles
# Sphinx's names of docutils directives, as the kernel's documents use them.
directives.register_directive("code-block", directives.body.CodeBlock)
bad = 0
for path in sys.argv[1:]:
    try:
        docutils.core.publish_doctree(
            open(path, encoding="utf-8").read(), source_path=path,
            settings_overrides={"halt_level": 2, "report_level": 2,
                                "warning_stream": sys.stderr})
    except Exception as e:
        print(f"{path}: {e}")
        bad = 1
sys.exit(bad)
EOF
}

cmd_quick() {
	local work n=0 out tmp rc pp=()
	tmp=$(mktemp -d)
	echo "# selftest: series"
	echo "1..6"
	tap() {
		n=$((n + 1))
		if [ "$1" = 0 ]; then
			echo "ok $n $2"
		else
			echo "not ok $n $2"
			sed 's/^/# /' "$tmp/log"
		fi
	}
	if (plan) > "$tmp/log" 2>&1; then
		tap 0 map_complete
	else
		tap 1 map_complete
		for t in generated applies final_tree_identical get_maintainer docutils; do
			n=$((n + 1)); echo "not ok $n $t # the map is incomplete"
		done
		rm -rf "$tmp"
		return
	fi
	plan
	out=$tmp/series
	if work=$(generate "$out" 2> "$tmp/log"); then
		tap 0 generated
	else
		tap 1 generated
	fi
	# git am of the formatted series onto the pristine files.
	{ base_repo "$tmp/am" "$(pristine)" &&
	  mapfile -t pp < <(patches_in "$out") &&
	  sgit -C "$tmp/am" am -q "${pp[@]}"; } > "$tmp/log" 2>&1 || true
	if [ -d "$tmp/am" ] &&
	   [ "$(sgit -C "$tmp/am" rev-list --count base..HEAD)" = "${#pp[@]}" ] &&
	   [ ! -d "$tmp/am/.git/rebase-apply" ]; then
		tap 0 applies
	else
		tap 1 applies
	fi
	rc=0
	same_as_worktree "$tmp/am" > "$tmp/log" 2>&1 || rc=1
	tap $rc final_tree_identical
	rc=0
	get_maintainer_check "$out" > "$tmp/log" 2>&1 || rc=1
	tap $rc get_maintainer
	rc=0
	if sphinx_path command -v sphinx-build >/dev/null; then
		sphinx_check > "$tmp/log" 2>&1 || rc=1
		tap $rc htmldocs
	else
		(cd "$TOP" && docutils_check $DOCS) > "$tmp/log" 2>&1 || rc=1
		tap $rc "docutils # no sphinx-build: the documents were checked with docutils"
	fi
	rm -rf "$tmp" "${work:-}"
}

DOCS="Documentation/admin-guide/LSM/kportreserve.rst Documentation/userspace-api/kportreserve.rst"

# Debian's Sphinx runs with Debian's python3, whatever python3 comes first in PATH.
sphinx_path() { PATH=/usr/bin:/bin:$PATH "$@"; }

# Sphinx on the two documents, as make htmldocs builds them (SPHINXDIRS=admin-guide/LSM and
# SPHINXDIRS=userspace-api), from the work tree, into the cache (incremental: about 55 s the
# first time, a few seconds after). Any warning or error that names one of them fails, and
# both pages must be written.
sphinx_check() {
	local o d rc=0
	# One output directory per SPHINXDIRS entry: sharing one, each would rebuild the other.
	for d in $DOCS; do
		d=${d#Documentation/}
		o=$KPR_CACHE/htmldocs/${d%%/*}
		mkdir -p "$o"
		sphinx_path make -C "$KPR_TREE" O="$o" SPHINXDIRS="$(dirname "$d")" htmldocs \
			> "$o.log" 2>&1 ||
			{ echo "make htmldocs failed:"; tail -n 20 "$o.log"; rc=1; }
		grep -E '(WARNING|ERROR|CRITICAL|SEVERE)' "$o.log" | grep -F kportreserve.rst &&
			rc=1
		[ -s "$o/Documentation/output/${d%.rst}.html" ] ||
			{ echo "no $o/Documentation/output/${d%.rst}.html"; rc=1; }
	done
	return $rc
}

# The files of the KPORTRESERVE entry (as a regular expression).
OURS_RE='security/kportreserve/|samples/kportreserve/|tools/testing/selftests/kportreserve/'
OURS_RE+='|Documentation/.*/kportreserve\.rst'

# get_maintainer.pl, in the work tree (MAINTAINERS with the new entry), on each patch: a patch
# that touches a file of the entry names its maintainer and list, and the whole series does.
get_maintainer_check() {
	local out=$1 p names bad=0
	for p in "$out"/*[0-9][0-9][0-9][0-9]-*.patch; do
		case "$p" in *0000-cover-letter.patch) continue ;; esac
		grep -qE "^\+\+\+ b/($OURS_RE)" "$p" || continue
		names=$(cd "$KPR_TREE" && scripts/get_maintainer.pl --no-git --no-git-fallback \
			--no-rolestats "$p" 2>&1)
		if ! { grep -qF "$AUTHOR_NAME <$AUTHOR_EMAIL>" <<< "$names" &&
		       grep -qF linux-security-module@vger.kernel.org <<< "$names"; }; then
			echo "$(basename "$p"): get_maintainer.pl does not name" \
				"the KPORTRESERVE entry:"
			echo "$names"
			bad=1
		fi
	done
	names=$(cd "$KPR_TREE" && scripts/get_maintainer.pl --no-git --no-git-fallback \
		"$out"/*[0-9][0-9][0-9][0-9]-*.patch 2>&1)
	grep -q "$AUTHOR_EMAIL.*KPORTRESERVE SECURITY MODULE" <<< "$names" ||
		{ echo "the series: get_maintainer.pl does not name KPORTRESERVE SECURITY MODULE:"
		  echo "$names"; bad=1; }
	return $bad
}

# ---------------------------------------------------------------------------------------
# make series-check.

SER=$KPR_CACHE/series
LINUX=$SER/linux

# A git repository of the whole pristine tree, tagged "pristine" (made once, ~2 min).
full_repo() {
	local src=$1
	if [ -d "$LINUX/.git" ] && [ "$(cat "$LINUX/.git/kpr-src" 2>/dev/null)" = "$src" ] &&
	   git -C "$LINUX" rev-parse -q --verify pristine >/dev/null; then
		return 0
	fi
	log "making a git repository of the pristine tree $src in $LINUX"
	rm -rf "$LINUX" "$SER/out" "$SER/out-off" "$SER/built"
	mkdir -p "$SER"
	cp -a "$src" "$LINUX.tmp"
	sgit -C "$LINUX.tmp" init -q
	sgit -C "$LINUX.tmp" config gc.auto 0
	# -f: Debian's .gitignore ignores the top level.
	sgit -C "$LINUX.tmp" add -A -f .
	sgit -C "$LINUX.tmp" commit -q -m "Linux (pristine: $src)"
	sgit -C "$LINUX.tmp" tag pristine
	echo "$src" > "$LINUX.tmp/.git/kpr-src"
	mv "$LINUX.tmp" "$LINUX"
}

# The first build directory: a copy of the rig's (same config, same files but for those the
# series touches), with the rig's tree's paths rewritten, so that the first patch rebuilds
# only what depends on the files it changes back, not the whole kernel.
seed_out() {
	local rig_out=$KPR_CACHE/out old
	[ -d "$SER/out" ] && return 0
	mkdir -p "$SER"
	if [ -f "$rig_out/.config" ]; then
		log "seeding $SER/out from $rig_out"
		rm -rf "$SER/out.tmp"
		cp -a "$rig_out" "$SER/out.tmp"
		for old in "$(cd "$KPR_TREE" && pwd -P)" "$(readlink "$rig_out/source" || true)"; do
			[ -n "$old" ] && [ "$old" != "$LINUX" ] || continue
			{ grep -rlIZ --exclude-dir=output -F -e "$old" "$SER/out.tmp" || true; } |
				xargs -0 -r sed -i "s|$old|$LINUX|g"
		done
		ln -sfn "$LINUX" "$SER/out.tmp/source"
		mv "$SER/out.tmp" "$SER/out"
		# Its objects may be newer than files that this tree changed before: once the
		# tree is back to pristine, these files get a newer time (see cmd_check).
		SEEDED=1
	else
		mkdir -p "$SER/out"
	fi
}

# The machine's build lock (/tmp/kpr-build.lock), held on fd 8 by this script for a run of
# builds, and given back once it has been held SERIES_LOCK_HOLD seconds (default 900, about
# one cold kernel build), so that the other builds of the machine get their turn: with a
# lock per build, each of the ~13 builds would wait behind every other build.
LOCK_T0=
build_lock() {
	if [ -n "$LOCK_T0" ] && [ $((SECONDS - LOCK_T0)) -ge "${SERIES_LOCK_HOLD:-900}" ]; then
		build_unlock
		sleep 5	# let a waiting build take it
	fi
	if [ -z "$LOCK_T0" ]; then
		exec 8> /tmp/kpr-build.lock
		flock 8
		LOCK_T0=$SECONDS
	fi
}
build_unlock() {
	[ -n "$LOCK_T0" ] || return 0
	flock -u 8
	exec 8>&-
	LOCK_T0=
}

# The key of a build: the tree, the config and the toolchain. A build that passed is
# recorded under it; the same build is not redone (SERIES_NOCACHE=1 redoes it).
build_key() { # build_key CONFIG
	{
		git -C "$LINUX" rev-parse 'HEAD^{tree}'
		cat "$1"
		KPR_OUT=/ "$RIG/kpr.sh" vars
		rustc --version
		clang-19 --version 2>/dev/null | head -n1
	} | sha256sum | cut -c1-32
}

# build OUT CONFIG LOG: configure OUT from CONFIG (olddefconfig for this tree) and build
# bzImage; fails on an error or a warning in the series' files. Sets BUILD_RESULT (the
# seconds). Runs in this shell, not in $(...), which would give the lock back at its end.
build() {
	local out=$1 config=$2 blog=$3 key t0=$SECONDS vars rc=0
	key=$(build_key "$config")
	if [ -z "${SERIES_NOCACHE:-}" ] && [ -e "$SER/built/$key" ]; then
		BUILD_RESULT=cached
		return 0
	fi
	vars=$(KPR_OUT=$out "$RIG/kpr.sh" vars)
	mkdir -p "$out"
	cp "$config" "$out/.config"
	build_lock
	t0=$SECONDS
	# shellcheck disable=SC2086
	{
		make -C "$LINUX" -s $vars olddefconfig &&
		make -C "$LINUX" -s $vars -j"$JOBS" bzImage
	} > "$blog" 2>&1 || rc=1
	# Warnings as lint.sh finds them: rustc and clippy name the file on a later line.
	if [ $rc = 0 ] &&
	   { grep -E -A8 '^(warning|error)' "$blog" | grep -qE "($TOUCHED_RE)" ||
	     grep -qE "($TOUCHED_RE):[0-9]+:[0-9]+: (warning|error)" "$blog"; }; then
		rc=1
	fi
	if [ $rc = 0 ]; then
		mkdir -p "$SER/built"
		touch "$SER/built/$key"
		BUILD_RESULT="$((SECONDS - t0)) s"
	else
		BUILD_RESULT="FAILED after $((SECONDS - t0)) s"
		return 1
	fi
}

# is_build_input PATH: can PATH change what make bzImage builds? Not: Documentation/ (but its
# Kconfig), MAINTAINERS, the selftests, and any file in a directory that its parent
# directory's Makefile, Kbuild and Kconfig do not name (a directory that nothing builds yet,
# like security/kportreserve/ before the patch that hooks it in, or samples/kportreserve/).
is_build_input() {
	local f=$1 IFS=/ parts dir i
	case "$f" in
	MAINTAINERS|tools/testing/selftests/*) return 1 ;;
	Documentation/*/Kconfig*|Documentation/Kconfig*) return 0 ;;
	Documentation/*) return 1 ;;
	tools/*) return 0 ;;	# not kbuild: objtool and others use its files by -I
	*.h|include/*|arch/*/include/*) return 0 ;;	# found by -I, whatever a Makefile says
	esac
	read -r -a parts <<< "$f"
	dir=${parts[0]}
	for ((i = 1; i < ${#parts[@]} - 1; i++)); do
		# Only a kbuild directory (one with a Makefile or Kbuild) names what it builds.
		if { [ -f "$LINUX/$dir/Makefile" ] || [ -f "$LINUX/$dir/Kbuild" ]; } &&
		   ! cat "$LINUX/$dir/Makefile" "$LINUX/$dir/Kbuild" "$LINUX/$dir/Kconfig" \
			2>/dev/null | grep -qw -- "${parts[i]}"; then
			return 1
		fi
		dir=$dir/${parts[i]}
	done
	return 0
}

# The paths that the last commit changed, one of which make bzImage may read.
inputs_changed() {
	local f
	while read -r f; do
		is_build_input "$f" && { echo "$f"; return 0; }
	done < <(git -C "$LINUX" diff --name-only HEAD~1 HEAD)
	return 1
}

cmd_check() {
	local dir=${1:-} src pass=0 fail=0 t0=$SECONDS i p n total subj a b c blog line f
	local cfg_on=$SER/config-on cfg_off=$SER/config-off res=$SER/last-check.txt stop='' built=
	mkdir -p "$SER"
	exec 9> "$SER/.lock"
	flock -n 9 || die "another series-check runs in $KPR_CACHE"
	src=$(pristine)
	plan
	# The rig's work tree and config: what make check builds and tests.
	"$RIG/kpr.sh" config
	[ -f "$KPR_CACHE/out/.config" ] || die "no config in $KPR_CACHE/out"
	cp "$KPR_CACHE/out/.config" "$cfg_on"
	grep -qx 'CONFIG_SECURITY_KPORTRESERVE=y' "$cfg_on" || die "the rig's config lacks the LSM"
	sed 's/^CONFIG_SECURITY_KPORTRESERVE=y$/# CONFIG_SECURITY_KPORTRESERVE is not set/' \
		"$cfg_on" > "$cfg_off"
	TOUCHED_RE=$(touched_files | sed 's/[.]/\\./g' | paste -sd'|')
	if [ -n "$dir" ]; then
		dir=$(cd "$dir" && pwd)
	else
		dir=$SER/patches
		local work
		work=$(generate "$dir")
		rm -rf "$work"
	fi
	full_repo "$src"
	[ "${SERIES_BUILD:-1}" = 0 ] || seed_out
	mkdir -p "$SER/logs"
	rm -f "$SER/logs"/*.log
	sgit -C "$LINUX" am --abort >/dev/null 2>&1 || true
	sgit -C "$LINUX" checkout -q -f -B series pristine
	sgit -C "$LINUX" clean -q -f -d -x
	if [ -n "${SEEDED:-}" ]; then
		(cd "$LINUX" && touched_files | while read -r f; do
			[ ! -e "$f" ] || touch "$f"
		done)
	fi
	total=$(patches_in "$dir" | wc -l)
	: > "$res.tmp"
	n=0
	for p in $(patches_in "$dir"); do
		n=$((n + 1))
		subj=$(sed -n 's/^Subject: \[[^]]*\] //p' "$p" | head -n1)
		[ ${#subj} -le 52 ] || subj="${subj:0:49}..."
		blog=$SER/logs/$(basename "$p" .patch).log
		if [ -n "$stop" ]; then
			a="not tried" b="not tried" c="not tried"
			fail=$((fail + 3))
		elif sgit -C "$LINUX" am -q "$p" > "$blog" 2>&1; then
			a=ok
			pass=$((pass + 1))
			if [ "${SERIES_BUILD:-1}" = 0 ]; then
				b="not run (SERIES_BUILD=0)"
			elif [ -n "$built" ] && ! inputs_changed > /dev/null; then
				# Nothing that the build reads changed: the build is the last one.
				b="ok (no build input changed)"
				pass=$((pass + 1))
			elif build "$SER/out" "$cfg_on" "$blog"; then
				b="ok ($BUILD_RESULT)"
				pass=$((pass + 1))
				built=1
			else
				b="FAILED ($BUILD_RESULT, $blog)"
				fail=$((fail + 1))
				built=
			fi
			if (cd "$LINUX" && scripts/checkpatch.pl "${CHECKPATCH_OPTS[@]}" "$p") \
				> "$blog.checkpatch" 2>&1; then
				c=ok
				pass=$((pass + 1))
			else
				c="FAILED ($blog.checkpatch)"
				fail=$((fail + 1))
			fi
		else
			a="FAILED ($blog)" b="not tried" c="not tried"
			fail=$((fail + 3))
			sgit -C "$LINUX" am --abort >/dev/null 2>&1 || true
			stop=1
		fi
		line=$(printf '%02d/%02d %-52s applies %s, builds %s, checkpatch %s' \
			"$n" "$total" "$subj" "$a" "$b" "$c")
		echo "$line"
		echo "$line" >> "$res.tmp"
	done
	if [ -n "$stop" ]; then
		build_unlock
	else
		# The last patch again, with the LSM off, in a build directory of its own.
		[ -d "$SER/out-off" ] || [ "${SERIES_BUILD:-1}" = 0 ] ||
			cp -a "$SER/out" "$SER/out-off"
		blog=$SER/logs/config-off.log
		if [ "${SERIES_BUILD:-1}" = 0 ]; then
			b="not run (SERIES_BUILD=0)"
		elif build "$SER/out-off" "$cfg_off" "$blog" &&
		   ! grep -q '^CONFIG_SECURITY_KPORTRESERVE=y' "$SER/out-off/.config"; then
			b="ok ($BUILD_RESULT)"
			pass=$((pass + 1))
		else
			b="FAILED ($BUILD_RESULT, $blog)"
			fail=$((fail + 1))
		fi
		build_unlock
		line="with CONFIG_SECURITY_KPORTRESERVE=n: builds $b"
		echo "$line"
		echo "$line" >> "$res.tmp"
		# The final tree, file for file, against the rig's work tree.
		if diff -rq -x .git -x '.kpr-*' -x .done "$KPR_TREE" "$LINUX" \
			> "$SER/logs/final-diff.log" 2>&1; then
			b=ok
			pass=$((pass + 1))
		else
			b="FAILED ($SER/logs/final-diff.log)"
			fail=$((fail + 1))
		fi
		line="the final tree is the tree that make check tests: $b"
		echo "$line"
		echo "$line" >> "$res.tmp"
	fi
	line="$pass passed, $fail failed (series-check of $total patches in $((SECONDS - t0)) s)"
	echo "$line" >> "$res.tmp"
	mv "$res.tmp" "$res"
	echo "$pass passed, $fail failed"
	log "$((SECONDS - t0)) s"
	[ "$fail" = 0 ]
}


case "${1:-}" in
plan) cmd_plan ;;
make) shift; cmd_make "$@" ;;
quick) cmd_quick ;;
check) shift; cmd_check "$@" ;;
*) die "usage: series.sh make [DIR] | plan | quick | check" ;;
esac
