/* Entry of the C init step: a constructor that runs before the Go
 * runtime starts and, when the process was started as the init step,
 * does the whole of its work and execs the container or exits. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "nsinit.h"

#define USAGE "usage: " NSINIT_SUBCOMMAND " SPEC_FD STATUS_FD\n"

/* The most descriptors accepted with a pending container: stdio and the
 * network namespace, with room to notice a sender that passes more. */
#define MAX_PASSED_FDS 8

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

/* receive takes the container's spec and descriptors from the socket;
 * it exits quietly when the socket closes without a container. */
static char *receive(int sock, size_t *len, int *fds, int *nfds)
{
	char *buf = nsinit_xmalloc(NSINIT_MAX_SPEC);
	union {
		struct cmsghdr hdr;
		char space[CMSG_SPACE(MAX_PASSED_FDS * sizeof(int))];
	} oob;
	struct iovec iov = {buf, NSINIT_MAX_SPEC};
	struct msghdr msg = {0};
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = oob.space;
	msg.msg_controllen = sizeof oob.space;
	ssize_t n;
	do {
		n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		nsinit_fail(0, errno, "sandbox: receiving spec: %v");
	if (n == 0 && msg.msg_controllen == 0)
		_exit(0);
	*nfds = 0;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < count && *nfds < MAX_PASSED_FDS; i++)
			memcpy(&fds[(*nfds)++], CMSG_DATA(c) + i * sizeof(int), sizeof(int));
	}
	*len = (size_t)n;
	return buf;
}

static int in(const int *fds, int n, int fd)
{
	for (int i = 0; i < n; i++)
		if (fds[i] == fd)
			return 1;
	return 0;
}

/* install_stdio makes the received descriptors 0, 1 and 2. */
static void install_stdio(int sock, const int *fds)
{
	for (int i = 0; i < 3; i++) {
		if (fds[i] == i) {
			/* Already in place; only the close-on-exec flag must go. */
			if (fcntl(i, F_SETFD, 0) != 0)
				nsinit_fail(0, errno, "sandbox: installing stdio: %v");
			continue;
		}
		if (dup3(fds[i], i, 0) < 0)
			nsinit_fail(0, errno, "sandbox: installing stdio: %v");
	}
	for (int i = 0; i < 3; i++)
		if (fds[i] > 2 && fds[i] != sock && !in(fds, i, fds[i]))
			close(fds[i]);
}

/* set_session makes the process lead a new process group, or a new
 * session with stdin as its controlling terminal. */
static void set_session(int terminal)
{
	if (!terminal) {
		if (setpgid(0, 0) != 0)
			nsinit_die(errno, "sandbox: setting process group: %v");
		return;
	}
	if (setsid() < 0)
		nsinit_die(errno, "sandbox: creating session: %v");
	if (ioctl(0, TIOCSCTTY, 0) != 0)
		nsinit_die(errno, "sandbox: setting controlling terminal: %v");
}

/* pending_main is the init step of Prestart: it waits on its socket for
 * the container. */
static void pending_main(const char *sock_arg)
{
	int sock = nsinit_parse_fd(sock_arg);
	if (sock < 3)
		usage_exit(NSINIT_SUBCOMMAND ": bad descriptor argument\n");
	set_cloexec(sock);
	nsinit_set_status_fd(sock);
	size_t len;
	int fds[MAX_PASSED_FDS], nfds = 0;
	char *buf = receive(sock, &len, fds, &nfds);
	struct nsinit_spec sp;
	decode_or_fail(0, buf, len, &sp);
	/* After the stdio comes the pod's network namespace, when it has one. */
	int want = sp.netns[0] ? 4 : 3;
	if (nfds != want)
		nsinit_fail(0, 0, "sandbox: received %s descriptors, want %s", nsinit_itoa(0, nfds), nsinit_itoa(1, want));
	if (want == 4)
		sp.netns_fd = fds[3];
	install_stdio(sock, fds);
	set_session(sp.terminal);
	nsinit_exec_container(&sp);
}

__attribute__((constructor)) static void nsinit_main(int argc, char **argv)
{
	if (argc < 2 || !argv || !argv[1] || strcmp(argv[1], NSINIT_SUBCOMMAND) != 0)
		return;
	if (argc == 4 && strcmp(argv[2], NSINIT_PENDING_ARG) == 0)
		pending_main(argv[3]);
	if (argc != 4)
		usage_exit(USAGE);
	wrapped_main(argv[2], argv[3]);
}
