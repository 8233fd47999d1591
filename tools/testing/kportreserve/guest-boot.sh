#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The boot-policy boots of make check (check.sh): this script is pid 1's first program
# (rdinit=/kpr/run), so the boot policy, loaded at that exec, must already be in force for
# the very first command it runs. /kpr/args holds the case:
#   good  /etc/kportreserve/policy and kportreserve.policy= (with "lock") are loaded
#   bad   kportreserve.policy_file= names a malformed file: nothing at all is loaded
# It then execs itself again ("stage2"), as pid 1 does at switch_root, prints TAP on the
# second serial port and powers off.

if [ "${1:-}" != stage2 ]; then
	# The very first command: a program that no rule names binds the reserved port.
	/usr/bin/impostor inet tcp 0.0.0.0 40000 >/first.out 2>&1
	first=$?
	/bin/busybox --install -s /bin
	export PATH=/bin:/sbin:/usr/bin:/kselftest/kportreserve
	mount -t proc none /proc
	mount -t sysfs none /sys
	mount -t devtmpfs none /dev 2>/dev/null
	mount -t securityfs none /sys/kernel/security
	mount -t tmpfs none /tmp
	echo "$first" >/tmp/first
	# Made after the load: the rule's path resolves only once pid 1 execs again.
	ln -s /kselftest/kportreserve/kpr_bind /usr/bin/linked-srv
	linked-srv inet tcp 0.0.0.0 40003 >/dev/null 2>&1
	echo $? >/tmp/linked1
	exec /kpr/run stage2
fi

export PATH=/bin:/sbin:/usr/bin:/kselftest/kportreserve
exec 3>/dev/ttyS1
case=$(head -n 1 /kpr/args)
P=/sys/kernel/security/kportreserve/policy
first=$(cat /tmp/first)
n=0
t() { # t DESCRIPTION COMMAND...
	desc=$1; shift
	n=$((n + 1))
	if "$@" >/tmp/t.out 2>&1; then
		echo "ok $n $desc"
	else
		echo "not ok $n $desc"
		sed 's/^/# /' /tmp/t.out
	fi
}
# Audit records reach the kernel log through kauditd, a moment later.
logged() { # logged EXTENDED-REGEX
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		dmesg | grep -Eq "$1" && return 0
		sleep 0.2
	done
	echo "not in the kernel log: $1"
	dmesg | grep -E 'kportreserve|audit' | tail -n 20
	return 1
}
code() { # code EXPECTED COMMAND...: the command exits with EXPECTED
	want=$1; shift
	"$@"
	got=$?
	[ "$got" = "$want" ] || { echo "exit $got, expected $want"; return 1; }
}
owner=/kselftest/kportreserve/kpr_bind
rec='audit: type=1427 audit\([0-9.:]+\): lsm=kportreserve op=bind'

{
case $case in
good)
	echo "# selftest: boot_policy"
	echo "1..12"
	t first_command_denied sh -c "[ $first = 13 ] || { cat /first.out; exit 1; }"
	t first_command_audited logged "$rec proto=tcp port=40000 reason=reserved \
owner=\"$owner\" pid=[0-9]+ comm=\"impostor\" exe=\"/usr/bin/impostor\" permissive=0 res=0"
	t owner_binds code 0 "$owner" inet tcp 0.0.0.0 40000
	t cmdline_rule_denies code 13 impostor inet udp 0.0.0.0 40001
	t cmdline_rule_owner_binds code 0 "$owner" inet udp 0.0.0.0 40001
	t reads_back sh -c "cat $P && [ \"\$(cat $P)\" = \"\$(printf '%s\n' \
'40000/tcp $owner' '40001/udp $owner' '40003/tcp /usr/bin/linked-srv' lock)\" ]"
	t lock_line_locks sh -c "! echo clear > $P && [ \$(wc -l < $P) = 4 ]"
	t loaded_logged logged \
'kportreserve: boot policy: loaded /etc/kportreserve/policy and kportreserve.policy='
	t load_audited logged "audit: type=1403 audit\\([0-9.:]+\\): lsm=kportreserve op=load \
source=boot rules=3 pid=1 comm=[^ ]+ exe=[^ ]+ auid=[0-9]+ ses=[0-9]+ res=1"
	t lock_audited logged \
		'audit: type=1404 audit\([0-9.:]+\): lsm=kportreserve op=lock mode=enforcing pid=1 '
	# Resolved again when pid 1 exec'd this script a second time, from its root as it is.
	t symlink_before_reexec sh -c "[ \$(cat /tmp/linked1) = 13 ]"
	t symlink_after_reexec code 0 linked-srv inet tcp 0.0.0.0 40003
	;;
bad)
	echo "# selftest: boot_policy_malformed"
	echo "1..7"
	t nothing_loaded sh -c "cat $P && [ -z \"\$(cat $P)\" ]"
	t first_command_binds sh -c "[ $first = 0 ] || { cat /first.out; exit 1; }"
	t cmdline_not_loaded code 0 impostor inet udp 0.0.0.0 40001
	t error_logged_with_line logged "kportreserve: boot policy: file line 3: the program is an \
absolute path or <kernel>: \"40002 relative/path\"; nothing was loaded"
	t not_loaded_logged logged 'kportreserve: boot policy: not loaded \(error -22\); nothing'
	t failure_audited logged "audit: type=1403 audit\\([0-9.:]+\\): lsm=kportreserve op=load \
source=boot errno=-22 .* res=0"
	t not_locked sh -c "echo '40000/tcp $owner' > $P && echo clear > $P"
	;;
esac
} >&3 2>&1
echo "KPR-EXIT=0" >&3
sync
reboot -f
