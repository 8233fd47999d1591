// SPDX-License-Identifier: GPL-2.0
/*
 * kportreserve: the ways to the network of disablenetwork that are not the
 * socket hooks: tun/tap, SCTP's own bind and connect, keys whose construction
 * reaches the network, and tracees attached before the flag.  Each is tested
 * both ways: refused with PR_NETWORK_OFF, working without it.
 *
 * Every test runs in a child of the harness, so the flag it sets ends with it.
 */

#include "kselftest_harness.h"
#include "common.h"
#include "uring.h"

#include <pthread.h>
#include <linux/if_tun.h>
#include <linux/keyctl.h>
#include <linux/sctp.h>
#include <sys/ioctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>

#ifndef PR_NETWORK_TSYNC
#define PR_NETWORK_TSYNC 2
#endif

#ifndef SOL_SCTP
#define SOL_SCTP 132
#endif

/* The tun device that the tests attach to; persistent, owned by KPR_UID. */
#define TUN_NAME "kprtun0"

FIXTURE(channels) {};

FIXTURE_SETUP(channels)
{
	if (prctl(PR_GET_NETWORK, 0, 0, 0, 0) < 0)
		SKIP(return, "PR_GET_NETWORK: %s (kportreserve not enabled?)",
		     strerror(errno));
	ASSERT_EQ(0, set_lo_up());
}

FIXTURE_TEARDOWN(channels) {}

/* TUNSETIFF of @name on a new file: 0 or errno; the file stays open in *@fd. */
static int tun_set_iff(const char *name, int *fd)
{
	struct ifreq ifr = {};

	*fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (*fd < 0)
		return errno;
	ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
	strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
	return ioctl(*fd, TUNSETIFF, &ifr) ? errno : 0;
}

/* Makes TUN_NAME persistent and owned by KPR_UID (@on), or removes it. */
static int tun_persist(bool on)
{
	int fd, err = tun_set_iff(TUN_NAME, &fd);

	if (!err && on && ioctl(fd, TUNSETOWNER, KPR_UID))
		err = errno;
	if (!err && ioctl(fd, TUNSETPERSIST, on ? 1 : 0))
		err = errno;
	if (fd >= 0)
		close(fd);
	return err;
}

/* uid KPR_UID attaches to its persistent device, with network off if @arg. */
static int tun_attach_fn(void *arg)
{
	int fd, err;

	if (arg && set_network_off())
		return KPR_EXIT_SETUP;
	err = tun_set_iff(TUN_NAME, &fd);
	if (fd >= 0)
		close(fd);
	return err;
}

/* A user's persistent tun device: attaching needs no capability, only the flag stops it. */
TEST_F(channels, tun_attach)
{
	int err = tun_persist(true);

	if (err == ENOENT || err == ENODEV)
		SKIP(return, "no /dev/net/tun (CONFIG_TUN)");
	ASSERT_EQ(0, err);
	/* As udev makes it: devtmpfs creates the node root-only. */
	ASSERT_EQ(0, chmod("/dev/net/tun", 0666));
	EXPECT_EQ(0, run_in_child(KPR_UID, tun_attach_fn, NULL));
	EXPECT_EQ(EACCES, run_in_child(KPR_UID, tun_attach_fn, (void *)1));
	EXPECT_EQ(0, tun_persist(false));
}

static int tun_create_fn(void *arg)
{
	int fd, err;

	if (arg && set_network_off())
		return KPR_EXIT_SETUP;
	err = tun_set_iff("kprtun1", &fd);
	if (fd >= 0)
		close(fd);
	return err;
}

/* Creating a device (CAP_NET_ADMIN) is refused with the flag too. */
TEST_F(channels, tun_create)
{
	if (access("/dev/net/tun", F_OK))
		SKIP(return, "no /dev/net/tun (CONFIG_TUN)");
	EXPECT_EQ(0, run_in_child(KPR_SAME_UID, tun_create_fn, NULL));
	EXPECT_EQ(EACCES, run_in_child(KPR_SAME_UID, tun_create_fn, (void *)1));
}

/* An SCTP socket on LOCALHOST:@port, listening if @listening, or -errno. */
static int sctp_socket(unsigned short port, bool listening)
{
	struct sockaddr_in a = {
		.sin_family = AF_INET,
		.sin_port = htons(port),
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK),
	};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_SCTP);

	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) ||
	    (listening && listen(fd, 4))) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

/* sctp_bindx() and sctp_connectx() on a socket made before the flag, with it if @off. */
static int sctp_fn(void *arg)
{
	struct sockaddr_in extra = {
		.sin_family = AF_INET,
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK + 1),
	};
	struct sockaddr_in peer = {
		.sin_family = AF_INET,
		.sin_port = htons(33001),
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK),
	};
	int fd = sctp_socket(33002, false), res = 0;

	if (fd < 0)
		return KPR_EXIT_SETUP;
	if (arg && set_network_off())
		return KPR_EXIT_SETUP;
	/* Results as two digits: bindx, connectx (0 ok, 1 EACCES, 2 other). */
	extra.sin_port = htons(33002);
	if (setsockopt(fd, SOL_SCTP, SCTP_SOCKOPT_BINDX_ADD, &extra, sizeof(extra)))
		res += errno == EACCES ? 10 : 20;
	if (setsockopt(fd, SOL_SCTP, SCTP_SOCKOPT_CONNECTX, &peer, sizeof(peer)) < 0)
		res += errno == EACCES ? 1 : 2;
	close(fd);
	return res;
}

/* SCTP's own bind and connect options bypass the socket hooks. */
TEST_F(channels, sctp_bindx_connectx)
{
	int lfd = sctp_socket(33001, true);

	if (lfd == -EPROTONOSUPPORT || lfd == -ESOCKTNOSUPPORT)
		SKIP(return, "no SCTP (CONFIG_IP_SCTP)");
	ASSERT_LE(0, lfd);
	EXPECT_EQ(0, run_in_child(KPR_SAME_UID, sctp_fn, NULL));
	EXPECT_EQ(11, run_in_child(KPR_SAME_UID, sctp_fn, (void *)1));
	close(lfd);
}

/* request_key() of @type: 0 or errno. */
static int request(const char *type, const char *desc)
{
	long id = syscall(SYS_request_key, type, desc, "", KEY_SPEC_PROCESS_KEYRING);

	return id < 0 ? errno : 0;
}

static int dns_fn(void *arg)
{
	if (arg && set_network_off())
		return KPR_EXIT_SETUP;
	return request("dns_resolver", "www.example.org");
}

/*
 * A dns_resolver key is a DNS query by the kernel's upcall.  Without the
 * flag the upcall runs (and fails in the guest, which has no request-key
 * helper): anything but EACCES.
 */
TEST_F(channels, request_key_dns_resolver)
{
	int err = run_in_child(KPR_UID, dns_fn, NULL);

	if (err == EOPNOTSUPP || err == ENODEV)
		SKIP(return, "no dns_resolver keys (CONFIG_DNS_RESOLVER)");
	EXPECT_NE(EACCES, err);
	EXPECT_NE(KPR_EXIT_SETUP, err);
	EXPECT_EQ(EACCES, run_in_child(KPR_UID, dns_fn, (void *)1));
}

static int user_key_fn(void *arg __maybe_unused)
{
	long id;

	if (set_network_off())
		return KPR_EXIT_SETUP;
	id = syscall(SYS_add_key, "user", "kpr", "value", 5,
		     KEY_SPEC_PROCESS_KEYRING);
	return id < 0 ? errno : 0;
}

/* Keys that stay on the machine are not network access. */
TEST_F(channels, user_keys_keep_working)
{
	EXPECT_EQ(0, run_in_child(KPR_UID, user_key_fn, NULL));
}

/* A tracer may not give up its network while it controls a task that has it. */
TEST_F(channels, set_flag_while_tracing)
{
	int p[2], status;
	pid_t child;

	ASSERT_EQ(0, pipe2(p, O_CLOEXEC));
	fflush(NULL);
	child = fork();
	ASSERT_LE(0, child);
	if (child == 0) {
		char c;

		close(p[1]);
		while (read(p[0], &c, 1) < 0 && errno == EINTR)
			;
		_exit(0);
	}
	close(p[0]);
	if (ptrace(PTRACE_ATTACH, child, NULL, NULL)) {
		close(p[1]);
		wait_exit(child);
		SKIP(return, "ptrace is not allowed here (Yama?)");
	}
	ASSERT_EQ(child, waitpid(child, &status, 0));

	EXPECT_EQ(-1, prctl(PR_SET_NETWORK, PR_NETWORK_OFF, 0, 0, 0));
	EXPECT_EQ(EBUSY, errno);
	EXPECT_EQ(0, prctl(PR_GET_NETWORK, 0, 0, 0, 0));

	ASSERT_EQ(0, ptrace(PTRACE_DETACH, child, NULL, NULL));
	EXPECT_EQ(0, prctl(PR_SET_NETWORK, PR_NETWORK_OFF, 0, 0, 0));
	close(p[1]);
	EXPECT_EQ(0, wait_exit(child));
}

/* io_uring_setup() with a polling thread (IORING_SETUP_SQPOLL): its fd, or -errno. */
static int sqpoll_ring(void)
{
	struct kpr_uring_params p;
	int fd;

	memset(&p, 0, sizeof(p));
	p.flags = 1U << 1;	/* IORING_SETUP_SQPOLL */
	p.sq_thread_idle = 10;
	fd = syscall(__NR_io_uring_setup, 4, &p);
	return fd < 0 ? -errno : fd;
}

static int set_flag_fn(void *arg __maybe_unused)
{
	return -set_network_off();
}

/*
 * The polling thread of a ring submits with its creator's credentials of the
 * time it was made, whoever writes the requests: its creator, and the tasks
 * forked from it afterwards, cannot give up their network while it may run.
 */
TEST_F(channels, set_flag_with_sqpoll_ring)
{
	int fd;

	/* Without such a ring, in a child: the flag can be set. */
	EXPECT_EQ(0, run_in_child(KPR_SAME_UID, set_flag_fn, NULL));

	fd = sqpoll_ring();
	if (fd == -EPERM)
		SKIP(return, "no io_uring with SQPOLL here: %s", strerror(-fd));
	ASSERT_LE(0, fd);
	EXPECT_EQ(EBUSY, run_in_child(KPR_SAME_UID, set_flag_fn, NULL));
	EXPECT_EQ(-1, prctl(PR_SET_NETWORK, PR_NETWORK_OFF, 0, 0, 0));
	EXPECT_EQ(EBUSY, errno);
	EXPECT_EQ(0, prctl(PR_GET_NETWORK, 0, 0, 0, 0));
	close(fd);
}

/* socket(): 0 or errno; the descriptor is closed. */
static int try_socket_err(int family, int type)
{
	int fd = socket(family, type | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return errno;
	close(fd);
	return 0;
}

/* A thread that waits for a byte, then reports what it can do. */
struct waiter {
	pthread_t thread;
	int p[2];
	int socket_err;		/* socket(AF_INET): 0 or errno */
	int get;		/* PR_GET_NETWORK */
	const char *exec;	/* if set: execve() it instead */
};

static void *waiter_fn(void *arg)
{
	struct waiter *w = arg;
	char c;

	while (read(w->p[0], &c, 1) < 0 && errno == EINTR)
		;
	if (w->exec) {
		char *const argv[] = { (char *)w->exec, "inet", "tcp",
				       "127.0.0.1", "0", NULL };

		execv(w->exec, argv);
		_exit(KPR_EXIT_EXEC);
	}
	w->get = prctl(PR_GET_NETWORK, 0, 0, 0, 0);
	w->socket_err = try_socket_err(AF_INET, SOCK_STREAM);
	return NULL;
}

static int start_waiter(struct waiter *w)
{
	if (pipe2(w->p, O_CLOEXEC))
		return -errno;
	return -pthread_create(&w->thread, NULL, waiter_fn, w);
}

static void finish_waiter(struct waiter *w)
{
	if (write(w->p[1], "x", 1) == 1)
		pthread_join(w->thread, NULL);
	close(w->p[0]);
	close(w->p[1]);
}

static int tsync_fn(void *arg)
{
	struct waiter w = { .exec = arg };
	int ret;

	if (start_waiter(&w))
		return KPR_EXIT_SETUP;
	if (prctl(PR_SET_NETWORK, PR_NETWORK_OFF | PR_NETWORK_TSYNC, 0, 0, 0))
		return KPR_EXIT_SETUP;
	finish_waiter(&w);
	/* Two digits: the other thread's PR_GET_NETWORK, its socket() error is EACCES. */
	ret = w.get * 10 + (w.socket_err == EACCES);
	return ret;
}

static int no_tsync_fn(void *arg __maybe_unused)
{
	struct waiter w = {};

	if (start_waiter(&w) || set_network_off())
		return KPR_EXIT_SETUP;
	finish_waiter(&w);
	return w.get * 10 + (w.socket_err == EACCES);
}

/* PR_NETWORK_TSYNC takes the network from the threads that already exist too. */
TEST_F(channels, tsync_all_threads)
{
	EXPECT_EQ(0, run_in_child(KPR_SAME_UID, no_tsync_fn, NULL));
	EXPECT_EQ(11, run_in_child(KPR_SAME_UID, tsync_fn, NULL));
	EXPECT_EQ(-1, prctl(PR_SET_NETWORK, PR_NETWORK_TSYNC, 0, 0, 0));
	EXPECT_EQ(EINVAL, errno);
}

/* A thread that execs becomes the leader of a new process: it keeps the flag. */
TEST_F(channels, tsync_exec_from_thread)
{
	char kpr_bind[PATH_MAX];
	struct waiter w = {};
	int pid;

	ASSERT_EQ(0, sibling_path("kpr_bind", kpr_bind, sizeof(kpr_bind)));
	fflush(NULL);
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		w.exec = kpr_bind;
		if (start_waiter(&w) ||
		    prctl(PR_SET_NETWORK, PR_NETWORK_OFF | PR_NETWORK_TSYNC, 0, 0, 0))
			_exit(KPR_EXIT_SETUP);
		/* The thread execs kpr_bind, whose socket() must fail. */
		if (write(w.p[1], "x", 1) != 1)
			_exit(KPR_EXIT_SETUP);
		pause();
		_exit(KPR_EXIT_SETUP);
	}
	EXPECT_EQ(EACCES, wait_exit(pid));
}

/* A thread that attaches to a task and stays its tracer until told to go. */
struct tracer {
	pid_t child;
	int ready[2];	/* the thread writes its result: 0 attached, 1 not */
	int go[2];	/* the test writes a byte to it to end the thread */
};

static void *tracer_fn(void *arg)
{
	struct tracer *t = arg;
	char res = 0, c;
	int status;

	if (ptrace(PTRACE_ATTACH, t->child, NULL, NULL) ||
	    waitpid(t->child, &status, __WALL) != t->child)
		res = 1;
	if (write(t->ready[1], &res, 1) != 1)
		return NULL;
	/* A tracer that exits detaches: stay until the test is done. */
	while (read(t->go[0], &c, 1) < 0 && errno == EINTR)
		;
	return NULL;
}

static int tsync_tracing_fn(void *arg __maybe_unused)
{
	struct tracer t;
	pthread_t thread;
	int ret = 0;
	char res;

	if (pipe2(t.ready, O_CLOEXEC) || pipe2(t.go, O_CLOEXEC))
		return KPR_EXIT_SETUP;
	fflush(NULL);
	t.child = fork();
	if (t.child == 0) {
		pause();
		_exit(0);
	}
	/* Another thread of this process traces the child. */
	if (pthread_create(&thread, NULL, tracer_fn, &t) ||
	    read(t.ready[0], &res, 1) != 1)
		return KPR_EXIT_SETUP;
	if (res)
		ret = KPR_EXIT_SKIP;
	else if (!prctl(PR_SET_NETWORK, PR_NETWORK_OFF | PR_NETWORK_TSYNC, 0, 0, 0))
		ret = 1;
	else if (errno != EBUSY)
		ret = 2;
	else if (prctl(PR_GET_NETWORK, 0, 0, 0, 0) != 0)
		ret = 3;
	/* A byte, not end of file: the child holds the write end too. */
	if (write(t.go[1], "x", 1) != 1)
		return KPR_EXIT_SETUP;
	pthread_join(thread, NULL);
	/*
	 * Without the tracer, it works.  pthread_join() returns when the
	 * tracer thread has released its memory, before exit_ptrace() detaches
	 * its tracees: on another CPU that comes a little later.
	 */
	if (!ret) {
		int i, err = -1;

		for (i = 0; i < 200 && err; i++) {
			err = prctl(PR_SET_NETWORK,
				    PR_NETWORK_OFF | PR_NETWORK_TSYNC, 0, 0, 0);
			if (err && errno != EBUSY)
				break;
			if (err)
				usleep(10000);
		}
		if (err)
			ret = 4;
	}
	kill(t.child, SIGKILL);
	return ret;
}

/* All threads or none: a thread that traces another task makes it fail. */
TEST_F(channels, tsync_refused_while_a_thread_traces)
{
	int ret = run_in_child(KPR_SAME_UID, tsync_tracing_fn, NULL);

	if (ret == KPR_EXIT_SKIP)
		SKIP(return, "ptrace is not allowed here (Yama?)");
	EXPECT_EQ(0, ret);
}

TEST_HARNESS_MAIN
