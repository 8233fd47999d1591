// SPDX-License-Identifier: GPL-2.0
/*
 * kportreserve under allocation failure.
 *
 * With CONFIG_FAULT_INJECTION and CONFIG_FAILSLAB, writing N to
 * /proc/thread-self/fail-nth makes the Nth allocation of the thread fail.
 * Each test repeats an operation for N = 1, 2, ... until it no longer meets
 * a failure, so that every allocation on its way fails once:
 *
 * - a policy transaction is applied entirely, or fails with ENOMEM and
 *   leaves the policy in force byte for byte as it was, and the next
 *   transaction can still be opened (no writer slot is lost);
 * - PR_SET_NETWORK either fails with ENOMEM and leaves the network on, or
 *   takes it away; an exec under failure never gives it back.
 *
 * The tests skip on a kernel without fail-nth (the normal test kernel); the
 * debug kernel of the rig has it, and kmemleak checks that nothing leaks.
 */

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "common.h"

#define FAIL_NTH "/proc/thread-self/fail-nth"
#define DEBUGFS "/sys/kernel/debug"
/* More than any operation here allocates. */
#define MAX_NTH 4000

static int write_str(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, s, strlen(s));
	close(fd);
	return n == (ssize_t)strlen(s) ? 0 : -EIO;
}

/*
 * Lets failslab and fail_page_alloc fail sleeping allocations too (they
 * skip them by default), with no other limit than fail-nth, and log each
 * failure in one line.
 */
static int setup_fault_injection(void)
{
	static const char *const knobs[] = {
		DEBUGFS "/failslab/ignore-gfp-wait",
		DEBUGFS "/fail_page_alloc/ignore-gfp-wait",
		DEBUGFS "/fail_page_alloc/ignore-gfp-highmem",
	};
	unsigned int i;

	if (access(FAIL_NTH, W_OK))
		return -ENOENT;
	if (access(DEBUGFS "/failslab", F_OK))
		mount("debugfs", DEBUGFS, "debugfs", 0, NULL);
	for (i = 0; i < ARRAY_SIZE(knobs); i++) {
		if (write_str(knobs[i], "N"))
			return -ENOENT;
	}
	write_str(DEBUGFS "/fail_page_alloc/min-order", "0");
	/*
	 * One line per injected failure, no stack trace: the rig fails a
	 * run whose console has a call trace, as it would for a real splat.
	 */
	write_str(DEBUGFS "/failslab/verbose", "1");
	write_str(DEBUGFS "/fail_page_alloc/verbose", "1");
	return 0;
}

/* Makes the @nth allocation of this thread from now on fail. */
static int fail_nth(int nth)
{
	char buf[16];

	snprintf(buf, sizeof(buf), "%d", nth);
	return write_str(FAIL_NTH, buf);
}

/* True if the failure set up by fail_nth() happened; disarms it. */
static bool fail_nth_fired(void)
{
	char buf[16] = "";
	int fd = open(FAIL_NTH, O_RDWR | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	/* Writing 0 disarms it. */
	if (write(fd, "0", 1) != 1)
		n = -1;
	close(fd);
	return n > 0 && atoi(buf) == 0;
}

FIXTURE(fault) {
	char *before;
};

FIXTURE_SETUP(fault)
{
	if (!policy_ready(_metadata))
		return;
	if (setup_fault_injection())
		SKIP(return, "no fault injection (CONFIG_FAILSLAB, fail-nth)");
	ASSERT_EQ(0, write_policy("clear\n20000 /usr/sbin/kpr-a\n"
				  "20001-20010/tcp /usr/sbin/kpr-b\n"
				  "20011/udp <kernel>\n"));
	self->before = read_policy();
	ASSERT_NE(NULL, self->before);
}

FIXTURE_TEARDOWN(fault)
{
	fail_nth(0);
	free(self->before);
	write_policy("clear\n");
}

/* Replaces the policy with @text, a read-back. */
static int restore(const char *text)
{
	int fd, ret;

	fd = open(KPR_POLICY, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ret = write_all(fd, "clear\n", 6);
	if (!ret)
		ret = write_all(fd, text, strlen(text));
	if (close(fd) && !ret)
		ret = -errno;
	return ret;
}

/* One transaction, with the @nth allocation failing; -errno of the first failure. */
static int transaction(const char *text, int nth)
{
	int fd, err = 0;

	if (fail_nth(nth))
		return -EIO;
	fd = open(KPR_POLICY, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		err = -errno;
	close(fd);
	return err;
}

TEST_F_TIMEOUT(fault, policy_transaction, 600)
{
	/* Adds, deletes a rule of the policy in force, and a new program. */
	const char *text = "20100 /usr/sbin/kpr-c\n"
			   "delete 20001-20010/tcp /usr/sbin/kpr-b\n"
			   "20101-20200/udp /usr/sbin/kpr-a\n"
			   "20300 <kernel>\n";
	char *expected, *after;
	int nth, err, failed = 0, unchanged = 0;

	/* The result without failures. */
	ASSERT_EQ(0, transaction(text, 0));
	expected = read_policy();
	ASSERT_NE(NULL, expected);

	for (nth = 1; nth < MAX_NTH; nth++) {
		bool fired;

		ASSERT_EQ(0, restore(self->before));
		err = transaction(text, nth);
		fired = fail_nth_fired();
		after = read_policy();
		ASSERT_NE(NULL, after);
		if (!fired) {
			/* Past the last allocation: it all went through. */
			ASSERT_EQ(0, err);
			ASSERT_STREQ(expected, after);
			free(after);
			break;
		}
		if (err) {
			/* A refused write or open: nothing applied. */
			EXPECT_EQ(-ENOMEM, err);
			EXPECT_STREQ(self->before, after);
			failed++;
		} else if (!strcmp(after, self->before)) {
			/* The commit at close failed: nothing applied. */
			unchanged++;
		} else {
			/* A failure that the transaction did not need. */
			EXPECT_STREQ(expected, after);
		}
		free(after);
	}
	TH_LOG("%d allocations; %d failed a write, %d failed the commit",
	       nth - 1, failed, unchanged);
	ASSERT_LT(nth, MAX_NTH);
	/* Some failure reached the transaction. */
	EXPECT_LT(0, failed + unchanged);
	/* The writer slot was never lost: a transaction still opens. */
	ASSERT_EQ(0, restore(self->before));
	free(expected);
}

/* The network flag of this task: 1 off, 0 on, -errno. */
static int network_off(void)
{
	int r = prctl(PR_GET_NETWORK, 0, 0, 0, 0);

	if (r < 0)
		return -errno;
	return (r & PR_NETWORK_OFF) ? 1 : 0;
}

/* In a child: PR_SET_NETWORK, then exec, with the @nth allocation failing. */
static int netoff_child(int nth, const char *self_exe)
{
	char *const argv[] = { (char *)self_exe, "--network-state", NULL };
	int r, fd;

	if (fail_nth(nth))
		return 10;
	r = prctl(PR_SET_NETWORK, PR_NETWORK_OFF, 0, 0, 0);
	fail_nth_fired();
	if (r) {
		/* Refused: nothing changed. */
		if (errno != ENOMEM)
			return 11;
		if (network_off() != 0)
			return 12;
		fd = socket(AF_INET, SOCK_DGRAM, 0);
		if (fd < 0)
			return 13;
		close(fd);
		return 0;
	}
	if (network_off() != 1)
		return 14;
	/*
	 * Exec under failure: whether or not it succeeds, the flag stays.
	 * (TOMOYO panics on an allocation failure in its exec hook until it
	 * has a policy: the rig's debug kernel loads its built-in one.)
	 */
	if (fail_nth(nth))
		return 10;
	execv(self_exe, argv);
	fail_nth_fired();
	if (network_off() != 1)
		return 15;
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd >= 0)
		return 16;
	return 0;
}

TEST_F_TIMEOUT(fault, network_off_stays_off, 600)
{
	char self_exe[4096];
	ssize_t len;
	int nth, status, fired = 0, killed = 0, unstarted = 0;

	len = readlink("/proc/self/exe", self_exe, sizeof(self_exe) - 1);
	ASSERT_LT(0, len);
	self_exe[len] = '\0';

	for (nth = 1; nth < 200; nth++) {
		pid_t pid = fork();

		ASSERT_LE(0, pid);
		if (pid == 0)
			_exit(netoff_child(nth, self_exe));
		ASSERT_EQ(pid, waitpid(pid, &status, 0));
		if (WIFSIGNALED(status)) {
			/*
			 * An allocation that fails after exec's point of no
			 * return kills the task (SIGSEGV), as may one that
			 * fails in a page fault (SIGBUS, SIGKILL): it takes
			 * its credential with it, and nothing runs with the
			 * flag lost.
			 */
			EXPECT_TRUE(WTERMSIG(status) == SIGSEGV ||
				    WTERMSIG(status) == SIGBUS ||
				    WTERMSIG(status) == SIGKILL)
			{
				TH_LOG("allocation %d failing: signal %d", nth,
				       WTERMSIG(status));
			}
			killed++;
			continue;
		}
		ASSERT_TRUE(WIFEXITED(status));
		if (WEXITSTATUS(status) == 127) {
			/*
			 * The exec succeeded, and the failure fell on the new
			 * program's dynamic loader (an mprotect() of its
			 * relocations): it exits 127 before any of its code
			 * runs, so nothing could use the network.
			 */
			unstarted++;
			continue;
		}
		EXPECT_EQ(0, WEXITSTATUS(status))
		{
			TH_LOG("allocation %d failing", nth);
		}
		fired++;
	}
	TH_LOG("%d runs, %d killed by a failed exec, %d not started by ld.so",
	       fired, killed, unstarted);
}

int main(int argc, char **argv)
{
	/* Re-executed by netoff_child(): the flag must still be set. */
	if (argc == 2 && !strcmp(argv[1], "--network-state")) {
		int fd;

		if (network_off() != 1)
			return 17;
		fd = socket(AF_INET, SOCK_DGRAM, 0);
		return fd >= 0 ? 18 : 0;
	}
	return test_harness_run(argc, argv);
}
