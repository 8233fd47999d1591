// SPDX-License-Identifier: GPL-2.0
/*
 * kportreserve: tests of disablenetwork, prctl(PR_SET_NETWORK, PR_NETWORK_OFF).
 *
 * The prctl interface; which sockets may still be created and used (new
 * network sockets and new addresses are refused; AF_UNIX, AF_NETLINK and
 * sockets already connected or listening keep working, sockets passed over
 * SCM_RIGHTS do not help); inheritance by threads, children, execve(),
 * setuid() and user namespaces; no new privileges from setuid binaries;
 * ptrace between tasks with and without network; io_uring requests, async
 * workers and personalities.
 *
 * The flag cannot be cleared: each test sets it in the process that the
 * harness forks for it, or in a child.  Ports 50000-59999 on 127.0.0.1.
 */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <asm/posix_types.h>	/* before <linux/netlink.h> of tools/include */
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/ptrace.h>
#include <sys/un.h>

#include "kselftest_harness.h"
#include "common.h"
#include "uring.h"

#ifndef AF_VSOCK
#define AF_VSOCK 40
#endif

#define LOCALHOST "127.0.0.1"

FIXTURE(netoff) {
	char dir[64];			/* a temporary directory */
	char kpr_bind[PATH_MAX];	/* helpers next to this test */
	char kpr_euid[PATH_MAX];
};

FIXTURE_SETUP(netoff)
{
	int err;

	if (prctl(PR_GET_NETWORK, 0, 0, 0, 0) < 0)
		SKIP(return, "PR_GET_NETWORK: %s (kportreserve not enabled?)",
		     strerror(errno));
	ASSERT_EQ(0, set_lo_up());
	ASSERT_EQ(0, make_tmpdir(self->dir, sizeof(self->dir)));
	err = sibling_path("kpr_bind", self->kpr_bind, sizeof(self->kpr_bind));
	ASSERT_EQ(0, err);
	err = sibling_path("kpr_euid", self->kpr_euid, sizeof(self->kpr_euid));
	ASSERT_EQ(0, err);
}

FIXTURE_TEARDOWN_PARENT(netoff)
{
	remove_tree(self->dir);
}

/* Sets network access off, checking it took. */
static void network_off(struct __test_metadata *const _metadata)
{
	ASSERT_EQ(0, prctl(PR_SET_NETWORK, PR_NETWORK_OFF, 0, 0, 0))
	{
		TH_LOG("PR_SET_NETWORK: %s", strerror(errno));
	}
	ASSERT_EQ(PR_NETWORK_OFF, prctl(PR_GET_NETWORK, 0, 0, 0, 0));
}

/* socket(): the descriptor is closed; returns 0 or errno. */
static int try_socket(int family, int type, int protocol)
{
	int fd = socket(family, type | SOCK_CLOEXEC, protocol);

	if (fd < 0)
		return errno;
	close(fd);
	return 0;
}

/* A TCP listener on LOCALHOST:@port, or -errno. */
static int listener(unsigned short port)
{
	int fd = bind_new(AF_INET, SOCK_STREAM, LOCALHOST, port, KPR_REUSEADDR);

	if (fd >= 0 && listen(fd, 16)) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

/* LOCALHOST:@port. */
static struct kpr_addr lo_addr(unsigned short port)
{
	struct kpr_addr a;

	make_addr(AF_INET, LOCALHOST, port, &a);
	return a;
}

/* Each syscall's result: 0 or its errno. */
#define SYSERR(call) ((call) < 0 ? errno : 0)

TEST_F(netoff, get_default)
{
	EXPECT_EQ(0, prctl(PR_GET_NETWORK, 0, 0, 0, 0));
	EXPECT_EQ(0, try_socket(AF_INET, SOCK_STREAM, 0));
}

TEST_F(netoff, get_bad_arguments)
{
	EXPECT_EQ(-1, prctl(PR_GET_NETWORK, 1, 0, 0, 0));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, prctl(PR_GET_NETWORK, 0, 1, 0, 0));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, prctl(PR_GET_NETWORK, 0, 0, 1, 0));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, prctl(PR_GET_NETWORK, 0, 0, 0, 1));
	EXPECT_EQ(EINVAL, errno);
}

TEST_F(netoff, set_bad_arguments)
{
	static const unsigned long flags[] = {
		2, 4, 1UL << 31, PR_NETWORK_OFF | 4, ~0UL,
	};
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(flags); i++) {
		EXPECT_EQ(-1, prctl(PR_SET_NETWORK, flags[i], 0, 0, 0));
		EXPECT_EQ(EINVAL, errno);
	}
	EXPECT_EQ(-1, prctl(PR_SET_NETWORK, PR_NETWORK_OFF, 1, 0, 0));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, prctl(PR_SET_NETWORK, PR_NETWORK_OFF, 0, 1, 0));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, prctl(PR_SET_NETWORK, PR_NETWORK_OFF, 0, 0, 1));
	EXPECT_EQ(EINVAL, errno);

	/* Nothing was set. */
	EXPECT_EQ(0, prctl(PR_GET_NETWORK, 0, 0, 0, 0));
	EXPECT_EQ(0, try_socket(AF_INET, SOCK_DGRAM, 0));

	/* Setting no flag is allowed, and changes nothing. */
	EXPECT_EQ(0, prctl(PR_SET_NETWORK, 0, 0, 0, 0));
	EXPECT_EQ(0, prctl(PR_GET_NETWORK, 0, 0, 0, 0));
	EXPECT_EQ(0, try_socket(AF_INET, SOCK_DGRAM, 0));
}

TEST_F(netoff, set_is_one_way)
{
	if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0))
		TH_LOG("no_new_privs was set already: not checked");

	EXPECT_EQ(0, prctl(PR_SET_NETWORK, PR_NETWORK_OFF, 0, 0, 0));
	EXPECT_EQ(PR_NETWORK_OFF, prctl(PR_GET_NETWORK, 0, 0, 0, 0));
	/* It comes with no_new_privs. */
	EXPECT_EQ(1, prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0));

	/* Setting it again is fine. */
	EXPECT_EQ(0, prctl(PR_SET_NETWORK, PR_NETWORK_OFF, 0, 0, 0));

	/* Clearing it is not. */
	EXPECT_EQ(-1, prctl(PR_SET_NETWORK, 0, 0, 0, 0));
	EXPECT_EQ(EPERM, errno);

	/* Argument errors come first. */
	EXPECT_EQ(-1, prctl(PR_SET_NETWORK, 0, 1, 0, 0));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, prctl(PR_SET_NETWORK, 2, 0, 0, 0));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, prctl(PR_SET_NETWORK, PR_NETWORK_OFF | 4, 0, 0, 0));
	EXPECT_EQ(EINVAL, errno);

	EXPECT_EQ(PR_NETWORK_OFF, prctl(PR_GET_NETWORK, 0, 0, 0, 0));
	EXPECT_EQ(EACCES, try_socket(AF_INET, SOCK_STREAM, 0));
}

TEST_F(netoff, socket_families)
{
	const struct {
		int family, type, protocol;
		bool optional;	/* may be missing from the kernel */
	} net[] = {
		{ AF_INET, SOCK_STREAM, 0, false },
		{ AF_INET, SOCK_DGRAM, 0, false },
		{ AF_INET, SOCK_RAW, IPPROTO_ICMP, false },
		{ AF_INET, SOCK_STREAM, IPPROTO_MPTCP, true },
		{ AF_INET6, SOCK_STREAM, 0, false },
		{ AF_INET6, SOCK_DGRAM, 0, false },
		{ AF_PACKET, SOCK_RAW, htons(0x0003 /* ETH_P_ALL */), false },
		{ AF_PACKET, SOCK_DGRAM, 0, false },
		{ AF_VSOCK, SOCK_STREAM, 0, true },
		{ AF_VSOCK, SOCK_DGRAM, 0, true },
		/* Not in the kernel at all: refused before it is looked up. */
		{ AF_APPLETALK, SOCK_DGRAM, 0, true },
	};
	static const struct {
		int family, type, protocol;
	} local[] = {
		{ AF_UNIX, SOCK_STREAM, 0 },
		{ AF_UNIX, SOCK_DGRAM, 0 },
		{ AF_UNIX, SOCK_SEQPACKET, 0 },
		{ AF_NETLINK, SOCK_RAW, NETLINK_ROUTE },
		{ AF_NETLINK, SOCK_DGRAM, NETLINK_ROUTE },
	};
	unsigned int i;
	int sv[2];

	/* Controls. */
	for (i = 0; i < ARRAY_SIZE(net); i++) {
		int err = try_socket(net[i].family, net[i].type,
				     net[i].protocol);

		if (net[i].optional && err) {
			TH_LOG("family %d type %d: %s without the flag",
			       net[i].family, net[i].type, strerror(err));
			continue;
		}
		EXPECT_EQ(0, err)
		{
			TH_LOG("family %d type %d", net[i].family, net[i].type);
		}
	}

	network_off(_metadata);

	for (i = 0; i < ARRAY_SIZE(net); i++) {
		EXPECT_EQ(EACCES, try_socket(net[i].family, net[i].type,
					     net[i].protocol))
		{
			TH_LOG("family %d type %d", net[i].family, net[i].type);
		}
	}
	for (i = 0; i < ARRAY_SIZE(local); i++) {
		EXPECT_EQ(0, try_socket(local[i].family, local[i].type,
					local[i].protocol))
		{
			TH_LOG("family %d type %d", local[i].family,
			       local[i].type);
		}
	}
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
	close(sv[0]);
	close(sv[1]);
}

/* Network sockets created before: no new address for them. */
TEST_F(netoff, existing_sockets)
{
	const unsigned short base = 50000;
	struct kpr_addr peer = lo_addr(base), rx = lo_addr(base + 1);
	struct kpr_addr free_addr = lo_addr(base + 2), a6;
	int lfd, rfd, tcp, tcp_bound, tcp_unbound, udp, udp6;
	char c;
	struct iovec iov = { .iov_base = "x", .iov_len = 1 };
	struct msghdr msg = {
		.msg_name = &rx.ss,
		.msg_namelen = rx.len,
		.msg_iov = &iov,
		.msg_iovlen = 1,
	};

	lfd = listener(base);
	ASSERT_LE(0, lfd);
	rfd = bind_new(AF_INET, SOCK_DGRAM, LOCALHOST, base + 1, 0);
	ASSERT_LE(0, rfd);
	tcp = new_socket(AF_INET, SOCK_STREAM);
	tcp_bound = bind_new(AF_INET, SOCK_STREAM, LOCALHOST, base + 3, 0);
	tcp_unbound = new_socket(AF_INET, SOCK_STREAM);
	udp = new_socket(AF_INET, SOCK_DGRAM);
	udp6 = new_socket(AF_INET6, SOCK_DGRAM);
	ASSERT_LE(0, tcp);
	ASSERT_LE(0, tcp_bound);
	ASSERT_LE(0, tcp_unbound);
	ASSERT_LE(0, udp);
	ASSERT_LE(0, udp6);
	ASSERT_EQ(0, make_addr(AF_INET6, "::1", base + 4, &a6));

	network_off(_metadata);

	EXPECT_EQ(EACCES, SYSERR(bind(tcp, (struct sockaddr *)&free_addr.ss,
				      free_addr.len)));
	EXPECT_EQ(EACCES, SYSERR(connect(tcp, (struct sockaddr *)&peer.ss,
					 peer.len)));
	EXPECT_EQ(EACCES, SYSERR(listen(tcp_bound, 1)));
	EXPECT_EQ(EACCES, SYSERR(listen(tcp_unbound, 1)));
	EXPECT_EQ(EACCES, SYSERR(sendto(tcp, "x", 1, MSG_FASTOPEN,
					(struct sockaddr *)&peer.ss,
					peer.len)));
	EXPECT_EQ(EACCES, SYSERR(send(tcp, "x", 1, MSG_FASTOPEN)));

	EXPECT_EQ(EACCES, SYSERR(bind(udp, (struct sockaddr *)&free_addr.ss,
				      free_addr.len)));
	EXPECT_EQ(EACCES, SYSERR(sendto(udp, "x", 1, 0,
					(struct sockaddr *)&rx.ss, rx.len)));
	EXPECT_EQ(EACCES, SYSERR(sendmsg(udp, &msg, 0)));
	EXPECT_EQ(EACCES, SYSERR(connect(udp, (struct sockaddr *)&rx.ss,
					 rx.len)));
	EXPECT_EQ(EACCES, SYSERR(bind(udp6, (struct sockaddr *)&a6.ss,
				      a6.len)));
	EXPECT_EQ(EACCES, SYSERR(sendto(udp6, "x", 1, 0,
					(struct sockaddr *)&a6.ss, a6.len)));

	/* Nothing was sent. */
	EXPECT_EQ(-1, recv(rfd, &c, 1, MSG_DONTWAIT));
	EXPECT_EQ(EAGAIN, errno);
}

/* Sockets already connected or listening keep working. */
TEST_F(netoff, connected_sockets_keep_working)
{
	const unsigned short base = 50010;
	struct kpr_addr srv = lo_addr(base), rx = lo_addr(base + 1);
	int lfd, cfd, sfd, pending, afd, u1, u2;
	struct iovec iov = { .iov_base = "m", .iov_len = 1 };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	char buf[8];

	lfd = listener(base);
	ASSERT_LE(0, lfd);
	cfd = new_socket(AF_INET, SOCK_STREAM);
	pending = new_socket(AF_INET, SOCK_STREAM);
	ASSERT_LE(0, cfd);
	ASSERT_LE(0, pending);
	ASSERT_EQ(0, connect(cfd, (struct sockaddr *)&srv.ss, srv.len));
	sfd = accept(lfd, NULL, NULL);
	ASSERT_LE(0, sfd);
	/* Connected, waiting in the accept queue. */
	ASSERT_EQ(0, connect(pending, (struct sockaddr *)&srv.ss, srv.len));

	u1 = bind_new(AF_INET, SOCK_DGRAM, LOCALHOST, base + 1, 0);
	u2 = new_socket(AF_INET, SOCK_DGRAM);
	ASSERT_LE(0, u1);
	ASSERT_LE(0, u2);
	ASSERT_EQ(0, connect(u2, (struct sockaddr *)&rx.ss, rx.len));

	network_off(_metadata);

	EXPECT_EQ(4, send(cfd, "ping", 4, 0));
	EXPECT_EQ(4, recv(sfd, buf, sizeof(buf), 0));
	EXPECT_EQ(0, memcmp(buf, "ping", 4));
	EXPECT_EQ(4, write(sfd, "pong", 4));
	EXPECT_EQ(4, read(cfd, buf, sizeof(buf)));
	EXPECT_EQ(0, memcmp(buf, "pong", 4));

	afd = accept(lfd, NULL, NULL);
	EXPECT_LE(0, afd);
	EXPECT_EQ(1, send(pending, "a", 1, 0));
	EXPECT_EQ(1, recv(afd, buf, sizeof(buf), 0));

	EXPECT_EQ(1, send(u2, "x", 1, 0));
	EXPECT_EQ(1, sendto(u2, "y", 1, 0, NULL, 0));
	EXPECT_EQ(1, sendmsg(u2, &msg, 0));
	EXPECT_EQ(1, recv(u1, buf, sizeof(buf), 0));
	EXPECT_EQ('x', buf[0]);
	EXPECT_EQ(1, recv(u1, buf, sizeof(buf), 0));
	EXPECT_EQ('y', buf[0]);
	EXPECT_EQ(1, recv(u1, buf, sizeof(buf), 0));
	EXPECT_EQ('m', buf[0]);

	/* But not to a destination given in the call. */
	EXPECT_EQ(EACCES, SYSERR(sendto(u2, "z", 1, 0,
					(struct sockaddr *)&rx.ss, rx.len)));
}

/* AF_UNIX sockets keep working, with path names and abstract names. */
TEST_F(netoff, unix_keeps_working)
{
	struct sockaddr_un path = { .sun_family = AF_UNIX };
	struct sockaddr_un abstract = { .sun_family = AF_UNIX };
	struct sockaddr_un dgram = { .sun_family = AF_UNIX };
	socklen_t abstract_len;
	int lfd, cfd, sfd, d1, d2;
	char buf[8];

	network_off(_metadata);

	snprintf(path.sun_path, sizeof(path.sun_path), "%s/stream", self->dir);
	snprintf(dgram.sun_path, sizeof(dgram.sun_path), "%s/dgram", self->dir);
	snprintf(abstract.sun_path + 1, sizeof(abstract.sun_path) - 1,
		 "kpr-netoff-%d", getpid());
	abstract_len = offsetof(struct sockaddr_un, sun_path) + 1 +
		       strlen(abstract.sun_path + 1);

	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ASSERT_LE(0, lfd);
	ASSERT_EQ(0, bind(lfd, (struct sockaddr *)&path, sizeof(path)));
	ASSERT_EQ(0, listen(lfd, 1));
	cfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ASSERT_LE(0, cfd);
	ASSERT_EQ(0, connect(cfd, (struct sockaddr *)&path, sizeof(path)));
	sfd = accept(lfd, NULL, NULL);
	ASSERT_LE(0, sfd);
	EXPECT_EQ(2, send(cfd, "hi", 2, 0));
	EXPECT_EQ(2, recv(sfd, buf, sizeof(buf), 0));
	close(sfd);
	close(cfd);
	close(lfd);

	lfd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	ASSERT_LE(0, lfd);
	ASSERT_EQ(0, bind(lfd, (struct sockaddr *)&abstract, abstract_len));
	ASSERT_EQ(0, listen(lfd, 1));
	cfd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	ASSERT_LE(0, cfd);
	ASSERT_EQ(0, connect(cfd, (struct sockaddr *)&abstract, abstract_len));
	close(cfd);
	close(lfd);

	d1 = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	d2 = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ASSERT_LE(0, d1);
	ASSERT_LE(0, d2);
	ASSERT_EQ(0, bind(d1, (struct sockaddr *)&dgram, sizeof(dgram)));
	EXPECT_EQ(1, sendto(d2, "d", 1, 0, (struct sockaddr *)&dgram,
			    sizeof(dgram)));
	EXPECT_EQ(1, recv(d1, buf, sizeof(buf), 0));
	close(d1);
	close(d2);
}

/* AF_NETLINK keeps working, with a destination address. */
TEST_F(netoff, netlink_keeps_working)
{
	struct {
		struct nlmsghdr nh;
		struct ifinfomsg ifi;
	} req = {
		.nh = {
			.nlmsg_len = sizeof(req),
			.nlmsg_type = RTM_GETLINK,
			.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP,
			.nlmsg_seq = 1,
		},
		.ifi = { .ifi_family = AF_UNSPEC },
	};
	struct sockaddr_nl local = { .nl_family = AF_NETLINK };
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
	static char buf[65536];
	int fd;

	network_off(_metadata);

	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, bind(fd, (struct sockaddr *)&local, sizeof(local)));
	ASSERT_EQ((ssize_t)sizeof(req),
		  sendto(fd, &req, sizeof(req), 0, (struct sockaddr *)&kernel,
			 sizeof(kernel)));
	EXPECT_LT(0, recv(fd, buf, sizeof(buf), 0));
	close(fd);
}

/* Sends @fds over the AF_UNIX socket @sock. */
static int send_fds(int sock, const int *fds, int n)
{
	char data = 'f';
	struct iovec iov = { .iov_base = &data, .iov_len = 1 };
	union {
		char buf[CMSG_SPACE(4 * sizeof(int))];
		struct cmsghdr align;
	} u = {};
	struct msghdr msg = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = u.buf,
		.msg_controllen = CMSG_SPACE(n * sizeof(int)),
	};
	struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);

	cmsg->cmsg_level = SOL_SOCKET;
	cmsg->cmsg_type = SCM_RIGHTS;
	cmsg->cmsg_len = CMSG_LEN(n * sizeof(int));
	memcpy(CMSG_DATA(cmsg), fds, n * sizeof(int));
	return sendmsg(sock, &msg, 0) == 1 ? 0 : -errno;
}

/* Receives @n descriptors from @sock; returns 0 or -errno. */
static int recv_fds(int sock, int *fds, int n)
{
	char data;
	struct iovec iov = { .iov_base = &data, .iov_len = 1 };
	union {
		char buf[CMSG_SPACE(4 * sizeof(int))];
		struct cmsghdr align;
	} u;
	struct msghdr msg = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = u.buf,
		.msg_controllen = CMSG_SPACE(n * sizeof(int)),
	};
	struct cmsghdr *cmsg;

	if (recvmsg(sock, &msg, MSG_CMSG_CLOEXEC) != 1)
		return -errno;
	cmsg = CMSG_FIRSTHDR(&msg);
	if (!cmsg || cmsg->cmsg_type != SCM_RIGHTS ||
	    cmsg->cmsg_len != CMSG_LEN(n * sizeof(int)))
		return -EPROTO;
	memcpy(fds, CMSG_DATA(cmsg), n * sizeof(int));
	return 0;
}

/* Network sockets received from a task with network access are no help. */
TEST_F(netoff, scm_rights)
{
	const unsigned short base = 50020;
	struct kpr_addr srv = lo_addr(base), rx = lo_addr(base + 1);
	struct kpr_addr free_addr = lo_addr(base + 2);
	int sv[2], fds[2], lfd, rfd, domain;
	socklen_t len = sizeof(domain);
	pid_t child;

	lfd = listener(base);
	ASSERT_LE(0, lfd);
	rfd = bind_new(AF_INET, SOCK_DGRAM, LOCALHOST, base + 1, 0);
	ASSERT_LE(0, rfd);
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv));

	child = fork();
	ASSERT_LE(0, child);
	if (child == 0) {
		/* Keeps network access. */
		fds[0] = socket(AF_INET, SOCK_STREAM, 0);
		fds[1] = socket(AF_INET, SOCK_DGRAM, 0);
		if (fds[0] < 0 || fds[1] < 0)
			_exit(1);
		_exit(send_fds(sv[1], fds, 2) ? 2 : 0);
	}

	network_off(_metadata);
	ASSERT_EQ(0, wait_exit(child));
	ASSERT_EQ(0, recv_fds(sv[0], fds, 2));
	ASSERT_EQ(0, getsockopt(fds[0], SOL_SOCKET, SO_DOMAIN, &domain, &len));
	ASSERT_EQ(AF_INET, domain);

	EXPECT_EQ(EACCES, SYSERR(connect(fds[0], (struct sockaddr *)&srv.ss,
					 srv.len)));
	EXPECT_EQ(EACCES, SYSERR(bind(fds[0], (struct sockaddr *)&free_addr.ss,
				      free_addr.len)));
	EXPECT_EQ(EACCES, SYSERR(listen(fds[0], 1)));
	EXPECT_EQ(EACCES, SYSERR(bind(fds[1], (struct sockaddr *)&free_addr.ss,
				      free_addr.len)));
	EXPECT_EQ(EACCES, SYSERR(sendto(fds[1], "x", 1, 0,
					(struct sockaddr *)&rx.ss, rx.len)));
	EXPECT_EQ(EACCES, SYSERR(connect(fds[1], (struct sockaddr *)&rx.ss,
					 rx.len)));
}

/* What a thread reports. */
struct thread_report {
	int pipe_fd;	/* to wait on before checking, or -1 */
	long network;	/* PR_GET_NETWORK */
	int socket_err;	/* socket(AF_INET) */
};

static void *thread_check(void *arg)
{
	struct thread_report *r = arg;
	char c;

	if (r->pipe_fd >= 0 && read(r->pipe_fd, &c, 1) != 1)
		return NULL;
	r->network = prctl(PR_GET_NETWORK, 0, 0, 0, 0);
	r->socket_err = try_socket(AF_INET, SOCK_DGRAM, 0);
	return NULL;
}

/* The flag is per thread: threads created afterwards inherit it. */
TEST_F(netoff, threads)
{
	struct thread_report before = { .network = -1, .socket_err = -1 };
	struct thread_report after = { .pipe_fd = -1, .network = -1 };
	pthread_t t_before, t_after;
	int p[2];

	ASSERT_EQ(0, pipe2(p, O_CLOEXEC));
	before.pipe_fd = p[0];
	ASSERT_EQ(0, pthread_create(&t_before, NULL, thread_check, &before));

	network_off(_metadata);

	ASSERT_EQ(0, pthread_create(&t_after, NULL, thread_check, &after));
	ASSERT_EQ(0, pthread_join(t_after, NULL));
	EXPECT_EQ(PR_NETWORK_OFF, after.network);
	EXPECT_EQ(EACCES, after.socket_err);

	/* A thread that was already there keeps its own credentials. */
	ASSERT_EQ(1, write(p[1], "g", 1));
	ASSERT_EQ(0, pthread_join(t_before, NULL));
	EXPECT_EQ(0, before.network);
	EXPECT_EQ(0, before.socket_err);
	close(p[0]);
	close(p[1]);

	/* The thread that set it is still without network. */
	EXPECT_EQ(EACCES, try_socket(AF_INET6, SOCK_STREAM, 0));
}

static int child_check(void *arg __maybe_unused)
{
	if (prctl(PR_GET_NETWORK, 0, 0, 0, 0) != PR_NETWORK_OFF)
		return 100;
	if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1)
		return 101;
	return try_socket(AF_INET, SOCK_STREAM, 0);
}

TEST_F(netoff, children_inherit)
{
	network_off(_metadata);
	EXPECT_EQ(EACCES, run_in_child(KPR_SAME_UID, child_check, NULL));
}

/* Root sets the flag, then becomes another user: the flag stays. */
static int setuid_check(void *arg __maybe_unused)
{
	if (set_network_off())
		return KPR_EXIT_SETUP;
	if (become_user(KPR_UID, KPR_GID))
		return KPR_EXIT_SETUP;
	return child_check(NULL);
}

TEST_F(netoff, setuid_keeps_flag)
{
	EXPECT_EQ(EACCES, run_in_child(KPR_SAME_UID, setuid_check, NULL));
}

/* execve() keeps the flag: kpr_bind cannot create its socket. */
TEST_F(netoff, execve_inherits)
{
	char copy[PATH_MAX];
	char *const argv[] = { self->kpr_bind, "inet", "udp", LOCALHOST, "0", NULL };
	char *const copy_argv[] = { copy, "inet", "udp", LOCALHOST, "0", NULL };
	pid_t pid;

	/* Control. */
	pid = spawn(NULL, KPR_SAME_UID, false, self->kpr_bind, argv);
	ASSERT_LT(0, pid);
	EXPECT_EQ(0, wait_exit(pid));

	pid = spawn(NULL, KPR_SAME_UID, true, self->kpr_bind, argv);
	ASSERT_LT(0, pid);
	EXPECT_EQ(EACCES, wait_exit(pid));

	/* Nor as another user (with a copy that this user may run). */
	snprintf(copy, sizeof(copy), "%s/kpr_bind", self->dir);
	ASSERT_EQ(0, copy_file(self->kpr_bind, copy, 0755));
	pid = spawn(NULL, KPR_UID, false, copy, copy_argv);
	ASSERT_LT(0, pid);
	EXPECT_EQ(0, wait_exit(pid));
	pid = spawn(NULL, KPR_UID, true, copy, copy_argv);
	ASSERT_LT(0, pid);
	EXPECT_EQ(EACCES, wait_exit(pid));
}

/* A setuid-root binary gives no privileges to a task without network. */
TEST_F(netoff, setuid_binary_no_new_privs)
{
	char euid[PATH_MAX], line[32];
	char *const argv[] = { euid, NULL };

	snprintf(euid, sizeof(euid), "%s/kpr_euid", self->dir);
	ASSERT_EQ(0, copy_file(self->kpr_euid, euid, 0755));
	ASSERT_EQ(0, chown(euid, 0, 0));
	ASSERT_EQ(0, chmod(euid, 04755));

	/* Control. */
	ASSERT_EQ(0, run_output(KPR_UID, false, euid, argv, line,
				sizeof(line)));
	if (strcmp(line, "0"))
		SKIP(return, "setuid binaries do not work here (nosuid /tmp?)");

	ASSERT_EQ(0, run_output(KPR_UID, true, euid, argv, line,
				sizeof(line)));
	EXPECT_STREQ("1000", line);
}

static int userns_check(void *arg)
{
	const bool off = arg;

	if (off && set_network_off())
		return KPR_EXIT_SETUP;
	if (unshare(CLONE_NEWUSER | CLONE_NEWNET))
		return KPR_EXIT_SKIP;
	if (prctl(PR_GET_NETWORK, 0, 0, 0, 0) != (off ? PR_NETWORK_OFF : 0))
		return 100;
	return try_socket(AF_INET, SOCK_STREAM, 0);
}

/* Full capabilities in a new user and network namespace do not help. */
TEST_F(netoff, user_namespace)
{
	int ret;

	/* Control. */
	ret = run_in_child(KPR_SAME_UID, userns_check, (void *)false);
	if (ret == KPR_EXIT_SKIP)
		SKIP(return, "cannot create user and network namespaces");
	EXPECT_EQ(0, ret);

	EXPECT_EQ(EACCES,
		  run_in_child(KPR_SAME_UID, userns_check, (void *)true));

	/* Unprivileged too, if unprivileged user namespaces are allowed. */
	ret = run_in_child(KPR_UID, userns_check, (void *)true);
	if (ret == KPR_EXIT_SKIP)
		TH_LOG("no user namespaces for unprivileged users");
	else
		EXPECT_EQ(EACCES, ret);
}

/* ptrace. */

/* In a child: waits until the parent closes its end of the pipe @p. */
static void wait_for_close(int p[2])
{
	char c;

	close(p[1]);
	while (read(p[0], &c, 1) < 0 && errno == EINTR)
		;
}

/* A child that waits until the pipe @p is closed; returns its pid. */
static pid_t waiting_child(int p[2])
{
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		wait_for_close(p);
		_exit(0);
	}
	close(p[0]);
	return pid;
}

/* Attaches to @pid, waits for the stop and detaches: 0 or errno. */
static int attach_detach(pid_t pid)
{
	int status;

	if (ptrace(PTRACE_ATTACH, pid, NULL, NULL))
		return errno;
	if (waitpid(pid, &status, 0) != pid || !WIFSTOPPED(status))
		return 255;
	return ptrace(PTRACE_DETACH, pid, NULL, NULL) ? errno : 0;
}

/* Seizes @pid, then detaches after stopping it: 0 or errno. */
static int seize_detach(pid_t pid)
{
	int status;

	if (ptrace(PTRACE_SEIZE, pid, NULL, NULL))
		return errno;
	if (ptrace(PTRACE_INTERRUPT, pid, NULL, NULL) ||
	    waitpid(pid, &status, 0) != pid || !WIFSTOPPED(status))
		return 255;
	return ptrace(PTRACE_DETACH, pid, NULL, NULL) ? errno : 0;
}

/* A task without network may not control one that has it. */
TEST_F(netoff, ptrace_network_on_tracee)
{
	int p[2], err;
	pid_t child;

	ASSERT_EQ(0, pipe2(p, O_CLOEXEC));
	child = waiting_child(p);
	ASSERT_LT(0, child);

	/* Control (Yama allows tracing one's own children). */
	err = attach_detach(child);
	if (err == EPERM) {
		close(p[1]);
		wait_exit(child);
		SKIP(return, "ptrace is not allowed here (Yama?)");
	}
	EXPECT_EQ(0, err);
	EXPECT_EQ(0, seize_detach(child));

	network_off(_metadata);

	EXPECT_EQ(-1, ptrace(PTRACE_ATTACH, child, NULL, NULL));
	EXPECT_EQ(EPERM, errno);
	EXPECT_EQ(-1, ptrace(PTRACE_SEIZE, child, NULL, NULL));
	EXPECT_EQ(EPERM, errno);

	close(p[1]);
	EXPECT_EQ(0, wait_exit(child));
}

/*
 * Only accesses that give control are refused: a task without network may
 * still read /proc/PID/environ of a task that has it, but not open its
 * memory for writing.
 */
TEST_F(netoff, ptrace_read_access)
{
	char path[64];
	int p[2], fd;
	pid_t child;

	ASSERT_EQ(0, pipe2(p, O_CLOEXEC));
	child = waiting_child(p);
	ASSERT_LT(0, child);

	/* Control: both accesses work with network access. */
	snprintf(path, sizeof(path), "/proc/%d/mem", child);
	fd = open(path, O_RDWR);
	ASSERT_LE(0, fd);
	close(fd);

	network_off(_metadata);

	EXPECT_EQ(-1, open(path, O_RDWR));
	EXPECT_EQ(EACCES, errno);
	snprintf(path, sizeof(path), "/proc/%d/environ", child);
	fd = open(path, O_RDONLY);
	EXPECT_LE(0, fd);
	if (fd >= 0)
		close(fd);

	close(p[1]);
	EXPECT_EQ(0, wait_exit(child));
}

/* Tasks without network may trace each other. */
TEST_F(netoff, ptrace_both_off)
{
	int p[2];
	pid_t child;

	network_off(_metadata);
	ASSERT_EQ(0, pipe2(p, O_CLOEXEC));
	child = waiting_child(p);
	ASSERT_LT(0, child);

	EXPECT_EQ(0, attach_detach(child));
	EXPECT_EQ(0, seize_detach(child));

	close(p[1]);
	EXPECT_EQ(0, wait_exit(child));
}

/* A task with network may trace one without. */
TEST_F(netoff, ptrace_network_off_tracee)
{
	int p[2], ready[2];
	pid_t child;
	char c;

	ASSERT_EQ(0, pipe2(p, O_CLOEXEC));
	ASSERT_EQ(0, pipe2(ready, O_CLOEXEC));
	fflush(NULL);
	child = fork();
	ASSERT_LE(0, child);
	if (child == 0) {
		close(p[1]);
		close(ready[0]);
		if (set_network_off())
			_exit(KPR_EXIT_SETUP);
		if (write(ready[1], "r", 1) != 1)
			_exit(KPR_EXIT_SETUP);
		while (read(p[0], &c, 1) < 0 && errno == EINTR)
			;
		_exit(0);
	}
	close(p[0]);
	close(ready[1]);
	ASSERT_EQ(1, read(ready[0], &c, 1));

	EXPECT_EQ(0, prctl(PR_GET_NETWORK, 0, 0, 0, 0));
	EXPECT_EQ(0, attach_detach(child));
	EXPECT_EQ(0, seize_detach(child));

	close(p[1]);
	EXPECT_EQ(0, wait_exit(child));
}

/* A child waiting for @p, then calling PTRACE_TRACEME: 0 or errno. */
static pid_t traceme_child(int p[2])
{
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		wait_for_close(p);
		_exit(ptrace(PTRACE_TRACEME, 0, NULL, NULL) ? errno : 0);
	}
	close(p[0]);
	return pid;
}

/* PTRACE_TRACEME may not make a task without network the tracer. */
TEST_F(netoff, ptrace_traceme)
{
	int p[2];
	pid_t child;

	/* Control. */
	ASSERT_EQ(0, pipe2(p, O_CLOEXEC));
	child = traceme_child(p);
	ASSERT_LT(0, child);
	close(p[1]);
	EXPECT_EQ(0, wait_exit(child));

	/* The child keeps network access: it was forked before the flag. */
	ASSERT_EQ(0, pipe2(p, O_CLOEXEC));
	child = traceme_child(p);
	ASSERT_LT(0, child);
	network_off(_metadata);
	close(p[1]);
	EXPECT_EQ(EPERM, wait_exit(child));
}

/* io_uring. */

/*
 * Sets up @ring. The test kernel has io_uring (see config): a missing or
 * disabled io_uring fails these tests rather than skipping them.
 */
static bool ring_or_skip(struct __test_metadata *const _metadata,
			 struct kpr_ring *ring)
{
	int err = ring_init(ring, 8);

	ASSERT_EQ(0, err)
	{
		TH_LOG("io_uring_setup: %s (CONFIG_IO_URING=y is required)",
		       strerror(-err));
	}
	return true;
}

/* Runs @sqe on @ring with sqe flags @flags: its result. */
static int run(struct __test_metadata *const _metadata, struct kpr_ring *ring,
	       struct kpr_sqe sqe, unsigned int flags)
{
	int res = 0;

	sqe.flags = flags;
	ASSERT_EQ(0, ring_run(ring, &sqe, &res));
	return res;
}

/* The result of a request that creates a descriptor: 0 or errno. */
static int fd_res(int res)
{
	if (res < 0)
		return -res;
	close(res);
	return 0;
}

TEST_F(netoff, uring_socket)
{
	struct kpr_ring ring, ring2;

	if (!ring_or_skip(_metadata, &ring))
		return;

	/* Controls; the async one starts an io-wq worker before the flag. */
	EXPECT_EQ(0, fd_res(run(_metadata, &ring,
				sqe_socket(AF_INET, SOCK_DGRAM, 0), 0)));
	EXPECT_EQ(0, fd_res(run(_metadata, &ring,
				sqe_socket(AF_INET, SOCK_DGRAM, 0),
				KPR_IOSQE_ASYNC)));

	network_off(_metadata);

	EXPECT_EQ(EACCES, fd_res(run(_metadata, &ring,
				     sqe_socket(AF_INET, SOCK_DGRAM, 0), 0)));
	EXPECT_EQ(EACCES, fd_res(run(_metadata, &ring,
				     sqe_socket(AF_INET, SOCK_DGRAM, 0),
				     KPR_IOSQE_ASYNC)));
	EXPECT_EQ(EACCES, fd_res(run(_metadata, &ring,
				     sqe_socket(AF_INET6, SOCK_STREAM, 0),
				     KPR_IOSQE_ASYNC)));
	EXPECT_EQ(EACCES, fd_res(run(_metadata, &ring,
				     sqe_socket(AF_PACKET, SOCK_RAW, 0), 0)));
	EXPECT_EQ(0, fd_res(run(_metadata, &ring,
				sqe_socket(AF_UNIX, SOCK_STREAM, 0),
				KPR_IOSQE_ASYNC)));

	/* A ring created afterwards. */
	if (!ring_or_skip(_metadata, &ring2))
		return;
	EXPECT_EQ(EACCES, fd_res(run(_metadata, &ring2,
				     sqe_socket(AF_INET, SOCK_STREAM, 0), 0)));
	EXPECT_EQ(EACCES, fd_res(run(_metadata, &ring2,
				     sqe_socket(AF_INET, SOCK_STREAM, 0),
				     KPR_IOSQE_ASYNC)));
	ring_exit(&ring2);
	ring_exit(&ring);
}

TEST_F(netoff, uring_connect)
{
	const unsigned short base = 50100;
	struct kpr_addr srv = lo_addr(base);
	struct kpr_ring ring;
	int lfd, s[4], i;

	if (!ring_or_skip(_metadata, &ring))
		return;
	lfd = listener(base);
	ASSERT_LE(0, lfd);
	for (i = 0; i < 4; i++) {
		s[i] = new_socket(AF_INET, SOCK_STREAM);
		ASSERT_LE(0, s[i]);
	}

	EXPECT_EQ(0, run(_metadata, &ring,
			 sqe_connect(s[0], &srv.ss, srv.len), 0));
	EXPECT_EQ(0, run(_metadata, &ring,
			 sqe_connect(s[1], &srv.ss, srv.len), KPR_IOSQE_ASYNC));

	network_off(_metadata);

	EXPECT_EQ(-EACCES, run(_metadata, &ring,
			       sqe_connect(s[2], &srv.ss, srv.len), 0));
	EXPECT_EQ(-EACCES, run(_metadata, &ring,
			       sqe_connect(s[3], &srv.ss, srv.len),
			       KPR_IOSQE_ASYNC));
	ring_exit(&ring);
}

TEST_F(netoff, uring_bind)
{
	const unsigned short base = 50110;
	struct kpr_addr a[4];
	struct kpr_ring ring;
	int s[4], i;

	if (!ring_or_skip(_metadata, &ring))
		return;
	for (i = 0; i < 4; i++) {
		s[i] = new_socket(AF_INET, SOCK_DGRAM);
		ASSERT_LE(0, s[i]);
		a[i] = lo_addr(base + i);
	}

	EXPECT_EQ(0, run(_metadata, &ring, sqe_bind(s[0], &a[0].ss, a[0].len),
			 0));
	EXPECT_EQ(0, run(_metadata, &ring, sqe_bind(s[1], &a[1].ss, a[1].len),
			 KPR_IOSQE_ASYNC));

	network_off(_metadata);

	EXPECT_EQ(-EACCES, run(_metadata, &ring,
			       sqe_bind(s[2], &a[2].ss, a[2].len), 0));
	EXPECT_EQ(-EACCES, run(_metadata, &ring,
			       sqe_bind(s[3], &a[3].ss, a[3].len),
			       KPR_IOSQE_ASYNC));
	ring_exit(&ring);
}

TEST_F(netoff, uring_sendmsg)
{
	const unsigned short base = 50120;
	struct kpr_addr rx = lo_addr(base);
	struct iovec iov = { .iov_base = "x", .iov_len = 1 };
	struct msghdr to = {
		.msg_name = &rx.ss,
		.msg_namelen = rx.len,
		.msg_iov = &iov,
		.msg_iovlen = 1,
	};
	struct msghdr connected = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct kpr_ring ring;
	int rfd, u[4], i;

	if (!ring_or_skip(_metadata, &ring))
		return;
	rfd = bind_new(AF_INET, SOCK_DGRAM, LOCALHOST, base, 0);
	ASSERT_LE(0, rfd);
	for (i = 0; i < 4; i++) {
		u[i] = new_socket(AF_INET, SOCK_DGRAM);
		ASSERT_LE(0, u[i]);
	}
	ASSERT_EQ(0, connect(u[3], (struct sockaddr *)&rx.ss, rx.len));

	EXPECT_EQ(1, run(_metadata, &ring, sqe_sendmsg(u[0], &to), 0));
	EXPECT_EQ(1, run(_metadata, &ring, sqe_sendmsg(u[0], &to),
			 KPR_IOSQE_ASYNC));

	network_off(_metadata);

	EXPECT_EQ(-EACCES, run(_metadata, &ring, sqe_sendmsg(u[1], &to), 0));
	EXPECT_EQ(-EACCES, run(_metadata, &ring, sqe_sendmsg(u[2], &to),
			       KPR_IOSQE_ASYNC));
	EXPECT_EQ(-EACCES, run(_metadata, &ring, sqe_sendmsg(u[0], &to), 0));
	/* Without a destination, on a connected socket: fine. */
	EXPECT_EQ(1, run(_metadata, &ring, sqe_sendmsg(u[3], &connected), 0));
	EXPECT_EQ(1, run(_metadata, &ring, sqe_sendmsg(u[3], &connected),
			 KPR_IOSQE_ASYNC));
	ring_exit(&ring);
}

/* Credentials registered before the flag cannot bring network back. */
TEST_F(netoff, uring_personality)
{
	const unsigned short base = 50130;
	struct kpr_addr srv = lo_addr(base);
	struct kpr_sqe sqe;
	struct kpr_ring ring;
	int id, id_off, lfd, s;

	if (!ring_or_skip(_metadata, &ring))
		return;
	id = ring_register_personality(&ring);
	ASSERT_LT(0, id);
	lfd = listener(base);
	ASSERT_LE(0, lfd);
	s = new_socket(AF_INET, SOCK_STREAM);
	ASSERT_LE(0, s);

	/* Control. */
	sqe = sqe_socket(AF_INET, SOCK_STREAM, 0);
	sqe.personality = id;
	EXPECT_EQ(0, fd_res(run(_metadata, &ring, sqe, 0)));

	network_off(_metadata);

	EXPECT_EQ(EACCES, fd_res(run(_metadata, &ring, sqe, 0)));
	EXPECT_EQ(EACCES, fd_res(run(_metadata, &ring, sqe, KPR_IOSQE_ASYNC)));
	sqe = sqe_connect(s, &srv.ss, srv.len);
	sqe.personality = id;
	EXPECT_EQ(-EACCES, run(_metadata, &ring, sqe, 0));
	EXPECT_EQ(-EACCES, run(_metadata, &ring, sqe, KPR_IOSQE_ASYNC));

	/* Credentials registered after the flag work, without network. */
	id_off = ring_register_personality(&ring);
	ASSERT_LT(0, id_off);
	sqe = sqe_socket(AF_UNIX, SOCK_STREAM, 0);
	sqe.personality = id_off;
	EXPECT_EQ(0, fd_res(run(_metadata, &ring, sqe, 0)));
	sqe = sqe_socket(AF_INET, SOCK_STREAM, 0);
	sqe.personality = id_off;
	EXPECT_EQ(EACCES, fd_res(run(_metadata, &ring, sqe, 0)));
	ring_exit(&ring);
}

TEST_HARNESS_MAIN
