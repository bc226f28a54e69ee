/* The fork server's mount namespace template.
 *
 * A container's mount namespace is a copy of the one it is cloned from,
 * made mount by mount, and torn down the same way when the container
 * ends. Cloned from the host's, it would carry a copy of every namespace
 * file mounted there: a node keeps one per running pod and one per
 * parked network namespace, so on a busy node hundreds, copied and
 * dropped for every container start, though no container looks at them.
 *
 * So the fork server lives in a private copy of the host's mount
 * namespace with the namespace file (nsfs) mounts detached, and clones
 * containers from that. The copy must show everything else the host
 * shows at the container's start, as a clone of the host's namespace
 * would: before each clone the server asks the kernel whether the host's
 * mount table changed (poll on its mountinfo, which costs nothing when
 * it did not), and when it did, compares a digest of its mounts other
 * than nsfs ones with the template's. Any other change rebuilds the
 * template from the host's namespace.
 *
 * When the template cannot be made (no CAP_SYS_ADMIN), the server stays
 * in the host's namespace and nothing changes. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

#include "nsinit.h"

static struct {
	int active;
	/* The host's mount namespace, and its mount table, opened before
	 * the server left it: a mountinfo file stays bound to the
	 * namespace it was opened in. */
	int host_ns;
	int host_mounts;
	/* Digest of the host's mounts other than nsfs ones when the
	 * template was made. */
	uint64_t digest;
	char cwd[PATH_MAX];
	char *buf;
	size_t cap;
} tmpl = {.host_ns = -1, .host_mounts = -1};

/* read_table reads the mount table fd from its start into tmpl.buf;
 * its length, or -1. */
static ssize_t read_table(int fd)
{
	if (lseek(fd, 0, SEEK_SET) != 0)
		return -1;
	size_t n = 0;
	for (;;) {
		if (n == tmpl.cap) {
			size_t cap = tmpl.cap ? tmpl.cap * 2 : 64 << 10;
			char *grown = realloc(tmpl.buf, cap);
			if (!grown)
				return -1;
			tmpl.buf = grown;
			tmpl.cap = cap;
		}
		ssize_t r = read(fd, tmpl.buf + n, tmpl.cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			return (ssize_t)n;
		n += (size_t)r;
	}
}

/* is_nsfs reports whether the mountinfo line [line, end) is a namespace
 * file's mount: its file system type, the field after " - ", is nsfs. */
static int is_nsfs(const char *line, const char *end)
{
	const char *sep = memmem(line, (size_t)(end - line), " - ", 3);
	return sep && end - (sep + 3) >= 5 && memcmp(sep + 3, "nsfs ", 5) == 0;
}

/* digest hashes the lines of a mount table (FNV-1a) that are not nsfs
 * mounts. Lines name their mount's ID, so a mount replaced by an equal
 * one changes the digest too. */
static uint64_t digest(const char *buf, size_t n)
{
	uint64_t h = 14695981039346656037ull;
	const char *end = buf + n;
	for (const char *line = buf; line < end;) {
		const char *eol = memchr(line, '\n', (size_t)(end - line));
		if (!eol)
			eol = end;
		if (!is_nsfs(line, eol))
			for (const char *c = line; c <= eol && c < end; c++)
				h = (h ^ (unsigned char)*c) * 1099511628211ull;
		line = eol + 1;
	}
	return h;
}

/* unescape decodes a mountinfo path field in place: the kernel writes
 * space, tab, newline and backslash as three octal digits. */
static void unescape(char *s)
{
	char *out = s;
	for (char *in = s; *in;) {
		if (in[0] == '\\' && in[1] >= '0' && in[1] <= '3' && in[2] >= '0' && in[2] <= '7' && in[3] >= '0' && in[3] <= '7') {
			*out++ = (char)((in[1] - '0') << 6 | (in[2] - '0') << 3 | (in[3] - '0'));
			in += 4;
		} else {
			*out++ = *in++;
		}
	}
	*out = '\0';
}

/* mount_point returns the mount point field (the fifth) of the
 * mountinfo line [line, end), terminated and unescaped in place. */
static char *mount_point(char *line, char *end)
{
	char *field = line;
	for (int i = 0; i < 4; i++) {
		field = memchr(field, ' ', (size_t)(end - field));
		if (!field)
			return NULL;
		field++;
	}
	char *stop = memchr(field, ' ', (size_t)(end - field));
	if (!stop)
		return NULL;
	*stop = '\0';
	unescape(field);
	return field;
}

/* detach_nsfs detaches every nsfs mount of the calling process's own
 * mount namespace, the last mounted first. */
static int detach_nsfs(void)
{
	int fd = open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = read_table(fd);
	close(fd);
	if (n < 0)
		return -1;
	char *end = tmpl.buf + n;
	size_t count = 0;
	for (char *c = tmpl.buf; c < end; c++)
		count += *c == '\n';
	char **points = malloc((count + 1) * sizeof *points);
	if (!points)
		return -1;
	size_t found = 0;
	for (char *line = tmpl.buf; line < end;) {
		char *eol = memchr(line, '\n', (size_t)(end - line));
		if (!eol)
			eol = end;
		char *point = is_nsfs(line, eol) ? mount_point(line, eol) : NULL;
		if (point)
			points[found++] = point;
		line = eol + 1;
	}
	int err = 0;
	while (found > 0 && !err)
		if (umount2(points[--found], MNT_DETACH) != 0 && errno != EINVAL && errno != ENOENT)
			err = -1;
	free(points);
	return err;
}

/* enter_cwd goes back to the server's working directory, which entering
 * a mount namespace resets to its root. A directory that is gone since
 * leaves it there: children set their own. */
static void enter_cwd(void)
{
	int ignored = chdir(tmpl.cwd);
	(void)ignored;
}

/* abandon ends the server when it is stuck in a namespace containers
 * must not be cloned from: its supervisor starts another. */
static void abandon(const char *what)
{
	fprintf(stderr, NSINIT_SUBCOMMAND ": fork server: %s: %s\n", what, strerror(errno));
	_exit(1);
}

/* build makes the template: a private copy of the host's mount
 * namespace without its nsfs mounts, the server's own from then on.
 * When it cannot be made, the server goes on in the host's namespace,
 * untemplated. */
static void build(void)
{
	int rebuild = tmpl.active;
	tmpl.active = 0;
	if (setns(tmpl.host_ns, CLONE_NEWNS) != 0) {
		if (rebuild)
			abandon("leaving an outdated mount namespace");
		return;
	}
	/* The digest first: detach_nsfs reuses the buffer. */
	ssize_t n = read_table(tmpl.host_mounts);
	uint64_t d = n < 0 ? 0 : digest(tmpl.buf, (size_t)n);
	if (n < 0 || unshare(CLONE_NEWNS) != 0) {
		enter_cwd();
		return;
	}
	/* Nothing the template does may reach the host, and nothing the host
	 * mounts reaches it: changes come in by rebuilding. */
	if (mount("", "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0 || detach_nsfs() != 0) {
		if (setns(tmpl.host_ns, CLONE_NEWNS) != 0)
			abandon("leaving a half-made mount namespace");
		enter_cwd();
		return;
	}
	enter_cwd();
	tmpl.digest = d;
	tmpl.active = 1;
}

void nsinit_template_init(void)
{
	if (!getcwd(tmpl.cwd, sizeof tmpl.cwd))
		strcpy(tmpl.cwd, "/");
	tmpl.host_ns = open("/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC);
	tmpl.host_mounts = open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC);
	if (tmpl.host_ns < 0 || tmpl.host_mounts < 0)
		return;
	build();
}

void nsinit_template_refresh(void)
{
	if (!tmpl.active)
		return;
	struct pollfd p = {.fd = tmpl.host_mounts, .events = POLLPRI};
	int r;
	do {
		r = poll(&p, 1, 0);
	} while (r < 0 && errno == EINTR);
	if (r == 0 || !(p.revents & (POLLPRI | POLLERR)))
		return;
	ssize_t n = read_table(tmpl.host_mounts);
	if (n >= 0 && digest(tmpl.buf, (size_t)n) == tmpl.digest)
		return;
	build();
}

void nsinit_template_leave(void)
{
	if (!tmpl.active)
		return;
	if (setns(tmpl.host_ns, CLONE_NEWNS) != 0)
		nsinit_die(errno, "sandbox: returning to the host's mount namespace: %v");
	enter_cwd();
}
