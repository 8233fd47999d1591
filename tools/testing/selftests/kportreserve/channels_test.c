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

#include <linux/if_tun.h>
#include <linux/keyctl.h>
#include <linux/sctp.h>
#include <sys/ioctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>

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

TEST_HARNESS_MAIN
