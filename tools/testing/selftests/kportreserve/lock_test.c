// SPDX-License-Identifier: GPL-2.0
/*
 * kportreserve: the "lock" command, which freezes the policy until reboot.
 *
 * This test changes the state of the running kernel for good, so the test
 * runner runs it after every other kportreserve test.
 */

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "kselftest_harness.h"

#define POLICY "/sys/kernel/security/kportreserve/policy"
#define LOCK_PORT 30999

/* Writes @text through one open file; returns 0 or the first errno. */
static int write_txn(const char *text)
{
	int fd, err = 0;

	fd = open(POLICY, O_WRONLY | O_TRUNC);
	if (fd < 0)
		return errno;
	if (write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		err = errno;
	if (close(fd) && !err)
		err = errno;
	return err;
}

static int read_policy(char *buf, size_t size)
{
	ssize_t n;
	int fd;

	fd = open(POLICY, O_RDONLY);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	return 0;
}

static int bind_tcp(unsigned short port)
{
	struct sockaddr_in addr = {
		.sin_family = AF_INET,
		.sin_port = htons(port),
		.sin_addr.s_addr = htonl(INADDR_ANY),
	};
	int fd, err = 0;

	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		return errno;
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)))
		err = errno;
	close(fd);
	return err;
}

TEST(lock_in_failed_transaction_does_not_lock)
{
	char buf[4096];

	ASSERT_EQ(0, write_txn("clear\n"));
	/* The bad second line dooms the whole transaction, lock included. */
	ASSERT_EQ(EINVAL, write_txn("lock\nnot a rule\n"));
	ASSERT_EQ(0, read_policy(buf, sizeof(buf)));
	ASSERT_STREQ("", buf);
	/* Not locked: a new transaction still works. */
	ASSERT_EQ(0, write_txn("clear\n"));
}

TEST(lock_freezes_policy)
{
	char buf[4096];
	int fd;

	ASSERT_EQ(0, write_txn("30999/tcp /nonexistent/server\nlock\n"));
	ASSERT_EQ(0, read_policy(buf, sizeof(buf)));
	ASSERT_STREQ("30999/tcp /nonexistent/server\nlock\n", buf);

	/* Nobody can open the policy for writing any more, root included. */
	fd = open(POLICY, O_WRONLY);
	ASSERT_EQ(-1, fd);
	ASSERT_EQ(EPERM, errno);
	fd = open(POLICY, O_RDWR);
	ASSERT_EQ(-1, fd);
	ASSERT_EQ(EPERM, errno);
	ASSERT_EQ(EPERM, write_txn("clear\n"));
	ASSERT_EQ(EPERM, write_txn("delete 30999/tcp /nonexistent/server\n"));

	/* The locked policy is still enforced, and still readable. */
	ASSERT_EQ(EACCES, bind_tcp(LOCK_PORT));
	ASSERT_EQ(0, bind_tcp(LOCK_PORT + 1));
	ASSERT_EQ(0, read_policy(buf, sizeof(buf)));
	ASSERT_STREQ("30999/tcp /nonexistent/server\nlock\n", buf);
}

TEST_HARNESS_MAIN
