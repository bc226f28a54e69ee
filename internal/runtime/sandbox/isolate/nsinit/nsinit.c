/* Entry of the C init step: a constructor that runs before the Go
 * runtime starts and, when the process was started as the init step,
 * does the whole of its work and execs the container or exits. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nsinit.h"

#define USAGE "usage: " NSINIT_SUBCOMMAND " SPEC_FD STATUS_FD\n"

static void usage_exit(const char *msg)
{
	fputs(msg, stderr);
	_exit(2);
}

static void set_cloexec(int fd)
{
	int flags = fcntl(fd, F_GETFD);
	if (flags >= 0)
		fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
}

/* read_spec reads the spec pipe to its end. */
static char *read_spec(int fd, size_t *len)
{
	size_t n = 0, cap = 4096;
	char *buf = nsinit_xmalloc(cap);
	for (;;) {
		if (n == cap) {
			if (cap >= NSINIT_MAX_SPEC)
				nsinit_die(0, "sandbox: reading spec: more than %s bytes", nsinit_itoa(0, NSINIT_MAX_SPEC));
			char *grown = nsinit_xmalloc(cap * 2);
			memcpy(grown, buf, n);
			buf = grown;
			cap *= 2;
		}
		ssize_t r = read(fd, buf + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			nsinit_die(errno, "sandbox: reading spec: read spec: %v");
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	*len = n;
	return buf;
}

static void decode_or_fail(int code, char *buf, size_t len, struct nsinit_spec *sp)
{
	const char *detail;
	if (nsinit_decode(buf, len, sp, &detail) != 0)
		nsinit_fail(code, 0, "sandbox: decoding spec: %s", detail);
}

/* wrapped_main is the init step of Wrap: spec pipe and status pipe. */
static void wrapped_main(const char *spec_arg, const char *status_arg)
{
	int spec_fd = nsinit_parse_fd(spec_arg), status_fd = nsinit_parse_fd(status_arg);
	if (spec_fd < 3 || status_fd < 3)
		usage_exit(NSINIT_SUBCOMMAND ": bad descriptor arguments\n");
	/* The status pipe closes by itself when the command is exec'd: an
	 * empty read tells the parent that the container runs. */
	set_cloexec(status_fd);
	set_cloexec(spec_fd);
	nsinit_set_status_fd(status_fd);
	size_t len;
	char *buf = read_spec(spec_fd, &len);
	struct nsinit_spec sp;
	decode_or_fail(128, buf, len, &sp);
	nsinit_exec_container(&sp);
}

__attribute__((constructor)) static void nsinit_main(int argc, char **argv)
{
	if (argc < 2 || !argv || !argv[1] || strcmp(argv[1], NSINIT_SUBCOMMAND) != 0)
		return;
	if (argc == 4 && strcmp(argv[2], NSINIT_FORK_SERVER_ARG) == 0)
		nsinit_fork_server(argv[3]);
	if (argc != 4)
		usage_exit(USAGE);
	wrapped_main(argv[2], argv[3]);
}
