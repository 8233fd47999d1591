// SPDX-License-Identifier: GPL-2.0
/*
 * kportreserve: tests of port reservation.
 *
 * bind() of TCP and UDP sockets, for IPv4, IPv6, v4-mapped IPv6 and
 * dual-stack addresses: reserved ports are refused to every program but the
 * ones the rules name (root included), per protocol and per range, with and
 * without SO_REUSEADDR/SO_REUSEPORT; automatic port selection never picks a
 * reserved port; other network namespaces are not restricted.  Then the
 * identity of the program: symlinks, hard links, bind mounts, copies,
 * upgrades by rename, scripts, and exe file changes by prctl(PR_SET_MM).
 *
 * The programs are kpr_bind, built next to this test, and copies of it in a
 * temporary directory.  Explicit binds use ports 30000-39999, automatic
 * selection 40000-40001 (ip_local_port_range is narrowed, then restored).
 */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "kselftest_harness.h"
#include "common.h"

/* What every test of this file sets up. */
struct env {
	char kpr_bind[PATH_MAX];	/* the helper next to this test */
	char dir[64];			/* a temporary directory */
	char copy[PATH_MAX];		/* dir/kpr_bind, a copy of the helper */
	char range[64];			/* the saved ip_local_port_range */
};

static void env_setup(struct __test_metadata *const _metadata,
		      struct env *env)
{
	char *range;

	if (!policy_ready(_metadata))
		return;
	ASSERT_EQ(0, set_lo_up());
	helper_setup(_metadata, env->kpr_bind, env->dir, env->copy);

	range = read_file(KPR_PORT_RANGE);
	if (range) {
		snprintf(env->range, sizeof(env->range), "%s", range);
		free(range);
	}
}

static void env_teardown(struct env *env)
{
	write_policy("clear\n");
	if (env->range[0])
		write_text(KPR_PORT_RANGE, env->range);
	remove_tree(env->dir);
}

/* @dir/@name in @buf. */
static const char *path_in(const struct env *env, const char *name, char *buf)
{
	snprintf(buf, PATH_MAX, "%s/%s", env->dir, name);
	return buf;
}

/* run_bind() to 0.0.0.0:@port over TCP, by root. */
static int run_srv(const char *prog, unsigned short port)
{
	return run_bind(prog, KPR_SAME_UID, "inet", "tcp", "0.0.0.0", port,
			NULL, NULL);
}

/* A bind() for run_in_child(). */
struct bind_req {
	int family;
	int type;
	const char *addr;
	unsigned short port;
	int flags;
};

static int bind_req_fn(void *arg)
{
	const struct bind_req *r = arg;

	return bind_addr(r->family, r->type, r->addr, r->port, r->flags);
}

/* Results of a test child, in memory shared with the test. */
static int *shared_results(struct __test_metadata *const _metadata, int n)
{
	int *res = mmap(NULL, n * sizeof(int), PROT_READ | PROT_WRITE,
			MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	ASSERT_NE(MAP_FAILED, res);
	for (int i = 0; i < n; i++)
		res[i] = -1;
	return res;
}

/* Binding the matrix of families, addresses and protocols. */

FIXTURE(bind) {
	struct env env;
};

FIXTURE_VARIANT(bind) {
	int family;
	int type;
	const char *addr;	/* the address to bind */
	const char *peer;	/* a local address to send to, same family */
	const char *fam;	/* FAMILY of kpr_bind */
	const char *proto;	/* TYPE of kpr_bind, protocol of the rules */
	const char *other;	/* the other protocol */
};

/* The type of the variants, for the helpers that take one. */
#define BIND_VARIANT FIXTURE_VARIANT(bind)

/* clang-format off */
FIXTURE_VARIANT_ADD(bind, ipv4_any_tcp) {
	/* clang-format on */
	.family = AF_INET, .type = SOCK_STREAM,
	.addr = "0.0.0.0", .peer = "127.0.0.1",
	.fam = "inet", .proto = "tcp", .other = "udp",
};

/* clang-format off */
FIXTURE_VARIANT_ADD(bind, ipv4_any_udp) {
	/* clang-format on */
	.family = AF_INET, .type = SOCK_DGRAM,
	.addr = "0.0.0.0", .peer = "127.0.0.1",
	.fam = "inet", .proto = "udp", .other = "tcp",
};

/* clang-format off */
FIXTURE_VARIANT_ADD(bind, ipv4_lo_tcp) {
	/* clang-format on */
	.family = AF_INET, .type = SOCK_STREAM,
	.addr = "127.0.0.1", .peer = "127.0.0.1",
	.fam = "inet", .proto = "tcp", .other = "udp",
};

/* clang-format off */
FIXTURE_VARIANT_ADD(bind, ipv4_lo_udp) {
	/* clang-format on */
	.family = AF_INET, .type = SOCK_DGRAM,
	.addr = "127.0.0.1", .peer = "127.0.0.1",
	.fam = "inet", .proto = "udp", .other = "tcp",
};

/* clang-format off */
FIXTURE_VARIANT_ADD(bind, ipv6_lo_tcp) {
	/* clang-format on */
	.family = AF_INET6, .type = SOCK_STREAM,
	.addr = "::1", .peer = "::1",
	.fam = "inet6", .proto = "tcp", .other = "udp",
};

/* clang-format off */
FIXTURE_VARIANT_ADD(bind, ipv6_lo_udp) {
	/* clang-format on */
	.family = AF_INET6, .type = SOCK_DGRAM,
	.addr = "::1", .peer = "::1",
	.fam = "inet6", .proto = "udp", .other = "tcp",
};

/* clang-format off */
FIXTURE_VARIANT_ADD(bind, ipv6_mapped_tcp) {
	/* clang-format on */
	.family = AF_INET6, .type = SOCK_STREAM,
	.addr = "::ffff:127.0.0.1", .peer = "::ffff:127.0.0.1",
	.fam = "inet6", .proto = "tcp", .other = "udp",
};

/* clang-format off */
FIXTURE_VARIANT_ADD(bind, ipv6_mapped_udp) {
	/* clang-format on */
	.family = AF_INET6, .type = SOCK_DGRAM,
	.addr = "::ffff:127.0.0.1", .peer = "::ffff:127.0.0.1",
	.fam = "inet6", .proto = "udp", .other = "tcp",
};

/* clang-format off */
FIXTURE_VARIANT_ADD(bind, ipv6_any_tcp) {
	/* clang-format on */
	.family = AF_INET6, .type = SOCK_STREAM,
	.addr = "::", .peer = "::1",
	.fam = "inet6", .proto = "tcp", .other = "udp",
};

/* clang-format off */
FIXTURE_VARIANT_ADD(bind, ipv6_any_udp) {
	/* clang-format on */
	.family = AF_INET6, .type = SOCK_DGRAM,
	.addr = "::", .peer = "::1",
	.fam = "inet6", .proto = "udp", .other = "tcp",
};

FIXTURE_SETUP(bind)
{
	env_setup(_metadata, &self->env);
}

FIXTURE_TEARDOWN_PARENT(bind)
{
	env_teardown(&self->env);
}

/* bind() by the test itself to the variant's address: 0 or errno. */
static int vbind(const BIND_VARIANT *variant, unsigned short port,
		 int flags)
{
	return bind_addr(variant->family, variant->type, variant->addr, port,
			 flags);
}

/* Runs @prog to bind the variant's address and @port. */
static int vrun(const BIND_VARIANT *variant, const char *prog,
		uid_t uid, unsigned short port, const char *opt1,
		const char *opt2)
{
	return run_bind(prog, uid, variant->fam, variant->proto, variant->addr,
			port, opt1, opt2);
}

static bool is_wildcard(const char *addr)
{
	return !strcmp(addr, "0.0.0.0") || !strcmp(addr, "::");
}

TEST_F(bind, unreserved_port)
{
	const unsigned short port = 30000;

	/* Only the port in the middle is reserved. */
	ASSERT_EQ(0, policy_printf("%u %s\n", port + 1, self->env.kpr_bind));
	EXPECT_EQ(0, vbind(variant, port, 0));
	EXPECT_EQ(0, vbind(variant, port + 2, 0));
	EXPECT_EQ(0, vrun(variant, self->env.copy, KPR_SAME_UID, port, NULL,
			  NULL));
	EXPECT_EQ(EACCES, vbind(variant, port + 1, 0));
}

TEST_F(bind, reserved_for_other)
{
	const unsigned short port = 30010;
	struct bind_req req = {
		.family = variant->family,
		.type = variant->type,
		.addr = variant->addr,
		.port = port,
	};

	/* Control: the port is free. */
	ASSERT_EQ(0, vbind(variant, port, 0));

	ASSERT_EQ(0, policy_printf("%u %s\n", port, self->env.kpr_bind));
	EXPECT_EQ(EACCES, vbind(variant, port, 0));
	EXPECT_EQ(EACCES, vbind(variant, port, KPR_REUSEADDR));
	EXPECT_EQ(EACCES, vbind(variant, port, KPR_REUSEPORT));
	EXPECT_EQ(EACCES, vbind(variant, port, KPR_REUSEADDR | KPR_REUSEPORT));

	/* Every address of the port, in both families. */
	EXPECT_EQ(EACCES, bind_addr(AF_INET, variant->type, "0.0.0.0", port, 0));
	EXPECT_EQ(EACCES, bind_addr(AF_INET, variant->type, "127.0.0.1", port,
				    0));
	EXPECT_EQ(EACCES, bind_addr(AF_INET6, variant->type, "::", port, 0));
	EXPECT_EQ(EACCES, bind_addr(AF_INET6, variant->type, "::1", port, 0));

	/* Not for other users either. */
	EXPECT_EQ(EACCES, run_in_child(KPR_UID, bind_req_fn, &req));

	/* Nor for a program that is not there. */
	ASSERT_EQ(0, policy_printf("clear\n%u /nonexistent/kpr_bind\n", port));
	EXPECT_EQ(EACCES, vbind(variant, port, 0));

	/* Deleting the rule frees the port at once. */
	ASSERT_EQ(0, policy_printf("delete %u /nonexistent/kpr_bind\n", port));
	EXPECT_EQ(0, vbind(variant, port, 0));
}

TEST_F(bind, reserved_for_running_program)
{
	const unsigned short port = 30020;

	ASSERT_EQ(0, policy_printf("%u %s\n%u %s\n", port, self->env.kpr_bind,
				   port + 1, self->env.copy));
	EXPECT_EQ(EACCES, vbind(variant, port, 0));
	EXPECT_EQ(0, vrun(variant, self->env.kpr_bind, KPR_SAME_UID, port,
			  NULL, NULL));
	EXPECT_EQ(0, vrun(variant, self->env.kpr_bind, KPR_SAME_UID, port,
			  "reuseaddr", NULL));
	EXPECT_EQ(0, vrun(variant, self->env.kpr_bind, KPR_SAME_UID, port,
			  "reuseaddr", "reuseport"));
	/* An unprivileged user running the program gets the port too. */
	EXPECT_EQ(0, vrun(variant, self->env.copy, KPR_UID, port + 1, NULL,
			  NULL));
	EXPECT_EQ(EACCES, vrun(variant, self->env.copy, KPR_UID, port, NULL,
			       NULL));
}

TEST_F(bind, copy_denied)
{
	const unsigned short port = 30030;

	ASSERT_EQ(0, policy_printf("%u %s\n", port, self->env.kpr_bind));
	EXPECT_EQ(EACCES, vrun(variant, self->env.copy, KPR_SAME_UID, port,
			       NULL, NULL));
	EXPECT_EQ(EACCES, vrun(variant, self->env.copy, KPR_UID, port, NULL,
			       NULL));
	EXPECT_EQ(0, vrun(variant, self->env.kpr_bind, KPR_SAME_UID, port,
			  NULL, NULL));
}

/* Starts the owner of @port: it binds with SO_REUSEPORT and holds it. */
static void start_owner(struct __test_metadata *const _metadata,
			struct kpr_proc *owner, const char *prog, uid_t uid,
			const BIND_VARIANT *variant,
			unsigned short port)
{
	char portstr[8], line[32];
	char *const argv[] = {
		(char *)prog, (char *)variant->fam, (char *)variant->proto,
		(char *)variant->addr, portstr, "reuseport", "hold", NULL,
	};

	snprintf(portstr, sizeof(portstr), "%u", port);
	ASSERT_LT(0, spawn(owner, uid, false, prog, argv));
	ASSERT_LT(0, proc_read_line(owner, line, sizeof(line)))
	{
		TH_LOG("the owner could not bind port %u: exit code %d", port,
		       proc_finish(owner));
	}
	ASSERT_EQ(port, atoi(line));
}

/*
 * SO_REUSEPORT lets sockets of the same user share a port: another program
 * of the owner's user must not join a reserved port that way.
 */
static void reuseport_hijack(struct __test_metadata *const _metadata,
			     const struct env *env,
			     const BIND_VARIANT *variant, uid_t uid,
			     unsigned short port)
{
	struct bind_req req = {
		.family = variant->family,
		.type = variant->type,
		.addr = variant->addr,
		.flags = KPR_REUSEPORT,
	};
	struct kpr_proc owner;

	/* Control: on a port that is not reserved, the hijack works. */
	start_owner(_metadata, &owner, env->copy, uid, variant, port + 1);
	req.port = port + 1;
	EXPECT_EQ(0, run_in_child(uid, bind_req_fn, &req));
	EXPECT_EQ(0, proc_finish(&owner));

	ASSERT_EQ(0, policy_printf("%u %s\n", port, env->copy));
	start_owner(_metadata, &owner, env->copy, uid, variant, port);
	req.port = port;
	EXPECT_EQ(EACCES, run_in_child(uid, bind_req_fn, &req));
	req.flags = KPR_REUSEPORT | KPR_REUSEADDR;
	EXPECT_EQ(EACCES, run_in_child(uid, bind_req_fn, &req));
	/* A second instance of the owner may join. */
	EXPECT_EQ(0, vrun(variant, env->copy, uid, port, "reuseport", NULL));
	EXPECT_EQ(0, proc_finish(&owner));
}

TEST_F(bind, reuseport_hijack_same_uid)
{
	reuseport_hijack(_metadata, &self->env, variant, KPR_UID, 30040);
}

TEST_F(bind, reuseport_hijack_root)
{
	reuseport_hijack(_metadata, &self->env, variant, KPR_SAME_UID, 30050);
}

TEST_F(bind, kernel_rule)
{
	const unsigned short port = 30060;
	struct bind_req req = {
		.family = variant->family,
		.type = variant->type,
		.addr = variant->addr,
		.port = port,
	};

	ASSERT_EQ(0, policy_printf("%u <kernel>\n", port));
	EXPECT_EQ(EACCES, vbind(variant, port, 0));
	EXPECT_EQ(EACCES, vbind(variant, port, KPR_REUSEADDR | KPR_REUSEPORT));
	EXPECT_EQ(EACCES, run_in_child(KPR_UID, bind_req_fn, &req));
	EXPECT_EQ(EACCES, vrun(variant, self->env.kpr_bind, KPR_SAME_UID,
			       port, NULL, NULL));
	EXPECT_EQ(EACCES, vrun(variant, self->env.copy, KPR_UID, port, NULL,
			       NULL));

	ASSERT_EQ(0, policy_printf("delete %u <kernel>\n", port));
	EXPECT_EQ(0, vbind(variant, port, 0));
}

TEST_F(bind, per_protocol)
{
	const unsigned short port = 30070;
	const int other_type = variant->type == SOCK_STREAM ? SOCK_DGRAM :
							      SOCK_STREAM;

	ASSERT_EQ(0, policy_printf("%u/%s %s\n%u/%s %s\n%u %s\n",
				   port, variant->other, self->env.kpr_bind,
				   port + 1, variant->proto, self->env.kpr_bind,
				   port + 2, self->env.kpr_bind));
	/* Reserved for the other protocol only. */
	EXPECT_EQ(0, vbind(variant, port, 0));
	EXPECT_EQ(EACCES, bind_addr(variant->family, other_type, variant->addr,
				    port, 0));
	/* For this protocol only. */
	EXPECT_EQ(EACCES, vbind(variant, port + 1, 0));
	EXPECT_EQ(0, bind_addr(variant->family, other_type, variant->addr,
			       port + 1, 0));
	/* For both. */
	EXPECT_EQ(EACCES, vbind(variant, port + 2, 0));
	EXPECT_EQ(EACCES, bind_addr(variant->family, other_type, variant->addr,
				    port + 2, 0));

	EXPECT_EQ(0, vrun(variant, self->env.kpr_bind, KPR_SAME_UID, port + 1,
			  NULL, NULL));
	EXPECT_EQ(0, vrun(variant, self->env.kpr_bind, KPR_SAME_UID, port + 2,
			  NULL, NULL));
}

TEST_F(bind, range_rule)
{
	static const unsigned short in[] = {
		30100, 30101, 30105, 30108, 30109, 30120, 30125, 30129,
	};
	static const unsigned short out[] = {
		30099, 30110, 30119, 30130, 30135, 30139, 30140,
	};
	unsigned int i;

	ASSERT_EQ(0, policy_printf("30100-30109 %s\n"
				   "30120-30129/%s %s\n"
				   "30130-30139/%s %s\n",
				   self->env.kpr_bind,
				   variant->proto, self->env.kpr_bind,
				   variant->other, self->env.kpr_bind));
	for (i = 0; i < ARRAY_SIZE(in); i++) {
		EXPECT_EQ(EACCES, vbind(variant, in[i], 0))
		{
			TH_LOG("port %u", in[i]);
		}
	}
	for (i = 0; i < ARRAY_SIZE(out); i++) {
		EXPECT_EQ(0, vbind(variant, out[i], 0))
		{
			TH_LOG("port %u", out[i]);
		}
	}
	EXPECT_EQ(0, vrun(variant, self->env.kpr_bind, KPR_SAME_UID, 30105,
			  NULL, NULL));
	EXPECT_EQ(0, vrun(variant, self->env.kpr_bind, KPR_SAME_UID, 30129,
			  NULL, NULL));
}

/*
 * Rules qualified by a user or a group: the program must run with that
 * effective uid or gid too.  Two rules for one program and port, for two
 * users, both work.
 */
TEST_F(bind, user_qualified)
{
	const unsigned short port = 30200;
	const char *bin = self->env.kpr_bind, *copy = self->env.copy;

	ASSERT_EQ(0, policy_printf("%u %s user=%u\n"
				   "%u %s group=%u\n"
				   "%u %s user=%u\n%u %s user=0\n"
				   "%u %s user=%u group=%u\n"
				   "%u %s user=%u group=0\n",
				   port, bin, KPR_UID,
				   port + 1, bin, KPR_GID,
				   port + 2, bin, KPR_UID, port + 2, bin,
				   port + 3, bin, KPR_UID, KPR_GID,
				   port + 4, bin, KPR_UID));

	/* Right program, right user: allowed; wrong user: denied. */
	EXPECT_EQ(0, vrun(variant, bin, KPR_UID, port, NULL, NULL));
	EXPECT_EQ(EACCES, vrun(variant, bin, KPR_SAME_UID, port, NULL, NULL));
	EXPECT_EQ(EACCES, vrun(variant, bin, KPR_UID + 1, port, NULL, NULL));
	/* Wrong program, right user: denied; nor for the test itself. */
	EXPECT_EQ(EACCES, vrun(variant, copy, KPR_UID, port, NULL, NULL));
	EXPECT_EQ(EACCES, vbind(variant, port, 0));

	/* The group: KPR_UID runs with KPR_GID, root with group 0. */
	EXPECT_EQ(0, vrun(variant, bin, KPR_UID, port + 1, NULL, NULL));
	EXPECT_EQ(0, vrun(variant, bin, KPR_UID + 1, port + 1, NULL, NULL));
	EXPECT_EQ(EACCES, vrun(variant, bin, KPR_SAME_UID, port + 1, NULL,
			       NULL));
	EXPECT_EQ(EACCES, vrun(variant, copy, KPR_UID, port + 1, NULL, NULL));

	/* Two users of one program and port. */
	EXPECT_EQ(0, vrun(variant, bin, KPR_UID, port + 2, NULL, NULL));
	EXPECT_EQ(0, vrun(variant, bin, KPR_SAME_UID, port + 2, NULL, NULL));
	EXPECT_EQ(EACCES, vrun(variant, bin, KPR_UID + 1, port + 2, NULL,
			       NULL));
	EXPECT_EQ(EACCES, vrun(variant, copy, KPR_SAME_UID, port + 2, NULL,
			       NULL));

	/* Both qualifiers: both must match. */
	EXPECT_EQ(0, vrun(variant, bin, KPR_UID, port + 3, NULL, NULL));
	EXPECT_EQ(EACCES, vrun(variant, bin, KPR_UID + 1, port + 3, NULL,
			       NULL));
	EXPECT_EQ(EACCES, vrun(variant, bin, KPR_UID, port + 4, NULL, NULL));
	EXPECT_EQ(EACCES, vrun(variant, bin, KPR_SAME_UID, port + 4, NULL,
			       NULL));

	/* Deleting one user's rule leaves the other's. */
	ASSERT_EQ(-ENOENT, policy_printf("delete %u %s\n", port + 2, bin));
	ASSERT_EQ(0, policy_printf("delete %u %s user=0\n", port + 2, bin));
	EXPECT_EQ(EACCES, vrun(variant, bin, KPR_SAME_UID, port + 2, NULL,
			       NULL));
	EXPECT_EQ(0, vrun(variant, bin, KPR_UID, port + 2, NULL, NULL));
	/* An unqualified rule admits every user again. */
	ASSERT_EQ(0, policy_printf("%u %s\n", port, bin));
	EXPECT_EQ(0, vrun(variant, bin, KPR_SAME_UID, port, NULL, NULL));
	EXPECT_EQ(EACCES, vrun(variant, copy, KPR_SAME_UID, port, NULL, NULL));
}

static int netns_bind_fn(void *arg)
{
	const struct bind_req *r = arg;
	struct kpr_addr a;
	int pre;

	/* A socket created in the initial namespace stays there. */
	pre = new_socket(r->family, r->type);
	if (pre < 0)
		return KPR_EXIT_SETUP;
	if (unshare(CLONE_NEWNET))
		return KPR_EXIT_SKIP;
	/* The wildcard address needs no interface up. */
	if (!is_wildcard(r->addr) && set_lo_up())
		return KPR_EXIT_SETUP;
	if (make_addr(r->family, r->addr, r->port, &a))
		return KPR_EXIT_SETUP;
	if (bind(pre, (struct sockaddr *)&a.ss, a.len) == 0)
		return 100;
	if (errno != EACCES)
		return 101;
	return bind_addr(r->family, r->type, r->addr, r->port, 0);
}

TEST_F(bind, other_netns)
{
	const unsigned short port = 30200;
	struct bind_req req = {
		.family = variant->family,
		.type = variant->type,
		.addr = variant->addr,
		.port = port,
	};
	int ret;

	ASSERT_EQ(0, policy_printf("%u <kernel>\n", port));
	ASSERT_EQ(EACCES, vbind(variant, port, 0));
	ret = run_in_child(KPR_SAME_UID, netns_bind_fn, &req);
	if (ret == KPR_EXIT_SKIP)
		SKIP(return, "cannot create a network namespace");
	EXPECT_EQ(0, ret);
}

/* Automatic port selection. */

#define AUTO_LOW 40000
#define AUTO_HIGH 40001
#define AUTO_TRIES 16

/* Narrows the automatic selection to AUTO_LOW-AUTO_HIGH; false: skip. */
static bool narrow_range(struct __test_metadata *const _metadata,
			 const struct env *env)
{
	if (!env->range[0])
		SKIP(return false, "no %s", KPR_PORT_RANGE);
	ASSERT_EQ(0, set_port_range(AUTO_LOW, AUTO_HIGH));
	return true;
}

/* The errors of automatic selection when no port is left. */
static bool exhausted(int err)
{
	return err == EADDRINUSE || err == EADDRNOTAVAIL || err == EAGAIN;
}

/* How an unbound socket gets its port in a test. */
enum autobind_how {
	AUTO_BIND0,	/* bind() to port 0 */
	AUTO_CONNECT,	/* connect() */
	AUTO_IMPLICIT,	/* listen() for TCP, sendto() for UDP */
};

/*
 * Gets a port automatically the @how way; returns the socket (its port is
 * the one selected) or -errno.
 */
static int autobind(const BIND_VARIANT *variant,
		    enum autobind_how how, unsigned short peer_port)
{
	struct kpr_addr peer;
	int fd, err = 0;

	if (how == AUTO_BIND0)
		return bind_new(variant->family, variant->type, variant->addr,
				0, 0);
	if (make_addr(variant->family, variant->peer, peer_port, &peer))
		return -EINVAL;
	fd = new_socket(variant->family, variant->type);
	if (fd < 0)
		return fd;
	if (how == AUTO_CONNECT)
		err = connect(fd, (struct sockaddr *)&peer.ss, peer.len);
	else if (variant->type == SOCK_STREAM)
		err = listen(fd, 1);
	else
		err = sendto(fd, "x", 1, 0, (struct sockaddr *)&peer.ss,
			     peer.len) == 1 ? 0 : -1;
	if (err) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

/* Automatic selection always picks port @left. */
static void expect_only(struct __test_metadata *const _metadata,
			const BIND_VARIANT *variant,
			enum autobind_how how, unsigned short peer_port,
			unsigned short left)
{
	int i, fd;

	for (i = 0; i < AUTO_TRIES; i++) {
		fd = autobind(variant, how, peer_port);
		ASSERT_LE(0, fd)
		{
			TH_LOG("automatic selection failed: %s", strerror(-fd));
		}
		EXPECT_EQ(left, local_port(fd));
		close_reset(fd);
	}
}

static void autobind_test(struct __test_metadata *const _metadata,
			  const struct env *env,
			  const BIND_VARIANT *variant,
			  enum autobind_how how, unsigned short peer_port)
{
	int r, fd, port;

	if (!narrow_range(_metadata, env))
		return;

	/* Control: without reservations, the range works. */
	fd = autobind(variant, how, peer_port);
	ASSERT_LE(0, fd)
	{
		TH_LOG("automatic selection failed: %s", strerror(-fd));
	}
	port = local_port(fd);
	EXPECT_TRUE(port == AUTO_LOW || port == AUTO_HIGH);
	close_reset(fd);

	/*
	 * Either port reserved, for this protocol or the other one only: the
	 * other port is always picked.  (TCP tries one of them first.)
	 */
	for (r = 0; r < 2; r++) {
		const unsigned short reserved = r ? AUTO_HIGH : AUTO_LOW;
		const unsigned short left = r ? AUTO_LOW : AUTO_HIGH;

		ASSERT_EQ(0, policy_printf("clear\n%u %s\n", reserved,
					   env->kpr_bind));
		expect_only(_metadata, variant, how, peer_port, left);

		ASSERT_EQ(0, policy_printf("clear\n%u/%s %s\n", reserved,
					   variant->other, env->kpr_bind));
		expect_only(_metadata, variant, how, peer_port, left);
	}

	/* The whole range reserved: no port. */
	ASSERT_EQ(0, policy_printf("clear\n%u-%u <kernel>\n", AUTO_LOW,
				   AUTO_HIGH));
	fd = autobind(variant, how, peer_port);
	EXPECT_GT(0, fd)
	{
		TH_LOG("got port %d", local_port(fd));
	}
	if (fd >= 0) {
		close_reset(fd);
	} else {
		EXPECT_TRUE(exhausted(-fd))
		{
			TH_LOG("unexpected error: %s", strerror(-fd));
		}
	}
}

TEST_F(bind, autobind_bind0)
{
	autobind_test(_metadata, &self->env, variant, AUTO_BIND0, 0);
}

TEST_F(bind, autobind_connect)
{
	const unsigned short peer_port = 30300;
	int listener = -1;

	if (variant->type == SOCK_STREAM) {
		listener = bind_new(variant->family, SOCK_STREAM, variant->peer,
				    peer_port, KPR_REUSEADDR);
		ASSERT_LE(0, listener);
		ASSERT_EQ(0, listen(listener, 512));
	}
	autobind_test(_metadata, &self->env, variant, AUTO_CONNECT, peer_port);
	if (listener >= 0)
		close(listener);
}

/* listen() on an unbound TCP socket, sendto() on an unbound UDP socket. */
TEST_F(bind, autobind_implicit)
{
	autobind_test(_metadata, &self->env, variant, AUTO_IMPLICIT, 30310);
}

/* The owner of a port does not get it by automatic selection either. */
TEST_F(bind, autobind_owner)
{
	char *const argv[] = {
		self->env.kpr_bind, (char *)variant->fam,
		(char *)variant->proto, (char *)variant->addr, "0", NULL,
	};
	char line[32];
	int r, i;

	if (!narrow_range(_metadata, &self->env))
		return;
	for (r = 0; r < 2; r++) {
		const unsigned short reserved = r ? AUTO_HIGH : AUTO_LOW;
		const unsigned short left = r ? AUTO_LOW : AUTO_HIGH;

		ASSERT_EQ(0, policy_printf("clear\n%u %s\n", reserved,
					   self->env.kpr_bind));
		for (i = 0; i < AUTO_TRIES / 2; i++) {
			EXPECT_EQ(0, run_output(KPR_SAME_UID, false,
						self->env.kpr_bind, argv, line,
						sizeof(line)));
			EXPECT_EQ(left, atoi(line));
		}
	}
}

static int netns_autobind_fn(void *arg)
{
	const BIND_VARIANT *variant = arg;
	int fd, port;

	if (unshare(CLONE_NEWNET))
		return KPR_EXIT_SKIP;
	if (!is_wildcard(variant->addr) && set_lo_up())
		return KPR_EXIT_SETUP;
	/* This namespace has its own range. */
	if (set_port_range(AUTO_LOW, AUTO_HIGH))
		return KPR_EXIT_SETUP;
	fd = autobind(variant, AUTO_BIND0, 0);
	if (fd < 0)
		return -fd;
	port = local_port(fd);
	close(fd);
	return port == AUTO_LOW || port == AUTO_HIGH ? 0 : 100;
}

/* Reservations do not keep ports from selection in other namespaces. */
TEST_F(bind, autobind_other_netns)
{
	int fd, ret;

	if (!narrow_range(_metadata, &self->env))
		return;
	ASSERT_EQ(0, policy_printf("%u-%u <kernel>\n", AUTO_LOW, AUTO_HIGH));
	/* Control: no port in the initial namespace. */
	fd = autobind(variant, AUTO_BIND0, 0);
	ASSERT_GT(0, fd);
	ret = run_in_child(KPR_SAME_UID, netns_autobind_fn, (void *)variant);
	if (ret == KPR_EXIT_SKIP)
		SKIP(return, "cannot create a network namespace");
	EXPECT_EQ(0, ret);
}

/* Which program runs: links, mounts, copies, upgrades, scripts. */

FIXTURE(identity) {
	struct env env;
};

FIXTURE_SETUP(identity)
{
	env_setup(_metadata, &self->env);
}

FIXTURE_TEARDOWN_PARENT(identity)
{
	env_teardown(&self->env);
}

/* A rule naming a symlink names the program it points to, when checked. */
TEST_F(identity, symlink_named_in_rule)
{
	const unsigned short port = 31000;
	char srv[PATH_MAX], link[PATH_MAX];

	path_in(&self->env, "srv", srv);
	path_in(&self->env, "link", link);
	ASSERT_EQ(0, copy_file(self->env.kpr_bind, srv, 0755));
	ASSERT_EQ(0, symlink(srv, link));

	ASSERT_EQ(0, policy_printf("%u %s\n", port, link));
	EXPECT_EQ(0, run_srv(srv, port));
	EXPECT_EQ(0, run_srv(link, port));
	EXPECT_EQ(EACCES, run_srv(self->env.copy, port));
	EXPECT_EQ(EACCES, bind_port(AF_INET, SOCK_STREAM, port));

	/* Pointed elsewhere, it names another program. */
	ASSERT_EQ(0, unlink(link));
	ASSERT_EQ(0, symlink(self->env.copy, link));
	EXPECT_EQ(EACCES, run_srv(srv, port));
	EXPECT_EQ(0, run_srv(self->env.copy, port));
}

/* A rule naming the program matches it run through a symlink. */
TEST_F(identity, exec_through_symlink)
{
	const unsigned short port = 31010;
	char srv[PATH_MAX], link[PATH_MAX];

	path_in(&self->env, "srv", srv);
	path_in(&self->env, "link", link);
	ASSERT_EQ(0, copy_file(self->env.kpr_bind, srv, 0755));
	ASSERT_EQ(0, symlink("srv", link));

	ASSERT_EQ(0, policy_printf("%u %s\n", port, srv));
	EXPECT_EQ(0, run_srv(link, port));
	EXPECT_EQ(0, run_srv(srv, port));
	EXPECT_EQ(EACCES, run_srv(self->env.copy, port));
}

/* A hard link is the same program; a copy is not. */
TEST_F(identity, hard_link)
{
	const unsigned short port = 31020;
	char srv[PATH_MAX], hl[PATH_MAX];

	path_in(&self->env, "srv", srv);
	path_in(&self->env, "hl", hl);
	ASSERT_EQ(0, copy_file(self->env.kpr_bind, srv, 0755));
	ASSERT_EQ(0, link(srv, hl));

	ASSERT_EQ(0, policy_printf("%u %s\n%u %s\n", port, srv, port + 1, hl));
	EXPECT_EQ(0, run_srv(hl, port));
	EXPECT_EQ(0, run_srv(srv, port + 1));
	EXPECT_EQ(EACCES, run_srv(self->env.copy, port));
	EXPECT_EQ(EACCES, run_srv(self->env.copy, port + 1));
}

struct mount_req {
	char d1[128];		/* holds srv */
	char d2[128];		/* empty: d1 is bind-mounted on it */
	const char *copy;
	unsigned short port;
	int *res;
};

static int bind_mount_fn(void *arg)
{
	struct mount_req *m = arg;
	char path[PATH_MAX];

	if (unshare(CLONE_NEWNS) ||
	    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) ||
	    mount(m->d1, m->d2, NULL, MS_BIND, NULL))
		return KPR_EXIT_SKIP;
	/* The program through the bind mount; the rule names d1/srv. */
	snprintf(path, sizeof(path), "%s/srv", m->d2);
	m->res[0] = run_srv(path, m->port);
	/*
	 * The rule names d2/srv, which exists in this namespace only: rules
	 * name paths of the host, so it matches nothing.
	 */
	snprintf(path, sizeof(path), "%s/srv", m->d1);
	m->res[1] = run_srv(path, m->port + 1);
	m->res[3] = run_srv(path, m->port);
	m->res[2] = run_srv(m->copy, m->port);
	return 0;
}

/*
 * A bind mount shows the same program at another path; in a private mount
 * namespace, no program gets an identity.
 */
TEST_F(identity, bind_mount)
{
	struct mount_req *m;
	char srv[PATH_MAX];
	int ret;

	m = mmap(NULL, sizeof(*m), PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, m);
	m->res = shared_results(_metadata, 4);
	m->copy = self->env.copy;
	m->port = 31030;
	snprintf(m->d1, sizeof(m->d1), "%s/d1", self->env.dir);
	snprintf(m->d2, sizeof(m->d2), "%s/d2", self->env.dir);
	ASSERT_EQ(0, mkdir(m->d1, 0755));
	ASSERT_EQ(0, mkdir(m->d2, 0755));
	snprintf(srv, sizeof(srv), "%s/srv", m->d1);
	ASSERT_EQ(0, copy_file(self->env.kpr_bind, srv, 0755));

	ASSERT_EQ(0, policy_printf("%u %s/srv\n%u %s/srv\n", m->port, m->d1,
				   m->port + 1, m->d2));
	/* Here, d2/srv does not exist: the second rule matches nothing. */
	EXPECT_EQ(EACCES, run_srv(srv, m->port + 1));
	EXPECT_EQ(0, run_srv(srv, m->port));

	/* A bind mount in the host's mount namespace shows the same program. */
	ASSERT_EQ(0, mount(m->d1, m->d2, NULL, MS_BIND, NULL));
	snprintf(srv, sizeof(srv), "%s/srv", m->d2);
	EXPECT_EQ(0, run_srv(srv, m->port));
	EXPECT_EQ(0, run_srv(srv, m->port + 1));
	EXPECT_EQ(EACCES, run_srv(m->copy, m->port));
	ASSERT_EQ(0, umount2(m->d2, MNT_DETACH));

	/*
	 * In a private mount namespace nothing gets an identity: the files
	 * that an exec loads there (interpreter, libraries) are the
	 * namespace's choice.
	 */
	ret = run_in_child(KPR_SAME_UID, bind_mount_fn, m);
	if (ret == KPR_EXIT_SKIP)
		SKIP(return, "cannot bind mount in a new mount namespace");
	ASSERT_EQ(0, ret);
	EXPECT_EQ(EACCES, m->res[0]);
	EXPECT_EQ(EACCES, m->res[1]);
	EXPECT_EQ(EACCES, m->res[2]);
	EXPECT_EQ(EACCES, m->res[3]);
}

/* Starts @prog with "wait": it binds TCP @port when told to. */
static void start_waiting(struct __test_metadata *const _metadata,
			  struct kpr_proc *proc, const char *prog,
			  unsigned short port)
{
	char portstr[8], line[32];
	char *const argv[] = {
		(char *)prog, "inet", "tcp", "0.0.0.0", portstr, "wait", NULL,
	};

	snprintf(portstr, sizeof(portstr), "%u", port);
	ASSERT_LT(0, spawn(proc, KPR_SAME_UID, false, prog, argv));
	ASSERT_LT(0, proc_read_line(proc, line, sizeof(line)));
	ASSERT_STREQ("ready", line);
}

/* Tells a process of start_waiting() to bind; returns its exit code. */
static int bind_now(struct kpr_proc *proc)
{
	if (write(proc->in, "x", 1) != 1)
		return -errno;
	return proc_finish(proc);
}

/*
 * A package upgrade renames a new file over the program: new instances
 * match, and an instance of the old file, started before the upgrade, keeps
 * its port as long as its rule is there.
 */
TEST_F(identity, rename_upgrade)
{
	const unsigned short port = 31040;
	char srv[PATH_MAX], srv_new[PATH_MAX];
	struct kpr_proc old1, old2, new1;

	path_in(&self->env, "srv", srv);
	path_in(&self->env, "srv.new", srv_new);
	ASSERT_EQ(0, copy_file(self->env.kpr_bind, srv, 0755));

	/* A second rule keeps the port reserved when the first one goes. */
	ASSERT_EQ(0, policy_printf("%u %s\n%u /nonexistent/kpr_bind\n", port,
				   srv, port));
	EXPECT_EQ(0, run_srv(srv, port));

	/* The old version, started before the upgrade, binds after it. */
	start_waiting(_metadata, &old1, srv, port);
	start_waiting(_metadata, &old2, srv, port);

	ASSERT_EQ(0, copy_file(self->env.kpr_bind, srv_new, 0755));
	ASSERT_EQ(0, rename(srv_new, srv));

	EXPECT_EQ(0, run_srv(srv, port));
	EXPECT_EQ(0, bind_now(&old1));
	EXPECT_EQ(EACCES, run_srv(self->env.copy, port));
	EXPECT_EQ(0, run_srv(srv, port));

	/* Without its rule, no instance has the port, old or new. */
	start_waiting(_metadata, &new1, srv, port);
	ASSERT_EQ(0, policy_printf("delete %u %s\n", port, srv));
	EXPECT_EQ(EACCES, bind_now(&old2));
	EXPECT_EQ(EACCES, bind_now(&new1));
	EXPECT_EQ(EACCES, run_srv(srv, port));
	EXPECT_EQ(EACCES, run_srv(self->env.copy, port));
}

/*
 * The identity is decided by execve(): a program started before its rule
 * was added gets the port only once it is run again.
 */
TEST_F(identity, started_before_rule)
{
	const unsigned short port = 31090;
	char srv[PATH_MAX];
	struct kpr_proc early;

	path_in(&self->env, "srv", srv);
	ASSERT_EQ(0, copy_file(self->env.kpr_bind, srv, 0755));

	start_waiting(_metadata, &early, srv, port);
	ASSERT_EQ(0, policy_printf("%u %s\n", port, srv));
	EXPECT_EQ(EACCES, bind_now(&early));
	/* Run again, it is the program of the rule. */
	EXPECT_EQ(0, run_srv(srv, port));
}

/* Rules are resolved when checked: a program installed later matches. */
TEST_F(identity, program_installed_later)
{
	const unsigned short port = 31050;
	char later[PATH_MAX];

	path_in(&self->env, "later", later);
	ASSERT_EQ(0, policy_printf("%u %s\n", port, later));
	EXPECT_EQ(EACCES, bind_port(AF_INET, SOCK_STREAM, port));
	EXPECT_EQ(EACCES, run_srv(self->env.copy, port));

	ASSERT_EQ(0, copy_file(self->env.kpr_bind, later, 0755));
	EXPECT_EQ(0, run_srv(later, port));
	EXPECT_EQ(EACCES, run_srv(self->env.copy, port));

	/* Removed, it matches nothing. */
	ASSERT_EQ(0, unlink(later));
	EXPECT_EQ(EACCES, run_srv(self->env.copy, port));
}

/*
 * An exec resolves only the rule paths that can name its file: those whose
 * last component is the file's name, and those that resolved to the file,
 * or to a file of another name, when the policy was last written. A path
 * that later becomes a symlink to a file of another name names it once the
 * policy is written again (see the admin guide).
 */
TEST_F(identity, path_turned_into_symlink)
{
	const unsigned short port = 31110;
	char srv[PATH_MAX], real[PATH_MAX];

	path_in(&self->env, "srv", srv);
	path_in(&self->env, "srv-2.0", real);
	ASSERT_EQ(0, copy_file(self->env.kpr_bind, srv, 0755));
	ASSERT_EQ(0, copy_file(self->env.kpr_bind, real, 0755));
	ASSERT_EQ(0, policy_printf("%u %s\n", port, srv));
	EXPECT_EQ(0, run_srv(srv, port));
	EXPECT_EQ(EACCES, run_srv(real, port));

	ASSERT_EQ(0, unlink(srv));
	ASSERT_EQ(0, symlink("srv-2.0", srv));
	EXPECT_EQ(EACCES, run_srv(srv, port));
	/* Writing the rule again (it is already there) resolves it anew. */
	ASSERT_EQ(0, policy_printf("%u %s\n", port, srv));
	EXPECT_EQ(0, run_srv(srv, port));
	EXPECT_EQ(0, run_srv(real, port));
	EXPECT_EQ(EACCES, run_srv(self->env.copy, port));
}

/* A script matches a rule naming it or naming its interpreter. */
TEST_F(identity, script)
{
	const unsigned short port = 31060;
	char interp[PATH_MAX], a[PATH_MAX], b[PATH_MAX], text[PATH_MAX + 8];

	path_in(&self->env, "interp", interp);
	path_in(&self->env, "a.sh", a);
	path_in(&self->env, "b.sh", b);
	ASSERT_EQ(0, copy_file(self->env.kpr_bind, interp, 0755));
	snprintf(text, sizeof(text), "#!%s\n", interp);
	ASSERT_EQ(0, write_new_file(a, text, 0755));
	ASSERT_EQ(0, write_new_file(b, text, 0755));

	ASSERT_EQ(0, policy_printf("%u %s\n%u %s\n", port, a, port + 1,
				   interp));
	/* The script that the rule names. */
	EXPECT_EQ(0, run_srv(a, port));
	/* Another script with the same interpreter. */
	EXPECT_EQ(EACCES, run_srv(b, port));
	/* The interpreter that the rule names, running any script. */
	EXPECT_EQ(0, run_srv(b, port + 1));
	EXPECT_EQ(0, run_srv(a, port + 1));
	EXPECT_EQ(0, run_srv(interp, port + 1));
	EXPECT_EQ(EACCES, run_srv(self->env.copy, port + 1));
}

/*
 * Replaces every mapping of the running executable with an anonymous copy:
 * the kernel refuses to change the exe file of a process that still maps
 * the old one (EBUSY).  Returns 0 or -errno.
 */
static int detach_exe(void)
{
	struct {
		unsigned long start, end;
		int prot;
	} r[32];
	char self[PATH_MAX], buf[65536], *line, *save;
	ssize_t len, got = 0;
	int n = 0, fd, i;

	len = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (len < 0)
		return -errno;
	self[len] = '\0';
	fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	while ((len = read(fd, buf + got, sizeof(buf) - 1 - got)) > 0)
		got += len;
	close(fd);
	buf[got] = '\0';

	/* Read everything before changing anything. */
	for (line = strtok_r(buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		unsigned long start, end;
		char perms[8];
		int off = 0;

		if (sscanf(line, "%lx-%lx %7s %*s %*s %*s %n", &start, &end,
			   perms, &off) < 3 || !off || strcmp(line + off, self))
			continue;
		if (n == 32)
			return -E2BIG;
		r[n].start = start;
		r[n].end = end;
		r[n].prot = (perms[0] == 'r' ? PROT_READ : 0) |
			    (perms[1] == 'w' ? PROT_WRITE : 0) |
			    (perms[2] == 'x' ? PROT_EXEC : 0);
		n++;
	}

	for (i = 0; i < n; i++) {
		size_t size = r[i].end - r[i].start;
		void *copy;

		if (!(r[i].prot & PROT_READ)) {
			if (munmap((void *)r[i].start, size))
				return -errno;
			continue;
		}
		copy = mmap(NULL, size, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (copy == MAP_FAILED)
			return -errno;
		memcpy(copy, (void *)r[i].start, size);
		if (mprotect(copy, size, r[i].prot))
			return -errno;
		/* The code running now moves under itself, unchanged. */
		if (mremap(copy, size, size, MREMAP_MAYMOVE | MREMAP_FIXED,
			   (void *)r[i].start) == MAP_FAILED)
			return -errno;
	}
	return n ? 0 : -ENOENT;
}

struct spoof_req {
	const char *target;
	unsigned short port;
};

static int spoof_fn(void *arg)
{
	const struct spoof_req *s = arg;
	char exe[PATH_MAX];
	ssize_t len;
	int fd;

	fd = open(s->target, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return KPR_EXIT_SETUP;
	if (detach_exe()) {
		fprintf(stderr, "# cannot unmap the test binary\n");
		return KPR_EXIT_SETUP;
	}
	if (prctl(PR_SET_MM, PR_SET_MM_EXE_FILE, fd, 0, 0)) {
		fprintf(stderr, "# PR_SET_MM_EXE_FILE: %s\n", strerror(errno));
		return errno == EPERM || errno == EINVAL ? KPR_EXIT_SKIP :
							   KPR_EXIT_SETUP;
	}
	/* /proc/self/exe shows the target now. */
	len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (len < 0)
		return KPR_EXIT_SETUP;
	exe[len] = '\0';
	if (strcmp(exe, s->target)) {
		fprintf(stderr, "# /proc/self/exe is %s\n", exe);
		return KPR_EXIT_SETUP;
	}
	return bind_port(AF_INET, SOCK_STREAM, s->port);
}

/* Changing the exe file with prctl() does not make another program. */
TEST_F(identity, exe_file_spoof)
{
	struct spoof_req req = {
		.target = self->env.kpr_bind,
		.port = 31070,
	};
	int ret;

	ASSERT_EQ(0, policy_printf("%u %s\n", req.port, self->env.kpr_bind));
	/* Control: the program itself gets the port. */
	EXPECT_EQ(0, run_srv(self->env.kpr_bind, req.port));

	ret = run_in_child(KPR_SAME_UID, spoof_fn, &req);
	if (ret == KPR_EXIT_SKIP)
		SKIP(return, "PR_SET_MM_EXE_FILE is not available");
	EXPECT_EQ(EACCES, ret);
}

/* Several rules for one port: any of their programs gets it. */
TEST_F(identity, several_programs)
{
	const unsigned short port = 31080;
	char other[PATH_MAX];

	path_in(&self->env, "other", other);
	ASSERT_EQ(0, copy_file(self->env.kpr_bind, other, 0755));
	ASSERT_EQ(0, policy_printf("%u /nonexistent/kpr_bind\n"
				   "%u/%s %s\n"
				   "%u %s\n"
				   "%u-%u %s\n",
				   port, port, "udp", self->env.copy, port,
				   self->env.kpr_bind, port - 5, port + 5,
				   other));
	EXPECT_EQ(0, run_srv(self->env.kpr_bind, port));
	EXPECT_EQ(0, run_srv(other, port));
	/* The rule for the copy is for UDP only. */
	EXPECT_EQ(EACCES, run_srv(self->env.copy, port));
	EXPECT_EQ(0, run_bind(self->env.copy, KPR_SAME_UID, "inet", "udp",
			      "0.0.0.0", port, NULL, NULL));
	EXPECT_EQ(EACCES, bind_port(AF_INET, SOCK_STREAM, port));
}

/* Other ways to bind. */

FIXTURE(misc) {
	struct env env;
};

FIXTURE_SETUP(misc)
{
	env_setup(_metadata, &self->env);
}

FIXTURE_TEARDOWN_PARENT(misc)
{
	env_teardown(&self->env);
}

/* An AF_INET socket accepts AF_UNSPEC with INADDR_ANY: checked as well. */
TEST_F(misc, af_unspec)
{
	static const int types[] = { SOCK_STREAM, SOCK_DGRAM };
	const unsigned short port = 32000;
	struct sockaddr_in sin = {
		.sin_family = AF_UNSPEC,
		.sin_addr.s_addr = htonl(INADDR_ANY),
	};
	unsigned int i;
	int fd;

	ASSERT_EQ(0, policy_printf("%u %s\n", port, self->env.kpr_bind));
	for (i = 0; i < 2; i++) {
		/* Control: the kernel takes it as AF_INET. */
		fd = socket(AF_INET, types[i] | SOCK_CLOEXEC, 0);
		ASSERT_LE(0, fd);
		sin.sin_port = htons(port + 1);
		EXPECT_EQ(0, bind(fd, (struct sockaddr *)&sin, sizeof(sin)));
		close(fd);

		fd = socket(AF_INET, types[i] | SOCK_CLOEXEC, 0);
		ASSERT_LE(0, fd);
		sin.sin_port = htons(port);
		EXPECT_EQ(-1, bind(fd, (struct sockaddr *)&sin, sizeof(sin)));
		EXPECT_EQ(EACCES, errno);
		close(fd);
	}
}

/* MPTCP binds TCP ports. */
TEST_F(misc, mptcp)
{
	static const int families[] = { AF_INET, AF_INET6 };
	const unsigned short port = 32010;
	struct kpr_addr a;
	unsigned int i;
	int fd;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_MPTCP);
	if (fd < 0)
		SKIP(return, "no MPTCP: %s", strerror(errno));
	close(fd);

	ASSERT_EQ(0, policy_printf("%u/tcp %s\n", port, self->env.kpr_bind));
	for (i = 0; i < 2; i++) {
		const char *any = families[i] == AF_INET ? "0.0.0.0" : "::";

		ASSERT_EQ(0, make_addr(families[i], any, port, &a));
		fd = socket(families[i], SOCK_STREAM | SOCK_CLOEXEC,
			    IPPROTO_MPTCP);
		ASSERT_LE(0, fd);
		EXPECT_EQ(-1, bind(fd, (struct sockaddr *)&a.ss, a.len));
		EXPECT_EQ(EACCES, errno);
		close(fd);

		/* Control: the next port is free. */
		ASSERT_EQ(0, make_addr(families[i], any, port + 1, &a));
		fd = socket(families[i], SOCK_STREAM | SOCK_CLOEXEC,
			    IPPROTO_MPTCP);
		ASSERT_LE(0, fd);
		EXPECT_EQ(0, bind(fd, (struct sockaddr *)&a.ss, a.len));
		close(fd);
	}
	EXPECT_EQ(0, run_bind(self->env.kpr_bind, KPR_SAME_UID, "inet",
			      "mptcp", "0.0.0.0", port, NULL, NULL));
}

/*
 * An MPTCP socket binds through a TCP subflow that is a kernel socket, which
 * a <kernel> rule lets through: the user's MPTCP socket is checked itself.
 */
TEST_F(misc, mptcp_kernel_rule)
{
	const unsigned short port = 32020;
	struct kpr_addr a;
	int fd;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_MPTCP);
	if (fd < 0)
		SKIP(return, "no MPTCP: %s", strerror(errno));
	close(fd);

	ASSERT_EQ(0, policy_printf("%u/tcp <kernel>\n", port));
	ASSERT_EQ(0, make_addr(AF_INET, "127.0.0.1", port, &a));
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_MPTCP);
	ASSERT_LE(0, fd);
	EXPECT_EQ(-1, bind(fd, (struct sockaddr *)&a.ss, a.len));
	EXPECT_EQ(EACCES, errno);
	close(fd);
	EXPECT_EQ(EACCES, run_bind(self->env.kpr_bind, KPR_SAME_UID, "inet",
				   "mptcp", "127.0.0.1", port, NULL, NULL));

	/* Control: without the rule, it binds. */
	ASSERT_EQ(0, policy_printf("clear\n"));
	EXPECT_EQ(0, run_bind(self->env.kpr_bind, KPR_SAME_UID, "inet",
			      "mptcp", "127.0.0.1", port, NULL, NULL));
}

TEST_HARNESS_MAIN
