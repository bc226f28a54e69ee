/* Decoding of the spec wire format written by wire.go in package isolate:
 * a sequence of fields, each ended by a NUL byte, parsed in place. */
#include <string.h>

#include "nsinit.h"

#define WIRE_MAGIC "batchlet-init-1"
#define FLAG_NAMESPACES 1
#define FLAG_TERMINAL 2
#define FLAG_CAPABILITIES 4

struct cursor {
	char *p, *end;
	const char *err;
};

static const char *field(struct cursor *c)
{
	if (c->err)
		return NULL;
	char *nul = memchr(c->p, '\0', (size_t)(c->end - c->p));
	if (!nul) {
		c->err = "truncated";
		return NULL;
	}
	char *f = c->p;
	c->p = nul + 1;
	return f;
}

/* parse_uint accepts 1 to 9 decimal digits; -1 otherwise. */
static long parse_uint(const char *s)
{
	long n = 0;
	size_t len = strlen(s);
	if (len == 0 || len > 9)
		return -1;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		n = n * 10 + (*p - '0');
	}
	return n;
}

int nsinit_parse_fd(const char *s) { return (int)parse_uint(s); }

static long number(struct cursor *c)
{
	const char *f = field(c);
	if (!f)
		return -1;
	long n = parse_uint(f);
	if (n < 0)
		c->err = "bad number";
	return n;
}

/* hex reads a 64-bit set of 1 to 16 lower-case hexadecimal digits. */
static unsigned long long hex(struct cursor *c)
{
	const char *f = field(c);
	if (!f)
		return 0;
	size_t len = strlen(f);
	unsigned long long n = 0;
	if (len == 0 || len > 16)
		c->err = "bad capability set";
	for (const char *p = f; !c->err && *p; p++) {
		if (*p >= '0' && *p <= '9')
			n = n << 4 | (unsigned long long)(*p - '0');
		else if (*p >= 'a' && *p <= 'f')
			n = n << 4 | (unsigned long long)(*p - 'a' + 10);
		else
			c->err = "bad capability set";
	}
	return c->err ? 0 : n;
}

/* list reads a count and that many strings into a NULL-terminated array.
 * Every field takes at least its NUL, which bounds the count. */
static char **list(struct cursor *c, size_t *len)
{
	long n = number(c);
	if (n < 0)
		return NULL;
	if (n > c->end - c->p) {
		c->err = "truncated";
		return NULL;
	}
	char **out = nsinit_xmalloc(((size_t)n + 1) * sizeof *out);
	for (long i = 0; i < n; i++) {
		out[i] = (char *)field(c);
		if (!out[i])
			return NULL;
	}
	out[n] = NULL;
	*len = (size_t)n;
	return out;
}

static int mounts(struct cursor *c, struct nsinit_spec *sp)
{
	long n = number(c);
	if (n < 0)
		return -1;
	if (n > (c->end - c->p) / 3) {
		c->err = "truncated";
		return -1;
	}
	sp->mounts = nsinit_xmalloc((size_t)n * sizeof *sp->mounts);
	sp->nmounts = (size_t)n;
	for (long i = 0; i < n; i++) {
		struct nsinit_mount *m = &sp->mounts[i];
		m->source = field(c);
		m->target = field(c);
		const char *ro = field(c);
		if (!ro)
			return -1;
		if (strcmp(ro, "0") != 0 && strcmp(ro, "1") != 0) {
			c->err = "bad read-only flag";
			return -1;
		}
		m->read_only = ro[0] == '1';
	}
	return 0;
}

int nsinit_decode(char *buf, size_t len, struct nsinit_spec *sp, const char **detail)
{
	struct cursor c = {buf, buf + len, NULL};
	memset(sp, 0, sizeof *sp);
	const char *magic = field(&c);
	if (magic && strcmp(magic, WIRE_MAGIC) != 0)
		c.err = "unknown format";
	long flags = number(&c);
	if (!c.err && (flags & ~(long)(FLAG_NAMESPACES | FLAG_TERMINAL | FLAG_CAPABILITIES)))
		c.err = "unknown flags";
	sp->namespaces = (flags & FLAG_NAMESPACES) != 0;
	sp->terminal = (flags & FLAG_TERMINAL) != 0;
	sp->limit_caps = !c.err && (flags & FLAG_CAPABILITIES) != 0;
	sp->netns_fd = (int)number(&c);
	sp->hostname = field(&c);
	sp->scratch_dir = field(&c);
	sp->netns = field(&c);
	sp->path = field(&c);
	sp->dir = field(&c);
	if (!c.err)
		sp->args = list(&c, &sp->nargs);
	if (!c.err)
		sp->env = list(&c, &sp->nenv);
	if (!c.err)
		sp->cgroup_procs = list(&c, &sp->ncgroup_procs);
	if (!c.err)
		mounts(&c, sp);
	if (!c.err && sp->limit_caps)
		sp->caps = hex(&c);
	if (!c.err && c.p != c.end)
		c.err = "trailing bytes";
	*detail = c.err;
	return c.err ? -1 : 0;
}
