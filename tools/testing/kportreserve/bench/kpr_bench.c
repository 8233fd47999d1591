// SPDX-License-Identifier: GPL-2.0
/*
 * kpr_bench: the micro-benchmarks of kportreserve, run in the test guest by
 * tools/testing/kportreserve/bench.sh ("make bench"), once per boot, with
 * kportreserve on and off.
 *
 * Usage: kpr_bench [OPTION...]
 *
 *   --scale X        multiply --round-ms and --budget-ms by X (default 1)
 *   --round-ms MS    target length of one timed round (default 100)
 *   --rounds N       timed rounds per measurement, at most 64 (default 9)
 *   --budget-ms MS   time box of one measurement: no round starts after it,
 *                    but one always runs (default 2000)
 *   --calib-ms MS    how long the TSC is calibrated (default 1000)
 *   --tsc-mhz F      convert TSC ticks to ns with this frequency, not with
 *                    the calibration (which is still run and reported)
 *   --calibrate      only calibrate, print {"type":"calibration",...} and exit
 *   --paths N        distinct program paths in the rules of the load and
 *                    owner cases (default 64)
 *   --max-rules N    leave out the rule counts above N (default 65536)
 *   --only LIST      run only the cases named in the comma-separated LIST
 *   --smoke          a run of a fraction of a second that checks that every
 *                    case works
 *
 * The guest's clocks may tick in jiffies (4 ms) under TCG, so the rounds are
 * timed with the TSC, which is calibrated once against CLOCK_MONOTONIC from
 * one clock edge to another, over a second or more.  Under TCG the guest's TSC
 * is the host's, but the guest's clock can be 1% off from boot to boot (its
 * timer is calibrated at boot, under emulation): bench.sh calibrates on the
 * host and passes --tsc-mhz, so that every boot converts ticks alike.  A round
 * repeats the operation often enough to last --round-ms; a measurement
 * reports the median of its rounds, in ns per operation.
 *
 * Output, on stdout, one JSON object per line:
 *
 *   {"type":"meta", ...}      kernel, LSMs, CPU, hypervisor, TSC, options
 *   {"type":"result","case":C,"proto":P,"rules":N,"median":NS,"min":NS,
 *    "max":NS,"iters":I,"rounds":[NS,...], ...}
 *   {"type":"error","case":C,"msg":TEXT}
 *   {"type":"end","errors":N,"seconds":S}
 *
 * The cases (kportreserve on: all; off: those marked "both"):
 *
 *   syscall           getppid(), a reference for the speed of the boot (both)
 *   socket_close      socket() and close() (both)
 *   bind_close        socket(), bind() to a port no rule names, close() (both)
 *   bind_bound        bind() on a bound socket: the hooks, then EINVAL (both)
 *   connect           connect() (autobind) to 127.0.0.1; TCP to a listener,
 *                     with accept() and both close()s (both)
 *   connect_reserved  the same with 1000 ports of the ephemeral range
 *                     reserved: by rules ("via":"rules") or in
 *                     ip_local_reserved_ports ("via":"sysctl") (both)
 *   owner_bind        socket(), bind() to its reserved port and close() by
 *                     the owner, at 1, 1000 and 65536 rules; "base" is
 *                     bind_close by the same process in interleaved rounds
 *                     and "ratio" the median of the per-round ratios
 *   load              a policy of N rules written, sorted or shuffled, to the
 *                     policy file, from open() to the end of close()
 *   read              the policy read back in 64 KiB reads
 *   exec              fork(), execve() of a tiny static program, wait(), with
 *                     N rules naming N distinct program paths (0: both)
 *
 * Exit status: 0, or 1 if any case reported an error.
 */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define POLICY "/sys/kernel/security/kportreserve/policy"
#define LSM_LIST "/sys/kernel/security/lsm"
#define RESERVED_SYSCTL "/proc/sys/net/ipv4/ip_local_reserved_ports"
#define RANGE_SYSCTL "/proc/sys/net/ipv4/ip_local_port_range"
/* The owner: rules name this path, and the owner case executes it. */
#define SELF "/usr/bin/kpr_bench"
#define NOP "/usr/bin/kpr_nop"
/* Rule paths that are not files (the directory exists: one lookup deeper). */
#define PATH_DIR "/usr/lib/kpr-bench"

/*
 * Ports.  The rule sets reserve ports 1 to 32769; connect_reserved reserves
 * ports of the ephemeral range (32768-60999 by default).  Every set is
 * cleared after its case, and the fixed ports are above both.
 */
#define BIND_PORT 61001		/* bind_close, and owner_bind's base */
#define BOUND_PORT 61002	/* bind_bound */
#define LISTEN_PORT 61003	/* connect (TCP) */
#define UDP_PEER_PORT 61004	/* connect (UDP): nothing listens */
#define OWNER_PORT 16385	/* owner_bind: in the middle of the rule sets */
#define RULE_PORTS 32769	/* rule sets use ports 1..RULE_PORTS */
#define NR_RESERVED 1000	/* connect_reserved */
#define MAX_RULES 65536
#define MAX_ROUNDS 64
#define READ_SIZE 65536
/* Writes of more than 1 MiB failed with EFBIG before the policy file took short writes. */
#define EFBIG_CHUNK (512 * 1024)

static struct {
	double scale, round_ms, budget_ms, calib_ms;
	int rounds, paths, max_rules;
	const char *only;
	bool smoke;
} opt = {
	.scale = 1, .round_ms = 100, .budget_ms = 2000, .calib_ms = 1000,
	.rounds = 9, .paths = 64, .max_rules = MAX_RULES,
};

static double ns_per_tick, guest_tsc_mhz, given_tsc_mhz;
static int errors;
static bool kpr_on;

static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;

	/* lfence: the TSC is read after every earlier instruction is done. */
	__asm__ volatile("lfence\n\trdtsc" : "=a"(lo), "=d"(hi) : : "memory");
	return (uint64_t)hi << 32 | lo;
}

static long long mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/*
 * One JSON object per line, printed member by member: json_begin(), then
 * json_str(), json_num() and json_int(), then json_end().
 */
static void json_begin(const char *type)
{
	printf("{\"type\":\"%s\"", type);
}

/* A string member; quotes, backslashes and controls become '?'. */
static void json_str(const char *key, const char *val)
{
	printf(",\"%s\":\"", key);
	for (; *val; val++)
		putchar(*val == '"' || *val == '\\' || (unsigned char)*val < 0x20 ? '?' : *val);
	putchar('"');
}

static void json_num(const char *key, double val)
{
	printf(",\"%s\":%.6g", key, val);
}

static void json_int(const char *key, long long val)
{
	printf(",\"%s\":%lld", key, val);
}

static void json_bool(const char *key, bool val)
{
	printf(",\"%s\":%s", key, val ? "true" : "false");
}

static void json_end(void)
{
	printf("}\n");
	fflush(stdout);
}

static void report_error(const char *c, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	json_begin("error");
	json_str("case", c);
	json_str("msg", msg);
	json_end();
	errors++;
}

static bool wanted(const char *c)
{
	size_t n = strlen(c);
	const char *p = opt.only;

	if (!p)
		return true;
	while ((p = strstr(p, c))) {
		if ((p == opt.only || p[-1] == ',') && (p[n] == ',' || !p[n]))
			return true;
		p += n;
	}
	return false;
}

/*
 * TSC ticks to ns.  Under TCG the TSC follows the host's clock and
 * CLOCK_MONOTONIC may move in jiffies: start and end the calibration where
 * the clock moves, so that its steps do not count.  The move happened
 * between two TSC reads; a preemption or an interrupt between them makes the
 * sample uncertain, so take the narrowest of a few.
 */
struct edge {
	long long ns;		/* the clock's new value */
	uint64_t tsc;		/* the middle of the TSC reads around the move */
	uint64_t width;		/* their distance */
};

static struct edge clock_edge(long long *step)
{
	long long t0 = mono_ns(), t;
	uint64_t before, after = rdtsc();
	struct edge e;

	do {
		before = after;
		t = mono_ns();
		after = rdtsc();
	} while (t == t0);
	if (*step == 0 || t - t0 < *step)
		*step = t - t0;
	e.ns = t;
	e.tsc = before + (after - before) / 2;
	e.width = after - before;
	return e;
}

static struct edge best_edge(long long *step)
{
	struct edge best = clock_edge(step), e;
	int i;

	for (i = 0; i < 7; i++) {
		e = clock_edge(step);
		if (e.width < best.width)
			best = e;
	}
	return best;
}

static void calibrate(long long *step)
{
	struct edge a, b;

	clock_edge(step);
	a = best_edge(step);
	do
		b = best_edge(step);
	while (b.ns - a.ns < opt.calib_ms * 1e6);
	ns_per_tick = (double)(b.ns - a.ns) / (double)(b.tsc - a.tsc);
}

static double ticks_ns(uint64_t ticks)
{
	return (double)ticks * ns_per_tick;
}

/* One operation to time, repeated n times by fn; 0 or an error reported. */
struct op {
	const char *name;
	const char *proto;
	int (*fn)(struct op *op, long n);
	int type;		/* SOCK_STREAM or SOCK_DGRAM */
	int port;
	int fd;			/* a bound socket, a listener */
	const char *text;	/* load: the policy text */
	size_t len;
	int writes;		/* load: write() calls of the last load */
	bool short_write, efbig;
	long bytes;		/* read: bytes of the last read-back */
	/* Results. */
	long iters;
	int nr;
	double v[MAX_ROUNDS];
	double median, min, max;
};

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(const double *v, int n)
{
	double s[MAX_ROUNDS];

	memcpy(s, v, n * sizeof(*s));
	qsort(s, n, sizeof(*s), cmp_double);
	return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

/*
 * Times the ops of ops[0..k-1] in interleaved rounds (a, b, a, b, ...), so
 * that ops compared with each other see the same state of the machine.
 * warm: run each op first, untimed, and size its rounds to --round-ms; else
 * every round is one operation (for operations of milliseconds or more).
 * Returns 0, or -1 after an op reported an error.
 */
static int measure(struct op *ops, int k)
{
	double round_ticks = opt.round_ms * opt.scale * 1e6 / ns_per_tick;
	double budget_ticks = opt.budget_ms * opt.scale * 1e6 / ns_per_tick;
	uint64_t start = rdtsc(), t0, t1;
	int i, r;

	for (i = 0; i < k; i++) {
		struct op *op = &ops[i];
		long n = 1;

		op->nr = 0;
		op->iters = 1;
		/*
		 * A first call to warm up.  One that lasts a round is the first
		 * round: no more warm-up for operations of that length (a
		 * shuffled load of 65536 rules took seconds).
		 */
		t0 = rdtsc();
		if (op->fn(op, 1))
			return -1;
		t1 = rdtsc();
		if (t1 - t0 >= round_ticks) {
			op->v[op->nr++] = ticks_ns(t1 - t0);
			continue;
		}
		/* Then one call, and a tenth of a round, to size the rounds. */
		t0 = rdtsc();
		if (op->fn(op, 1))
			return -1;
		t1 = rdtsc();
		if (t1 - t0 < round_ticks / 10) {
			n = round_ticks / 10 / (double)(t1 - t0 + 1);
			t0 = rdtsc();
			if (op->fn(op, n))
				return -1;
			t1 = rdtsc();
		}
		op->iters = round_ticks * n / (double)(t1 - t0 + 1);
		if (op->iters < 1)
			op->iters = 1;
	}
	for (r = 0; r < opt.rounds && r < MAX_ROUNDS; r++) {
		if (rdtsc() - start > budget_ticks && (r > 0 || ops[0].nr > 0))
			break;
		for (i = 0; i < k; i++) {
			struct op *op = &ops[i];

			if (op->nr >= opt.rounds)
				continue;
			t0 = rdtsc();
			if (op->fn(op, op->iters))
				return -1;
			t1 = rdtsc();
			op->v[op->nr++] = ticks_ns(t1 - t0) / op->iters;
		}
	}
	for (i = 0; i < k; i++) {
		struct op *op = &ops[i];

		op->median = median(op->v, op->nr);
		op->min = op->v[0];
		op->max = op->v[0];
		for (r = 1; r < op->nr; r++) {
			if (op->v[r] < op->min)
				op->min = op->v[r];
			if (op->v[r] > op->max)
				op->max = op->v[r];
		}
	}
	return 0;
}

/* Starts the line of a measured op; the caller may add members, then json_end(). */
static void result_begin(struct op *op, int rules)
{
	int r;

	json_begin("result");
	json_str("case", op->name);
	json_str("proto", op->proto ? op->proto : "");
	json_int("rules", rules);
	json_num("median", op->median);
	json_num("min", op->min);
	json_num("max", op->max);
	json_int("iters", op->iters);
	printf(",\"rounds\":[");
	for (r = 0; r < op->nr; r++)
		printf("%s%.6g", r ? "," : "", op->v[r]);
	printf("]");
}

static void print_result(struct op *op, int rules)
{
	result_begin(op, rules);
	json_end();
}

/* The operations. */

static struct sockaddr_in loopback(int port)
{
	struct sockaddr_in a = {
		.sin_family = AF_INET,
		.sin_port = htons(port),
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK),
	};

	return a;
}

static struct sockaddr_in any_addr(int port)
{
	struct sockaddr_in a = {
		.sin_family = AF_INET,
		.sin_port = htons(port),
		.sin_addr.s_addr = htonl(INADDR_ANY),
	};

	return a;
}

static int op_syscall(struct op *op, long n)
{
	(void)op;
	while (n--)
		syscall(SYS_getppid);
	return 0;
}

static int op_socket_close(struct op *op, long n)
{
	while (n--) {
		int fd = socket(AF_INET, op->type, 0);

		if (fd < 0) {
			report_error(op->name, "socket: %s", strerror(errno));
			return -1;
		}
		close(fd);
	}
	return 0;
}

static int op_bind_close(struct op *op, long n)
{
	struct sockaddr_in a = any_addr(op->port);

	while (n--) {
		int fd = socket(AF_INET, op->type, 0);

		if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a))) {
			report_error(op->name, "%s/%s bind to %d: %s", op->name, op->proto,
				     op->port, strerror(errno));
			if (fd >= 0)
				close(fd);
			return -1;
		}
		close(fd);
	}
	return 0;
}

static int op_bind_bound(struct op *op, long n)
{
	struct sockaddr_in a = any_addr(op->port);

	while (n--) {
		if (bind(op->fd, (struct sockaddr *)&a, sizeof(a)) != -1 || errno != EINVAL) {
			report_error(op->name, "bind on a bound socket: %s, not EINVAL",
				     strerror(errno));
			return -1;
		}
	}
	return 0;
}

static int op_connect_udp(struct op *op, long n)
{
	struct sockaddr_in a = loopback(UDP_PEER_PORT);

	while (n--) {
		int fd = socket(AF_INET, SOCK_DGRAM, 0);

		if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a))) {
			report_error(op->name, "udp connect: %s", strerror(errno));
			if (fd >= 0)
				close(fd);
			return -1;
		}
		close(fd);
	}
	return 0;
}

/*
 * connect() to the listener, accept() and close both ends.  SO_LINGER 0
 * makes the client's close() send a RST: no TIME_WAIT on either side, so a
 * long loop does not run out of ephemeral ports.
 */
static int op_connect_tcp(struct op *op, long n)
{
	struct sockaddr_in a = loopback(LISTEN_PORT);
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };

	while (n--) {
		int fd = socket(AF_INET, SOCK_STREAM, 0), c;

		if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)) ||
		    connect(fd, (struct sockaddr *)&a, sizeof(a))) {
			report_error(op->name, "tcp connect: %s", strerror(errno));
			if (fd >= 0)
				close(fd);
			return -1;
		}
		c = accept(op->fd, NULL, NULL);
		close(fd);
		if (c < 0) {
			report_error(op->name, "accept: %s", strerror(errno));
			return -1;
		}
		close(c);
	}
	return 0;
}

/* The policy file. */

struct text {
	char *buf;
	size_t len, cap;
};

static void text_add(struct text *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(t->buf + t->len, t->cap - t->len, fmt, ap);
		va_end(ap);
		if (t->len + n < t->cap)
			break;
		t->cap = t->cap ? 2 * t->cap : 1 << 16;
		t->buf = realloc(t->buf, t->cap);
		if (!t->buf) {
			perror("kpr_bench: realloc");
			exit(1);
		}
	}
	t->len += n;
}

/* The program path k of --paths: one is the owner, the others are no files. */
static void add_path(struct text *t, int k)
{
	if (k == 0)
		text_add(t, "%s\n", SELF);
	else
		text_add(t, "%s/p%d\n", PATH_DIR, k);
}

/*
 * Writes a policy text in one transaction, timed by the caller: one
 * write(), continued after short writes.  A kernel that refuses writes over
 * 1 MiB with EFBIG gets 512 KiB pieces instead; which happened is recorded.
 */
static int policy_write(const char *text, size_t len, struct op *op)
{
	size_t chunk = op && op->efbig ? EFBIG_CHUNK : len;
	int fd, err = 0, writes = 0;

	fd = open(POLICY, O_WRONLY | O_TRUNC);
	if (fd < 0)
		return errno;
	while (len) {
		ssize_t w = write(fd, text, len < chunk ? len : chunk);

		writes++;
		if (w < 0 && errno == EFBIG && chunk > EFBIG_CHUNK) {
			chunk = EFBIG_CHUNK;
			if (op)
				op->efbig = true;
			continue;
		}
		if (w <= 0) {
			err = w < 0 ? errno : EIO;
			break;
		}
		if ((size_t)w < (len < chunk ? len : chunk) && op)
			op->short_write = true;
		text += w;
		len -= w;
	}
	if (close(fd) && !err)
		err = errno;
	if (op)
		op->writes = writes;
	return err;
}

static int policy_clear(void)
{
	return policy_write("clear\n", 6, NULL);
}

/* Reads the whole policy in READ_SIZE reads; returns its size, or -errno. */
static long policy_read(int *lines)
{
	static char buf[READ_SIZE];
	long total = 0;
	ssize_t n;
	int fd;

	fd = open(POLICY, O_RDONLY);
	if (fd < 0)
		return -errno;
	if (lines)
		*lines = 0;
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		total += n;
		if (lines)
			for (ssize_t i = 0; i < n; i++)
				*lines += buf[i] == '\n';
	}
	if (n < 0)
		total = -errno;
	close(fd);
	return total;
}

/* Loads a policy (untimed) and checks that it reads back with n rules. */
static int policy_load(const char *c, struct text *t, int n)
{
	int err = policy_write(t->buf, t->len, NULL);
	int lines = 0;
	long r;

	if (err) {
		report_error(c, "loading %d rules: %s", n, strerror(err));
		return -1;
	}
	r = policy_read(&lines);
	if (r < 0 || lines != n) {
		report_error(c, "the policy reads back with %d lines, not %d (%s)", lines, n,
			     r < 0 ? strerror(-r) : "read ok");
		return -1;
	}
	return 0;
}

static int op_load(struct op *op, long n)
{
	while (n--) {
		int err = policy_write(op->text, op->len, op);

		if (err) {
			report_error(op->name, "writing the policy: %s", strerror(err));
			return -1;
		}
	}
	return 0;
}

static int op_read(struct op *op, long n)
{
	while (n--) {
		op->bytes = policy_read(NULL);
		if (op->bytes < 0) {
			report_error(op->name, "reading the policy: %s", strerror(-op->bytes));
			return -1;
		}
	}
	return 0;
}

static uint64_t rng = 0x2545f4914f6cdd1dULL;

static uint64_t xorshift(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/*
 * The rules of the load, read and exec cases: n rules in canonical order,
 * on ports 1, 1, 2, 2, ... for TCP and UDP (65536 rules: ports 1 to 32768),
 * rule i naming program path i % paths ("paths" 0: every rule a path of
 * its own).  shuffle: the same lines in a random order.
 */
static void gen_rules(struct text *t, int n, int paths, bool shuffle)
{
	struct text body = { 0 };
	size_t *start;
	int i;

	start = calloc(n + 1, sizeof(*start));
	if (!start) {
		perror("kpr_bench: calloc");
		exit(1);
	}
	for (i = 0; i < n; i++) {
		start[i] = body.len;
		text_add(&body, "%d/%s ", 1 + i / 2, i % 2 ? "udp" : "tcp");
		add_path(&body, paths ? i % paths : i + 1);
	}
	start[n] = body.len;
	t->len = 0;
	text_add(t, "clear\n");
	if (!shuffle) {
		text_add(t, "%.*s", (int)body.len, body.buf);
	} else {
		int *perm = malloc(n * sizeof(*perm));

		if (!perm) {
			perror("kpr_bench: malloc");
			exit(1);
		}
		for (i = 0; i < n; i++)
			perm[i] = i;
		for (i = n - 1; i > 0; i--) {
			int j = xorshift() % (i + 1), x = perm[i];

			perm[i] = perm[j];
			perm[j] = x;
		}
		for (i = 0; i < n; i++)
			text_add(t, "%.*s", (int)(start[perm[i] + 1] - start[perm[i]]),
				 body.buf + start[perm[i]]);
		free(perm);
	}
	free(start);
	free(body.buf);
}

/*
 * The rules of the owner case: "OWNER_PORT SELF" (TCP and UDP) and n - 1
 * other rules spread over ports 1 to RULE_PORTS, TCP and UDP, never on
 * OWNER_PORT, naming the --paths program paths in turn (SELF among them).
 */
static void gen_owner_rules(struct text *t, int n)
{
	const long cand = 2L * (RULE_PORTS - 1);	/* (port, proto) but OWNER_PORT */
	bool owner_done = false;
	int j;

	t->len = 0;
	text_add(t, "clear\n");
	for (j = 0; j < n - 1; j++) {
		long c = n > 1 ? (long)j * cand / (n - 1) : 0;
		int port = 1 + c / 2;

		if (port >= OWNER_PORT)
			port++;
		if (port > OWNER_PORT && !owner_done) {
			text_add(t, "%d %s\n", OWNER_PORT, SELF);
			owner_done = true;
		}
		text_add(t, "%d/%s ", port, c % 2 ? "udp" : "tcp");
		add_path(t, j % opt.paths);
	}
	if (!owner_done)
		text_add(t, "%d %s\n", OWNER_PORT, SELF);
}

/* Cases. */

static void case_simple(const char *c, int (*fn)(struct op *, long), int type, int port)
{
	struct op op = {
		.name = c, .fn = fn, .type = type, .port = port,
		.proto = type == SOCK_STREAM ? "tcp" : type == SOCK_DGRAM ? "udp" : NULL,
	};

	if (!wanted(c))
		return;
	if (measure(&op, 1) == 0)
		print_result(&op, 0);
}

static void case_bind_bound(int type)
{
	struct sockaddr_in a = any_addr(BOUND_PORT);
	struct op op = {
		.name = "bind_bound", .fn = op_bind_bound, .type = type,
		.port = BOUND_PORT, .proto = type == SOCK_STREAM ? "tcp" : "udp",
	};

	if (!wanted(op.name))
		return;
	op.fd = socket(AF_INET, type, 0);
	if (op.fd < 0 || bind(op.fd, (struct sockaddr *)&a, sizeof(a)))
		report_error(op.name, "binding port %d: %s", BOUND_PORT, strerror(errno));
	else if (measure(&op, 1) == 0)
		print_result(&op, 0);
	if (op.fd >= 0)
		close(op.fd);
}

static void print_connect(struct op *op, const char *via, int rules)
{
	result_begin(op, rules);
	if (via) {
		json_str("via", via);
		json_int("reserved", NR_RESERVED);
	}
	json_end();
}

/* Both connect()s; via: how ports were reserved (connect_reserved), or NULL. */
static void measure_connects(const char *c, const char *via, int rules)
{
	struct sockaddr_in a = loopback(LISTEN_PORT);
	struct op udp = { .name = c, .proto = "udp", .fn = op_connect_udp };
	struct op tcp = { .name = c, .proto = "tcp", .fn = op_connect_tcp };
	int one = 1;

	if (measure(&udp, 1) == 0)
		print_connect(&udp, via, rules);
	tcp.fd = socket(AF_INET, SOCK_STREAM, 0);
	if (tcp.fd < 0 || setsockopt(tcp.fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(tcp.fd, (struct sockaddr *)&a, sizeof(a)) || listen(tcp.fd, 64))
		report_error(c, "listening on port %d: %s", LISTEN_PORT, strerror(errno));
	else if (measure(&tcp, 1) == 0)
		print_connect(&tcp, via, rules);
	if (tcp.fd >= 0)
		close(tcp.fd);
}

/* The NR_RESERVED ports of connect_reserved, spread over the ephemeral range. */
static int reserved_port(int i, int lo, int hi)
{
	return lo + (int)((long)i * (hi - lo + 1) / NR_RESERVED);
}

static int write_file(const char *path, const char *s, size_t len)
{
	int fd = open(path, O_WRONLY | O_TRUNC), err = 0;

	if (fd < 0)
		return errno;
	while (len) {
		ssize_t w = write(fd, s, len);

		if (w <= 0) {
			err = w < 0 ? errno : EIO;
			break;
		}
		s += w;
		len -= w;
	}
	if (close(fd) && !err)
		err = errno;
	return err;
}

/*
 * ip_local_reserved_ports takes at most a page per write(), each one adding
 * to what the earlier writes of the same open file set: write whole entries
 * in pieces of less than a page.
 */
static int sysctl_reserve(int lo, int hi, int *count)
{
	/* Also what it reads back, at most 6 bytes a port, in one read(). */
	static char buf[8 * NR_RESERVED + 64];
	char *p, *q;
	int fd, i = 0, err = 0, n = 0;

	fd = open(RESERVED_SYSCTL, O_WRONLY | O_TRUNC);
	if (fd < 0)
		return errno;
	while (i < NR_RESERVED && !err) {
		size_t len = 0;

		while (i < NR_RESERVED && len < 4000)
			len += sprintf(buf + len, "%d,", reserved_port(i++, lo, hi));
		buf[len - 1] = '\n';
		if (write(fd, buf, len) != (ssize_t)len)
			err = errno ? errno : EIO;
	}
	if (close(fd) && !err)
		err = errno;
	if (err)
		return err;
	/* Count what it reads back: "a,b-c,...". */
	fd = open(RESERVED_SYSCTL, O_RDONLY);
	if (fd < 0)
		return errno;
	i = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (i < 0)
		return errno;
	buf[i] = 0;
	for (p = buf; *p && *p != '\n'; p = *q ? q + 1 : q) {
		long a = strtol(p, &q, 10), b = a;

		if (*q == '-')
			b = strtol(q + 1, &q, 10);
		n += b - a + 1;
	}
	*count = n;
	return 0;
}

static void case_connect_reserved(void)
{
	const char *c = "connect_reserved";
	int lo = 32768, hi = 60999, i, n = 0, err;
	struct text t = { 0 };
	FILE *f;

	if (!wanted(c))
		return;
	f = fopen(RANGE_SYSCTL, "r");
	if (!f || fscanf(f, "%d %d", &lo, &hi) != 2)
		report_error(c, "cannot read %s; assuming 32768-60999", RANGE_SYSCTL);
	if (f)
		fclose(f);
	if (kpr_on) {
		text_add(&t, "clear\n");
		for (i = 0; i < NR_RESERVED; i++) {
			text_add(&t, "%d ", reserved_port(i, lo, hi));
			add_path(&t, 1 + i % (opt.paths > 1 ? opt.paths - 1 : 1));
		}
		if (policy_load(c, &t, NR_RESERVED) == 0)
			measure_connects(c, "rules", NR_RESERVED);
		policy_clear();
		free(t.buf);
	}
	/* The same ports in the sysctl: the reference, with kportreserve on or off. */
	err = sysctl_reserve(lo, hi, &n);
	if (err || n != NR_RESERVED)
		report_error(c, "ip_local_reserved_ports: %s, %d ports", strerror(err), n);
	else
		measure_connects(c, "sysctl", 0);
	write_file(RESERVED_SYSCTL, "\n", 1);
}

/*
 * The owner case, in the parent: load the rules, check that this process
 * (no owner: it was executed before any rule named it) is refused the port,
 * then execute SELF, which gets the port identity, to measure.
 */
static void case_owner(int rules)
{
	const char *c = "owner_bind";
	struct sockaddr_in a = any_addr(OWNER_PORT);
	struct text t = { 0 };
	char nr[16], tick[32];
	int i, status = 0;
	pid_t pid;

	if (!wanted(c) || rules > opt.max_rules)
		return;
	gen_owner_rules(&t, rules);
	if (policy_load(c, &t, rules))
		goto out;
	for (i = 0; i < 2; i++) {
		int fd = socket(AF_INET, i ? SOCK_DGRAM : SOCK_STREAM, 0), r = -1;

		if (fd >= 0)
			r = bind(fd, (struct sockaddr *)&a, sizeof(a));
		if (fd < 0 || r == 0 || errno != EACCES) {
			report_error(c, "a non-owner's %s bind to port %d: %s, not EACCES",
				     i ? "udp" : "tcp", OWNER_PORT,
				     r ? strerror(errno) : "it worked");
			if (fd >= 0)
				close(fd);
			goto out;
		}
		close(fd);
	}
	snprintf(nr, sizeof(nr), "%d", rules);
	snprintf(tick, sizeof(tick), "%.17g", ns_per_tick);
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		char rms[32], rds[16], bms[32];

		snprintf(rms, sizeof(rms), "%g", opt.round_ms * opt.scale);
		snprintf(rds, sizeof(rds), "%d", opt.rounds);
		snprintf(bms, sizeof(bms), "%g", opt.budget_ms * opt.scale);
		execl(SELF, SELF, "--owner", nr, tick, rms, rds, bms, (char *)NULL);
		report_error(c, "execl %s: %s", SELF, strerror(errno));
		_exit(1);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status))
		report_error(c, "the owner process failed (status 0x%x)", status);
out:
	policy_clear();
	free(t.buf);
}

/*
 * The owner process: check that its bind succeeds, then time it against an
 * unreserved bind_close in interleaved rounds.
 */
static int owner_main(int argc, char **argv)
{
	struct sockaddr_in a = any_addr(OWNER_PORT);
	struct op ops[2];
	int rules, p, fd;

	if (argc != 7)
		return 2;
	rules = atoi(argv[2]);
	ns_per_tick = strtod(argv[3], NULL);
	opt.round_ms = strtod(argv[4], NULL);
	opt.rounds = atoi(argv[5]);
	opt.budget_ms = strtod(argv[6], NULL);
	opt.scale = 1;
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (p = 0; p < 2; p++) {
		int type = p ? SOCK_DGRAM : SOCK_STREAM;
		const char *proto = p ? "udp" : "tcp";
		double rt[MAX_ROUNDS];
		int r, nr;

		fd = socket(AF_INET, type, 0);
		if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a))) {
			report_error("owner_bind", "the owner's %s bind to port %d failed: %s",
				     proto, OWNER_PORT, strerror(errno));
			if (fd >= 0)
				close(fd);
			return 1;
		}
		close(fd);
		ops[0] = (struct op){ .name = "owner_bind", .proto = proto,
				      .fn = op_bind_close, .type = type, .port = OWNER_PORT };
		ops[1] = (struct op){ .name = "owner_bind", .proto = proto,
				      .fn = op_bind_close, .type = type, .port = BIND_PORT };
		if (measure(ops, 2))
			return 1;
		nr = ops[0].nr < ops[1].nr ? ops[0].nr : ops[1].nr;
		for (r = 0; r < nr; r++)
			rt[r] = ops[0].v[r] / ops[1].v[r];
		result_begin(&ops[0], rules);
		json_num("base", ops[1].median);
		json_num("ratio", median(rt, nr));
		json_end();
	}
	return errors ? 1 : 0;
}

static void case_load(int rules)
{
	struct text sorted = { 0 }, shuffled = { 0 };
	struct op op;
	int s;

	if (rules > opt.max_rules || (!wanted("load") && !wanted("read")))
		return;
	gen_rules(&sorted, rules, opt.paths, false);
	gen_rules(&shuffled, rules, opt.paths, true);
	/* Every load replaces a policy of the same rules, as a reload does. */
	if (policy_load("load", &sorted, rules))
		goto out;
	for (s = 0; s < 2 && wanted("load"); s++) {
		struct text *t = s ? &shuffled : &sorted;

		op = (struct op){ .name = "load", .fn = op_load, .text = t->buf, .len = t->len };
		/*
		 * No warm-up: a load is long enough for one to be a round, and a
		 * slow shuffled load of 65536 rules takes seconds.
		 */
		if (measure(&op, 1))
			continue;
		result_begin(&op, rules);
		json_str("order", s ? "shuffled" : "sorted");
		json_int("bytes", t->len);
		json_int("writes", op.writes);
		json_str("write_mode", op.efbig ? "efbig-512k" :
			 op.short_write ? "short" : "single");
		json_end();
	}
	if (wanted("read")) {
		op = (struct op){ .name = "read", .fn = op_read };
		if (measure(&op, 1) == 0) {
			result_begin(&op, rules);
			json_int("bytes", op.bytes);
			json_end();
		}
	}
out:
	policy_clear();
	free(sorted.buf);
	free(shuffled.buf);
}

static int op_exec(struct op *op, long n)
{
	while (n--) {
		pid_t pid = fork();
		int status = 0;

		if (pid == 0) {
			execl(NOP, NOP, (char *)NULL);
			_exit(127);
		}
		if (pid < 0 || waitpid(pid, &status, 0) != pid || status) {
			report_error(op->name, "fork, exec %s, wait: status 0x%x", NOP, status);
			return -1;
		}
	}
	return 0;
}

static void case_exec(int rules)
{
	struct op op = { .name = "exec", .fn = op_exec };
	struct text t = { 0 };

	if (!wanted("exec") || rules > opt.max_rules)
		return;
	if (rules) {
		/* Every rule a distinct path: an exec resolves each path once. */
		gen_rules(&t, rules, 0, false);
		if (policy_load("exec", &t, rules))
			goto out;
	}
	fflush(stdout);
	if (measure(&op, 1) == 0)
		print_result(&op, rules);
out:
	if (rules)
		policy_clear();
	free(t.buf);
}

/* Meta data. */

static void read_line(const char *path, const char *key, char *buf, size_t size)
{
	char line[512];
	FILE *f = fopen(path, "r");

	snprintf(buf, size, "?");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		char *p = line;

		if (key) {
			if (strncmp(line, key, strlen(key)))
				continue;
			p = strchr(line, ':');
			if (!p)
				continue;
			p += 1 + strspn(p + 1, " \t");
		}
		p[strcspn(p, "\n\"\\")] = 0;
		if (strlen(p) >= size)
			p[size - 1] = 0;
		memcpy(buf, p, strlen(p) + 1);
		break;
	}
	fclose(f);
}

/*
 * The hypervisor, from its CPUID signature: "TCG" (QEMU's emulation, the
 * rig's default), "KVM", "none", or the signature itself.
 */
static const char *hypervisor(void)
{
	static char sig[13];
	uint32_t a, b, c, d;

	__asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(1), "c"(0));
	if (!(c & (1U << 31)))
		return "none";
	__asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d)
			 : "a"(0x40000000), "c"(0));
	memcpy(sig, &b, 4);
	memcpy(sig + 4, &c, 4);
	memcpy(sig + 8, &d, 4);
	if (!strcmp(sig, "TCGTCGTCGTCG"))
		return "TCG";
	if (!strncmp(sig, "KVMKVMKVM", 9))
		return "KVM";
	return sig;
}

static void print_meta(long long step, int cpu)
{
	char lsm[256], model[128], cs[64];
	struct utsname u;

	uname(&u);
	read_line(LSM_LIST, NULL, lsm, sizeof(lsm));
	read_line("/proc/cpuinfo", "model name", model, sizeof(model));
	read_line("/sys/devices/system/clocksource/clocksource0/current_clocksource", NULL,
		  cs, sizeof(cs));
	json_begin("meta");
	json_str("kernel", u.release);
	json_str("kernel_build", u.version);
	json_str("lsm", lsm);
	json_bool("kportreserve", kpr_on);
	json_str("cpu", model);
	json_str("hypervisor", hypervisor());
	json_int("ncpu", sysconf(_SC_NPROCESSORS_ONLN));
	json_int("pinned_cpu", cpu);
	json_str("clocksource", cs);
	json_int("clock_step_ns", step);
	json_num("tsc_mhz", 1e3 / ns_per_tick);
	json_num("tsc_mhz_guest", guest_tsc_mhz);
	json_str("tsc_from", given_tsc_mhz > 0 ? "option" : "calibration");
	json_num("calib_ms", opt.calib_ms);
	json_num("scale", opt.scale);
	json_num("round_ms", opt.round_ms);
	json_int("rounds", opt.rounds);
	json_num("budget_ms", opt.budget_ms);
	json_int("paths", opt.paths);
	json_int("max_rules", opt.max_rules);
	json_bool("smoke", opt.smoke);
	json_end();
}

/*
 * Runs on the last CPU: the same one in every boot, and so the caches and
 * the TCG translation stay with the benchmark.
 */
static int pin(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	cpu_set_t set;

	if (n < 1)
		return -1;
	CPU_ZERO(&set);
	CPU_SET(n - 1, &set);
	return sched_setaffinity(0, sizeof(set), &set) ? -1 : n - 1;
}

static void print_usage(void)
{
	fprintf(stderr, "usage: kpr_bench [OPTION...]; see the comment atop kpr_bench.c\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const int owner_rules[] = { 1, 1000, MAX_RULES };
	/* 60000: the size of the targets of the load and the read-back (issue 9's table). */
	static const int load_rules[] = { 1000, 10000, 60000, MAX_RULES, 0 };
	static const int exec_rules[] = { 0, 1000, MAX_RULES };
	long long step = 0, t_start;
	int i, cpu;

	if (argc > 1 && !strcmp(argv[1], "--owner"))
		return owner_main(argc, argv);
	for (i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(a, "--calibrate")) {
			calibrate(&step);
			json_begin("calibration");
			json_num("tsc_mhz", 1e3 / ns_per_tick);
			json_num("calib_ms", opt.calib_ms);
			json_int("clock_step_ns", step);
			json_end();
			return 0;
		}
		if (!strcmp(a, "--smoke")) {
			opt.smoke = true;
			opt.round_ms = 2;
			opt.rounds = 3;
			opt.budget_ms = 50;
			opt.calib_ms = 50;
			opt.max_rules = 1000;
			continue;
		}
		if (!v)
			print_usage();
		if (!strcmp(a, "--scale"))
			opt.scale = strtod(v, NULL);
		else if (!strcmp(a, "--round-ms"))
			opt.round_ms = strtod(v, NULL);
		else if (!strcmp(a, "--rounds"))
			opt.rounds = atoi(v);
		else if (!strcmp(a, "--budget-ms"))
			opt.budget_ms = strtod(v, NULL);
		else if (!strcmp(a, "--calib-ms"))
			opt.calib_ms = strtod(v, NULL);
		else if (!strcmp(a, "--tsc-mhz"))
			given_tsc_mhz = strtod(v, NULL);
		else if (!strcmp(a, "--paths"))
			opt.paths = atoi(v);
		else if (!strcmp(a, "--max-rules"))
			opt.max_rules = atoi(v);
		else if (!strcmp(a, "--only"))
			opt.only = v;
		else
			print_usage();
		i++;
	}
	if (opt.scale <= 0 || opt.round_ms <= 0 || opt.rounds < 1 || opt.rounds > MAX_ROUNDS ||
	    opt.paths < 1 || opt.calib_ms <= 0)
		print_usage();

	setvbuf(stdout, NULL, _IOLBF, 0);
	cpu = pin();
	kpr_on = access(POLICY, F_OK) == 0;
	t_start = mono_ns();
	calibrate(&step);
	guest_tsc_mhz = 1e3 / ns_per_tick;
	if (given_tsc_mhz > 0)
		ns_per_tick = 1e3 / given_tsc_mhz;
	print_meta(step, cpu);
	mkdir("/usr/lib", 0755);
	mkdir(PATH_DIR, 0755);
	if (kpr_on && policy_clear())
		report_error("policy", "cannot clear the policy: %s", strerror(errno));

	case_simple("syscall", op_syscall, 0, 0);
	case_simple("socket_close", op_socket_close, SOCK_DGRAM, 0);
	case_simple("socket_close", op_socket_close, SOCK_STREAM, 0);
	case_simple("bind_close", op_bind_close, SOCK_DGRAM, BIND_PORT);
	case_simple("bind_close", op_bind_close, SOCK_STREAM, BIND_PORT);
	case_bind_bound(SOCK_DGRAM);
	case_bind_bound(SOCK_STREAM);
	if (wanted("connect"))
		measure_connects("connect", NULL, 0);
	case_connect_reserved();
	case_exec(0);
	if (kpr_on) {
		for (i = 0; i < 3; i++)
			case_owner(owner_rules[i]);
		for (i = 0; load_rules[i]; i++)
			case_load(load_rules[i]);
		for (i = 1; i < 3; i++)
			case_exec(exec_rules[i]);
	}

	json_begin("end");
	json_int("errors", errors);
	json_num("seconds", (mono_ns() - t_start) / 1e9);
	json_end();
	return errors ? 1 : 0;
}
