// SPDX-License-Identifier: GPL-2.0
/*
 * kportreserve: tests of permissive mode and of the per-rule counters.
 *
 * In permissive mode a bind that the rules refuse is let through (and
 * logged, which guest-tests.sh checks while the log is not rate limited);
 * switching back to enforcing refuses it again; a mode line is part of its
 * transaction.  Automatic port selection passes over reserved ports in both
 * modes.  The stats file counts, per rule, the binds let through, those that
 * no rule let through, and the reserved ports that automatic selection
 * skipped; a rule that stays in the policy through a reload keeps its
 * counts.
 *
 * Explicit binds use ports 33100-33199; automatic selection 40000-40001
 * (ip_local_port_range is narrowed, then restored).
 */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <sys/stat.h>

#include "kselftest_harness.h"
#include "common.h"

#define KPR_STATS KPR_SECURITYFS "/kportreserve/stats"

FIXTURE(mode) {
	char kpr_bind[PATH_MAX];
	char dir[64];
	char copy[PATH_MAX];
	char range[64];
};

FIXTURE_SETUP(mode)
{
	char *range;

	if (!policy_ready(_metadata))
		return;
	ASSERT_EQ(0, set_lo_up());
	helper_setup(_metadata, self->kpr_bind, self->dir, self->copy);
	range = read_file(KPR_PORT_RANGE);
	if (range) {
		snprintf(self->range, sizeof(self->range), "%s", range);
		free(range);
	}
}

FIXTURE_TEARDOWN_PARENT(mode)
{
	write_policy("clear\n");
	if (self->range[0])
		write_text(KPR_PORT_RANGE, self->range);
	remove_tree(self->dir);
}

/* bind() of a TCP socket to 127.0.0.1:@port by the test: 0 or errno. */
static int tcp(unsigned short port)
{
	return bind_addr(AF_INET, SOCK_STREAM, "127.0.0.1", port, 0);
}

/* @prog binds 127.0.0.1:@port over TCP, as @uid: 0 or errno. */
static int run_tcp(const char *prog, uid_t uid, unsigned short port)
{
	return run_bind(prog, uid, "inet", "tcp", "127.0.0.1", port, NULL,
			NULL);
}

/* Checks that the policy reads back as @expected. */
static void expect_policy(struct __test_metadata *const _metadata,
			  const char *expected)
{
	char *p = read_policy();

	ASSERT_NE(NULL, p);
	EXPECT_STREQ(expected, p);
	free(p);
}

/*
 * The counters of the stats line of @rule (its canonical text): allowed,
 * denied and skipped.  Fails the test if there is no such line.
 */
static void stats_of(struct __test_metadata *const _metadata,
		     const char *rule, unsigned long long counts[3])
{
	char *stats = read_file(KPR_STATS), *line, *next;
	size_t len = strlen(rule);
	bool found = false;
	int n;

	ASSERT_NE(NULL, stats)
	{
		TH_LOG("%s: %s", KPR_STATS, strerror(errno));
	}
	for (line = stats; *line; line = next) {
		next = strchr(line, '\n');
		ASSERT_NE(NULL, next);
		*next++ = '\0';
		if (strncmp(line, rule, len) || line[len] != ' ')
			continue;
		n = sscanf(line + len, " allowed=%llu denied=%llu skipped=%llu",
			   &counts[0], &counts[1], &counts[2]);
		ASSERT_EQ(3, n)
		{
			TH_LOG("stats line \"%s\"", line);
		}
		found = true;
	}
	free(stats);
	ASSERT_TRUE(found)
	{
		TH_LOG("no stats line for \"%s\"", rule);
	}
}

/* Checks the counters of @rule. */
#define EXPECT_STATS(rule, a, d, s)                                         \
	do {                                                                \
		unsigned long long c_[3] = { ~0ULL, ~0ULL, ~0ULL };         \
		stats_of(_metadata, rule, c_);                              \
		EXPECT_EQ((unsigned long long)(a), c_[0]);                  \
		EXPECT_EQ((unsigned long long)(d), c_[1]);                  \
		EXPECT_EQ((unsigned long long)(s), c_[2]);                  \
	} while (0)

TEST_F(mode, permissive_allows)
{
	const unsigned short port = 33100;
	char expected[2 * PATH_MAX + 64];

	ASSERT_EQ(0, policy_printf("%u/tcp %s\n", port, self->kpr_bind));
	/* Enforcing: refused to the test and to a copy; the owner binds. */
	EXPECT_EQ(EACCES, tcp(port));
	EXPECT_EQ(EACCES, run_tcp(self->copy, KPR_UID, port));
	EXPECT_EQ(0, run_tcp(self->kpr_bind, KPR_UID, port));

	/* Permissive: let through, for everyone; the owner still binds. */
	ASSERT_EQ(0, write_policy("mode permissive\n"));
	EXPECT_EQ(0, tcp(port));
	EXPECT_EQ(0, run_tcp(self->copy, KPR_UID, port));
	EXPECT_EQ(0, run_tcp(self->kpr_bind, KPR_UID, port));
	/* Unreserved ports are not affected either way. */
	EXPECT_EQ(0, tcp(port + 1));
	snprintf(expected, sizeof(expected), "mode permissive\n%u/tcp %s\n",
		 port, self->kpr_bind);
	expect_policy(_metadata, expected);

	/* A transaction without a mode line keeps the mode. */
	ASSERT_EQ(0, policy_printf("%u/udp %s\n", port, self->kpr_bind));
	EXPECT_EQ(0, tcp(port));
	EXPECT_EQ(0, bind_addr(AF_INET, SOCK_DGRAM, "127.0.0.1", port, 0));

	/* Back to enforcing: refused again. */
	ASSERT_EQ(0, write_policy("mode enforcing\n"));
	EXPECT_EQ(EACCES, tcp(port));
	EXPECT_EQ(EACCES, run_tcp(self->copy, KPR_UID, port));
	EXPECT_EQ(0, run_tcp(self->kpr_bind, KPR_UID, port));
	snprintf(expected, sizeof(expected), "%u/tcp %s\n%u/udp %s\n", port,
		 self->kpr_bind, port, self->kpr_bind);
	expect_policy(_metadata, expected);
}

TEST_F(mode, mode_is_transactional)
{
	const unsigned short port = 33110;
	char expected[2 * PATH_MAX + 64];

	ASSERT_EQ(0, policy_printf("%u/tcp %s\n", port, self->kpr_bind));
	/* A failed transaction switches nothing. */
	EXPECT_EQ(-EINVAL, write_policy("mode permissive\nbogus\n"));
	EXPECT_EQ(-ENOENT, write_policy("mode permissive\ndelete 1 /none\n"));
	EXPECT_EQ(EACCES, tcp(port));
	snprintf(expected, sizeof(expected), "%u/tcp %s\n", port,
		 self->kpr_bind);
	expect_policy(_metadata, expected);

	/* The last mode line of a transaction wins. */
	ASSERT_EQ(0, write_policy("mode permissive\nmode enforcing\n"));
	EXPECT_EQ(EACCES, tcp(port));
	ASSERT_EQ(0, write_policy("mode enforcing\nmode permissive\n"));
	EXPECT_EQ(0, tcp(port));

	/* clear goes back to enforcing; the rules of the same write apply. */
	ASSERT_EQ(0, policy_printf("clear\n%u/tcp %s\n", port,
				   self->kpr_bind));
	EXPECT_EQ(EACCES, tcp(port));
	expect_policy(_metadata, expected);

	/* What is read back, written after clear, gives the same policy. */
	ASSERT_EQ(0, policy_printf("clear\nmode permissive\n%u/tcp %s\n", port,
				   self->kpr_bind));
	snprintf(expected, sizeof(expected), "mode permissive\n%u/tcp %s\n",
		 port, self->kpr_bind);
	expect_policy(_metadata, expected);
	ASSERT_EQ(0, policy_printf("clear\n%s", expected));
	expect_policy(_metadata, expected);
	EXPECT_EQ(0, tcp(port));
}

/* The port that a TCP bind to port 0 of 127.0.0.1 gets, or -1. */
static int autobind_port(void)
{
	int fd = new_socket(AF_INET, SOCK_STREAM), port;
	struct sockaddr_in a = {
		.sin_family = AF_INET,
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK),
	};

	if (fd < 0)
		return -1;
	if (bind(fd, (struct sockaddr *)&a, sizeof(a))) {
		close(fd);
		return -1;
	}
	port = local_port(fd);
	close(fd);
	return port;
}

TEST_F(mode, autobind_skips_in_both_modes)
{
	/* bind() to port 0 tries the odd ports of the range first. */
	const unsigned short low = 40000, odd = low + 1;
	char rule[64];
	int i;

	ASSERT_EQ(0, set_port_range(low, low + 1));
	/* Control: without a rule, the odd port is picked. */
	for (i = 0; i < 8 && autobind_port() != odd; i++)
		;
	EXPECT_GT(8, i);

	ASSERT_EQ(0, policy_printf("%u/tcp /nonexistent/owner\n", odd));
	snprintf(rule, sizeof(rule), "%u/tcp /nonexistent/owner", odd);
	EXPECT_STATS(rule, 0, 0, 0);
	for (i = 0; i < 8; i++)
		EXPECT_EQ(low, autobind_port());
	/* The skips were counted, and nothing else. */
	{
		unsigned long long c[3];

		stats_of(_metadata, rule, c);
		EXPECT_LE(1ULL, c[2]);
		EXPECT_EQ(0ULL, c[0] + c[1]);
	}
	ASSERT_EQ(0, write_policy("mode permissive\n"));
	for (i = 0; i < 8; i++)
		EXPECT_EQ(low, autobind_port());
}

TEST_F(mode, stats_count)
{
	const unsigned short port = 33120;
	char a[PATH_MAX + 64], b[PATH_MAX + 64], u[PATH_MAX + 64];
	struct stat st;
	char *empty;

	snprintf(a, sizeof(a), "%u/tcp %s", port, self->kpr_bind);
	snprintf(b, sizeof(b), "%u-%u %s", port, port + 1, self->copy);
	snprintf(u, sizeof(u), "%u/tcp %s user=%u", port + 2, self->kpr_bind,
		 KPR_UID);

	/* The file: root only, read only; nothing for no policy. */
	ASSERT_EQ(0, stat(KPR_STATS, &st));
	EXPECT_EQ((mode_t)0400, st.st_mode & 07777);
	EXPECT_EQ(-1, open(KPR_STATS, O_WRONLY));
	EXPECT_EQ(EPERM, errno);
	empty = read_file(KPR_STATS);
	ASSERT_NE(NULL, empty);
	EXPECT_STREQ("", empty);
	free(empty);

	ASSERT_EQ(0, policy_printf("%s\n%s\n%s\n", a, b, u));
	EXPECT_STATS(a, 0, 0, 0);
	EXPECT_STATS(b, 0, 0, 0);

	/* A denial counts in every rule that reserves the port. */
	EXPECT_EQ(EACCES, tcp(port));
	EXPECT_STATS(a, 0, 1, 0);
	EXPECT_STATS(b, 0, 1, 0);
	/* A bind that a rule lets through counts in that rule only. */
	EXPECT_EQ(0, run_tcp(self->kpr_bind, KPR_SAME_UID, port));
	EXPECT_EQ(0, run_tcp(self->kpr_bind, KPR_UID, port));
	EXPECT_STATS(a, 2, 1, 0);
	EXPECT_STATS(b, 0, 1, 0);
	EXPECT_EQ(0, run_tcp(self->copy, KPR_SAME_UID, port));
	EXPECT_STATS(a, 2, 1, 0);
	EXPECT_STATS(b, 1, 1, 0);
	/* UDP: only the rule of both protocols. */
	EXPECT_EQ(EACCES, bind_addr(AF_INET, SOCK_DGRAM, "127.0.0.1", port, 0));
	EXPECT_STATS(a, 2, 1, 0);
	EXPECT_STATS(b, 1, 2, 0);
	/* The user qualifier: the wrong user is denied, and counted so. */
	EXPECT_EQ(EACCES, run_tcp(self->kpr_bind, KPR_SAME_UID, port + 2));
	EXPECT_EQ(0, run_tcp(self->kpr_bind, KPR_UID, port + 2));
	EXPECT_STATS(u, 1, 1, 0);
	/* Unreserved ports count nowhere. */
	EXPECT_EQ(0, tcp(port + 3));
	EXPECT_STATS(a, 2, 1, 0);
	EXPECT_STATS(b, 1, 2, 0);

	/* Permissive: what would be refused counts as denied. */
	ASSERT_EQ(0, write_policy("mode permissive\n"));
	EXPECT_EQ(0, tcp(port));
	EXPECT_STATS(a, 2, 2, 0);
	EXPECT_STATS(b, 1, 3, 0);

	/*
	 * A reload (clear, then the rules again) keeps the counts of the
	 * rules that stay; a new or changed rule starts from zero.
	 */
	ASSERT_EQ(0, policy_printf("clear\n%s\n%s user=%u\n%u /x\n", a, b,
				   KPR_UID, port + 5));
	EXPECT_STATS(a, 2, 2, 0);
	/*
	 * And a second reload: the counts that the first one carried over are
	 * carried again, although the policy that holds them counted nothing
	 * itself.
	 */
	ASSERT_EQ(0, policy_printf("clear\n%s\n%s user=%u\n%u /x\n", a, b,
				   KPR_UID, port + 5));
	EXPECT_STATS(a, 2, 2, 0);
	{
		char bu[PATH_MAX + 80], x[32];

		snprintf(bu, sizeof(bu), "%s user=%u", b, KPR_UID);
		snprintf(x, sizeof(x), "%u /x", port + 5);
		EXPECT_STATS(bu, 0, 0, 0);
		EXPECT_STATS(x, 0, 0, 0);
	}
	/* Deleted and added again in later transactions: from zero. */
	ASSERT_EQ(0, policy_printf("delete %s\n", a));
	ASSERT_EQ(0, policy_printf("%s\n", a));
	EXPECT_STATS(a, 0, 0, 0);
	/* Every rule has a line, in the order of the policy file. */
	{
		char *s = read_file(KPR_STATS), *p = read_policy();
		char *sl, *pl, *ss = NULL, *ps = NULL;
		int n = 0;

		ASSERT_NE(NULL, s);
		ASSERT_NE(NULL, p);
		for (sl = strtok_r(s, "\n", &ss), pl = strtok_r(p, "\n", &ps);
		     sl && pl;
		     sl = strtok_r(NULL, "\n", &ss),
		     pl = strtok_r(NULL, "\n", &ps), n++) {
			if (!strcmp(pl, "mode permissive")) {
				pl = strtok_r(NULL, "\n", &ps);
				ASSERT_NE(NULL, pl);
			}
			EXPECT_EQ(0, strncmp(sl, pl, strlen(pl)));
			EXPECT_EQ(' ', sl[strlen(pl)]);
		}
		EXPECT_EQ(NULL, sl);
		EXPECT_EQ(NULL, pl);
		EXPECT_EQ(3, n);
		free(s);
		free(p);
	}
}

TEST_HARNESS_MAIN
