// SPDX-License-Identifier: GPL-2.0
/*
 * kpr_bind: the "server" that the kportreserve tests reserve ports for.
 *
 * Usage: kpr_bind [SCRIPT] FAMILY TYPE ADDR PORT [OPTION...]
 *
 *   FAMILY  inet or inet6 (inet6 sockets are dual-stack: IPV6_V6ONLY off)
 *   TYPE    tcp, udp or mptcp;
 *           smc: socket(AF_SMC, SOCK_STREAM, SMCPROTO_SMC or SMCPROTO_SMC6);
 *           smc-inet: socket(FAMILY, SOCK_STREAM, IPPROTO_SMC);
 *           rxrpc: socket(AF_RXRPC, SOCK_DGRAM, FAMILY), bound to a
 *                  struct sockaddr_rxrpc whose UDP transport is ADDR:PORT
 *   ADDR    a numeric address, e.g. 127.0.0.1, ::, ::ffff:127.0.0.1
 *   PORT    the port to bind, 0 for automatic selection
 *   OPTION  reuseaddr, reuseport: set SO_REUSEADDR, SO_REUSEPORT;
 *           wait: print "ready", then wait for a byte (or end of file) on
 *                 stdin before creating the socket;
 *           hold: after binding (and listen() for stream sockets), wait for
 *                 end of file on stdin before exiting;
 *           listen: listen() after binding a stream socket;
 *           secure: first print "secure=N", N being getauxval(AT_SECURE);
 *           dumpable: first print "dumpable=N", N being
 *                 prctl(PR_GET_DUMPABLE);
 *           personality: first print "personality=0xN", N being the
 *                 personality of this process (personality(0xffffffff));
 *           addr: first print "addr=0x...", the address of a writable
 *                 buffer of 64 bytes in this process (for ptrace tests);
 *           traceme: first call ptrace(PTRACE_TRACEME) and print
 *                 "traceme=N", N being 0 or the errno of the failure.
 *
 * On success, prints the bound port and exits with 0.  On failure, prints
 * the error on stderr and exits with its errno.  A first argument that
 * starts with '/' is skipped: it is the script path that the kernel inserts
 * when kpr_bind runs as the interpreter of a "#!" script.
 */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/rxrpc.h>

#ifndef IPPROTO_MPTCP
#define IPPROTO_MPTCP 262
#endif
#ifndef IPPROTO_SMC
#define IPPROTO_SMC 256
#endif
#ifndef AF_SMC
#define AF_SMC 43
#endif
#ifndef AF_RXRPC
#define AF_RXRPC 33
#endif
/* The protocols of AF_SMC sockets (net/smc/smc.h). */
#define SMCPROTO_SMC 0
#define SMCPROTO_SMC6 1

/* What the "addr" option shows: the tests may write into it. */
static char target_buf[64];

static int fail(const char *what)
{
	int err = errno;

	/* "#": the output ends up in the TAP output of the tests. */
	fprintf(stderr, "# kpr_bind: %s: %s (%d)\n", what, strerror(err), err);
	return err ? err : 255;
}

static int print_usage(void)
{
	fprintf(stderr,
		"# usage: kpr_bind FAMILY TYPE ADDR PORT [reuseaddr] [reuseport] [wait] [hold] [listen] [secure] [dumpable] [personality] [addr] [traceme]\n");
	return 254;
}

/*
 * Puts in @srx an RxRPC client address whose UDP transport is the address in
 * @ss (of @len bytes); returns the length of @srx.
 */
static socklen_t rxrpc_addr(struct sockaddr_rxrpc *srx,
			    const struct sockaddr_storage *ss, socklen_t len)
{
	memset(srx, 0, sizeof(*srx));
	srx->srx_family = AF_RXRPC;
	srx->srx_service = 0;
	srx->transport_type = SOCK_DGRAM;
	srx->transport_len = len;
	memcpy(&srx->transport, ss, len);
	return sizeof(*srx);
}

int main(int argc, char *argv[])
{
	bool reuseaddr = false, reuseport = false, wait = false, hold = false;
	bool do_listen = false, rxrpc = false;
	struct sockaddr_storage ss = {};
	struct sockaddr_rxrpc srx;
	int family, sfamily, type, proto = 0, fd, one = 1, zero = 0, i;
	socklen_t len;
	unsigned long port;
	char *end, c;

	if (argc > 1 && argv[1][0] == '/') {
		argv++;
		argc--;
	}
	if (argc < 5)
		return print_usage();

	if (!strcmp(argv[1], "inet"))
		family = AF_INET;
	else if (!strcmp(argv[1], "inet6"))
		family = AF_INET6;
	else
		return print_usage();

	sfamily = family;
	if (!strcmp(argv[2], "tcp")) {
		type = SOCK_STREAM;
	} else if (!strcmp(argv[2], "udp")) {
		type = SOCK_DGRAM;
	} else if (!strcmp(argv[2], "mptcp")) {
		type = SOCK_STREAM;
		proto = IPPROTO_MPTCP;
	} else if (!strcmp(argv[2], "smc")) {
		sfamily = AF_SMC;
		type = SOCK_STREAM;
		proto = family == AF_INET ? SMCPROTO_SMC : SMCPROTO_SMC6;
	} else if (!strcmp(argv[2], "smc-inet")) {
		type = SOCK_STREAM;
		proto = IPPROTO_SMC;
	} else if (!strcmp(argv[2], "rxrpc")) {
		sfamily = AF_RXRPC;
		type = SOCK_DGRAM;
		proto = family;
		rxrpc = true;
	} else {
		return print_usage();
	}

	port = strtoul(argv[4], &end, 10);
	if (*end || port > 65535)
		return print_usage();

	for (i = 5; i < argc; i++) {
		if (!strcmp(argv[i], "reuseaddr"))
			reuseaddr = true;
		else if (!strcmp(argv[i], "reuseport"))
			reuseport = true;
		else if (!strcmp(argv[i], "wait"))
			wait = true;
		else if (!strcmp(argv[i], "hold"))
			hold = true;
		else if (!strcmp(argv[i], "listen"))
			do_listen = true;
		else if (!strcmp(argv[i], "secure"))
			printf("secure=%lu\n", getauxval(AT_SECURE));
		else if (!strcmp(argv[i], "dumpable"))
			printf("dumpable=%d\n", prctl(PR_GET_DUMPABLE, 0, 0, 0, 0));
		else if (!strcmp(argv[i], "personality"))
			printf("personality=0x%x\n",
			       (unsigned int)personality(0xffffffff));
		else if (!strcmp(argv[i], "addr"))
			printf("addr=%p\n", (void *)target_buf);
		else if (!strcmp(argv[i], "traceme"))
			printf("traceme=%d\n",
			       ptrace(PTRACE_TRACEME, 0, NULL, NULL) ? errno : 0);
		else
			return print_usage();
	}
	fflush(stdout);

	if (family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		if (inet_pton(AF_INET, argv[3], &sin->sin_addr) != 1)
			return print_usage();
		len = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		if (inet_pton(AF_INET6, argv[3], &sin6->sin6_addr) != 1)
			return print_usage();
		len = sizeof(*sin6);
	}

	if (wait) {
		printf("ready\n");
		fflush(stdout);
		if (read(0, &c, 1) < 0)
			return fail("read");
	}

	fd = socket(sfamily, type, proto);
	if (fd < 0)
		return fail("socket");
	if (family == AF_INET6 && sfamily == AF_INET6 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero)))
		return fail("IPV6_V6ONLY");
	if (reuseaddr &&
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)))
		return fail("SO_REUSEADDR");
	if (reuseport &&
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)))
		return fail("SO_REUSEPORT");
	if (rxrpc) {
		/* AF_RXRPC has no getsockname(): the port is the one asked. */
		if (bind(fd, (struct sockaddr *)&srx, rxrpc_addr(&srx, &ss, len)))
			return fail("bind");
	} else if (bind(fd, (struct sockaddr *)&ss, len)) {
		return fail("bind");
	}
	if ((hold || do_listen) && type == SOCK_STREAM && listen(fd, 16))
		return fail("listen");

	len = sizeof(ss);
	if (!rxrpc && getsockname(fd, (struct sockaddr *)&ss, &len))
		return fail("getsockname");
	printf("%u\n", ntohs(family == AF_INET ?
			     ((struct sockaddr_in *)&ss)->sin_port :
			     ((struct sockaddr_in6 *)&ss)->sin6_port));
	fflush(stdout);

	if (hold) {
		while (read(0, &c, 1) > 0)
			;
	}
	close(fd);
	return 0;
}
