// SPDX-License-Identifier: GPL-2.0
/*
 * kportreserve: concurrent stress of policy reloads, binds and
 * disablenetwork.
 *
 * For KPR_STRESS_SECONDS seconds (default 10), all at once:
 * - reloaders write the policy: whole replaces (clear and 65,536 rules),
 *   single adds and deletes, and transactions that must be refused (a bad
 *   line, one rule too many, a missing rule, each after a clear);
 * - binders bind, listen and connect over TCP and UDP, IPv4 and IPv6: the
 *   owner (a copy of this program that the rules name, exec'd as root and as
 *   a user, and exec'd again and again), and programs that are not (this
 *   test itself as root, another copy as a user);
 * - a reader reads the policy back;
 * - tasks give up network access, per thread or for every thread of their
 *   process (PR_NETWORK_TSYNC, from another thread that is creating sockets),
 *   and exec.
 *
 * The stable ports have rules in every policy that a reloader publishes; the
 * churn ports come and go.  No decision may be wrong: the owner always gets
 * a stable port of its own, nobody else ever does, nobody gets a <kernel>
 * port, a port that no rule names is never refused, automatic port selection
 * never picks a stable port, an owner's exec always gives the identity, a
 * task without network never gets a new socket, every reload succeeds or
 * fails as it must, and every read of the policy shows the stable rules.
 * Decisions on churn ports are made but not checked.
 *
 * The workers are processes; exec'd ones run this program with
 * "--stress-worker" and share their counters with the test through a file.
 * All but the reloaders run at a lower priority, so that the policy changes
 * often even on one CPU.  KPR_STRESS_SEED seeds their choices.  Ports
 * 41000-45999; automatic port selection is narrowed to 45000-45999 (restored
 * afterwards).
 */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <pthread.h>
#include <stdint.h>
#include <sys/auxv.h>
#include <time.h>

#include "kselftest_harness.h"
#include "common.h"

#ifndef PR_NETWORK_TSYNC
#define PR_NETWORK_TSYNC 2
#endif

#define WORKER_ARG "--stress-worker"
/* The priority of the workers that are not reloaders. */
#define NICE 5

/* Ports: each binder (slot 0-3) has its own ports of each kind. */
#define STABLE_BOTH 41000	/* 41000-41031, TCP and UDP: the owner's */
#define STABLE_TCP 41032	/* 41032-41047/tcp: the owner's */
#define STABLE_UDP 41048	/* 41048-41063/udp: the owner's */
#define KERNEL_PORT 41064	/* 41064-41071: <kernel> */
#define CHURN_PORT 42000	/* 42000-42063: rules come and go */
#define FREE_PORT 43000		/* 43000-43063: never in a rule */
#define EPH_LOW 45000		/* automatic selection: 45000-45999 */
#define EPH_HIGH 45999
#define EPH_OWNED 45499		/* 45000-45499: the owner's */

/* The rules of the whole policies: 65,536, or that less some room. */
#define MAX_RULES 65536
#define ROOM 256

/* What the workers count, in memory shared with the test. */
enum counter {
	C_FULL,		/* whole replaces of MAX_RULES (or less ROOM) rules */
	C_SMALL,	/* other accepted transactions of the replacer */
	C_REFUSED,	/* transactions refused as they had to be */
	C_RULES,	/* rules written by the replacer */
	C_ADD,		/* single adds accepted */
	C_DEL,		/* single deletes accepted */
	C_ENOENT,	/* single deletes of a rule that was not there */
	C_ENOSPC,	/* single adds to a full policy */
	C_EBUSY,	/* open()s that found another writer */
	C_BIND,		/* binds with an explicit port */
	C_CONNECT,	/* connects (TCP to a listener, UDP) */
	C_AUTO,		/* automatic port selections */
	C_UNCHECKED,	/* decisions on churn ports */
	C_EXEC,		/* execs of the owner */
	C_NETOFF,	/* tasks that gave up network access */
	C_NETOFF_EXEC,	/* their execs */
	C_READ,		/* reads of the whole policy */
	C_CHECKED,	/* decisions checked */
	C_WRONG,	/* wrong decisions */
	C_ERROR,	/* unexpected errors */
	NR_COUNTERS
};

#define NR_MSGS 16

struct shared {
	long long deadline;	/* CLOCK_MONOTONIC, ns */
	long long counters[NR_COUNTERS];
	int nmsgs;
	char msgs[NR_MSGS][256];
	char dir[64];		/* where the programs are */
};

static void count(struct shared *sh, enum counter c, long long n)
{
	__atomic_fetch_add(&sh->counters[c], n, __ATOMIC_RELAXED);
}

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static bool over(struct shared *sh)
{
	return now_ns() >= sh->deadline;
}

/* Counts a wrong decision (@c C_WRONG) or an unexpected error (C_ERROR). */
static __printf(3, 4) void report(struct shared *sh, enum counter c,
				  const char *fmt, ...)
{
	va_list ap;
	char msg[sizeof(sh->msgs[0])];
	int i, n;

	count(sh, c, 1);
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* Each message once (races may repeat one). */
	n = __atomic_load_n(&sh->nmsgs, __ATOMIC_RELAXED);
	for (i = 0; i < n && i < NR_MSGS; i++)
		if (!strcmp(sh->msgs[i], msg))
			return;
	i = __atomic_fetch_add(&sh->nmsgs, 1, __ATOMIC_RELAXED);
	if (i < NR_MSGS)
		memcpy(sh->msgs[i], msg, sizeof(msg));
}

/* xorshift64*: each worker has its own state. */
static uint64_t rnd(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545f4914f6cdd1dULL;
}

static uint64_t worker_seed(uint64_t seed, int who)
{
	uint64_t s = (seed + 1) * 0x9e3779b97f4a7c15ULL ^ (uint64_t)(who + 1);

	return s ? s : 1;
}

static bool in(int port, int first, int n)
{
	return port >= first && port < first + n;
}

/* The stable rules, in canonical form, of the programs in @dir. */
static int stable_rules(const char *dir, char *buf, size_t size)
{
	return snprintf(buf, size,
			"%d-%d %s/owner\n"
			"%d-%d/tcp /nonexistent/kpr-second\n"
			"%d-%d/tcp %s/owner\n"
			"%d-%d/udp %s/owner\n"
			"%d-%d <kernel>\n"
			"%d-%d %s/owner\n",
			STABLE_BOTH, STABLE_BOTH + 31, dir,
			STABLE_BOTH, STABLE_BOTH + 31,
			STABLE_TCP, STABLE_TCP + 15, dir,
			STABLE_UDP, STABLE_UDP + 15, dir,
			KERNEL_PORT, KERNEL_PORT + 7,
			EPH_LOW, EPH_OWNED, dir);
}

#define NR_STABLE 6

/* Reloaders. */

/*
 * One transaction of @len bytes of @text, written in random pieces; returns
 * 0, -errno of the first write that failed, or 1 if the deadline passed
 * while another writer held the file.
 */
static int txn(struct shared *sh, uint64_t *rng, const char *text, size_t len)
{
	size_t off = 0;
	int fd, err = 0;

	for (;;) {
		fd = open(KPR_POLICY, O_WRONLY | O_CLOEXEC);
		if (fd >= 0)
			break;
		if (errno != EBUSY)
			return -errno;
		count(sh, C_EBUSY, 1);
		if (over(sh))
			return 1;
		usleep(100 + rnd(rng) % 400);
	}
	while (off < len) {
		/* From a few bytes to more than the 1 MiB that one write takes. */
		size_t n = rnd(rng) % 4 ? 1 + rnd(rng) % 65536 :
					  1 + rnd(rng) % (3 << 19);
		ssize_t w = write(fd, text + off, n < len - off ? n : len - off);

		if (w < 0) {
			err = -errno;
			/* Every later write fails the same way. */
			if (write(fd, "\n", 1) != -1 || -errno != err)
				report(sh, C_ERROR,
				       "a write after a failed one (%s) did not fail the same way",
				       strerror(-err));
			break;
		}
		off += w;
	}
	if (close(fd) && !err)
		err = -errno;
	return err;
}

/* Checks the result @got of a transaction that had to give @want. */
static void check_txn(struct shared *sh, const char *what, int got, int want)
{
	if (got == 1)
		return;
	count(sh, C_CHECKED, 1);
	if (got != want)
		report(sh, C_ERROR, "reload: %s: %s instead of %s", what,
		       got ? strerror(-got) : "success",
		       want ? strerror(-want) : "success");
}

/* Appends filler rule @j of set @set to @buf. */
static int filler(char *buf, unsigned int j, char set)
{
	/* 4 rules per port: TCP and UDP of two programs, ports 1-16385. */
	return sprintf(buf, "%u/%s /nonexistent/kpr-fill-%c%u\n", 1 + j / 4,
		       j % 2 ? "udp" : "tcp", set, (j / 2) % 2);
}

/* A growing text. */
struct text {
	char *buf;
	size_t len;
};

static void text_init(struct text *t, size_t size)
{
	t->buf = malloc(size);
	t->len = 0;
	if (!t->buf)
		_exit(KPR_EXIT_SETUP);
}

/* The fillers @from..@to-1 of @set, forwards or backwards. */
static void add_fillers(struct text *t, unsigned int from, unsigned int to,
			char set, bool backwards)
{
	unsigned int j;

	for (j = from; j < to; j++)
		t->len += filler(t->buf + t->len,
				 backwards ? to - 1 - (j - from) : j, set);
}

/*
 * Whole policy @v (0-3): clear, the stable rules, two churn rules and
 * fillers up to MAX_RULES rules (or ROOM less); set a or b, in canonical
 * order or backwards.
 */
static void whole_policy(struct text *t, const char *stable, const char *dir,
			 unsigned int v)
{
	unsigned int n = MAX_RULES - (v & 2 ? 0 : ROOM) - NR_STABLE - 2;

	text_init(t, (size_t)MAX_RULES * 48 + 4096);
	t->len = sprintf(t->buf, "clear\n");
	if (v & 1) {
		add_fillers(t, 0, n, 'a' + (v & 1), true);
		t->len += sprintf(t->buf + t->len, "%s", stable);
	} else {
		t->len += sprintf(t->buf + t->len, "%s", stable);
		add_fillers(t, 0, n, 'a' + (v & 1), false);
	}
	t->len += sprintf(t->buf + t->len,
			  "%d-%d %s/owner\n%d-%d/udp %s/other\n",
			  CHURN_PORT, CHURN_PORT + 15, dir,
			  CHURN_PORT + 16, CHURN_PORT + 31, dir);
}

/* What the replacer writes, made before the clock starts. */
static struct text whole[4], bad, full;

static void make_texts(const char *dir)
{
	char stable[1024];
	unsigned int v;

	stable_rules(dir, stable, sizeof(stable));
	for (v = 0; v < 4; v++)
		whole_policy(&whole[v], stable, dir, v);

	/* A bad line after a clear and many rules, then more rules. */
	text_init(&bad, 4096 * 48);
	bad.len = sprintf(bad.buf, "clear\n");
	add_fillers(&bad, 0, 2000, 'c', false);
	bad.len += sprintf(bad.buf + bad.len, "%d /a extra\n", CHURN_PORT);
	add_fillers(&bad, 2000, 4000, 'c', false);

	/* One rule too many after a clear, without the stable rules. */
	text_init(&full, (size_t)(MAX_RULES + 1) * 48);
	full.len = sprintf(full.buf, "clear\n");
	add_fillers(&full, 0, MAX_RULES + 1, 'd', false);
}

/* Replaces the whole policy, and writes transactions that must fail. */
static void replacer(struct shared *sh, uint64_t seed)
{
	char stable[1024], first[256], line[512];
	uint64_t rng = worker_seed(seed, 100);
	unsigned int step, v;
	int len;

	stable_rules(sh->dir, stable, sizeof(stable));
	len = strchr(stable, '\n') + 1 - stable;
	snprintf(first, sizeof(first), "%.*s", len, stable);

	for (step = 0; !over(sh); step++) {
		int r;

		switch (step % 8) {
		case 1:
			r = txn(sh, &rng, bad.buf, bad.len);
			check_txn(sh, "a bad line after clear", r, -EINVAL);
			count(sh, C_REFUSED, r == -EINVAL);
			break;
		case 3:
			/* Deleted and added again: the rule never goes away. */
			len = snprintf(line, sizeof(line), "delete %s%s", first,
				       first);
			r = txn(sh, &rng, line, len);
			check_txn(sh, "delete and add a stable rule", r, 0);
			count(sh, C_SMALL, !r);
			len = snprintf(line, sizeof(line), "clear\n%s", stable);
			r = txn(sh, &rng, line, len);
			check_txn(sh, "clear and the stable rules", r, 0);
			count(sh, C_SMALL, !r);
			break;
		case 5:
			if (step % 16 == 5) {
				r = txn(sh, &rng, full.buf, full.len);
				check_txn(sh, "one rule too many after clear",
					  r, -ENOSPC);
			} else {
				len = snprintf(line, sizeof(line),
					       "clear\ndelete %s", first);
				r = txn(sh, &rng, line, len);
				check_txn(sh, "delete after clear", r,
					  -ENOENT);
			}
			count(sh, C_REFUSED, r < 0);
			break;
		case 7:
			/* A transaction of only comments changes nothing. */
			r = txn(sh, &rng, "# clear\n\n", 9);
			check_txn(sh, "comments", r, 0);
			break;
		default:
			v = (step / 2) % 4;
			r = txn(sh, &rng, whole[v].buf, whole[v].len);
			check_txn(sh, "a whole policy", r, 0);
			if (!r) {
				count(sh, C_FULL, 1);
				count(sh, C_RULES, MAX_RULES -
				      (v & 2 ? 0 : ROOM));
			}
			break;
		}
		/* Let the churner have the file too. */
		usleep(2000 + rnd(&rng) % 20000);
	}
}

/* Adds and deletes single rules of the churn ports. */
static void churner(struct shared *sh, uint64_t seed)
{
	static const char *const protos[] = { "", "/tcp", "/udp" };
	uint64_t rng = worker_seed(seed, 101);
	char stable[1024], line[512], prog[128], added[8][512];
	unsigned int nadded = 0;

	stable_rules(sh->dir, stable, sizeof(stable));
	while (!over(sh)) {
		uint64_t r = rnd(&rng);
		int first = CHURN_PORT + r % 64, last = first + (r >> 8) % 4;
		int op = (r >> 16) % 10, len, ret;

		if (last > CHURN_PORT + 63)
			last = CHURN_PORT + 63;
		switch ((r >> 24) % 4) {
		case 0:
			snprintf(prog, sizeof(prog), "%s/owner", sh->dir);
			break;
		case 1:
			snprintf(prog, sizeof(prog), "%s/other", sh->dir);
			break;
		case 2:
			snprintf(prog, sizeof(prog), "<kernel>");
			break;
		default:
			snprintf(prog, sizeof(prog), "/nonexistent/kpr-churn");
		}
		if (op == 9) {
			/* A stable rule again: it is there, nothing changes. */
			const char *l = stable;
			int k;

			for (k = (r >> 32) % NR_STABLE; k; k--)
				l = strchr(l, '\n') + 1;
			ret = txn(sh, &rng, l, strchr(l, '\n') + 1 - l);
			check_txn(sh, "a stable rule again", ret, 0);
			count(sh, C_ADD, !ret);
			continue;
		}
		if (op >= 7 && nadded) {
			/* Delete a rule that was added, if it is still there. */
			len = snprintf(line, sizeof(line), "delete %s",
				       added[--nadded % 8]);
		} else {
			len = snprintf(line, sizeof(line), "%s%d-%d%s %s\n",
				       op < 5 ? "" : "delete ", first, last,
				       protos[(r >> 28) % 3], prog);
		}
		ret = txn(sh, &rng, line, len);
		if (ret == 1)
			break;
		count(sh, C_CHECKED, 1);
		if (!ret && op < 5)
			snprintf(added[nadded++ % 8], sizeof(added[0]), "%s",
				 line);
		if (!ret)
			count(sh, op < 5 ? C_ADD : C_DEL, 1);
		else if (ret == -ENOSPC && op < 5)
			count(sh, C_ENOSPC, 1);
		else if (ret == -ENOENT && op >= 5)
			count(sh, C_ENOENT, 1);
		else
			report(sh, C_ERROR, "reload: \"%.*s\": %s", len - 1,
			       line, strerror(-ret));
	}
}

/* True if @p has @line (with its newline) as a whole line. */
static bool has_line(const char *p, const char *line, size_t len)
{
	const char *s = p;

	while ((s = strstr(s, line))) {
		if (s == p || s[-1] == '\n')
			return true;
		s += len;
	}
	return false;
}

/* Reads the policy back: every read shows every stable rule. */
static void reader(struct shared *sh)
{
	char stable[1024];

	stable_rules(sh->dir, stable, sizeof(stable));
	while (!over(sh)) {
		char *p = read_policy(), *l, *nl;

		if (!p) {
			report(sh, C_ERROR, "read: %s", strerror(errno));
			return;
		}
		count(sh, C_READ, 1);
		for (l = stable; (nl = strchr(l, '\n')); l = nl + 1) {
			char one[512];

			snprintf(one, sizeof(one), "%.*s", (int)(nl + 1 - l),
				 l);
			count(sh, C_CHECKED, 1);
			if (!has_line(p, one, strlen(one))) {
				report(sh, C_WRONG,
				       "a read of the policy (%zu bytes) lacks the stable rule \"%.*s\"",
				       strlen(p), (int)(nl - l), l);
				break;
			}
		}
		if (has_line(p, "lock\n", 5))
			report(sh, C_ERROR, "the policy is locked");
		free(p);
	}
}

/* Binders. */

struct addr_choice {
	int family;
	const char *bind;	/* the address to bind */
	const char *peer;	/* where to connect to reach it */
};

static const struct addr_choice addrs[] = {
	{ AF_INET, "127.0.0.1", "127.0.0.1" },
	{ AF_INET, "0.0.0.0", "127.0.0.1" },
	{ AF_INET6, "::1", "::1" },
	{ AF_INET6, "::", "::1" },
	{ AF_INET6, "::ffff:127.0.0.1", "::ffff:127.0.0.1" },
};

enum expect { ANY, GRANTED, REFUSED };

/* What a bind of @port over @type must give, to an owner or not. */
static enum expect expect_bind(bool owner, int port, int type)
{
	bool tcp = type == SOCK_STREAM;

	if (in(port, KERNEL_PORT, 8))
		return REFUSED;
	if (in(port, STABLE_BOTH, 32) || in(port, EPH_LOW, EPH_OWNED - EPH_LOW + 1) ||
	    (tcp && in(port, STABLE_TCP, 16)) ||
	    (!tcp && in(port, STABLE_UDP, 16)))
		return owner ? GRANTED : REFUSED;
	if (in(port, STABLE_TCP, 16) || in(port, STABLE_UDP, 16) ||
	    in(port, FREE_PORT, 64))
		return GRANTED;
	return ANY;
}

struct binder {
	struct shared *sh;
	uint64_t rng;
	int slot;
	bool owner;
	const char *who;
};

/* Checks the result @err (0 or errno) of a bind of @port. */
static void check_bind(struct binder *b, const struct addr_choice *a,
		       int type, int port, int err)
{
	enum expect exp = expect_bind(b->owner, port, type);
	const char *proto = type == SOCK_STREAM ? "tcp" : "udp";

	count(b->sh, C_BIND, 1);
	if (exp == ANY) {
		count(b->sh, C_UNCHECKED, 1);
		return;
	}
	count(b->sh, C_CHECKED, 1);
	if ((exp == GRANTED && !err) || (exp == REFUSED && err == EACCES))
		return;
	if ((exp == GRANTED && err == EACCES) || (exp == REFUSED && !err))
		report(b->sh, C_WRONG, "%s: bind [%s]:%d/%s %s",
		       b->who, a->bind, port, proto,
		       err ? "refused" : "granted");
	else
		report(b->sh, C_ERROR, "%s: bind [%s]:%d/%s: %s", b->who,
		       a->bind, port, proto, strerror(err));
}

/* Checks the port @fd got from automatic selection. */
static void check_auto(struct binder *b, int fd, const char *how)
{
	int port = local_port(fd);

	count(b->sh, C_AUTO, 1);
	count(b->sh, C_CHECKED, 1);
	if (port >= EPH_LOW && port <= EPH_OWNED)
		report(b->sh, C_WRONG, "%s: %s picked the reserved port %d",
		       b->who, how, port);
	else if (port <= EPH_OWNED || port > EPH_HIGH)
		report(b->sh, C_ERROR, "%s: %s picked port %d", b->who, how,
		       port);
}

/* Automatic port selection failed: every free port in use is not wrong. */
static void auto_failed(struct binder *b, const char *how, int err)
{
	if (err != EADDRINUSE && err != EADDRNOTAVAIL && err != EAGAIN)
		report(b->sh, C_ERROR, "%s: %s: %s", b->who, how,
		       strerror(err));
}

/* A port of the slot, of kind @kind (0-4). */
static int pick_port(struct binder *b, int kind, uint64_t r)
{
	switch (kind) {
	case 0:
		switch (r % 3) {
		case 0:
			return STABLE_BOTH + 4 * b->slot + (r >> 4) % 4;
		case 1:
			return STABLE_TCP + 2 * b->slot + (r >> 4) % 2;
		default:
			return STABLE_UDP + 2 * b->slot + (r >> 4) % 2;
		}
	case 1:
		return KERNEL_PORT + b->slot;
	case 2:
		return CHURN_PORT + 8 * b->slot + (r >> 4) % 8;
	case 3:
		return FREE_PORT + 8 * b->slot + (r >> 4) % 8;
	default:
		/* The owner's ports among those of automatic selection. */
		return EPH_LOW + 100 * b->slot + (r >> 4) % 100;
	}
}

/* TCP: a listener on @port, a client that connects to it, accept, reset. */
static void tcp_connect(struct binder *b, const struct addr_choice *a,
			int port, int flags)
{
	struct kpr_addr peer;
	int l, c, s;

	l = bind_new(a->family, SOCK_STREAM, a->bind, port, flags);
	check_bind(b, a, SOCK_STREAM, port, l < 0 ? -l : 0);
	if (l < 0)
		return;
	if (listen(l, 4)) {
		report(b->sh, C_ERROR, "%s: listen: %s", b->who,
		       strerror(errno));
		close(l);
		return;
	}
	make_addr(a->family, a->peer, port, &peer);
	c = new_socket(a->family, SOCK_STREAM);
	if (c < 0) {
		report(b->sh, C_ERROR, "%s: socket: %s", b->who,
		       strerror(-c));
		close(l);
		return;
	}
	count(b->sh, C_CONNECT, 1);
	if (connect(c, (struct sockaddr *)&peer.ss, peer.len)) {
		auto_failed(b, "tcp connect", errno);
	} else {
		check_auto(b, c, "tcp connect");
		s = accept(l, NULL, NULL);
		if (s >= 0)
			close_reset(s);
	}
	close_reset(c);
	close(l);
}

/* UDP: connect() an unbound socket, or bind port 0, of either protocol. */
static void auto_port(struct binder *b, const struct addr_choice *a, int type,
		      bool by_connect)
{
	struct kpr_addr peer;
	int fd;

	if (!by_connect) {
		fd = bind_new(a->family, type, a->bind, 0, 0);
		if (fd < 0) {
			auto_failed(b, "bind to port 0", -fd);
			return;
		}
		check_auto(b, fd, "bind to port 0");
		close(fd);
		return;
	}
	make_addr(a->family, a->peer, 9, &peer);
	fd = new_socket(a->family, SOCK_DGRAM);
	if (fd < 0) {
		report(b->sh, C_ERROR, "%s: socket: %s", b->who,
		       strerror(-fd));
		return;
	}
	count(b->sh, C_CONNECT, 1);
	if (connect(fd, (struct sockaddr *)&peer.ss, peer.len))
		auto_failed(b, "udp connect", errno);
	else
		check_auto(b, fd, "udp connect");
	close(fd);
}

/* One operation of a binder. */
static void bind_once(struct binder *b)
{
	uint64_t r = rnd(&b->rng);
	const struct addr_choice *a = &addrs[r % ARRAY_SIZE(addrs)];
	int type = (r >> 3) % 2 ? SOCK_STREAM : SOCK_DGRAM;
	int flags = KPR_REUSEADDR | ((r >> 4) % 2 ? KPR_REUSEPORT : 0);
	int kind = (r >> 5) % 9, port, fd;

	r >>= 9;
	switch (kind) {
	case 5:
		/* Listen on a stable port (the owner's) or a free one. */
		port = pick_port(b, (r >> 1) % 2 ? 0 : 3, r >> 2);
		if (expect_bind(b->owner, port, SOCK_STREAM) == REFUSED)
			port = pick_port(b, 3, r >> 2);
		tcp_connect(b, a, port, flags);
		return;
	case 6:
	case 7:
		auto_port(b, a, type, kind == 7);
		return;
	case 8:
		kind = 4;
		break;
	default:
		break;
	}
	port = pick_port(b, kind, r);
	fd = bind_new(a->family, type, a->bind, port, flags);
	check_bind(b, a, type, port, fd < 0 ? -fd : 0);
	if (fd >= 0)
		close(fd);
}

/*
 * Binds until the deadline.  An owner exec's itself again every @reexec
 * operations (@argv: its arguments) to get its identity again.
 */
static void binder(struct shared *sh, int slot, bool owner, uint64_t seed,
		   char *const argv[], int reexec)
{
	struct binder b = {
		.sh = sh,
		.rng = worker_seed(seed, slot),
		.slot = slot,
		.owner = owner,
		.who = owner ? (getuid() ? "owner (user)" : "owner (root)") :
			       (getuid() ? "other program (user)" :
					   "other program (root)"),
	};
	int ops;

	/* Each exec of the owner starts from another point of the sequence. */
	if (owner)
		b.rng = worker_seed(seed ^ (uint64_t)now_ns(), slot);
	for (ops = 0; !over(sh); ops++) {
		if (argv && ops == reexec) {
			execv(argv[0], argv);
			report(sh, C_ERROR, "exec %s: %s", argv[0],
			       strerror(errno));
			return;
		}
		bind_once(&b);
	}
}

/* disablenetwork. */

/* socket(): 0 if it was refused as it must be, else counts what is wrong. */
static void check_no_socket(struct shared *sh, const char *who, int family,
			    int type)
{
	int fd = socket(family, type | SOCK_CLOEXEC, 0);

	count(sh, C_CHECKED, 1);
	if (fd >= 0) {
		report(sh, C_WRONG, "%s: network off, got a socket of family %d",
		       who, family);
		close(fd);
	} else if (errno != EACCES) {
		report(sh, C_ERROR, "%s: network off, socket: %s", who,
		       strerror(errno));
	}
}

/* What a task checks once its network is off. */
static void check_netoff(struct shared *sh, const char *who)
{
	count(sh, C_CHECKED, 1);
	if (prctl(PR_GET_NETWORK, 0, 0, 0, 0) != PR_NETWORK_OFF)
		report(sh, C_WRONG, "%s: PR_GET_NETWORK does not say off",
		       who);
	check_no_socket(sh, who, AF_INET, SOCK_STREAM);
	check_no_socket(sh, who, AF_INET6, SOCK_DGRAM);
}

struct tsync {
	struct shared *sh;
	int off;		/* set once the prctl() returned */
	char *const *argv;	/* exec this from the thread, if set */
};

/* A thread that creates sockets while another thread takes the network. */
static void *tsync_thread(void *arg)
{
	struct tsync *t = arg;

	while (!__atomic_load_n(&t->off, __ATOMIC_ACQUIRE)) {
		int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

		if (fd >= 0)
			close(fd);
	}
	check_netoff(t->sh, "thread after PR_NETWORK_TSYNC");
	if (t->argv) {
		count(t->sh, C_NETOFF_EXEC, 1);
		execv(t->argv[0], t->argv);
		report(t->sh, C_ERROR, "exec %s: %s", t->argv[0],
		       strerror(errno));
	}
	return NULL;
}

/*
 * A task that gives up its network in one of four ways (per thread or
 * TSYNC, as root or a user), checks, then exec's @argv (the checks again).
 */
static int netoff_task(struct shared *sh, uint64_t r, char *const argv[])
{
	struct tsync t = { .sh = sh };
	struct kpr_addr a;
	pthread_t th;
	int fd;

	if (r % 2 && become_user(KPR_UID, KPR_GID))
		return KPR_EXIT_SETUP;
	/* A socket from before: it gets no new address afterwards. */
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return KPR_EXIT_SETUP;
	if ((r >> 1) % 2) {
		t.argv = (r >> 2) % 2 ? argv : NULL;
		if (pthread_create(&th, NULL, tsync_thread, &t))
			return KPR_EXIT_SETUP;
		if (prctl(PR_SET_NETWORK, PR_NETWORK_OFF | PR_NETWORK_TSYNC,
			  0, 0, 0))
			return KPR_EXIT_SETUP;
		count(sh, C_NETOFF, 1);
		__atomic_store_n(&t.off, 1, __ATOMIC_RELEASE);
		pthread_join(th, NULL);
	} else {
		if (set_network_off())
			return KPR_EXIT_SETUP;
		count(sh, C_NETOFF, 1);
	}
	check_netoff(sh, "task after PR_SET_NETWORK");
	make_addr(AF_INET, "127.0.0.1", FREE_PORT + 63, &a);
	count(sh, C_CHECKED, 1);
	if (!bind(fd, (struct sockaddr *)&a.ss, a.len))
		report(sh, C_WRONG,
		       "network off: an old socket got a new address");
	else if (errno != EACCES)
		report(sh, C_ERROR, "network off: bind: %s", strerror(errno));
	close(fd);
	count(sh, C_NETOFF_EXEC, 1);
	execv(argv[0], argv);
	return KPR_EXIT_EXEC;
}

/* Starts tasks that give up their network and exec, until the deadline. */
static void netoff_worker(struct shared *sh, uint64_t seed,
			  char *progs[3], const char *shmfd)
{
	uint64_t rng = worker_seed(seed, 102);

	while (!over(sh)) {
		uint64_t r = rnd(&rng);
		char *const argv[] = {
			progs[r % 3], WORKER_ARG, "netoff", (char *)shmfd, "0",
			"0", NULL,
		};
		pid_t pid;
		int ret;

		pid = fork();
		if (pid < 0) {
			report(sh, C_ERROR, "fork: %s", strerror(errno));
			return;
		}
		if (pid == 0)
			_exit(netoff_task(sh, r >> 2, argv));
		ret = wait_exit(pid);
		if (ret)
			report(sh, C_ERROR, "a task without network (%s) exited with %d",
			       argv[0], ret);
	}
}

/* The exec'd workers: "--stress-worker ROLE FD SLOT SEED". */
static int worker_main(int argc, char *argv[])
{
	struct shared *sh;
	bool owner;

	if (argc != 6)
		return KPR_EXIT_SETUP;
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED,
		  atoi(argv[3]), 0);
	if (sh == MAP_FAILED)
		return KPR_EXIT_SETUP;
	if (!strcmp(argv[2], "netoff")) {
		check_netoff(sh, "exec'd without network");
		return 0;
	}
	owner = !strcmp(argv[2], "owner");
	if (owner) {
		count(sh, C_EXEC, 1);
		count(sh, C_CHECKED, 1);
		if (getauxval(AT_SECURE) != 1)
			report(sh, C_WRONG, "an exec of the owner gave no identity");
	}
	binder(sh, atoi(argv[4]), owner, strtoull(argv[5], NULL, 0), argv,
	       owner ? 200 : -1);
	return 0;
}

/* The test. */

static unsigned int env_uint(const char *name, unsigned int def)
{
	const char *s = getenv(name);

	return s && *s ? strtoul(s, NULL, 0) : def;
}

static unsigned int stress_seconds(void)
{
	return env_uint("KPR_STRESS_SECONDS", 10);
}

FIXTURE(stress) {
	char dir[64];
	char self[PATH_MAX];
	char owner[PATH_MAX];
	char other[PATH_MAX];
	char range[64];
	struct shared *sh;
	int shmfd;
};

FIXTURE_SETUP(stress)
{
	char shm[PATH_MAX], *range;
	ssize_t n;

	self->shmfd = -1;
	if (!policy_ready(_metadata))
		return;
	ASSERT_EQ(0, set_lo_up());
	ASSERT_EQ(0, make_tmpdir(self->dir, sizeof(self->dir)));
	n = readlink("/proc/self/exe", self->self, sizeof(self->self) - 1);
	ASSERT_LT(0, n);
	self->self[n] = '\0';
	snprintf(self->owner, sizeof(self->owner), "%s/owner", self->dir);
	snprintf(self->other, sizeof(self->other), "%s/other", self->dir);
	ASSERT_EQ(0, copy_file(self->self, self->owner, 0755));
	ASSERT_EQ(0, copy_file(self->self, self->other, 0755));

	/* Shared with forked and exec'd workers alike. */
	snprintf(shm, sizeof(shm), "%s/shared", self->dir);
	self->shmfd = open(shm, O_RDWR | O_CREAT | O_EXCL, 0600);
	ASSERT_LE(0, self->shmfd);
	ASSERT_EQ(0, ftruncate(self->shmfd, sizeof(struct shared)));
	self->sh = mmap(NULL, sizeof(struct shared), PROT_READ | PROT_WRITE,
			MAP_SHARED, self->shmfd, 0);
	ASSERT_NE(MAP_FAILED, self->sh);
	snprintf(self->sh->dir, sizeof(self->sh->dir), "%s", self->dir);

	range = read_file(KPR_PORT_RANGE);
	ASSERT_NE(NULL, range);
	snprintf(self->range, sizeof(self->range), "%s", range);
	free(range);
	ASSERT_EQ(0, set_port_range(EPH_LOW, EPH_HIGH));
}

FIXTURE_TEARDOWN_PARENT(stress)
{
	write_policy("clear\n");
	if (self->range[0])
		write_text(KPR_PORT_RANGE, self->range);
	remove_tree(self->dir);
}

/* Starts @prog with @role as @uid, at a lower priority: an exec'd worker. */
static pid_t start(int shmfd, uid_t uid, const char *prog, const char *role,
		   int slot, uint64_t seed)
{
	char fd[16], slotstr[16], seedstr[32];
	char *const argv[] = {
		(char *)prog, WORKER_ARG, (char *)role, fd, slotstr, seedstr,
		NULL,
	};
	pid_t pid;

	snprintf(fd, sizeof(fd), "%d", shmfd);
	snprintf(slotstr, sizeof(slotstr), "%d", slot);
	snprintf(seedstr, sizeof(seedstr), "%llu", (unsigned long long)seed);
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		if (nice(NICE) == -1 ||
		    (uid != KPR_SAME_UID && become_user(uid, KPR_GID)))
			_exit(KPR_EXIT_SETUP);
		execv(prog, argv);
		_exit(KPR_EXIT_EXEC);
	}
	return pid;
}

/* Forks a worker that runs @fn, at a lower priority unless @reloader. */
static pid_t fork_worker(void (*fn)(struct shared *, uint64_t),
			 struct shared *sh, uint64_t seed, bool reloader)
{
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		if (!reloader && nice(NICE) == -1)
			_exit(KPR_EXIT_SETUP);
		fn(sh, seed);
		_exit(0);
	}
	return pid;
}

static void reader_fn(struct shared *sh, uint64_t seed __maybe_unused)
{
	reader(sh);
}

static void nonowner_fn(struct shared *sh, uint64_t seed)
{
	binder(sh, 2, false, seed, NULL, -1);
}

TEST_F_TIMEOUT(stress, reload_bind_netoff, 130)
{
	unsigned int secs = stress_seconds();
	uint64_t seed = env_uint("KPR_STRESS_SEED", time(NULL));
	struct shared *sh = self->sh;
	char fd[16], stable[1024];
	char *progs[3] = { self->owner, self->other, self->self };
	long long *c = sh->counters, t0;
	pid_t pids[8];
	unsigned int i, n = 0;
	int ret;

	TH_LOG("seed %llu (KPR_STRESS_SEED), %u s (KPR_STRESS_SECONDS), %ld CPUs",
	       (unsigned long long)seed, secs, sysconf(_SC_NPROCESSORS_ONLN));
	snprintf(fd, sizeof(fd), "%d", self->shmfd);
	/* The policy of the start: the stable rules. */
	stable_rules(self->dir, stable, sizeof(stable));
	ASSERT_EQ(0, write_policy(stable));
	make_texts(self->dir);
	t0 = now_ns();
	sh->deadline = t0 + secs * 1000000000LL;

	/*
	 * The reloaders compete with all the others for the CPUs: the others
	 * run at a lower priority.
	 */
	pids[n++] = fork_worker(replacer, sh, seed, true);
	pids[n++] = fork_worker(churner, sh, seed, true);
	pids[n++] = fork_worker(reader_fn, sh, seed, false);
	pids[n++] = start(self->shmfd, KPR_SAME_UID, self->owner, "owner",
			  0, seed);
	pids[n++] = start(self->shmfd, KPR_UID, self->owner, "owner", 1,
			  seed);
	pids[n++] = fork_worker(nonowner_fn, sh, seed, false);
	pids[n++] = start(self->shmfd, KPR_UID, self->other, "other", 3,
			  seed);
	fflush(NULL);
	pids[n] = fork();
	if (pids[n] == 0) {
		if (nice(NICE) == -1)
			_exit(KPR_EXIT_SETUP);
		netoff_worker(sh, seed, progs, fd);
		_exit(0);
	}
	n++;

	for (i = 0; i < n; i++) {
		ASSERT_LT(0, pids[i]);
		ret = wait_exit(pids[i]);
		EXPECT_EQ(0, ret)
		{
			TH_LOG("worker %u exited with %d", i, ret);
		}
	}

	TH_LOG("%.1f s: %lld whole replaces (%lld rules), %lld other reloads, %lld refused as due",
	       (now_ns() - t0) / 1e9, c[C_FULL], c[C_RULES], c[C_SMALL],
	       c[C_REFUSED]);
	TH_LOG("single rules: %lld added, %lld deleted, %lld ENOENT, %lld ENOSPC; %lld EBUSY",
	       c[C_ADD], c[C_DEL], c[C_ENOENT], c[C_ENOSPC], c[C_EBUSY]);
	TH_LOG("%lld binds, %lld connects, %lld automatic ports, %lld owner execs",
	       c[C_BIND], c[C_CONNECT], c[C_AUTO], c[C_EXEC]);
	TH_LOG("%lld policy reads", c[C_READ]);
	TH_LOG("%lld tasks without network, %lld of their execs",
	       c[C_NETOFF], c[C_NETOFF_EXEC]);
	TH_LOG("%lld decisions checked (%lld on churn ports not), %lld wrong, %lld errors",
	       c[C_CHECKED], c[C_UNCHECKED], c[C_WRONG], c[C_ERROR]);
	for (i = 0; i < NR_MSGS && i < (unsigned int)sh->nmsgs; i++)
		TH_LOG("%s", sh->msgs[i]);
	EXPECT_EQ(0, c[C_WRONG]);
	EXPECT_EQ(0, c[C_ERROR]);
	/* Not vacuous: every kind of worker did its work. */
	EXPECT_LT(0, c[C_FULL]);
	EXPECT_LT(0, c[C_ADD] + c[C_DEL]);
	EXPECT_LT(0, c[C_EXEC]);
	EXPECT_LT(0, c[C_NETOFF]);
	EXPECT_LT(0, c[C_READ]);
	EXPECT_LT(0, c[C_AUTO]);
}

/* The harness's timeout follows KPR_STRESS_SECONDS. */
static void __attribute__((constructor(KSELFTEST_PRIO_TEST + 1)))
stress_timeout(void)
{
	_stress_reload_bind_netoff_object->timeout = stress_seconds() + 120;
}

int main(int argc, char *argv[])
{
	if (argc > 1 && !strcmp(argv[1], WORKER_ARG))
		return worker_main(argc, argv);
	return test_harness_run(argc, argv);
}
