/* The fork server: one long-lived init step that makes every container
 * of its supervisor by cloning itself, instead of one init step exec'd
 * per container, which would cost an exec of the shim binary and the
 * teardown of that image again at the container's exec.
 *
 * Each child shares the server's memory until it execs (CLONE_VM and
 * CLONE_VFORK, as posix_spawn does): no page tables are copied and no
 * page is copied on write. The server waits meanwhile, so the child has
 * the memory to itself; it runs on a stack of its own and allocates only
 * from an arena the server reuses for the next child, so that nothing it
 * leaves behind accumulates. It has its own descriptor table, so what it
 * opens, installs and closes is its own.
 *
 * The children are cloned with CLONE_PARENT: they are the supervisor's
 * own children, so the supervisor reaps them and learns their exit
 * statuses as for any process it started.
 *
 * Protocol on the SOCK_SEQPACKET socket (forkserver.go in package
 * isolate has the other side): the server first sends "R" (ready). Each
 * request is one message: the spec in the wire format, with the
 * descriptors status, stdin, stdout, stderr and, when the spec names one,
 * the network namespace. The status descriptor is the write end of a pipe
 * the child reports a setup error on and that closes at the container's
 * exec. Each request is answered with "P<pid>" as soon as the child
 * exists, by the child itself before its setup (the server waits until
 * the setup is done), or with "E<message>" when no child could be made. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "nsinit.h"

/* status, stdio and the network namespace, with room to notice more. */
#define MAX_REQUEST_FDS 8

/* The child's stack, and the arena its allocations come from: mapped
 * once, touched only as far as used. */
#define CHILD_STACK_SIZE (1 << 20)
#define CHILD_ARENA_SIZE (64 << 20)

static char *child_stack, *child_arena;

/* Shared with the child: its pid as the server sees it (the kernel
 * stores it before the child runs) and whether it sent it. */
static volatile pid_t child_pid;
static volatile int child_answered;

struct child_args {
	int sock;
	struct nsinit_spec *sp;
	const int *fds;
};

/* reply sends one answer; 0 when it went out. A supervisor that went
 * away closes the socket, and the next receive ends the server. */
static int reply(int sock, const char *kind, const char *text)
{
	char msg[512];
	int n = snprintf(msg, sizeof msg, "%s%s", kind, text);
	if (n < 0)
		return -1;
	if ((size_t)n >= sizeof msg)
		n = sizeof msg - 1;
	ssize_t w;
	do {
		w = send(sock, msg, (size_t)n, MSG_NOSIGNAL);
	} while (w < 0 && errno == EINTR);
	return w == n ? 0 : -1;
}

static void close_all(const int *fds, int n)
{
	for (int i = 0; i < n; i++)
		close(fds[i]);
}

static void free_spec(struct nsinit_spec *sp)
{
	free(sp->args);
	free(sp->env);
	free(sp->cgroup_procs);
	free(sp->mounts);
	memset(sp, 0, sizeof *sp);
}

/* child goes on as the container's init step: it never returns. */
static int child(void *arg)
{
	struct child_args *a = arg;
	int sock = a->sock;
	struct nsinit_spec *sp = a->sp;
	const int *fds = a->fds;
	nsinit_use_arena(child_arena, CHILD_ARENA_SIZE);
	/* The caller learns the pid now: a setup that hangs (a mount of a
	 * dead network filesystem) holds up the server, not the answer. */
	if (reply(sock, "P", nsinit_itoa(0, child_pid)) == 0)
		child_answered = 1;
	close(sock);
	/* Received close-on-exec: the pipe closes at the container's exec. */
	nsinit_set_status_fd(fds[0]);
	if (sp->netns[0])
		sp->netns_fd = fds[4];
	for (int i = 0; i < 3; i++) {
		if (dup2(fds[1 + i], i) < 0)
			nsinit_fail(0, errno, "sandbox: installing stdio: %v");
	}
	for (int i = 1; i < 4; i++)
		if (fds[i] > 2)
			close(fds[i]);
	/* The server's signal state is the default one; the child's mask and
	 * dispositions are what an exec'd init step would have. */
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (!sp->namespaces)
		nsinit_template_leave();
	if (!sp->terminal) {
		if (setpgid(0, 0) != 0)
			nsinit_die(errno, "sandbox: setting process group: %v");
	} else {
		if (setsid() < 0)
			nsinit_die(errno, "sandbox: creating session: %v");
		if (ioctl(0, TIOCSCTTY, 0) != 0)
			nsinit_die(errno, "sandbox: setting controlling terminal: %v");
	}
	nsinit_exec_container(sp);
	return 0;
}

/* serve_one handles one request; it returns 0 when the socket closed. */
static int serve_one(int sock, char *buf)
{
	union {
		struct cmsghdr hdr;
		char space[CMSG_SPACE(MAX_REQUEST_FDS * sizeof(int))];
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
	if (n < 0) {
		/* Nothing sensible is left to do with a broken socket. */
		return 0;
	}
	if (n == 0 && msg.msg_controllen == 0)
		return 0;
	int fds[MAX_REQUEST_FDS], nfds = 0;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < count; i++) {
			int fd;
			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (nfds < MAX_REQUEST_FDS)
				fds[nfds++] = fd;
			else
				close(fd);
		}
	}
	if (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) {
		close_all(fds, nfds);
		reply(sock, "E", "sandbox: fork server: request truncated");
		return 1;
	}
	struct nsinit_spec sp;
	const char *detail;
	if (nsinit_decode(buf, (size_t)n, &sp, &detail) != 0) {
		close_all(fds, nfds);
		free_spec(&sp);
		char text[256];
		snprintf(text, sizeof text, "sandbox: decoding spec: %s", detail);
		reply(sock, "E", text);
		return 1;
	}
	int want = sp.netns[0] ? 5 : 4;
	if (nfds != want) {
		close_all(fds, nfds);
		free_spec(&sp);
		char text[256];
		snprintf(text, sizeof text, "sandbox: received %d descriptors, want %d", nfds, want);
		reply(sock, "E", text);
		return 1;
	}
	int flags = CLONE_PARENT | CLONE_VM | CLONE_VFORK | CLONE_PARENT_SETTID | SIGCHLD;
	if (sp.namespaces)
		flags |= CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWPID | CLONE_NEWIPC;
	nsinit_template_refresh();
	struct child_args args = {sock, &sp, fds};
	child_pid = 0;
	child_answered = 0;
	/* Returns once the child has exec'd or exited. */
	int pid = clone(child, child_stack + CHILD_STACK_SIZE, flags, &args, (pid_t *)&child_pid);
	int err = errno;
	nsinit_use_arena(NULL, 0);
	close_all(fds, nfds);
	free_spec(&sp);
	if (pid < 0) {
		char text[256];
		snprintf(text, sizeof text, "sandbox: creating the container's process: %s", strerror(err));
		reply(sock, "E", text);
		return 1;
	}
	if (!child_answered)
		reply(sock, "P", nsinit_itoa(0, pid));
	return 1;
}

void nsinit_fork_server(const char *sock_arg)
{
	int sock = nsinit_parse_fd(sock_arg);
	if (sock < 3) {
		fputs(NSINIT_SUBCOMMAND ": bad descriptor argument\n", stderr);
		_exit(2);
	}
	int flags = fcntl(sock, F_GETFD);
	if (flags >= 0)
		fcntl(sock, F_SETFD, flags | FD_CLOEXEC);
	/* A child that fails before its exec writes to its status pipe, never
	 * to the socket. */
	nsinit_set_status_fd(-1);
	char *buf = nsinit_xmalloc(NSINIT_MAX_SPEC);
	child_stack = mmap(NULL, CHILD_STACK_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK | MAP_NORESERVE, -1, 0);
	child_arena = mmap(NULL, CHILD_ARENA_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (child_stack == MAP_FAILED || child_arena == MAP_FAILED) {
		fprintf(stderr, NSINIT_SUBCOMMAND ": fork server: mapping memory: %s\n", strerror(errno));
		_exit(1);
	}
	nsinit_template_init();
	reply(sock, "R", "");
	while (serve_one(sock, buf))
		;
	_exit(0);
}
