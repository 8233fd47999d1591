#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# kportreservectl (tools/kportreserve/) against the running kernel: every subcommand, and
# that its offline check agrees with the kernel line by line. Prints TAP. Needs root, a user
# "user", kportreservectl in PATH, and kpr_bind next to this script.

P=/sys/kernel/security/kportreserve/policy
CTL=${KPORTRESERVECTL:-kportreservectl}
HERE=$(cd "$(dirname "$0")" && pwd)
T=$(mktemp -d)
n=0
fails=0

echo "1..17"
if ! command -v "$CTL" >/dev/null || [ ! -w "$P" ]; then
	for i in $(seq 17); do echo "ok $i # SKIP no $CTL or no writable $P"; done
	exit 4
fi

t() { # t NAME COMMAND...: one test; its output goes to the TAP stream on failure
	name=$1
	shift
	n=$((n + 1))
	if "$@" >"$T/out" 2>&1; then
		echo "ok $n $name"
	else
		echo "not ok $n $name"
		sed 's/^/# /' "$T/out"
		fails=$((fails + 1))
	fi
}

fail() { echo "$*"; return 1; }

# A program of our own that reserved ports can be for, and a listener.
cp "$HERE/kpr_bind" "$T/srv"
cp "$HERE/kpr_bind" "$T/other"
pids=
listen() { # listen PROGRAM PORT: PROGRAM listens on PORT/tcp until the test ends
	sleep 600 | "$1" inet tcp 0.0.0.0 "$2" hold >"$T/listen.$2" 2>&1 &
	pids="$pids $!"
	for _ in $(seq 50); do
		grep -qx "$2" "$T/listen.$2" && return 0
		sleep 0.1
	done
	fail "$1 does not listen on $2: $(cat "$T/listen.$2")"
}

echo clear >"$P"

# --- check ---
printf '%s\n' '# a comment' '' '8080/tcp /usr/sbin/nginx  # web' '53/udp <kernel>' \
	'1-1024 /opt/my\040srv' 'delete 53/udp <kernel>' >"$T/good"
# The last line without a newline, as the kernel takes it.
printf 'lock' >>"$T/good"
printf '8080/tcp /usr/sbin/nginx\n\n1 /a//b\n# x\n70000 /x\ndelete 9 /nothing\n' >"$T/bad"

check_good() {
	"$CTL" check "$T/good" >"$T/o" 2>&1 || fail "exit $?: $(cat "$T/o")"
	[ ! -s "$T/o" ] || fail "output: $(cat "$T/o")"
}
t check_accepts_a_good_file check_good

check_bad() {
	"$CTL" check "$T/bad" >"$T/o" 2>"$T/e"
	rc=$?
	cat "$T/e"
	[ $rc = 1 ] || fail "exit $rc"
	why='the program path is not normalised (//, /./ or /../)'
	grep -qx "kportreservectl: $T/bad:3: $why: \"1 /a//b\"" "$T/e" &&
		grep -q "^kportreservectl: $T/bad:5: a port is at most 65535: " "$T/e" &&
		grep -q "^kportreservectl: $T/bad:6: no such rule: " "$T/e" &&
		[ "$(grep -c ":[0-9]*: " "$T/e")" = 3 ] || fail "wrong errors"
	# Standard input, too.
	"$CTL" check - <"$T/bad" 2>&1 | grep -q "^kportreservectl: <stdin>:3: " || fail "stdin"
}
t check_rejects_a_bad_file_with_line_numbers check_bad

# The tool's check and the kernel agree on each line, either way.
check_agrees() {
	bad=0
	while IFS= read -r l; do
		printf '%s\n' "$l" >"$T/one"
		"$CTL" check "$T/one" >/dev/null 2>&1
		tool=$?
		printf 'clear\n%s\n' "$l" >"$P" 2>/dev/null
		kern=$?
		[ $kern = 0 ] || kern=1
		if [ $tool != $kern ]; then
			echo "line '$l': tool $tool, kernel $kern"
			bad=1
		fi
	done <<'EOF'
10000 /usr/sbin/server
8000-8099/tcp /usr/sbin/nginx
111/udp <kernel>
0 /x
65536 /x
010 /x
20-10 /x
10/sctp /x
10000
10000 relative/path
10000 /a/./b
10000 /a/
10000 /x extra
1 /a\040b
1 /a\000
1 /a\400
1 /a\04
1 \057
1 /\141\057b#
frobnicate
mode permissive
clear now
delete 1 /no/such/rule
EOF
	echo clear >"$P"
	return $bad
}
t check_agrees_with_the_kernel check_agrees

# --- load ---
load_applies() {
	echo '1000 /old' >"$P"
	loads=$(dmesg | grep -c 'kportreserve: policy loaded')
	printf '2000/tcp %s\n2001/udp %s\n' "$T/srv" "$T/srv" >"$T/new"
	"$CTL" load "$T/new" >"$T/diff" || fail "load failed"
	printf -- '-1000 /old\n+2000/tcp %s\n+2001/udp %s\n' "$T/srv" "$T/srv" >"$T/want"
	cmp "$T/diff" "$T/want" || fail "diff: $(cat "$T/diff")"
	printf '2000/tcp %s\n2001/udp %s\n' "$T/srv" "$T/srv" | cmp - "$P" ||
		fail "policy: $(cat "$P")"
	# One transaction.
	[ "$(dmesg | grep -c 'kportreserve: policy loaded')" = $((loads + 1)) ] ||
		fail "not one transaction"
	# Loading it again changes nothing and prints no diff.
	"$CTL" load "$T/new" >"$T/diff" && [ ! -s "$T/diff" ] || fail "second load"
	# The rules are in force: the owner binds, another program does not.
	"$T/srv" inet tcp 127.0.0.1 2000 >/dev/null || fail "the owner cannot bind"
	! "$T/other" inet tcp 127.0.0.1 2000 2>/dev/null || fail "another program binds"
}
t load_applies_the_file_in_one_transaction load_applies

load_bad() {
	cp "$P" "$T/before"
	"$CTL" load "$T/bad" >"$T/o" 2>&1
	rc=$?
	[ $rc = 1 ] || fail "exit $rc"
	grep -q "nothing was changed" "$T/o" || fail "message: $(cat "$T/o")"
	cmp "$P" "$T/before" || fail "the policy changed"
	# A dry run prints the diff and changes nothing.
	printf '3000 /x\n' >"$T/dry"
	"$CTL" load --dry-run "$T/dry" >"$T/diff" || fail "dry run failed"
	grep -qx '+3000 /x' "$T/diff" || fail "dry run diff: $(cat "$T/diff")"
	cmp "$P" "$T/before" || fail "the dry run changed the policy"
	# A file that the kernel cannot open: nothing changes.
	! "$CTL" load /nonexistent 2>/dev/null && cmp "$P" "$T/before"
}
t load_of_a_bad_file_changes_nothing load_bad

load_busy() {
	cp "$P" "$T/before"
	# Another writer has the policy file open: the load fails, and changes nothing.
	exec 8>"$P"
	"$CTL" load "$T/dry" >"$T/o" 2>&1
	rc=$?
	exec 8>&-
	[ $rc = 1 ] && grep -q "Device or resource busy.*nothing was changed" "$T/o" ||
		fail "exit $rc: $(cat "$T/o")"
	cmp "$P" "$T/before" || fail "the policy changed"
	# Once it is closed, the load goes through.
	"$CTL" load -q "$T/dry" && grep -qx '3000 /x' "$P" || fail "no load after close"
}
t load_while_another_writer_is_open_fails load_busy

# --- show ---
show_is_cat() {
	printf '%s\n' '1 /opt/caf\303\251/srv' '2-3/tcp /a\040b\134c' '4/udp /x\011y' \
		'5 <kernel>' '6 /a/\377\200' '7-8 /z' >"$T/esc"
	"$CTL" load -q "$T/esc" || fail "load"
	"$CTL" show >"$T/show" || fail "show failed"
	cmp "$T/show" "$P" || fail "differs: $(cat "$T/show")"
	[ "$(wc -l <"$T/show")" = 6 ] || fail "lines"
}
t show_equals_the_policy_file show_is_cat

# --- explain ---
explain_owner_and_holder() {
	printf '40001/tcp %s\n40001-40002 <kernel>\n' "$T/srv" >"$T/p"
	"$CTL" load -q "$T/p" || fail "load"
	listen "$T/srv" 40001 || return 1
	"$CTL" explain 40001/tcp >"$T/x" || fail "explain failed"
	cat "$T/x"
	grep -q "^40001/tcp: reserved" "$T/x" &&
		grep -q "may bind: $T/srv " "$T/x" &&
		grep -q "may bind: <kernel>" "$T/x" &&
		grep -Eq "held by:  pid [0-9]+ \(srv\) $T/srv  0\.0\.0\.0:40001 LISTEN  owner" \
			"$T/x" &&
		! grep -q udp "$T/x" || fail "wrong explanation"
}
t explain_names_the_owner_and_the_holder explain_owner_and_holder

explain_unreserved() {
	"$CTL" explain 40009 >"$T/x" || fail "explain failed"
	cat "$T/x"
	grep -qx "40009/tcp: not reserved: any program may bind it" "$T/x" &&
		grep -qx "40009/udp: not reserved: any program may bind it" "$T/x" &&
		[ "$(grep -c 'held by:  nobody' "$T/x")" = 2 ] || fail "wrong explanation"
}
t explain_an_unreserved_port explain_unreserved

# --- status ---
status_non_owner() {
	# "other" binds 40003 before a rule reserves it for srv.
	listen "$T/other" 40003 || return 1
	printf '40001/tcp %s\n40003/tcp %s\n40005 <kernel>\n' "$T/srv" "$T/srv" >"$T/p"
	"$CTL" load -q "$T/p" || fail "load"
	"$CTL" status >"$T/s" || fail "status failed"
	cat "$T/s"
	grep -qx "mode:     enforcing" "$T/s" &&
		grep -qx "locked:   no" "$T/s" &&
		grep -qx "rules:    3" "$T/s" &&
		grep -qx "programs: 2" "$T/s" &&
		grep -qx "held by a program that is not their owner: 1" "$T/s" &&
		grep -Eq "^  40003/tcp 0\.0\.0\.0:40003 LISTEN  held by pid [0-9]+ \(other\) \
$T/other, reserved for $T/srv$" "$T/s" ||
		fail "wrong status"
	# The owner's own listener (40001, from the explain test) is not listed.
	! grep -q 40001 "$T/s" || fail "the owner is listed"
}
t status_shows_rules_and_a_non_owner_holder status_non_owner

status_clean() {
	echo clear >"$P"
	"$CTL" status >"$T/s" || fail "status failed"
	grep -qx "rules:    0" "$T/s" &&
		grep -qx "held by a program that is not their owner: none" "$T/s" ||
		fail "$(cat "$T/s")"
}
t status_of_an_empty_policy status_clean

# --- stats ---
check_stats() {
	printf '40010/tcp %s\n40011/tcp %s\n' "$T/srv" "$T/srv" >"$P"
	# The owner binds one port, another program is refused the other.
	"$T/srv" inet tcp 0.0.0.0 40010 || { fail "the owner could not bind"; return; }
	! "$T/other" inet tcp 0.0.0.0 40011 || { fail "the other program could bind"; return; }
	"$CTL" stats >"$T/o" || { fail "stats failed"; return; }
	echo clear >"$P"
	head -n 1 "$T/o" | grep -Eq '^ +ALLOWED +DENIED +SKIPPED +RULE$' &&
		grep -Eq "^ +1 +0 +0 +40010/tcp $T/srv\$" "$T/o" &&
		grep -Eq "^ +0 +1 +0 +40011/tcp $T/srv\$" "$T/o" || fail "$(cat "$T/o")"
}
t stats_count_allowed_and_denied check_stats

# --- conventions ---
usage() {
	"$CTL" frobnicate 2>"$T/e"
	[ $? = 2 ] || fail "unknown subcommand: not 2"
	"$CTL" explain 2>/dev/null
	[ $? = 2 ] || fail "missing argument: not 2"
	"$CTL" --help | grep -q '^Usage: kportreservectl' || fail "no --help"
}
t usage_errors_exit_2 usage

bad_args() {
	for a in 0 65536 x 80/sctp; do
		"$CTL" explain "$a" 2>"$T/e"
		[ $? = 1 ] && grep -q "^kportreservectl: $a: " "$T/e" ||
			fail "explain $a: $(cat "$T/e")"
	done
}
t bad_port_exit_1 bad_args

unreadable() {
	"$CTL" --dir /nonexistent show 2>"$T/e"
	[ $? = 1 ] && grep -q "^kportreservectl: /nonexistent/policy: No such file" "$T/e" ||
		fail "$(cat "$T/e")"
}
t missing_securityfs_exit_1 unreadable

not_root() {
	# As another user, the policy file cannot be read: an error, not an empty policy.
	cp "$(command -v "$CTL")" "$T/ctl" && chmod 755 "$T" "$T/ctl"
	su user -s /bin/sh -c "$T/ctl show" >"$T/o" 2>&1
	rc=$?
	[ $rc = 1 ] && grep -q "Permission denied" "$T/o" || fail "exit $rc: $(cat "$T/o")"
}
t not_root_is_refused not_root

newer_kernel_lines() {
	# What a newer kernel shows reads, through --dir, in the tool's own terms.
	mkdir -p "$T/fake"
	printf 'mode permissive\n40001/tcp %s user=0\nlock\n' "$T/srv" >"$T/fake/policy"
	"$CTL" --dir "$T/fake" status >"$T/s" || fail "status failed"
	grep -qx "mode:     permissive" "$T/s" && grep -qx "locked:   yes, until reboot" "$T/s" &&
		grep -qx "rules:    1" "$T/s" || fail "$(cat "$T/s")"
	"$CTL" --dir "$T/fake" show | cmp - "$T/fake/policy" || fail "show"
	! "$CTL" --dir "$T/fake" load "$T/good" 2>"$T/e" && grep -q "locked" "$T/e" || fail "load"
}
t reads_a_newer_kernels_policy newer_kernel_lines

for p in $pids; do kill "$p" 2>/dev/null; done
echo clear >"$P"
rm -rf "$T"
[ $fails = 0 ]
