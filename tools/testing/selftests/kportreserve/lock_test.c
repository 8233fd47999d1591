// SPDX-License-Identifier: GPL-2.0
/*
 * kportreserve: the "lock" command, which freezes the policy until reboot.
 *
 * This test changes the state of the running kernel for good, so the test
 * runner runs it after every other kportreserve test.
 *
 * A writer that races with the lock must not publish after it: only one
 * open file may write at a time, and a lock is committed by the writer, so
 * the tests check that a lock waits for an open writer, and let writers
 * race with the lock.  (The window that the kernel must close, between
 * finding the policy unlocked and becoming the writer, is a few
 * instructions wide: these tests cannot force a thread into it.)
 */

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
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

/*
 * A lock cannot be committed while another transaction is open, so that
 * transaction can never publish after the lock.
 */
TEST(lock_waits_for_open_writer)
{
	char buf[4096];
	int fd;

	ASSERT_EQ(0, write_txn("clear\n"));
	fd = open(POLICY, O_WRONLY);
	ASSERT_LE(0, fd);
	ASSERT_EQ(17, write(fd, "31000 /kpr/early\n", 17));

	/* Another open file cannot commit "lock" meanwhile. */
	ASSERT_EQ(EBUSY, write_txn("lock\n"));
	ASSERT_EQ(0, read_policy(buf, sizeof(buf)));
	ASSERT_STREQ("", buf);

	/* The first writer publishes, and the policy is not locked. */
	ASSERT_EQ(0, close(fd));
	ASSERT_EQ(0, read_policy(buf, sizeof(buf)));
	ASSERT_STREQ("31000 /kpr/early\n", buf);
	ASSERT_EQ(0, write_txn("clear\n"));
}

/* A thread that commits a transaction in a loop until the policy is locked. */
struct racer {
	pthread_t thread;
	unsigned long commits;
	int err;	/* the errno that ended the loop */
};

static bool racers_stop;

static void *race_lock(void *arg)
{
	static const char txn[] = "clear\n31000/tcp /kpr/racer\n";
	struct racer *r = arg;
	int fd;

	while (!__atomic_load_n(&racers_stop, __ATOMIC_RELAXED)) {
		fd = open(POLICY, O_WRONLY | O_CLOEXEC);
		if (fd < 0 && errno == EBUSY) {
			usleep(100);
			continue;
		}
		if (fd < 0) {
			__atomic_store_n(&r->err, errno, __ATOMIC_RELAXED);
			break;
		}
		if (write(fd, txn, sizeof(txn) - 1) != sizeof(txn) - 1) {
			__atomic_store_n(&r->err, errno ? errno : EIO,
					 __ATOMIC_RELAXED);
			close(fd);
			break;
		}
		close(fd);
		__atomic_add_fetch(&r->commits, 1, __ATOMIC_RELAXED);
		/* Leaves the writer slot free now and then, for the lock. */
		usleep(1000);
	}
	return NULL;
}

static bool racer_done(struct racer *r)
{
	return __atomic_load_n(&r->err, __ATOMIC_RELAXED) != 0;
}

static bool racer_started(struct racer *r)
{
	return __atomic_load_n(&r->commits, __ATOMIC_RELAXED) >= 3;
}

static double elapsed(const struct timespec *start)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec - start->tv_sec +
	       (now.tv_nsec - start->tv_nsec) / 1e9;
}

TEST(lock_freezes_policy)
{
	struct racer racers[3] = {};
	struct timespec start;
	unsigned int i;
	char buf[4096];
	int fd, err;

	/*
	 * Writers race to publish while the lock is committed: once it is,
	 * none of them can publish any more (they must fail to open with
	 * EPERM), and the policy is exactly what the locking transaction left.
	 */
	for (i = 0; i < ARRAY_SIZE(racers); i++)
		ASSERT_EQ(0, pthread_create(&racers[i].thread, NULL, race_lock,
					    &racers[i]));
	/* Within the 30 s of the harness: 5 s to start, 10 s to lock, 5 s. */
	clock_gettime(CLOCK_MONOTONIC, &start);
	while (!(racer_started(&racers[0]) && racer_started(&racers[1]) &&
		 racer_started(&racers[2])) && elapsed(&start) < 5)
		usleep(1000);
	clock_gettime(CLOCK_MONOTONIC, &start);
	do {
		err = write_txn("clear\n30999/tcp /nonexistent/server\nlock\n");
	} while (err == EBUSY && elapsed(&start) < 10);
	/* Every racer must end on its own; this only guards against a hang. */
	for (i = 0; i < 50 && !(racer_done(&racers[0]) &&
				racer_done(&racers[1]) &&
				racer_done(&racers[2])); i++)
		usleep(100000);
	__atomic_store_n(&racers_stop, true, __ATOMIC_RELAXED);
	for (i = 0; i < ARRAY_SIZE(racers); i++) {
		pthread_join(racers[i].thread, NULL);
		EXPECT_EQ(EPERM, racers[i].err)
		{
			TH_LOG("racer %u: %s after %lu commits", i,
			       strerror(racers[i].err), racers[i].commits);
		}
		EXPECT_LE(3UL, racers[i].commits);
	}
	ASSERT_EQ(0, err);
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
	/* Nor switch the mode: the locked policy stays enforcing. */
	ASSERT_EQ(EPERM, write_txn("mode permissive\n"));

	/* The locked policy is still enforced, and still readable. */
	ASSERT_EQ(EACCES, bind_tcp(LOCK_PORT));
	ASSERT_EQ(0, bind_tcp(LOCK_PORT + 1));
	ASSERT_EQ(0, read_policy(buf, sizeof(buf)));
	ASSERT_STREQ("30999/tcp /nonexistent/server\nlock\n", buf);
}

TEST_HARNESS_MAIN
