#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The 'make run' demo, run in the guest. make run boots with a boot policy on the kernel
# command line: kportreserve.policy="10000 /usr/sbin/demo-server".
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() {
	echo "\$ $*"
	"$@"
	rc=$?
	echo "  -> exit status $rc$( [ $rc = 13 ] && echo " (EACCES)")"
}
policy=/sys/kernel/security/kportreserve/policy

# hold PROGRAM PORT FD: PROGRAM binds TCP PORT and listens on it, until "release FD".
hold() {
	f=/tmp/hold.$3
	mkfifo "$f.fifo"
	"$1" inet tcp 0.0.0.0 "$2" hold < "$f.fifo" > "$f.out" &
	eval "exec $3> $f.fifo"
	i=0
	while [ ! -s "$f.out" ] && [ $i -lt 30 ]; do sleep 1; i=$((i + 1)); done
}
release() { # release FD: end of file on its holder's standard input
	eval "exec $1>&-"
}

say "Active LSMs (/sys/kernel/security/lsm)"
cat /sys/kernel/security/lsm; echo
say "kportreserve's securityfs directory"
ls -l /sys/kernel/security/kportreserve/

say "The boot policy: loaded by the kernel at pid 1's first exec, before any program ran"
grep -o 'kportreserve.policy="[^"]*"' /proc/cmdline
dmesg | grep -E 'kportreserve: (boot policy|policy loaded)'
dmesg | grep 'op=load source=boot'
run cat "$policy"
if ! grep -qx '10000 /usr/sbin/demo-server' "$policy"; then
	echo "(booted without the boot policy of make run: writing its rule now)"
	echo '10000 /usr/sbin/demo-server' > "$policy"
fi

say "Port reservation: port 10000 belongs to /usr/sbin/demo-server"
# The boot policy named /usr/sbin/demo-server before the file existed: a rule's program
# may be installed later.
cp /kselftest/kportreserve/kpr_bind /usr/sbin/demo-server
cp /kselftest/kportreserve/kpr_bind /tmp/impostor
say "The owner binds it"
run /usr/sbin/demo-server inet tcp 0.0.0.0 10000
say "A copy of the same binary elsewhere is refused (EACCES), root or not"
run /tmp/impostor inet tcp 0.0.0.0 10000
say "The owner holds it with SO_REUSEPORT; another program cannot join the group"
(sleep 2 | /usr/sbin/demo-server inet6 udp :: 10000 reuseport hold >/dev/null) &
sleep 1
run /tmp/impostor inet6 udp :: 10000 reuseport
wait
say "Denials are audit records (type=1427, AUDIT_KPORTRESERVE_ACCESS; no auditd: kernel log)"
sleep 1
dmesg | grep 'audit: type=1427' | grep 'op=bind' | tail -n 2 | sed 's/^\[[ 0-9.]*\] //'
echo "The fields of the last one:"
dmesg | grep 'audit: type=1427' | grep 'op=bind' | tail -n 1 |
	sed 's/.*audit([^)]*): //' | tr ' ' '\n' | sed 's/^/    /'

say "kportreservectl: who may bind a port, and who holds it"
hold /usr/sbin/demo-server 10000 4
run kportreservectl explain 10000/tcp
say "A port taken before its rule was loaded: what a boot policy prevents"
hold /tmp/impostor 10002 5
run sh -c "echo '10002/tcp /usr/sbin/demo-server' > $policy"
run kportreservectl explain 10002/tcp
run kportreservectl status
release 4
release 5
wait

say "Counters: binds each rule let through or refused (kportreservectl stats)"
run kportreservectl stats

say "A rule for a user as well as a program: 10003/tcp for demo-server run by uid 0 only"
run sh -c "echo '10003/tcp /usr/sbin/demo-server user=0' > $policy"
run /usr/sbin/demo-server inet tcp 0.0.0.0 10003
run su user -s /bin/sh -c '/usr/sbin/demo-server inet tcp 0.0.0.0 10003'

say "Permissive mode: a rollout that logs and counts what it would refuse, and refuses nothing"
run sh -c "echo 'mode permissive' > $policy"
run sh -c "head -n 1 $policy"
run /tmp/impostor inet tcp 0.0.0.0 10000
sleep 1
dmesg | grep 'audit: type=1427' | grep 'permissive=1' | tail -n 1 | sed 's/^\[[ 0-9.]*\] //'
dmesg | grep 'op=mode' | tail -n 1 | sed 's/^\[[ 0-9.]*\] //'
run sh -c "grep '^10000 ' /sys/kernel/security/kportreserve/stats"
run sh -c "echo 'mode enforcing' > $policy"
run /tmp/impostor inet tcp 0.0.0.0 10000

say "A bad policy line changes nothing"
run sh -c "echo 'delete 10000 /no/such/rule' > $policy"
run cat "$policy"

say "disablenetwork: netoff runs a program without network access"
httpd -p 127.0.0.1:8080 -h /tmp
run sh -c 'echo | nc 127.0.0.1 8080 >/dev/null && echo connected'
run netoff sh -c 'echo | nc 127.0.0.1 8080 >/dev/null && echo connected'
run netoff sh -c 'cat /proc/self/status | grep NoNewPrivs'
say "Done"
