#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The 'make run' demo, run in the guest.
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() {
	echo "\$ $*"
	"$@"
	rc=$?
	echo "  -> exit status $rc$( [ $rc = 13 ] && echo " (EACCES)")"
}

say "Active LSMs (/sys/kernel/security/lsm)"
cat /sys/kernel/security/lsm; echo
say "kportreserve's securityfs directory"
ls -l /sys/kernel/security/kportreserve/
dmesg | grep kportreserve

say "Port reservation: port 10000 belongs to /usr/sbin/demo-server"
cp /kselftest/kportreserve/kpr_bind /usr/sbin/demo-server
cp /kselftest/kportreserve/kpr_bind /tmp/impostor
run sh -c "echo '10000 /usr/sbin/demo-server' > /sys/kernel/security/kportreserve/policy"
run cat /sys/kernel/security/kportreserve/policy
say "The owner binds it"
run /usr/sbin/demo-server inet tcp 0.0.0.0 10000
say "A copy of the same binary elsewhere is refused (EACCES), root or not"
run /tmp/impostor inet tcp 0.0.0.0 10000
say "The owner holds it with SO_REUSEPORT; another program cannot join the group"
(sleep 2 | /usr/sbin/demo-server inet6 udp :: 10000 reuseport hold >/dev/null) &
sleep 1
run /tmp/impostor inet6 udp :: 10000 reuseport
wait
say "Denials are audited (no auditd: the records reach the kernel log)"
sleep 1; dmesg | grep 'lsm=kportreserve op=bind' | tail -n 2
say "A bad policy line changes nothing"
run sh -c "echo 'delete 10000 /no/such/rule' > /sys/kernel/security/kportreserve/policy"
run cat /sys/kernel/security/kportreserve/policy

say "disablenetwork: netoff runs a program without network access"
httpd -p 127.0.0.1:8080 -h /tmp
run sh -c 'echo | nc 127.0.0.1 8080 >/dev/null && echo connected'
run netoff sh -c 'echo | nc 127.0.0.1 8080 >/dev/null && echo connected'
run netoff sh -c 'cat /proc/self/status | grep NoNewPrivs'
say "Done"
