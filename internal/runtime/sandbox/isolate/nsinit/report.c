/* Error reporting of the C init step.
 *
 * The parent formats the message: the init step sends the Go format of
 * the message, its string arguments and the errno, so that quoting and the
 * errno text are Go's own and the messages match the Go init step's. The
 * message is one write on the status pipe or socket: a NUL byte, then the
 * errno in decimal, the format and each argument, each ended by a NUL. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nsinit.h"

#define MAX_ARGS 8

static int status_fd = -1;

/* The arena, when set, serves allocations instead of malloc: a child of
 * the fork server shares the server's memory, where whatever it left
 * allocated would stay for good. */
static char *arena;
static size_t arena_len, arena_used;

void nsinit_use_arena(char *buf, size_t len)
{
	arena = buf;
	arena_len = len;
	arena_used = 0;
}

/* allocate takes n bytes from the arena or malloc; NULL when out. */
static void *allocate(size_t n)
{
	if (!arena)
		return malloc(n ? n : 1);
	size_t need = (n + 15) & ~(size_t)15;
	if (need < n || need > arena_len - arena_used)
		return NULL;
	void *p = arena + arena_used;
	arena_used += need;
	return p;
}

void nsinit_set_status_fd(int fd) { status_fd = fd; }

/* count_args is the number of string verbs (%s, %q) in fmt. */
static int count_args(const char *fmt)
{
	int n = 0;
	for (const char *p = fmt; *p; p++) {
		if (*p != '%')
			continue;
		p++;
		if (*p == 's' || *p == 'q')
			n++;
		if (!*p)
			break;
	}
	return n > MAX_ARGS ? MAX_ARGS : n;
}

/* write_stderr renders the message roughly, for when the parent is gone. */
static void write_stderr(int errnum, const char *fmt, const char **args, int nargs)
{
	int a = 0;
	for (const char *p = fmt; *p; p++) {
		if (*p != '%' || !p[1]) {
			fputc(*p, stderr);
			continue;
		}
		p++;
		if ((*p == 's' || *p == 'q') && a < nargs)
			fprintf(stderr, *p == 'q' ? "\"%s\"" : "%s", args[a++]);
		else if (*p == 'v')
			fputs(strerror(errnum), stderr);
		else
			fputc(*p, stderr);
	}
	fputc('\n', stderr);
}

void nsinit_fail(int code, int errnum, const char *fmt, ...)
{
	const char *args[MAX_ARGS];
	int nargs = count_args(fmt);
	va_list ap;
	va_start(ap, fmt);
	for (int i = 0; i < nargs; i++)
		args[i] = va_arg(ap, const char *);
	va_end(ap);

	char num[24];
	snprintf(num, sizeof num, "%d", errnum);
	size_t len = 1 + strlen(num) + 1 + strlen(fmt) + 1;
	for (int i = 0; i < nargs; i++)
		len += strlen(args[i]) + 1;
	char *msg = allocate(len);
	if (msg) {
		char *p = msg;
		*p++ = '\0';
		p = stpcpy(p, num) + 1;
		p = stpcpy(p, fmt) + 1;
		for (int i = 0; i < nargs; i++)
			p = stpcpy(p, args[i]) + 1;
	}
	ssize_t n;
	do {
		n = (msg && status_fd >= 0) ? write(status_fd, msg, len) : -1;
	} while (n < 0 && errno == EINTR);
	if (n != (ssize_t)len)
		write_stderr(errnum, fmt, args, nargs);
	if (status_fd >= 0)
		close(status_fd);
	_exit(code);
}

const char *nsinit_itoa(int slot, long long n)
{
	static char bufs[4][24];
	slot &= 3;
	snprintf(bufs[slot], sizeof bufs[slot], "%lld", n);
	return bufs[slot];
}

void *nsinit_xmalloc(size_t n)
{
	void *p = allocate(n);
	if (!p)
		nsinit_die(ENOMEM, "sandbox: allocating memory: %v");
	return p;
}
