// SPDX-License-Identifier: GPL-2.0
/*
 * kportreserve: the cost of a bind() to a port that is not reserved must not
 * depend on the number of rules (one bit test in an RCU-published bitmap).
 *
 * bind() on a socket that is already bound runs the LSM hook and then fails
 * early in the stack with EINVAL, so a loop of such calls measures the hook.
 * The test compares the best of several rounds with an empty policy and with
 * 20000 rules; a lookup that walked the rules would be many times slower.
 */

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "kselftest_harness.h"

#define POLICY "/sys/kernel/security/kportreserve/policy"
#define NR_RULES 20000
#define FIRST_RULE_PORT 61000
#define BENCH_PORT 31999
#define CALLS 20000
#define ROUNDS 5

static int write_txn(const char *text, size_t len)
{
	int fd, err = 0;

	fd = open(POLICY, O_WRONLY | O_TRUNC);
	if (fd < 0)
		return errno;
	if (write(fd, text, len) != (ssize_t)len)
		err = errno;
	if (close(fd) && !err)
		err = errno;
	return err;
}

/* Best time of ROUNDS rounds of CALLS bind() calls on a bound socket, in ns. */
static long long bench_bind(struct __test_metadata *const _metadata)
{
	struct sockaddr_in addr = {
		.sin_family = AF_INET,
		.sin_port = htons(BENCH_PORT),
		.sin_addr.s_addr = htonl(INADDR_ANY),
	};
	long long best = -1;
	int fd, i, r;

	fd = socket(AF_INET, SOCK_DGRAM, 0);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, bind(fd, (struct sockaddr *)&addr, sizeof(addr)));
	for (r = 0; r < ROUNDS; r++) {
		struct timespec a, b;
		long long ns;

		clock_gettime(CLOCK_MONOTONIC, &a);
		for (i = 0; i < CALLS; i++) {
			if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) != -1 ||
			    errno != EINVAL)
				ASSERT_EQ(EINVAL, errno);
		}
		clock_gettime(CLOCK_MONOTONIC, &b);
		ns = (b.tv_sec - a.tv_sec) * 1000000000LL + b.tv_nsec - a.tv_nsec;
		if (best < 0 || ns < best)
			best = ns;
	}
	close(fd);
	return best;
}

TEST(unreserved_bind_cost_is_independent_of_rules)
{
	long long empty, full;
	size_t len = 0;
	char *text;
	int i;

	ASSERT_EQ(0, write_txn("clear\n", 6));
	empty = bench_bind(_metadata);

	text = malloc(NR_RULES * 64);
	ASSERT_NE(NULL, text);
	len += sprintf(text, "clear\n");
	for (i = 0; i < NR_RULES; i++)
		len += sprintf(text + len, "%d/udp /usr/lib/kpr/p%d\n",
			       FIRST_RULE_PORT + i % 4000, i);
	ASSERT_EQ(0, write_txn(text, len));
	free(text);
	full = bench_bind(_metadata);
	ASSERT_EQ(0, write_txn("clear\n", 6));

	TH_LOG("bind() to an unreserved port: %lld ns with no rules, %lld ns with %d rules",
	       empty / CALLS, full / CALLS, NR_RULES);
	/* Generous for an emulated machine, far below a walk of the rules. */
	ASSERT_LT(full, 2 * empty + 1000LL * CALLS);
}

TEST_HARNESS_MAIN
