// SPDX-License-Identifier: GPL-2.0
/*
 * kportreserve: a fuzzer of the policy file.
 *
 * Writes transactions of generated and mutated policy lines in random
 * pieces: lines split anywhere, NUL bytes, control characters, bytes that are
 * not UTF-8, escapes good and bad, lines longer than the longest that the
 * kernel takes, bad ports, ranges and protocols, random commands, deletes of
 * rules that are there and of rules that are not, clears, comments, CRLF,
 * unterminated last lines.
 *
 * A model of the grammar and of transactions, as
 * Documentation/admin-guide/LSM/kportreserve.rst describes them, predicts each
 * transaction: which write(2) fails first, with which errno (every later one
 * fails the same way), and the policy after the close.  The test checks the
 * prediction write by write, and the policy that reads back byte for byte:
 * after a refused transaction, it is the one from before; after an accepted
 * one, the model's policy in canonical form.  Every few transactions, and
 * after any that changed the policy, the policy read back is written back
 * after a clear and must read back the same.
 *
 * KPR_FUZZ_LINES lines (default 100000), for at most KPR_FUZZ_SECONDS seconds
 * (default 20; 0: no limit), from the seed KPR_FUZZ_SEED (default: the
 * time).  "lock" is never written: it would last until reboot.
 */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <stdint.h>
#include <time.h>

#include "kselftest_harness.h"
#include "common.h"

/* The bounds of the policy file (security/kportreserve/limits.rs). */
#define MAX_PATH 4095
/* The longest line: MAX_PATH + 64, and 3 more bytes per escaped path byte. */
#define MAX_TEXT_LINE (MAX_PATH + 64 + 3 * MAX_PATH)
#define MAX_RULES 65536

#define PROTO_TCP 1
#define PROTO_UDP 2
#define PROTO_ALL 3

/* xorshift64*. */
static uint64_t rng_state;

static uint64_t rnd(void)
{
	uint64_t x = rng_state;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	rng_state = x;
	return x * 0x2545f4914f6cdd1dULL;
}

/* A random number below @n (n > 0). */
static unsigned int below(unsigned int n)
{
	return rnd() % n;
}

/* True with probability 1 / @n. */
static bool one_in(unsigned int n)
{
	return below(n) == 0;
}

/* A growing byte string. */
struct buf {
	unsigned char *p;
	size_t len, cap;
};

static void buf_reserve(struct buf *b, size_t more)
{
	if (b->len + more <= b->cap)
		return;
	b->cap = (b->len + more) * 2 + 64;
	b->p = realloc(b->p, b->cap);
	if (!b->p)
		abort();
}

static void put_bytes(struct buf *b, const void *p, size_t n)
{
	if (!n)
		return;
	buf_reserve(b, n);
	memcpy(b->p + b->len, p, n);
	b->len += n;
}

static void put_str(struct buf *b, const char *s)
{
	put_bytes(b, s, strlen(s));
}

static void put_byte(struct buf *b, unsigned char c)
{
	put_bytes(b, &c, 1);
}

static __printf(2, 3) void put_fmt(struct buf *b, const char *fmt, ...)
{
	char tmp[64];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	put_str(b, tmp);
}

/* The model. */

/* A program: a path, or "<kernel>" (which no path can be). */
struct prog {
	int refs;
	size_t len;
	unsigned char bytes[];
};

static struct prog *prog_new(const unsigned char *bytes, size_t len)
{
	struct prog *p = malloc(sizeof(*p) + len);

	if (!p)
		abort();
	p->refs = 1;
	p->len = len;
	memcpy(p->bytes, bytes, len);
	return p;
}

static void prog_put(struct prog *p)
{
	if (!--p->refs)
		free(p);
}

struct rule {
	unsigned int first, last, protos;
	struct prog *prog;
};

/* Rules in canonical order. */
struct policy {
	struct rule *r;
	size_t n, cap;
};

/* By ports, protocols (tcp, udp, both), then program byte by byte. */
static int rule_cmp(const struct rule *a, const struct rule *b)
{
	size_t n = a->prog->len < b->prog->len ? a->prog->len : b->prog->len;
	int c;

	if (a->first != b->first)
		return a->first < b->first ? -1 : 1;
	if (a->last != b->last)
		return a->last < b->last ? -1 : 1;
	if (a->protos != b->protos)
		return a->protos < b->protos ? -1 : 1;
	c = memcmp(a->prog->bytes, b->prog->bytes, n);
	if (c)
		return c;
	return (a->prog->len > b->prog->len) - (a->prog->len < b->prog->len);
}

/* The index of @r in @p, or where it would go; true if it is there. */
static bool policy_find(const struct policy *p, const struct rule *r,
			size_t *at)
{
	size_t lo = 0, hi = p->n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = rule_cmp(&p->r[mid], r);

		if (!c) {
			*at = mid;
			return true;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*at = lo;
	return false;
}

static void policy_clear(struct policy *p)
{
	size_t i;

	for (i = 0; i < p->n; i++)
		prog_put(p->r[i].prog);
	p->n = 0;
}

static void policy_copy(struct policy *dst, const struct policy *src)
{
	size_t i;

	policy_clear(dst);
	if (dst->cap < src->n) {
		dst->cap = src->n + 16;
		dst->r = realloc(dst->r, dst->cap * sizeof(*dst->r));
		if (!dst->r)
			abort();
	}
	for (i = 0; i < src->n; i++) {
		dst->r[i] = src->r[i];
		dst->r[i].prog->refs++;
	}
	dst->n = src->n;
}

/* Adds @r (taking a reference to its program): 0 or -ENOSPC. */
static int policy_add(struct policy *p, const struct rule *r)
{
	size_t at;

	if (policy_find(p, r, &at))
		return 0;
	if (p->n >= MAX_RULES)
		return -ENOSPC;
	if (p->n == p->cap) {
		p->cap = p->cap * 2 + 16;
		p->r = realloc(p->r, p->cap * sizeof(*p->r));
		if (!p->r)
			abort();
	}
	memmove(&p->r[at + 1], &p->r[at], (p->n - at) * sizeof(*p->r));
	p->r[at] = *r;
	r->prog->refs++;
	p->n++;
	return 0;
}

static int policy_delete(struct policy *p, const struct rule *r)
{
	size_t at;

	if (!policy_find(p, r, &at))
		return -ENOENT;
	prog_put(p->r[at].prog);
	memmove(&p->r[at], &p->r[at + 1], (p->n - at - 1) * sizeof(*p->r));
	p->n--;
	return 0;
}

/* A path byte that the canonical text escapes. */
static bool must_escape(unsigned char c)
{
	return c <= ' ' || c == 0x7f || c == '\\';
}

static void put_escape(struct buf *b, unsigned char c)
{
	put_fmt(b, "\\%03o", c);
}

/* The canonical text of @p: what reading the policy file must show. */
static void policy_text(const struct policy *p, struct buf *b)
{
	size_t i, j;

	b->len = 0;
	for (i = 0; i < p->n; i++) {
		const struct rule *r = &p->r[i];

		if (r->first == r->last)
			put_fmt(b, "%u", r->first);
		else
			put_fmt(b, "%u-%u", r->first, r->last);
		put_str(b, r->protos == PROTO_TCP ? "/tcp " :
			   r->protos == PROTO_UDP ? "/udp " : " ");
		if (r->prog->bytes[0] == '<') {
			put_bytes(b, r->prog->bytes, r->prog->len);
		} else {
			for (j = 0; j < r->prog->len; j++) {
				if (must_escape(r->prog->bytes[j]))
					put_escape(b, r->prog->bytes[j]);
				else
					put_byte(b, r->prog->bytes[j]);
			}
		}
		put_byte(b, '\n');
	}
}

/* The grammar, as the admin guide states it. */

enum line_kind { L_BLANK, L_ADD, L_DELETE, L_CLEAR, L_LOCK, L_BAD };

static bool word_is(const unsigned char *w, size_t len, const char *s)
{
	return len == strlen(s) && !memcmp(w, s, len);
}

/* A port: 1-65535 in decimal, no leading zero; 0 if invalid. */
static unsigned int parse_port(const unsigned char *s, size_t len)
{
	unsigned int v = 0;
	size_t i;

	if (!len || len > 5 || (len > 1 && s[0] == '0'))
		return 0;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return 0;
		v = v * 10 + s[i] - '0';
	}
	return v <= 65535 ? v : 0;
}

/* PORTS[/PROTO] into @r; false if invalid. */
static bool parse_ports(const unsigned char *s, size_t len, struct rule *r)
{
	const unsigned char *slash = memchr(s, '/', len), *dash;
	size_t rlen = slash ? (size_t)(slash - s) : len;

	r->protos = PROTO_ALL;
	if (slash) {
		const unsigned char *proto = slash + 1;
		size_t plen = len - rlen - 1;

		if (word_is(proto, plen, "tcp"))
			r->protos = PROTO_TCP;
		else if (word_is(proto, plen, "udp"))
			r->protos = PROTO_UDP;
		else
			return false;
	}
	dash = memchr(s, '-', rlen);
	if (dash) {
		r->first = parse_port(s, dash - s);
		r->last = parse_port(dash + 1, rlen - (dash - s) - 1);
	} else {
		r->first = parse_port(s, rlen);
		r->last = r->first;
	}
	return r->first && r->last && r->first <= r->last;
}

/* The program: <kernel>, or a path with \ooo escapes decoded into @out. */
static bool parse_program(const unsigned char *s, size_t len, struct buf *out)
{
	size_t i, start;

	out->len = 0;
	if (word_is(s, len, "<kernel>")) {
		put_str(out, "<kernel>");
		return true;
	}
	for (i = 0; i < len; i++) {
		unsigned int v;

		if (s[i] < 0x20 || s[i] == 0x7f)
			return false;
		if (s[i] != '\\') {
			put_byte(out, s[i]);
			continue;
		}
		if (i + 4 > len || s[i + 1] < '0' || s[i + 1] > '7' ||
		    s[i + 2] < '0' || s[i + 2] > '7' || s[i + 3] < '0' ||
		    s[i + 3] > '7')
			return false;
		v = (s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + s[i + 3] - '0';
		if (!v || v > 255)
			return false;
		put_byte(out, v);
		i += 3;
	}
	/* Absolute, at most MAX_PATH bytes, normalised. */
	if (!out->len || out->p[0] != '/' || out->len > MAX_PATH)
		return false;
	if (out->len > 1 && out->p[out->len - 1] == '/')
		return false;
	for (start = 1; start <= out->len; ) {
		const unsigned char *c = out->p + start;
		const unsigned char *e = memchr(c, '/', out->len - start);
		size_t n = e ? (size_t)(e - c) : out->len - start;

		if (!n || (n == 1 && c[0] == '.') ||
		    (n == 2 && c[0] == '.' && c[1] == '.'))
			return false;
		start += n + 1;
	}
	return true;
}

static struct buf decoded;

/* One line without its newline; the rule of an add or delete in @r. */
static enum line_kind parse_line(const unsigned char *l, size_t len,
				 struct rule *r)
{
	const unsigned char *w[4];
	size_t wl[4], i = 0, j;
	int n = 0;

	if (len > MAX_TEXT_LINE || memchr(l, 0, len))
		return L_BAD;
	while (i < len) {
		if (l[i] == ' ' || l[i] == '\t') {
			i++;
			continue;
		}
		if (l[i] == '#')
			break;
		for (j = i; j < len && l[j] != ' ' && l[j] != '\t'; j++)
			;
		if (n == 4)
			return L_BAD;
		w[n] = l + i;
		wl[n++] = j - i;
		i = j;
	}
	if (!n)
		return L_BLANK;
	if (n == 1 && word_is(w[0], wl[0], "clear"))
		return L_CLEAR;
	if (n == 1 && word_is(w[0], wl[0], "lock"))
		return L_LOCK;
	if (n == 3 && word_is(w[0], wl[0], "delete") &&
	    parse_ports(w[1], wl[1], r) &&
	    parse_program(w[2], wl[2], &decoded))
		return L_DELETE;
	if (n == 2 && w[0][0] >= '0' && w[0][0] <= '9' &&
	    parse_ports(w[0], wl[0], r) &&
	    parse_program(w[1], wl[1], &decoded))
		return L_ADD;
	return L_BAD;
}

/* A transaction as the model runs it. */
struct sim {
	const struct policy *base;	/* the policy in force */
	struct policy staged;
	bool staging;			/* a command was seen */
	int err;			/* what doomed it, 0 if nothing */
	struct buf partial;		/* a line without its end yet */
	size_t line;			/* lines seen */
	size_t bad_line;		/* the line that doomed it */
	bool lock;			/* a "lock" line: must never be */
};

static int sim_line(struct sim *s, const unsigned char *l, size_t len)
{
	enum line_kind k;
	struct rule r;
	int ret = 0;

	s->line++;
	k = parse_line(l, len, &r);
	if (k == L_BAD)
		return -EINVAL;
	if (k == L_BLANK)
		return 0;
	if (k == L_LOCK) {
		s->lock = true;
		return 0;
	}
	if (!s->staging) {
		policy_copy(&s->staged, s->base);
		s->staging = true;
	}
	if (k == L_CLEAR) {
		policy_clear(&s->staged);
		return 0;
	}
	r.prog = prog_new(decoded.p, decoded.len);
	if (k == L_ADD)
		ret = policy_add(&s->staged, &r);
	else
		ret = policy_delete(&s->staged, &r);
	prog_put(r.prog);
	return ret;
}

/* One write(2): its predicted result, 0 or -errno. */
static int sim_write(struct sim *s, const unsigned char *data, size_t len)
{
	const unsigned char *nl;

	if (s->err)
		return s->err;
	while ((nl = memchr(data, '\n', len))) {
		size_t n = nl - data;
		int ret;

		if (!s->partial.len) {
			ret = sim_line(s, data, n);
		} else {
			put_bytes(&s->partial, data, n);
			ret = sim_line(s, s->partial.p, s->partial.len);
			s->partial.len = 0;
		}
		if (ret) {
			s->bad_line = s->line;
			return s->err = ret;
		}
		data = nl + 1;
		len -= n + 1;
	}
	if (s->partial.len + len > MAX_TEXT_LINE) {
		s->bad_line = s->line + 1;
		return s->err = -EINVAL;
	}
	put_bytes(&s->partial, data, len);
	return 0;
}

/* close(2): true if the staged policy is published. */
static bool sim_close(struct sim *s)
{
	if (s->err)
		return false;
	if (s->partial.len) {
		s->err = sim_line(s, s->partial.p, s->partial.len);
		if (s->err) {
			s->bad_line = s->line;
			return false;
		}
	}
	return s->staging;
}

/* The generator. */

/* Programs that lines name: some need escapes, some are not UTF-8. */
static struct prog *progs[24];
static unsigned int nprogs;

static void add_prog(const char *bytes, size_t len)
{
	progs[nprogs++] = prog_new((const unsigned char *)bytes, len);
}

static void init_progs(void)
{
	static const char *const fixed[] = {
		"/a", "/b", "/usr/sbin/kpr-fuzz", "/usr/sbin/kpr-fuzz2",
		"/opt/caf\xc3\xa9/srv", "/opt/\xff\xfe/bin",
		"/opt/my server/bin", "/opt/tab\there", "/back\\slash",
		"/ctl\x01\x1f\x7f", "/#hash", "/a/b/c/d/e/f/g",
		"/opt/a#b", "/x\x80y", "/\xed\xa0\x80", "/.a/..b/...",
		"<kernel>",
	};
	char path[MAX_PATH + 1];
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(fixed); i++)
		add_prog(fixed[i], strlen(fixed[i]));
	/* The longest paths: plain, and all escapes (a line of ~16 KiB). */
	memset(path, 'L', sizeof(path));
	path[0] = '/';
	add_prog(path, MAX_PATH);
	for (i = 1; i < MAX_PATH; i++)
		path[i] = i % 2 ? ' ' : '\\';
	add_prog(path, MAX_PATH);
}

static struct prog *random_prog(void)
{
	unsigned char path[64];
	size_t len = 0;
	unsigned int n = 1 + below(4), k;

	/* Components of random bytes but NUL and '/'. */
	while (n--) {
		path[len++] = '/';
		for (k = 1 + below(8); k; k--) {
			unsigned char c = one_in(4) ? 1 + below(255) :
						      'a' + below(26);

			path[len++] = c == '/' ? '_' : c;
		}
	}
	return prog_new(path, len);
}

/* Blanks between words. */
static void put_blanks(struct buf *b, bool optional)
{
	unsigned int n = optional ? below(3) : 1 + (one_in(4) ? below(3) : 0);

	while (n--)
		put_byte(b, one_in(3) ? '\t' : ' ');
}

/* A port number from a few that collide, or any. */
static unsigned int gen_port(void)
{
	static const unsigned int ports[] = {
		1, 2, 79, 80, 443, 1023, 1024, 8080, 20000, 20001, 20002,
		20003, 32768, 65534, 65535,
	};

	return one_in(8) ? 1 + below(65535) : ports[below(ARRAY_SIZE(ports))];
}

/* The text of a rule: ports, protocol, program, in a random valid form. */
static void put_rule(struct buf *b, const struct rule *r)
{
	bool escapes = one_in(8);
	size_t i;

	if (r->first == r->last && one_in(4))
		put_fmt(b, "%u-%u", r->first, r->first);
	else if (r->first == r->last)
		put_fmt(b, "%u", r->first);
	else
		put_fmt(b, "%u-%u", r->first, r->last);
	put_str(b, r->protos == PROTO_TCP ? "/tcp" :
		   r->protos == PROTO_UDP ? "/udp" : "");
	put_blanks(b, false);
	if (r->prog->bytes[0] == '<') {
		put_bytes(b, r->prog->bytes, r->prog->len);
		return;
	}
	for (i = 0; i < r->prog->len; i++) {
		unsigned char c = r->prog->bytes[i];

		if (must_escape(c) || (escapes && one_in(3)))
			put_escape(b, c);
		else
			put_byte(b, c);
	}
}

/*
 * A rule with a program of the pool (the longest ones seldom), or a random
 * one; it holds a reference to its program.
 */
static void gen_rule(struct rule *r)
{
	unsigned int span[] = { 0, 0, 0, 1, 2, 10, 100, 1000 };
	unsigned int last;

	r->first = gen_port();
	last = r->first + span[below(ARRAY_SIZE(span))];
	r->last = last > 65535 ? 65535 : last;
	r->protos = 1 + below(3);
	if (one_in(10)) {
		r->prog = random_prog();
	} else {
		r->prog = progs[one_in(256) ? nprogs - 1 - below(2) :
					     below(nprogs - 2)];
		r->prog->refs++;
	}
}

/* What the lines of a transaction did so far, for the next ones. */
struct gen {
	bool cleared;		/* a clear was written */
	bool missing;		/* deletes of rules that are not there */
	unsigned char *deleted;	/* rules of the policy deleted */
};

/*
 * A valid line; it fails only if @g->missing lets it delete a rule that is
 * not there (ENOENT).
 */
static void gen_valid_line(struct buf *b, const struct policy *p,
			   struct gen *g)
{
	unsigned int k = below(100), i = p->n ? below(p->n) : 0;
	struct rule r;

	put_blanks(b, true);
	if (k < 2) {
		put_str(b, "clear");
		g->cleared = true;
	} else if (k < 10) {
		/* Blank or comment. */
		if (one_in(2))
			put_str(b, "# a comment, with delete 1 /x");
	} else if (k < 35 && p->n && !g->cleared && !g->deleted[i]) {
		/* Delete a rule that is there. */
		put_str(b, "delete");
		put_blanks(b, false);
		put_rule(b, &p->r[i]);
		g->deleted[i] = 1;
	} else if (k < 40 && g->missing) {
		put_str(b, "delete");
		put_blanks(b, false);
		gen_rule(&r);
		put_rule(b, &r);
		prog_put(r.prog);
	} else {
		gen_rule(&r);
		put_rule(b, &r);
		prog_put(r.prog);
	}
	put_blanks(b, true);
	if (one_in(10))
		put_str(b, one_in(2) ? "# done" : "#");
}

/* Bytes that are not UTF-8, or not valid sequences. */
static const char *const bad_utf8[] = {
	"\xc3", "\xff", "\xfe\xfe", "\xed\xa0\x80", "\xc0\xaf", "\xe2\x82",
	"\xf8\x88\x80\x80\x80", "\x80",
};

static const char *const bad_escapes[] = {
	"\\", "\\0", "\\07", "\\08", "\\000", "\\400", "\\777", "\\x41",
	"\\\\", "\\ ", "\\9", "\\0000",
};

static const char *const good_escapes[] = {
	"\\057", "\\056", "\\056\\056", "\\040", "\\011", "\\134", "\\001",
	"\\377", "\\200", "\\043", "\\012",
};

static const char *const commands[] = {
	"clear x", "CLEAR", "Clear", "clear#x", "clear #x", "delete",
	"delete 1", "delete /x", "delete 1 /x /y", "frobnicate", "add 1 /x",
	"reset", "lock now", "Lock", "unlock", "#", "   ", "\tclear\t",
	"delete\t1\t/x", "1", "1 /x /y", "/x 1", "1 x", "1 ./x", "1 <kern>",
	"1 <KERNEL>", "1 <kernel>x", "1 kernel", "1 #/x", "1 /", "1 //x",
	"1 /a//b", "1 /a/./b", "1 /a/../b", "1 /a/", "1 /a/.", "1 /a/..",
};

static const char *const bad_ports[] = {
	"0", "65536", "99999", "4294967297", "007", "+1", "-1", "1-", "-",
	"2-1", "1--2", "0x10", "1e3", "\xd9\xa1", "1 - 2", "01-2", "1-02",
	"65535-65536", "1/", "1/TCP", "1/sctp", "1/tcp/udp", "1/udpx",
	"1/tcp,udp", "1-2/", "/tcp",
};

/* Mutates the line that starts at @start of @b. */
static void mutate(struct buf *b, size_t start)
{
	size_t len = b->len - start, at = start + (len ? below(len + 1) : 0);
	size_t want;
	struct buf tail = {};
	const char *ins = NULL;
	unsigned int k = below(15);
	unsigned char c;

	/* Huge lines (the last two cases) cost time: fewer of them. */
	if (k >= 13 && !one_in(4))
		k = below(13);
	switch (k) {
	case 0:
		ins = "\0";
		break;
	case 1:
		if (len) {
			b->p[start + below(len)] = rnd();
			return;
		}
		break;
	case 2:
		/* Random bytes, newlines and all. */
		put_bytes(&tail, b->p + at, b->len - at);
		b->len = at;
		for (k = 1 + below(8); k; k--)
			put_byte(b, rnd());
		put_bytes(b, tail.p, tail.len);
		free(tail.p);
		return;
	case 3:
		if (len) {
			k = below(len - (at - start) + 1);
			memmove(b->p + at, b->p + at + k, b->len - at - k);
			b->len -= k;
			return;
		}
		break;
	case 4:
		ins = bad_utf8[below(ARRAY_SIZE(bad_utf8))];
		break;
	case 5:
		c = one_in(4) ? 0x7f : below(0x20);
		put_bytes(&tail, b->p + at, b->len - at);
		b->len = at;
		put_byte(b, c);
		put_bytes(b, tail.p, tail.len);
		free(tail.p);
		return;
	case 6:
		ins = bad_escapes[below(ARRAY_SIZE(bad_escapes))];
		break;
	case 7:
		ins = good_escapes[below(ARRAY_SIZE(good_escapes))];
		break;
	case 8:
		b->len = start;
		put_str(b, commands[below(ARRAY_SIZE(commands))]);
		return;
	case 9:
		b->len = start;
		put_str(b, one_in(3) ? "delete " : "");
		put_str(b, bad_ports[below(ARRAY_SIZE(bad_ports))]);
		put_str(b, " /usr/sbin/kpr-fuzz");
		return;
	case 10:
		put_byte(b, '\r');
		return;
	case 11:
		b->len = at;
		return;
	case 12:
		/*
		 * Around the longest line taken, and valid but for its
		 * length: a comment, or the line with blanks or a comment
		 * after it.
		 */
		k = below(3);
		if (!k) {
			b->len = start;
			put_byte(b, '#');
		} else if (k == 2) {
			put_str(b, " #");
		}
		want = MAX_TEXT_LINE - 2 + below(5);
		buf_reserve(b, want);
		while (b->len - start < want)
			b->p[b->len++] = k != 1 ? 'a' + below(26) :
				one_in(2) ? ' ' : '\t';
		return;
	case 13:
		/* Far beyond the longest line. */
		k = MAX_TEXT_LINE + below(3 * MAX_TEXT_LINE);
		buf_reserve(b, k);
		while (b->len - start < k)
			b->p[b->len++] = one_in(2) ? ' ' : 'a' + below(26);
		return;
	default:
		/* A path of MAX_PATH + 1 bytes, plain or escaped. */
		b->len = start;
		put_str(b, "1 /");
		for (k = 1; k < MAX_PATH + below(2); k++)
			put_str(b, one_in(2) ? "p" : "\\160");
		return;
	}
	if (!ins)
		return;
	put_bytes(&tail, b->p + at, b->len - at);
	b->len = at;
	put_bytes(b, ins, *ins ? strlen(ins) : 1);
	put_bytes(b, tail.p, tail.len);
	free(tail.p);
}

/* A whole transaction's text; @garbage: mutate some lines. */
static void gen_txn(struct buf *b, const struct policy *p, bool garbage)
{
	unsigned int n = one_in(4) ? 1 + below(400) : 1 + below(40), i;
	/* Mutations: a few in a garbage transaction, rarely one elsewhere. */
	unsigned int m = garbage ? 1 + (one_in(3) ? below(4) : 0) : one_in(50);
	struct gen g = { .missing = one_in(4) };
	unsigned char *s;

	g.deleted = calloc(p->n + 1, 1);
	if (!g.deleted)
		abort();
	b->len = 0;
	/* Keep the policy small: clear it now and then. */
	if (p->n > 300 || one_in(50)) {
		put_str(b, "clear\n");
		g.cleared = true;
	}
	for (i = 0; i < n; i++) {
		size_t start = b->len;

		gen_valid_line(b, p, &g);
		if (below(n) < m)
			mutate(b, start);
		put_byte(b, '\n');
	}
	free(g.deleted);
	/* Lines joined, lines split, an unterminated last line. */
	if (garbage && b->len && one_in(4))
		b->p[below(b->len)] = '\n';
	if (b->len && one_in(10))
		b->len--;
	/* Never "lock": it lasts until reboot. */
	for (s = b->p; b->len >= 4 &&
	     (s = memmem(s, b->len - (s - b->p), "lock", 4)); s += 4)
		*s = 'L';
}

/* The test. */

struct stats {
	unsigned long long lines, txns, accepted, changed, refused, dropped;
	unsigned long long einval, enoent, enospc, bytes, writes, trips;
};

static unsigned long long env_ull(const char *name, unsigned long long def)
{
	const char *s = getenv(name);

	return s && *s ? strtoull(s, NULL, 0) : def;
}

static unsigned int fuzz_seconds(void)
{
	return env_ull("KPR_FUZZ_SECONDS", 20);
}

/* The first bytes of @len of @p, escaped as the kernel log shows them. */
static const char *shown(const unsigned char *p, size_t len)
{
	static char out[4 * 120 + 8];
	size_t i, o = 0;

	for (i = 0; i < len && i < 120; i++) {
		if (p[i] == ' ' || (p[i] > ' ' && p[i] < 0x7f && p[i] != '\\'))
			out[o++] = p[i];
		else
			o += sprintf(out + o, "\\%03o", p[i]);
	}
	if (i < len)
		o += sprintf(out + o, "...");
	out[o] = '\0';
	return out;
}

/* Line @n (from 1) of @b, for a report. */
static const char *nth_line(const struct buf *b, size_t n)
{
	const unsigned char *s = b->p, *end = b->p + b->len, *nl;

	while (--n && s < end) {
		nl = memchr(s, '\n', end - s);
		s = nl ? nl + 1 : end;
	}
	nl = memchr(s, '\n', end - s);
	return shown(s, (nl ? nl : end) - s);
}

/* Reads the policy into @b. */
static int read_back(struct buf *b)
{
	char *p = read_policy();

	if (!p)
		return -errno;
	b->len = 0;
	put_str(b, p);
	free(p);
	return 0;
}

/* Where @a and @b first differ. */
static size_t differ_at(const struct buf *a, const struct buf *b)
{
	size_t i;

	for (i = 0; i < a->len && i < b->len && a->p[i] == b->p[i]; i++)
		;
	return i;
}

FIXTURE(fuzz) {};

FIXTURE_SETUP(fuzz)
{
	policy_ready(_metadata);
}

FIXTURE_TEARDOWN_PARENT(fuzz)
{
	write_policy("clear\n");
}

TEST_F_TIMEOUT(fuzz, policy_file, 80)
{
	unsigned long long target = env_ull("KPR_FUZZ_LINES", 100000);
	unsigned long long seed = env_ull("KPR_FUZZ_SEED", time(NULL));
	unsigned int secs = fuzz_seconds();
	struct policy model = {};
	struct buf txn = {}, expect = {}, got = {}, trip = {}, prev = {};
	struct stats st = {};
	struct timespec t0, t;
	double elapsed = 0;
	size_t i;

	TH_LOG("seed %llu (KPR_FUZZ_SEED), %llu lines (KPR_FUZZ_LINES)",
	       seed, target);
	TH_LOG("at most %u s (KPR_FUZZ_SECONDS, 0: no limit)", secs);
	rng_state = seed * 0x9e3779b97f4a7c15ULL + 1;
	if (!rng_state)
		rng_state = 1;
	init_progs();
	ASSERT_EQ(0, read_back(&got));
	ASSERT_EQ(0UL, got.len);
	clock_gettime(CLOCK_MONOTONIC, &t0);

	while (st.lines < target && (!secs || elapsed < secs)) {
		struct sim sim = { .base = &model };
		size_t off = 0, nwrites = 0;
		bool garbage = one_in(2), published;
		unsigned int mode = below(5);
		int fd, refused;

		gen_txn(&txn, &model, garbage);
		/* Tiny pieces for small transactions only. */
		if (mode == 1 && txn.len > 16384)
			mode = 2;
		for (i = 0; i < txn.len; i++)
			st.lines += txn.p[i] == '\n';
		st.lines += txn.len && txn.p[txn.len - 1] != '\n';
		st.bytes += txn.len;
		st.txns++;

		fd = open(KPR_POLICY, O_WRONLY | O_CLOEXEC);
		ASSERT_LE(0, fd)
		{
			TH_LOG("open: %s", strerror(errno));
		}
		while (off < txn.len) {
			size_t n;
			ssize_t w;
			int want, ret;

			/* Pieces of one byte to the whole text. */
			switch (mode) {
			case 0:
				n = txn.len;
				break;
			case 1:
				n = 1 + below(txn.len < 256 ? 4 : 64);
				break;
			case 2:
				n = 1 + below(4096);
				break;
			default:
				n = 1 + below(txn.len);
			}
			if (n > txn.len - off)
				n = txn.len - off;
			want = sim_write(&sim, txn.p + off, n);
			w = write(fd, txn.p + off, n);
			ret = w < 0 ? -errno : 0;
			nwrites++;
			st.writes++;
			ASSERT_FALSE(sim.lock);
			ASSERT_EQ(want, ret)
			{
				TH_LOG("transaction %llu (seed %llu), write %zu",
				       st.txns, seed, nwrites);
				TH_LOG("of bytes %zu-%zu: %s instead of %s",
				       off, off + n,
				       ret ? strerror(-ret) : "success",
				       want ? strerror(-want) : "success");
				TH_LOG("model: line %zu: \"%s\"",
				       sim.bad_line ? sim.bad_line : sim.line + 1,
				       nth_line(&txn, sim.bad_line ?
						sim.bad_line : sim.line + 1));
			}
			ASSERT_TRUE(w < 0 || (size_t)w == n);
			off += n;
		}
		ASSERT_EQ(0, close(fd));
		refused = sim.err;
		published = sim_close(&sim);
		ASSERT_FALSE(sim.lock);

		if (sim.err && !refused) {
			/* A bad unterminated last line: found at close. */
			st.dropped++;
		} else if (sim.err) {
			if (sim.err == -EINVAL)
				st.einval++;
			else if (sim.err == -ENOENT)
				st.enoent++;
			else if (sim.err == -ENOSPC)
				st.enospc++;
			st.refused++;
		} else {
			st.accepted++;
		}
		if (published)
			policy_copy(&model, &sim.staged);
		policy_clear(&sim.staged);
		free(sim.staged.r);
		free(sim.partial.p);

		/* The read-back: the policy before, or the model's. */
		policy_text(&model, &expect);
		ASSERT_EQ(0, read_back(&got));
		ASSERT_TRUE(expect.len == got.len &&
			    !memcmp(expect.p, got.p, got.len))
		{
			size_t at = differ_at(&expect, &got);

			TH_LOG("transaction %llu (seed %llu, %s):",
			       st.txns, seed, sim.err ? "refused" : "accepted");
			TH_LOG("the policy reads back differently at byte %zu of %zu:",
			       at, got.len);
			TH_LOG("read:     \"%s\"", shown(got.p + at, got.len - at));
			TH_LOG("expected: \"%s\"",
			       shown(expect.p + at, expect.len - at));
		}
		if (got.len != prev.len || memcmp(got.p, prev.p, got.len))
			st.changed++;
		prev.len = 0;
		put_bytes(&prev, got.p, got.len);

		/* Written back after a clear, it reads back the same. */
		if ((published && !sim.err && garbage) || st.txns % 16 == 0) {
			trip.len = 0;
			put_str(&trip, "clear\n");
			put_bytes(&trip, got.p, got.len);
			put_byte(&trip, '\0');
			ASSERT_EQ(0, write_policy((char *)trip.p));
			ASSERT_EQ(0, read_back(&trip));
			ASSERT_TRUE(trip.len == got.len &&
				    !memcmp(trip.p, got.p, got.len))
			{
				TH_LOG("transaction %llu (seed %llu):", st.txns,
				       seed);
				TH_LOG("written back, it reads back differently at byte %zu",
				       differ_at(&trip, &got));
			}
			st.trips++;
		}
		clock_gettime(CLOCK_MONOTONIC, &t);
		elapsed = t.tv_sec - t0.tv_sec + (t.tv_nsec - t0.tv_nsec) / 1e9;
	}

	TH_LOG("%llu lines in %llu transactions (%llu bytes, %llu writes) in %.1f s",
	       st.lines, st.txns, st.bytes, st.writes, elapsed);
	TH_LOG("%llu accepted (%llu changed the policy), %llu dropped at close",
	       st.accepted, st.changed, st.dropped);
	TH_LOG("%llu refused (EINVAL %llu, ENOENT %llu, ENOSPC %llu); %llu written back",
	       st.refused, st.einval, st.enoent, st.enospc, st.trips);
	policy_clear(&model);
	free(model.r);
	free(txn.p);
	free(expect.p);
	free(got.p);
	free(trip.p);
	free(prev.p);
	EXPECT_LT(0ULL, st.accepted);
	EXPECT_LT(0ULL, st.refused);
}

/* The harness's timeout follows KPR_FUZZ_SECONDS. */
static void __attribute__((constructor(KSELFTEST_PRIO_TEST + 1)))
fuzz_timeout(void)
{
	unsigned int secs = fuzz_seconds();

	_fuzz_policy_file_object->timeout = secs ? secs + 60 : 24 * 3600;
}

TEST_HARNESS_MAIN
