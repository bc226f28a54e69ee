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
 * The digest comes from listmount and statmount where the kernel has
 * them (Linux 6.8): the namespace files, which change with every pod,
 * are then known by their mount IDs and skipped without a look, where
 * mountinfo would print every one of them each time.
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
#include <sys/syscall.h>
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
	/* The template itself, to come back to after a look at the host's
	 * mounts with listmount, which lists the caller's namespace. */
	int self_ns;
	/* listmount and statmount work here. */
	int listmount;
	char cwd[PATH_MAX];
	char *buf;
	size_t cap;
	/* The host's mount IDs at the last look, ascending, and which of
	 * them are nsfs mounts. */
	uint64_t *ids, *nsfs;
	size_t nids, nnsfs, ids_cap, nsfs_cap;
} tmpl = {.host_ns = -1, .host_mounts = -1, .self_ns = -1};

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

/* listmount and statmount (Linux 6.8), declared here for C libraries
 * and kernel headers older than they are. */
#define NR_STATMOUNT 457
#define NR_LISTMOUNT 458
#define LIST_FROM_ROOT 0xffffffffffffffffull
#define STAT_SB_BASIC 0x1u
#define STAT_MNT_BASIC 0x2u
#define STAT_MNT_POINT 0x10u
#define NSFS_SUPER_MAGIC 0x6e736673

struct mount_id_req {
	uint32_t size, spare;
	uint64_t mnt_id, param;
};

/* struct statmount: its fixed part, then room for the mount point. */
struct mount_stat {
	uint32_t size, spare1;
	uint64_t mask;
	uint32_t sb_dev_major, sb_dev_minor;
	uint64_t sb_magic;
	uint32_t sb_flags, fs_type;
	uint64_t mnt_id, mnt_parent_id;
	uint32_t mnt_id_old, mnt_parent_id_old;
	uint64_t mnt_attr, mnt_propagation, mnt_peer_group, mnt_master, propagate_from;
	uint32_t mnt_root, mnt_point;
	uint64_t spare2[50];
	char str[2 * PATH_MAX];
};

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
	for (const unsigned char *c = p; n > 0; n--, c++)
		h = (h ^ *c) * 1099511628211ull;
	return h;
}

static int by_id(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static int grow_ids(uint64_t **ids, size_t *cap, size_t want)
{
	if (want <= *cap)
		return 0;
	size_t cap2 = *cap ? *cap : 1024;
	while (cap2 < want)
		cap2 *= 2;
	uint64_t *grown = realloc(*ids, cap2 * sizeof **ids);
	if (!grown)
		return -1;
	*ids = grown;
	*cap = cap2;
	return 0;
}

/* list_mounts puts the IDs of the calling process's mounts in tmpl.ids,
 * ascending. */
static int list_mounts(void)
{
	struct mount_id_req req = {.size = 24, .mnt_id = LIST_FROM_ROOT};
	size_t n = 0;
	for (;;) {
		if (grow_ids(&tmpl.ids, &tmpl.ids_cap, n + 512) != 0)
			return -1;
		size_t room = tmpl.ids_cap - n;
		long r = syscall(NR_LISTMOUNT, &req, tmpl.ids + n, room, 0);
		if (r < 0)
			return -1;
		n += (size_t)r;
		if ((size_t)r < room)
			break;
		req.param = tmpl.ids[n - 1];
	}
	tmpl.nids = n;
	qsort(tmpl.ids, n, sizeof *tmpl.ids, by_id);
	return 0;
}

/* listed_digest digests the calling process's mounts other than nsfs
 * ones from listmount and statmount: each mount's ID, parent, flags,
 * propagation and mount point. A mount known from the last look to be
 * an nsfs one is skipped without a statmount. */
static int listed_digest(uint64_t *out)
{
	static uint64_t *found;
	static size_t found_cap;
	static struct mount_stat st;
	if (list_mounts() != 0 || grow_ids(&found, &found_cap, tmpl.nids) != 0)
		return -1;
	size_t nfound = 0;
	uint64_t h = 14695981039346656037ull;
	for (size_t i = 0; i < tmpl.nids; i++) {
		uint64_t id = tmpl.ids[i];
		if (bsearch(&id, tmpl.nsfs, tmpl.nnsfs, sizeof id, by_id)) {
			found[nfound++] = id;
			continue;
		}
		struct mount_id_req req = {.size = 24, .mnt_id = id, .param = STAT_SB_BASIC | STAT_MNT_BASIC | STAT_MNT_POINT};
		if (syscall(NR_STATMOUNT, &req, &st, sizeof st, 0) != 0) {
			/* Gone since the listing: left out, as the next listing
			 * will leave it out. */
			if (errno == ENOENT)
				continue;
			return -1;
		}
		if (st.sb_magic == NSFS_SUPER_MAGIC) {
			found[nfound++] = id;
			continue;
		}
		h = fnv(h, &st.mnt_id, sizeof st.mnt_id);
		h = fnv(h, &st.mnt_parent_id, sizeof st.mnt_parent_id);
		h = fnv(h, &st.mnt_attr, sizeof st.mnt_attr);
		h = fnv(h, &st.mnt_propagation, sizeof st.mnt_propagation);
		h = fnv(h, &st.mnt_peer_group, sizeof st.mnt_peer_group);
		h = fnv(h, &st.mnt_master, sizeof st.mnt_master);
		if ((st.mask & STAT_MNT_POINT) && st.mnt_point < sizeof st.str)
			h = fnv(h, st.str + st.mnt_point, strnlen(st.str + st.mnt_point, sizeof st.str - st.mnt_point));
	}
	/* found is ascending, as the listing was. */
	if (grow_ids(&tmpl.nsfs, &tmpl.nsfs_cap, nfound) != 0)
		return -1;
	memcpy(tmpl.nsfs, found, nfound * sizeof *found);
	tmpl.nnsfs = nfound;
	*out = h;
	return 0;
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
	uint64_t d = 0;
	if (tmpl.listmount && listed_digest(&d) != 0)
		tmpl.listmount = 0;
	if (!tmpl.listmount) {
		/* The digest first: detach_nsfs reuses the buffer. */
		ssize_t n = read_table(tmpl.host_mounts);
		if (n < 0) {
			enter_cwd();
			return;
		}
		d = digest(tmpl.buf, (size_t)n);
	}
	if (unshare(CLONE_NEWNS) != 0) {
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
	/* The way back in after each look from the host's namespace. */
	int self_ns = open("/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC);
	if (self_ns < 0) {
		if (setns(tmpl.host_ns, CLONE_NEWNS) != 0)
			abandon("leaving a mount namespace it cannot come back to");
		enter_cwd();
		return;
	}
	enter_cwd();
	if (tmpl.self_ns >= 0)
		close(tmpl.self_ns);
	tmpl.self_ns = self_ns;
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
	/* Tests set this (forkServerEnv in package isolate) to try the
	 * mountinfo digest where listmount works. */
	tmpl.listmount = getenv("NSINIT_TEMPLATE_MOUNTINFO") == NULL;
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
	if (tmpl.listmount) {
		/* listmount lists the caller's namespace: a look from the
		 * host's, and back. Anything unexpected rebuilds. */
		if (setns(tmpl.host_ns, CLONE_NEWNS) != 0) {
			build();
			return;
		}
		uint64_t d;
		if (listed_digest(&d) == 0 && d == tmpl.digest && setns(tmpl.self_ns, CLONE_NEWNS) == 0) {
			enter_cwd();
			return;
		}
		build();
		return;
	}
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
