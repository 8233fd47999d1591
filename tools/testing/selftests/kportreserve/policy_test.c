// SPDX-License-Identifier: GPL-2.0
/*
 * kportreserve: tests of the policy file,
 * /sys/kernel/security/kportreserve/policy
 *
 * Line syntax (valid and malformed forms, escapes), canonical output and
 * its byte-exact round trip, reads in small pieces, comments, transactions
 * (one per open file: a bad line discards everything, the policy is
 * published at close), lines split across writes, thousands of rules, the
 * rule limit, one writer at a time, and who may write.  "lock" is not
 * tested here: it lasts until reboot.
 *
 * Rules use ports 20000-29999 only; every test starts and ends with an
 * empty policy.
 */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "kselftest_harness.h"
#include "common.h"

/* Checks that the policy reads back as @expected. */
static void check_policy(struct __test_metadata *const _metadata,
			 const char *expected)
{
	char *p = read_policy();
	size_t i;

	ASSERT_NE(NULL, p)
	{
		TH_LOG("Failed to read %s: %s", KPR_POLICY, strerror(errno));
	}
	if (strlen(expected) < 2048 && strlen(p) < 2048) {
		EXPECT_STREQ(expected, p);
	} else {
		/* Too long to print: show where it differs. */
		for (i = 0; p[i] && p[i] == expected[i]; i++)
			;
		EXPECT_EQ(0, strcmp(expected, p))
		{
			TH_LOG("At byte %zu: \"%.40s\" instead of \"%.40s\"",
			       i, p + i, expected + i);
		}
	}
	free(p);
}

static int open_write(void)
{
	return open(KPR_POLICY, O_WRONLY | O_CLOEXEC);
}

/* One write(2) of @s; returns 0 or -errno. */
static int put(int fd, const char *s)
{
	ssize_t n = write(fd, s, strlen(s));

	if (n < 0)
		return -errno;
	return n == (ssize_t)strlen(s) ? 0 : -EIO;
}

FIXTURE(policy) {};

FIXTURE_SETUP(policy)
{
	policy_ready(_metadata);
}

FIXTURE_TEARDOWN_PARENT(policy)
{
	write_policy("clear\n");
}

/* Valid forms, as the canonical lines that they read back as. */
TEST_F(policy, valid_lines)
{
	static const char *const accepted[] = {
		/* Bounds of the port syntax, never applied (see below). */
		"1 /x",
		"65535 /x",
		"1-65535 /x",
		"1-65535/tcp /x",
		"65535/udp <kernel>",
		"\t 1 \t /x \t",
		"1 /x #",
		"delete 1 /x",
		"1 /x user=0",
		"1 /x group=4294967294",
		"1 /x group=1 user=2",
		"mode permissive",
		"mode enforcing",
	};
	const char *text =
		"# kportreserve selftest policy\n"
		"\n"
		"   \t\n"
		"29000 /usr/sbin/z\n"
		"20000-20010/udp /usr/sbin/b\n"
		"20000-20010/udp /usr/sbin/a\n"
		"  20000\t/usr/sbin/c   # the web server\n"
		"20000-20005 /usr/sbin/d\n"
		"21000-21000/tcp <kernel>\n"
		"22000 /opt/a#b\n"
		"23000 /usr/sbin/c\n"
		"24000-24999 /usr/sbin/c\n"
		"25000/tcp /usr/sbin/n group=33\n"
		"25000/tcp /usr/sbin/n user=33\n"
		"25000/tcp /usr/sbin/n group=34 user=33\n"
		"25000/tcp /usr/sbin/n\n";
	const char *expected =
		"20000 /usr/sbin/c\n"
		"20000-20005 /usr/sbin/d\n"
		"20000-20010/udp /usr/sbin/a\n"
		"20000-20010/udp /usr/sbin/b\n"
		"21000/tcp <kernel>\n"
		"22000 /opt/a#b\n"
		"23000 /usr/sbin/c\n"
		"24000-24999 /usr/sbin/c\n"
		"25000/tcp /usr/sbin/n\n"
		"25000/tcp /usr/sbin/n group=33\n"
		"25000/tcp /usr/sbin/n user=33\n"
		"25000/tcp /usr/sbin/n user=33 group=34\n"
		"29000 /usr/sbin/z\n";
	char path[4096 + 16], *p;
	unsigned int i;
	int fd;

	/*
	 * Lines with ports outside this test's range are accepted by their
	 * write(2), then a bad line discards the transaction: nothing changes.
	 */
	for (i = 0; i < ARRAY_SIZE(accepted); i++) {
		char line[64];

		fd = open_write();
		ASSERT_LE(0, fd);
		/* The delete needs its rule in the same transaction. */
		if (!strncmp(accepted[i], "delete", 6))
			EXPECT_EQ(0, put(fd, "1 /x\n"));
		snprintf(line, sizeof(line), "%s\n", accepted[i]);
		EXPECT_EQ(0, put(fd, line))
		{
			TH_LOG("\"%s\" was refused", accepted[i]);
		}
		EXPECT_EQ(-EINVAL, put(fd, "bogus\n"));
		ASSERT_EQ(0, close(fd));
		check_policy(_metadata, "");
	}

	ASSERT_EQ(0, write_policy(text));
	check_policy(_metadata, expected);

	/* The longest program path: PATH_MAX - 1 bytes. */
	ASSERT_EQ(0, write_policy("clear\n"));
	memset(path, 'a', sizeof(path));
	path[0] = '/';
	path[4095] = '\0';
	ASSERT_EQ(0, policy_printf("25000 %s\n", path));
	p = read_policy();
	ASSERT_NE(NULL, p);
	EXPECT_EQ(0, strncmp(p, "25000 /aaa", 10));
	EXPECT_EQ(strlen("25000 ") + 4095 + 1, strlen(p));
	free(p);
}

/* Every malformed form fails its write(2) with EINVAL and changes nothing. */
TEST_F(policy, malformed_lines)
{
	static const char *const bad[] = {
		/* Ports. */
		"0 /x",
		"65536 /x",
		"99999 /x",
		"4294987296 /x",
		"-1 /x",
		"+20000 /x",
		"020000 /x",
		"20000x /x",
		"0x4e20 /x",
		"2e4 /x",
		"20001-20000 /x",
		"20000- /x",
		"-20000 /x",
		"20000-20001-20002 /x",
		"20000--20001 /x",
		"20000 - 20001 /x",
		"20000-0x4e21 /x",
		/* Protocols. */
		"20000/sctp /x",
		"20000/TCP /x",
		"20000/Udp /x",
		"20000/ /x",
		"20000/tcp/udp /x",
		"20000/tcpx /x",
		"20000/tcp,udp /x",
		/* Programs. */
		"20000",
		"20000/tcp",
		"20000 x",
		"20000 x/y",
		"20000 ./x",
		"20000 ~/x",
		"20000 /",
		"20000 //x",
		"20000 /a//b",
		"20000 /a/./b",
		"20000 /a/../b",
		"20000 /./a",
		"20000 /../a",
		"20000 /a/",
		"20000 /a/.",
		"20000 /a/..",
		"20000 /x\r",
		"20000 /a\001b",
		"20000 /a\x1b[0m",
		"20000 /a\x7f",
		"20000 <kern>",
		"20000 <KERNEL>",
		"20000 <kernel>x",
		"20000 kernel",
		"20000 #/x",
		/* Escapes: \ooo, 3 octal digits, 001 to 377. */
		"20000 /a\\",
		"20000 /a\\0",
		"20000 /a\\04",
		"20000 /a\\04/b",
		"20000 /a\\000",
		"20000 /a\\000b",
		"20000 /a\\400",
		"20000 /a\\777",
		"20000 /a\\08a",
		"20000 /a\\x41",
		"20000 /a\\\\",
		"20000 /a\\ b",
		/* Checked once decoded: /, /a/, /a/../b, relative. */
		"20000 \\057",
		"20000 /a\\057",
		"20000 /a\\057..\\057b",
		"20000 \\141",
		/* Qualifiers: user=UID, group=GID, once each, not for <kernel>. */
		"20000 /x user=",
		"20000 /x user=www-data",
		"20000 /x user=-1",
		"20000 /x user=+1",
		"20000 /x user=033",
		"20000 /x user=0x21",
		"20000 /x user=4294967295",
		"20000 /x group=4294967296",
		"20000 /x user=1 user=1",
		"20000 /x group=1 group=2",
		"20000 /x uid=1",
		"20000 /x USER=1",
		"20000 /x user =1",
		"20000 /x user= 1",
		"20000 /x user=1 group=1 x",
		"20000 <kernel> user=0",
		"20000 <kernel> group=0",
		"user=0 20000 /x",
		/* Modes. */
		"mode",
		"mode Permissive",
		"mode permissive now",
		"mode complain",
		"permissive",
		/* Extra words. */
		"20000 /x extra",
		"20000 /x /y",
		"20000 /a b",
		"/x 20000",
		/* Commands. */
		"delete",
		"delete 20000",
		"delete /x",
		"delete 20000 /x extra",
		"delete 0 /x",
		"DELETE 20000 /x",
		"del 20000 /x",
		"clear now",
		"CLEAR",
		"frobnicate",
		"add 20000 /x",
	};
	const char *initial = "20000 /usr/bin/kpr-a\n20001-20002/udp <kernel>\n";
	/* Longer than the longest line: a path of 4095 escaped bytes. */
	static char long_line[20000];
	static char line[6 + 1 + 4 * 4095 + 2];
	unsigned int i;
	char *p;
	int fd;

	ASSERT_EQ(0, write_policy(initial));

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		snprintf(line, sizeof(line), "%s\n", bad[i]);
		EXPECT_EQ(-EINVAL, write_policy(line))
		{
			TH_LOG("\"%s\" was not refused with EINVAL", bad[i]);
		}
		check_policy(_metadata, initial);

		/* Unterminated, it is checked at close: still nothing. */
		write_policy(bad[i]);
		check_policy(_metadata, initial);
	}

	/* A NUL byte in a line. */
	fd = open_write();
	ASSERT_LE(0, fd);
	EXPECT_EQ(-1, write(fd, "20000 /x\0/y\n", 12));
	EXPECT_EQ(EINVAL, errno);
	ASSERT_EQ(0, close(fd));
	check_policy(_metadata, initial);

	/* A program path of PATH_MAX bytes: one too many. */
	memset(line, 'a', sizeof(line));
	memcpy(line, "20000 /", 7);
	snprintf(line + 6 + 4096, sizeof(line) - 6 - 4096, "\n");
	EXPECT_EQ(-EINVAL, write_policy(line));
	check_policy(_metadata, initial);

	/* PATH_MAX bytes once decoded: "/" and 4095 escaped bytes. */
	p = stpcpy(line, "20000 /");
	for (i = 0; i < 4095; i++)
		p = stpcpy(p, "\\040");
	strcpy(p, "\n");
	EXPECT_EQ(-EINVAL, write_policy(line));
	check_policy(_metadata, initial);

	/* A far too long line, whole or without its end. */
	memset(long_line, 'a', sizeof(long_line));
	memcpy(long_line, "20000 /", 7);
	snprintf(long_line + sizeof(long_line) - 2, 2, "\n");
	EXPECT_EQ(-EINVAL, write_policy(long_line));
	check_policy(_metadata, initial);
	long_line[sizeof(long_line) - 2] = '\0';
	write_policy(long_line);
	check_policy(_metadata, initial);
}

/* Deleting a rule that is not there fails with ENOENT and changes nothing. */
TEST_F(policy, delete_missing)
{
	static const char *const missing[] = {
		"delete 20000 /b",
		"delete 20000/tcp /a",
		"delete 20000/udp /a",
		"delete 20001 /a",
		"delete 20001/udp /a",
		"delete 20002 /b",
		"delete 20003 /b",
		"delete 20002-20004 /b",
		"delete 20002-20003/udp /b",
		"delete 20004 /a",
		"delete 20000 <kernel>",
	};
	const char *initial = "20000 /a\n20001/tcp /a\n20002-20003 /b\n";
	unsigned int i;

	ASSERT_EQ(0, write_policy("20001/tcp /a\n20000 /a\n20002-20003 /b\n"));
	check_policy(_metadata, initial);

	for (i = 0; i < ARRAY_SIZE(missing); i++) {
		char line[64];

		snprintf(line, sizeof(line), "%s\n", missing[i]);
		EXPECT_EQ(-ENOENT, write_policy(line))
		{
			TH_LOG("\"%s\" did not fail with ENOENT", missing[i]);
		}
		check_policy(_metadata, initial);
	}

	/* A rule deleted twice in one transaction. */
	EXPECT_EQ(-ENOENT, write_policy("delete 20000 /a\ndelete 20000 /a\n"));
	check_policy(_metadata, initial);

	/* Added and deleted in one transaction. */
	EXPECT_EQ(0, write_policy("20005 /c\ndelete 20005 /c\n"));
	check_policy(_metadata, initial);

	/* A range FIRST-FIRST is the rule FIRST. */
	EXPECT_EQ(0, write_policy("delete 20000-20000 /a\n"));
	check_policy(_metadata, "20001/tcp /a\n20002-20003 /b\n");
	EXPECT_EQ(0, write_policy("delete 20001/tcp /a\n"
				  "delete 20002-20003 /b\n"));
	check_policy(_metadata, "");
}

/* One bad line anywhere in a transaction, and nothing of it is applied. */
TEST_F(policy, bad_line_discards_transaction)
{
	const char *initial = "20000 /a\n";
	int fd;

	ASSERT_EQ(0, write_policy(initial));

	/* In one write(2), the bad line last. */
	EXPECT_EQ(-EINVAL,
		  write_policy("clear\n20001 /b\n20002 /c\nbogus line\n"));
	check_policy(_metadata, initial);

	/* Across writes: later writes fail with the same error. */
	fd = open_write();
	ASSERT_LE(0, fd);
	EXPECT_EQ(0, put(fd, "clear\n"));
	EXPECT_EQ(0, put(fd, "20001 /b\n"));
	EXPECT_EQ(-EINVAL, put(fd, "20002 /x extra\n"));
	EXPECT_EQ(-EINVAL, put(fd, "20003 /d\n"));
	EXPECT_EQ(-EINVAL, put(fd, "\n"));
	ASSERT_EQ(0, close(fd));
	check_policy(_metadata, initial);

	/* The same after ENOENT. */
	fd = open_write();
	ASSERT_LE(0, fd);
	EXPECT_EQ(0, put(fd, "clear\n20001 /b\n"));
	EXPECT_EQ(-ENOENT, put(fd, "delete 20009 /none\n"));
	EXPECT_EQ(-ENOENT, put(fd, "20003 /d\n"));
	ASSERT_EQ(0, close(fd));
	check_policy(_metadata, initial);

	/* A bad unterminated last line, found at close. */
	fd = open_write();
	ASSERT_LE(0, fd);
	EXPECT_EQ(0, put(fd, "clear\n20001 /b\nbogus"));
	ASSERT_EQ(0, close(fd));
	check_policy(_metadata, initial);

	/* A mode line in a failed transaction changes no mode, either way. */
	EXPECT_EQ(-EINVAL, write_policy("mode permissive\nbogus\n"));
	check_policy(_metadata, initial);
	ASSERT_EQ(0, write_policy("mode permissive\n"));
	check_policy(_metadata, "mode permissive\n20000 /a\n");
	EXPECT_EQ(-ENOENT, write_policy("mode enforcing\ndelete 1 /none\n"));
	EXPECT_EQ(-EINVAL, write_policy("clear\n20000 /a\nmode\n"));
	check_policy(_metadata, "mode permissive\n20000 /a\n");
}

/* A rule with a qualifier is another rule: delete names the qualifier too. */
TEST_F(policy, qualified_delete)
{
	const char *initial = "20000 /a\n20000 /a group=1\n20000 /a user=1\n"
			      "20000 /a user=1 group=2\n";

	ASSERT_EQ(0, write_policy(initial));
	check_policy(_metadata, initial);
	EXPECT_EQ(-ENOENT, write_policy("delete 20000 /a user=2\n"));
	EXPECT_EQ(-ENOENT, write_policy("delete 20000 /a group=2\n"));
	EXPECT_EQ(-ENOENT, write_policy("delete 20000 /a user=2 group=1\n"));
	EXPECT_EQ(-ENOENT, write_policy("delete 20000 /b user=1\n"));
	check_policy(_metadata, initial);
	ASSERT_EQ(0, write_policy("delete 20000 /a user=1\n"));
	check_policy(_metadata, "20000 /a\n20000 /a group=1\n"
				"20000 /a user=1 group=2\n");
	ASSERT_EQ(0, write_policy("delete 20000 /a group=2 user=1\n"
				  "delete 20000 /a\n"));
	check_policy(_metadata, "20000 /a group=1\n");
	/* Written again, a rule is there once. */
	ASSERT_EQ(0, write_policy("20000 /a group=1\n20000 /a group=1\n"));
	check_policy(_metadata, "20000 /a group=1\n");
}

/* The new policy is in force once close() returns, not before. */
TEST_F(policy, published_at_close)
{
	int fd;

	ASSERT_EQ(0, write_policy("20000 /a\n"));

	fd = open_write();
	ASSERT_LE(0, fd);
	EXPECT_EQ(0, put(fd, "20001 /b\n"));
	check_policy(_metadata, "20000 /a\n");
	EXPECT_EQ(0, put(fd, "clear\n"));
	check_policy(_metadata, "20000 /a\n");
	EXPECT_EQ(0, put(fd, "20002 /c\n"));
	ASSERT_EQ(0, close(fd));
	check_policy(_metadata, "20002 /c\n");

	/* An unterminated last line is applied at close too. */
	ASSERT_EQ(0, write_policy("20003 /d"));
	check_policy(_metadata, "20002 /c\n20003 /d\n");
	ASSERT_EQ(0, write_policy("clear"));
	check_policy(_metadata, "");

	/* Opening and closing without writing changes nothing. */
	ASSERT_EQ(0, write_policy("20004 /e\n"));
	ASSERT_EQ(0, write_policy(""));
	check_policy(_metadata, "20004 /e\n");
}

/* Lines split across writes anywhere, down to one byte per write. */
TEST_F(policy, split_writes)
{
	const char *text = "20000 /usr/sbin/a\n"
			   "20001-20009/tcp /usr/sbin/b\n"
			   "# a comment\n"
			   "\n"
			   "delete 20000 /usr/sbin/a\n"
			   "  20010\t<kernel>  # ends here\n"
			   "20011/udp /usr/sbin/c";
	static const char *const pieces[] = {
		"2000", "0 /usr/sb", "in/a\n20001-2", "0009/t", "cp /usr/sbin/b",
		"\n", "20", "010 <ker", "nel>\ncle", "ar\n", "clear\n2001",
		"0 <kernel>\n20011/udp /usr/sbin/c\n20012 /z", "z",
	};
	unsigned int i;
	int fd;

	fd = open_write();
	ASSERT_LE(0, fd);
	for (i = 0; text[i]; i++)
		ASSERT_EQ(1, write(fd, &text[i], 1));
	ASSERT_EQ(0, close(fd));
	check_policy(_metadata,
		     "20001-20009/tcp /usr/sbin/b\n"
		     "20010 <kernel>\n"
		     "20011/udp /usr/sbin/c\n");

	ASSERT_EQ(0, write_policy("clear\n"));
	fd = open_write();
	ASSERT_LE(0, fd);
	for (i = 0; i < ARRAY_SIZE(pieces); i++)
		EXPECT_EQ(0, put(fd, pieces[i]));
	ASSERT_EQ(0, close(fd));
	check_policy(_metadata,
		     "20010 <kernel>\n"
		     "20011/udp /usr/sbin/c\n"
		     "20012 /zz\n");

	/* A bad line split across writes fails the write that ends it. */
	fd = open_write();
	ASSERT_LE(0, fd);
	EXPECT_EQ(0, put(fd, "20013 /a\n2001"));
	EXPECT_EQ(0, put(fd, "4 /b/"));
	EXPECT_EQ(-EINVAL, put(fd, "/c\n"));
	ASSERT_EQ(0, close(fd));
	check_policy(_metadata,
		     "20010 <kernel>\n"
		     "20011/udp /usr/sbin/c\n"
		     "20012 /zz\n");
}

/* Thousands of rules in one transaction, written in arbitrary order. */
TEST_F_TIMEOUT(policy, many_rules, 120)
{
	const unsigned int n = 5000;
	const char *prog = "/usr/local/sbin/kpr-many";
	size_t size = n * 40, len = 0, off;
	char *text, *expected, *p;
	unsigned int i, lines;
	int fd;

	text = malloc(size);
	expected = malloc(size);
	ASSERT_NE(NULL, text);
	ASSERT_NE(NULL, expected);

	/* 2999 and 5000 are coprime: a permutation of the ports. */
	for (i = 0; i < n; i++)
		len += sprintf(text + len, "%u %s\n", 20000 + (i * 2999) % n,
			       prog);
	for (i = 0, off = 0; i < n; i++)
		off += sprintf(expected + off, "%u %s\n", 20000 + i, prog);

	/* Written in pieces that end in the middle of lines. */
	fd = open_write();
	ASSERT_LE(0, fd);
	for (off = 0; off < len; off += 4093) {
		size_t chunk = len - off < 4093 ? len - off : 4093;

		ASSERT_EQ(0, write_all(fd, text + off, chunk));
	}
	ASSERT_EQ(0, close(fd));
	check_policy(_metadata, expected);

	p = read_policy();
	ASSERT_NE(NULL, p);
	for (lines = 0, off = 0; p[off]; off++)
		lines += p[off] == '\n';
	EXPECT_EQ(n, lines);
	free(p);

	/* Adding them all again changes nothing. */
	fd = open_write();
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, write_all(fd, text, len));
	ASSERT_EQ(0, close(fd));
	check_policy(_metadata, expected);

	free(text);
	free(expected);
}

/*
 * A whole policy of the most rules in one write(2), in shuffled order, as a
 * program that writes its policy in one call (Python's f.write(), fwrite()
 * with a large buffer) does. A write over 1 MiB is short, as on a pipe: it
 * takes the first MiB, and the caller's loop writes the rest.
 */
/* Rule @j: port 1 + @j / 2, TCP then UDP, one of 64 programs. */
static int big_rule(char *buf, unsigned int j)
{
	return sprintf(buf, "%u/%s /usr/local/sbin/kpr-big-%02u\n", 1 + j / 2,
		       j % 2 ? "udp" : "tcp", j % 64);
}

TEST_F_TIMEOUT(policy, one_big_write, 300)
{
	const unsigned int n = 65536;
	size_t size = (size_t)n * 48 + 16, len, off = 0;
	char *text, *expected;
	unsigned int i, j;
	ssize_t w;
	int fd;

	text = malloc(size);
	expected = malloc(size);
	ASSERT_NE(NULL, text);
	ASSERT_NE(NULL, expected);

	len = sprintf(text, "clear\n");
	for (i = 0; i < n; i++) {
		/* An odd multiplier permutes 0..65535. */
		j = (i * 40503u) % n;
		len += big_rule(text + len, j);
		off += big_rule(expected + off, i);
	}
	ASSERT_LT((size_t)2 << 20, len);

	fd = open_write();
	ASSERT_LE(0, fd);
	w = write(fd, text, len);
	ASSERT_EQ((ssize_t)1 << 20, w)
	{
		TH_LOG("write of %zu bytes: %zd (%s)", len, w, strerror(errno));
	}
	ASSERT_EQ(0, write_all(fd, text + w, len - w));
	ASSERT_EQ(0, close(fd));
	check_policy(_metadata, expected);

	free(text);
	free(expected);
}

/* Too many rules: ENOSPC, and the transaction is discarded. */
TEST_F_TIMEOUT(policy, too_many_rules, 300)
{
	/* The limit is 65536 rules (MAX_RULES in security/kportreserve). */
	const unsigned int n = 1 << 17;
	const char *initial = "20000 /a\n";
	size_t size = (size_t)n * 24 + 16, len = 0, off;
	char *text;
	int fd, ret = 0;

	ASSERT_EQ(0, write_policy(initial));

	text = malloc(size);
	ASSERT_NE(NULL, text);
	/* In canonical order: cheap to insert. */
	len = sprintf(text, "clear\n");
	for (unsigned int i = 0; i < n; i++)
		len += sprintf(text + len, "20000 /kpr/r%06u\n", i);

	fd = open_write();
	ASSERT_LE(0, fd);
	for (off = 0; off < len && !ret; off += 65536) {
		size_t chunk = len - off < 65536 ? len - off : 65536;

		ret = write_all(fd, text + off, chunk);
	}
	EXPECT_EQ(-ENOSPC, ret)
	{
		TH_LOG("%u rules were accepted", n);
	}
	/* Thousands of rules went in before the limit. */
	EXPECT_LT((size_t)10000 * 18, off);
	EXPECT_EQ(-ENOSPC, put(fd, "20001 /b\n"));
	ASSERT_EQ(0, close(fd));
	free(text);
	check_policy(_metadata, initial);
}

/* The output is canonical, and writing it back reproduces it exactly. */
TEST_F(policy, round_trip)
{
	const char *text = "  20000-20000\t/usr/sbin/a # x\n"
			   "21000-21010/udp   <kernel>\n"
			   "20000-20001/tcp /usr/sbin/b\n"
			   "\t29999 /opt/srv/bin/server#1\n"
			   "25000-25999 /usr/sbin/a group=7  user=8\n"
			   "mode permissive\n"
			   "25000-25999 /usr/sbin/a\n";
	const char *expected = "mode permissive\n"
			       "20000 /usr/sbin/a\n"
			       "20000-20001/tcp /usr/sbin/b\n"
			       "21000-21010/udp <kernel>\n"
			       "25000-25999 /usr/sbin/a\n"
			       "25000-25999 /usr/sbin/a user=8 group=7\n"
			       "29999 /opt/srv/bin/server#1\n";
	char *first, *again;

	ASSERT_EQ(0, write_policy(text));
	first = read_policy();
	ASSERT_NE(NULL, first);
	EXPECT_STREQ(expected, first);

	ASSERT_EQ(0, policy_printf("clear\n%s", first));
	again = read_policy();
	ASSERT_NE(NULL, again);
	EXPECT_STREQ(first, again);
	free(again);

	/* Written back without clear: every rule is already there. */
	ASSERT_EQ(0, write_policy(first));
	check_policy(_metadata, first);

	/* Cleared and written back in a second transaction. */
	ASSERT_EQ(0, write_policy("clear\n"));
	check_policy(_metadata, "");
	ASSERT_EQ(0, write_policy(first));
	check_policy(_metadata, first);

	/* Enforcing is the mode of an empty policy: it reads back as nothing. */
	ASSERT_EQ(0, write_policy("mode enforcing\n"));
	check_policy(_metadata, strchr(first, '\n') + 1);
	ASSERT_EQ(0, policy_printf("clear\n%s", first));
	check_policy(_metadata, first);
	free(first);
}

/* Checks that @a and @b hold the same bytes. */
static void check_same(struct __test_metadata *const _metadata,
		       const char *a, size_t alen, const char *b, size_t blen)
{
	size_t i;

	for (i = 0; i < alen && i < blen && a[i] == b[i]; i++)
		;
	EXPECT_EQ(alen, blen);
	EXPECT_EQ(alen, i)
	{
		TH_LOG("At byte %zu: \"%.40s\" instead of \"%.40s\"", i,
		       b + i, a + i);
	}
}

/*
 * Paths are bytes: UTF-8, bytes that are not UTF-8, spaces, tabs, control
 * characters and backslashes all read back exactly as written, and what is
 * read back can be written back: the policy stays byte for byte the same.
 */
TEST_F(policy, byte_exact_round_trip)
{
	const char *text =
		"20000 /opt/caf\xc3\xa9/srv\n"
		"20001 /opt/my\\040server/bin\n"
		"20002 /opt/\xff\xfe/bin\n"
		"20003/tcp /opt/tab\\011and\\134backslash\n"
		"20004 /opt/\\141\\142c/d\\015\\177\\033[0m\n"
		"20005 /opt/\\200\\377\\001\n"
		"20006 /opt/#not\\040a\\040comment\n";
	const char *expected =
		"20000 /opt/caf\xc3\xa9/srv\n"
		"20001 /opt/my\\040server/bin\n"
		"20002 /opt/\xff\xfe/bin\n"
		"20003/tcp /opt/tab\\011and\\134backslash\n"
		"20004 /opt/abc/d\\015\\177\\033[0m\n"
		"20005 /opt/\x80\xff\\001\n"
		"20006 /opt/#not\\040a\\040comment\n";
	static char longest[64 + 4 * 4095];
	char *first, *again, *p;
	unsigned int i;

	ASSERT_EQ(0, write_policy(text));
	first = read_policy();
	ASSERT_NE(NULL, first);
	check_same(_metadata, expected, strlen(expected), first, strlen(first));

	/* Written back after clear: the same bytes again. */
	ASSERT_EQ(0, policy_printf("clear\n%s", first));
	again = read_policy();
	ASSERT_NE(NULL, again);
	check_same(_metadata, first, strlen(first), again, strlen(again));
	free(again);

	/* The escaped forms name the same rules: they delete them. */
	ASSERT_EQ(0, write_policy("delete 20001 /opt/my\\040server/bin\n"
				  "delete 20002 /opt/\\377\\376/bin\n"
				  "delete 20000 /opt/caf\\303\\251/srv\n"));
	check_policy(_metadata, strchr(strchr(strchr(expected, '\n') + 1,
					      '\n') + 1, '\n') + 1);
	free(first);

	/* The longest path, every byte escaped: 16384 bytes of text. */
	ASSERT_EQ(0, write_policy("clear\n"));
	p = stpcpy(longest, "25000 /");
	for (i = 1; i < 4095; i++)
		p = stpcpy(p, i % 2 ? "\\040" : "\\011");
	strcpy(p, "\n");
	ASSERT_EQ(0, write_policy(longest));
	first = read_policy();
	ASSERT_NE(NULL, first);
	check_same(_metadata, longest, strlen(longest), first, strlen(first));
	ASSERT_EQ(0, policy_printf("clear\n%s", first));
	check_policy(_metadata, longest);
	free(first);
}

/*
 * An escaped path names the program at the decoded path: a copy of kpr_bind
 * whose name has a space and a byte that is not UTF-8 may bind the port of
 * its rule, the original may not.
 */
TEST_F(policy, escaped_path_names_program)
{
	char dir[64], prog[PATH_MAX], copy[PATH_MAX], *p;
	char *const argv[] = { "kpr_bind", "inet", "tcp", "127.0.0.1", "27000",
			       NULL };

	if (sibling_path("kpr_bind", prog, sizeof(prog)))
		SKIP(return, "kpr_bind was not built");
	ASSERT_EQ(0, make_tmpdir(dir, sizeof(dir)));
	snprintf(copy, sizeof(copy), "%s/kpr server\377bind", dir);
	ASSERT_EQ(0, copy_file(prog, copy, 0755));

	ASSERT_EQ(0, policy_printf("27000/tcp %s/kpr\\040server\\377bind\n",
				   dir));
	p = read_policy();
	ASSERT_NE(NULL, p);
	EXPECT_EQ(0, strncmp(p, "27000/tcp /tmp/kpr-", 19));
	EXPECT_NE(NULL, strstr(p, "/kpr\\040server\377bind\n"));
	free(p);

	EXPECT_EQ(0, run_as(KPR_SAME_UID, copy, argv));
	EXPECT_EQ(EACCES, run_as(KPR_SAME_UID, prog, argv));

	remove_tree(dir);
}

/*
 * Reads of a few bytes at a time, and reads from an offset, return the same
 * text as one big read, also with thousands of rules, and one open file
 * reads one policy even if it changes between its reads.
 */
TEST_F_TIMEOUT(policy, small_reads, 120)
{
	const unsigned int n = 6000;
	size_t size = n * 64, len = 0, got = 0;
	char *text, *whole, *buf;
	unsigned int i;
	ssize_t r;
	int fd;

	text = malloc(size);
	buf = malloc(size);
	ASSERT_NE(NULL, text);
	ASSERT_NE(NULL, buf);
	/* Lines of different lengths, forms and escapes. */
	len = sprintf(text, "clear\n");
	for (i = 0; i < n; i++)
		len += sprintf(text + len, "%u%s%s /opt/kpr/r%u%s\n",
			       20000 + i, i % 3 ? "" : "-29999",
			       i % 5 == 1 ? "/udp" : "", i * 7919 % 1000,
			       i % 4 ? "" : "\\040x\xc3\xa9");
	ASSERT_EQ(0, write_policy(text));
	whole = read_policy();
	ASSERT_NE(NULL, whole);
	for (i = 0, len = 0; whole[len]; len++)
		i += whole[len] == '\n';
	EXPECT_EQ(n, i);

	/* Seven bytes per read(). */
	fd = open(KPR_POLICY, O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, fd);
	while ((r = read(fd, buf + got, 7)) > 0) {
		EXPECT_GE(7, r);
		got += r;
		ASSERT_GT(size, got + 7);
	}
	EXPECT_EQ(0, r);
	check_same(_metadata, whole, len, buf, got);

	/* From offsets, with pread(). */
	for (i = 0; i < 10; i++) {
		off_t off = (off_t)(len * i / 10 + i);

		/* seq_file may return less than asked: up to a line end. */
		r = pread(fd, buf, 4096, off);
		ASSERT_LT(0, r);
		ASSERT_GE((ssize_t)(len - off), r);
		check_same(_metadata, whole + off, r, buf, r);
		EXPECT_TRUE(r == 4096 || r == (ssize_t)(len - off) ||
			    buf[r - 1] == '\n');
	}
	r = pread(fd, buf, 100, len);
	EXPECT_EQ(0, r);
	ASSERT_EQ(0, close(fd));

	/* The policy changes between two reads: the reader sees one policy. */
	fd = open(KPR_POLICY, O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, fd);
	ASSERT_EQ(100, read(fd, buf, 100));
	ASSERT_EQ(0, write_policy("clear\n20000 /opt/kpr/new\n"));
	got = 100;
	while ((r = read(fd, buf + got, 4000)) > 0)
		got += r;
	EXPECT_EQ(0, r);
	check_same(_metadata, whole, len, buf, got);
	/* Read again from the start, it is the new policy. */
	ASSERT_EQ(0, lseek(fd, 0, SEEK_SET));
	r = read(fd, buf, size);
	ASSERT_EQ((ssize_t)strlen("20000 /opt/kpr/new\n"), r);
	check_same(_metadata, "20000 /opt/kpr/new\n", r, buf, r);
	ASSERT_EQ(0, close(fd));

	free(whole);
	free(buf);
	free(text);
}

/* Adding a rule that is already there succeeds and changes nothing. */
TEST_F(policy, idempotent_add)
{
	ASSERT_EQ(0, write_policy("20000 /a\n20000 /a\n20000-20000 /a\n"));
	check_policy(_metadata, "20000 /a\n");
	ASSERT_EQ(0, write_policy("20000 /a\n"));
	check_policy(_metadata, "20000 /a\n");
	ASSERT_EQ(0, write_policy("20001-20002/udp <kernel>\n"));
	ASSERT_EQ(0, write_policy("20001-20002/udp <kernel>\n20000 /a\n"));
	check_policy(_metadata, "20000 /a\n20001-20002/udp <kernel>\n");
}

/* Comments: lines starting with '#', and a word starting with '#'. */
TEST_F(policy, comments)
{
	ASSERT_EQ(0, write_policy("# 20000 /a\n"
				  "   # indented\n"
				  "#\n"
				  "20000 /usr/sbin/a # trailing comment\n"
				  "20001 /usr/sbin/a#b\n"
				  "20002 /usr/sbin/c #\n"
				  "20003\t/usr/sbin/d\t#tab\n"
				  "20004/tcp /usr/sbin/e ## /f\n"
				  "#clear\n"
				  "# clear\n"
				  "\t#delete 20000 /usr/sbin/a\n"));
	check_policy(_metadata, "20000 /usr/sbin/a\n"
				"20001 /usr/sbin/a#b\n"
				"20002 /usr/sbin/c\n"
				"20003 /usr/sbin/d\n"
				"20004/tcp /usr/sbin/e\n");

	/* A comment where the program should be. */
	EXPECT_EQ(-EINVAL, write_policy("20005 #/usr/sbin/e\n"));
	EXPECT_EQ(-EINVAL, write_policy("delete 20000 # /usr/sbin/a\n"));

	ASSERT_EQ(0, write_policy("delete 20000 /usr/sbin/a # bye\n"
				  "delete 20001 /usr/sbin/a#b\n"));
	check_policy(_metadata, "20002 /usr/sbin/c\n"
				"20003 /usr/sbin/d\n"
				"20004/tcp /usr/sbin/e\n");

	ASSERT_EQ(0, write_policy("clear # everything\n"));
	check_policy(_metadata, "");
}

/* One writer at a time; readers are not writers. */
TEST_F(policy, second_writer_busy)
{
	int fd, fd2, rfd;
	char *p;

	fd = open_write();
	ASSERT_LE(0, fd);

	EXPECT_EQ(-1, open(KPR_POLICY, O_WRONLY | O_CLOEXEC));
	EXPECT_EQ(EBUSY, errno);
	EXPECT_EQ(-1, open(KPR_POLICY, O_WRONLY | O_TRUNC | O_CLOEXEC));
	EXPECT_EQ(EBUSY, errno);
	EXPECT_EQ(-EBUSY, write_policy("20000 /a\n"));

	/* Readers are welcome meanwhile. */
	rfd = open(KPR_POLICY, O_RDONLY | O_CLOEXEC);
	EXPECT_LE(0, rfd);
	close(rfd);

	/* A doomed transaction still holds the file. */
	EXPECT_EQ(-EINVAL, put(fd, "bogus\n"));
	EXPECT_EQ(-1, open(KPR_POLICY, O_WRONLY | O_CLOEXEC));
	EXPECT_EQ(EBUSY, errno);

	ASSERT_EQ(0, close(fd));

	/* Free again once closed. */
	fd2 = open_write();
	ASSERT_LE(0, fd2);
	EXPECT_EQ(0, put(fd2, "20000 /a\n"));
	ASSERT_EQ(0, close(fd2));
	p = read_policy();
	ASSERT_NE(NULL, p);
	EXPECT_STREQ("20000 /a\n", p);
	free(p);
}

/*
 * Opens the policy for reading, then for writing: 0 if the write open
 * succeeded, its errno otherwise, 100 if even the read open failed.
 */
static int open_read_then_write(void)
{
	int fd;

	fd = open(KPR_POLICY, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 100;
	close(fd);
	fd = open(KPR_POLICY, O_WRONLY | O_CLOEXEC);
	if (fd >= 0)
		return 0;
	return errno;
}

static int open_without_mac_admin(void *arg __maybe_unused)
{
	if (drop_cap(CAP_MAC_ADMIN))
		return KPR_EXIT_SETUP;
	/* Reading needs no capability. */
	return open_read_then_write();
}

/* Root without CAP_MAC_ADMIN may read but not write. */
TEST_F(policy, root_without_cap_mac_admin)
{
	EXPECT_EQ(EPERM, run_in_child(KPR_SAME_UID, open_without_mac_admin,
				      NULL));
	/* Nothing changed, and the file is free. */
	ASSERT_EQ(0, write_policy("20000 /a\n"));
	check_policy(_metadata, "20000 /a\n");
}

static int open_in_user_ns(void *arg __maybe_unused)
{
	if (unshare(CLONE_NEWUSER))
		return KPR_EXIT_SKIP;
	/* Root of the new namespace is root outside: the file mode allows. */
	if (write_text("/proc/self/uid_map", "0 0 1\n"))
		return KPR_EXIT_SKIP;
	return open_read_then_write();
}

/* CAP_MAC_ADMIN in a user namespace but the initial one is not enough. */
TEST_F(policy, root_in_user_namespace)
{
	int ret = run_in_child(KPR_SAME_UID, open_in_user_ns, NULL);

	if (ret == KPR_EXIT_SKIP)
		SKIP(return, "cannot create a user namespace");
	EXPECT_EQ(EPERM, ret);
}

static int open_as_user(void *arg __maybe_unused)
{
	int fd;

	fd = open(KPR_POLICY, O_RDONLY | O_CLOEXEC);
	if (fd >= 0)
		return 100;
	if (errno != EACCES)
		return 101;
	fd = open(KPR_POLICY, O_WRONLY | O_CLOEXEC);
	if (fd >= 0)
		return 0;
	return errno;
}

/* Other users may neither read nor write (mode 0600). */
TEST_F(policy, non_root)
{
	EXPECT_EQ(EACCES, run_in_child(KPR_UID, open_as_user, NULL));
}

TEST_HARNESS_MAIN
