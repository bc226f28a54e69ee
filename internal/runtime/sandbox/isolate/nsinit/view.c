/* The container's view of the filesystem: bind mounts, with missing
 * targets created on tmpfs mirrors of the host's directories. view.go in
 * package isolate explains the scheme; this is the same algorithm. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "nsinit.h"

#define OLD_ROOT_NAME ".sandbox-oldroot"
#define STAGE_DIR "/.sandbox-stage"

struct view {
	/* owned are the devices of the tmpfs mounts made here, where entries
	 * may be created freely. */
	dev_t *owned;
	size_t nowned, cap;
	int stages;
};

static void own(struct view *v, dev_t dev)
{
	if (v->nowned == v->cap) {
		v->cap = v->cap ? 2 * v->cap : 8;
		dev_t *grown = nsinit_xmalloc(v->cap * sizeof *grown);
		if (v->nowned)
			memcpy(grown, v->owned, v->nowned * sizeof *grown);
		v->owned = grown;
	}
	v->owned[v->nowned++] = dev;
}

static int owns(struct view *v, dev_t dev)
{
	for (size_t i = 0; i < v->nowned; i++)
		if (v->owned[i] == dev)
			return 1;
	return 0;
}

static dev_t device_of(const char *path)
{
	struct stat st;
	if (stat(path, &st) != 0)
		nsinit_die(errno, "sandbox: stat %s: %v", path);
	return st.st_dev;
}

static void touch(const char *path)
{
	int fd;
	do {
		fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
	} while (fd < 0 && errno == EINTR);
	if (fd < 0)
		nsinit_die(errno, "sandbox: creating %s: open %s: %v", path, path);
	close(fd);
}

/* mkdir_all is Go's os.MkdirAll; on failure it returns the errno and sets
 * *failed to the path that could not be made. */
static int mkdir_all(const char *path, mode_t mode, const char **failed)
{
	struct stat st;
	if (stat(path, &st) == 0) {
		if (S_ISDIR(st.st_mode))
			return 0;
		*failed = path;
		return ENOTDIR;
	}
	char *parent = nsinit_dir(path);
	if (strcmp(parent, path) != 0 && strcmp(parent, ".") != 0) {
		int err = mkdir_all(parent, mode, failed);
		if (err)
			return err;
	}
	if (mkdir(path, mode) != 0) {
		int err = errno;
		if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode))
			return 0;
		*failed = path;
		return err;
	}
	return 0;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* read_names lists dir's entries sorted by name, as os.ReadDir does. */
static char **read_names(const char *dir, size_t *count)
{
	DIR *d = opendir(dir);
	if (!d)
		nsinit_die(errno, "sandbox: reading %s: open %s: %v", dir, dir);
	size_t n = 0, cap = 32;
	char **names = nsinit_xmalloc(cap * sizeof *names);
	struct dirent *e;
	errno = 0;
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (n == cap) {
			cap *= 2;
			char **grown = nsinit_xmalloc(cap * sizeof *grown);
			memcpy(grown, names, n * sizeof *grown);
			names = grown;
		}
		names[n] = nsinit_xmalloc(strlen(e->d_name) + 1);
		strcpy(names[n++], e->d_name);
		errno = 0;
	}
	if (errno != 0)
		nsinit_die(errno, "sandbox: reading %s: readdirent %s: %v", dir, dir);
	closedir(d);
	qsort(names, n, sizeof *names, by_name);
	*count = n;
	return names;
}

/* mirror recreates each entry of from in to, bound to the original. */
static void mirror(const char *from, const char *to)
{
	size_t n;
	char **names = read_names(from, &n);
	for (size_t i = 0; i < n; i++) {
		char *src = nsinit_join(from, names[i]), *dst = nsinit_join(to, names[i]);
		struct stat st;
		if (lstat(src, &st) != 0)
			continue; /* gone meanwhile */
		if (S_ISLNK(st.st_mode)) {
			char target[PATH_MAX + 1];
			ssize_t len = readlink(src, target, PATH_MAX);
			if (len < 0)
				nsinit_die(errno, "sandbox: reading link %s: readlink %s: %v", src, src);
			target[len] = '\0';
			if (symlink(target, dst) != 0)
				nsinit_die(errno, "sandbox: recreating link %s: symlink %s %s: %v", dst, target, dst);
			continue;
		}
		if (S_ISDIR(st.st_mode)) {
			if (mkdir(dst, st.st_mode & 0777) != 0)
				nsinit_die(errno, "sandbox: mirroring %s: mkdir %s: %v", src, dst);
		} else {
			touch(dst);
		}
		if (mount(src, dst, NULL, MS_BIND | MS_REC, NULL) != 0)
			nsinit_die(errno, "sandbox: binding %s: %v", src);
	}
}

/* pivot_to_mirror makes "/" a private tmpfs that mirrors the host's root. */
static void pivot_to_mirror(struct view *v, const char *scratch)
{
	char cwd[PATH_MAX];
	int have_cwd = getcwd(cwd, sizeof cwd) != NULL;
	/* Made only now: most containers never need it. */
	const char *failed = scratch;
	int err = mkdir_all(scratch, 0700, &failed);
	if (err)
		nsinit_die(err, "sandbox: creating scratch directory %s: mkdir %s: %v", scratch, failed);
	if (mount("tmpfs", scratch, "tmpfs", 0, "mode=0755") != 0)
		nsinit_die(errno, "sandbox: mounting scratch tmpfs: %v");
	char *put_old = nsinit_join(scratch, OLD_ROOT_NAME);
	if (mkdir(put_old, 0700) != 0)
		nsinit_die(errno, "sandbox: preparing pivot: mkdir %s: %v", put_old);
	if (syscall(SYS_pivot_root, scratch, put_old) != 0)
		nsinit_die(errno, "sandbox: pivot_root: %v");
	if (chdir("/") != 0)
		nsinit_die(errno, "sandbox: entering new root: chdir /: %v");
	const char *old = "/" OLD_ROOT_NAME;
	/* /proc is already the PID namespace's own, mounted over the host's
	 * in this private mount namespace; the recursive bind carries it. */
	mirror(old, "/");
	if (umount2(old, MNT_DETACH) != 0)
		nsinit_die(errno, "sandbox: detaching old root: %v");
	if (rmdir(old) != 0)
		nsinit_die(errno, "sandbox: removing old root: remove %s: %v", old);
	own(v, device_of("/"));
	if (have_cwd && chdir(cwd) != 0) {
		/* The working directory may not exist in the new root. */
	}
}

/* shadow covers dir with a tmpfs that mirrors it. */
static void shadow(struct view *v, const char *dir)
{
	v->stages++;
	char *stage = nsinit_join(STAGE_DIR, nsinit_itoa(0, v->stages));
	const char *failed = stage;
	int err = mkdir_all(stage, 0700, &failed);
	if (err)
		nsinit_die(err, "sandbox: creating stage: mkdir %s: %v", failed);
	struct stat st;
	if (stat(dir, &st) != 0)
		nsinit_die(errno, "sandbox: stat %s: %v", dir);
	char opts[96];
	snprintf(opts, sizeof opts, "mode=%o,uid=%u,gid=%u", (unsigned)(st.st_mode & 07777),
		 (unsigned)st.st_uid, (unsigned)st.st_gid);
	if (mount("tmpfs", stage, "tmpfs", 0, opts) != 0)
		nsinit_die(errno, "sandbox: mounting stage tmpfs: %v");
	mirror(dir, stage);
	dev_t dev = device_of(stage);
	if (mount(stage, dir, NULL, MS_MOVE, NULL) != 0)
		nsinit_die(errno, "sandbox: covering %s: %v", dir);
	own(v, dev);
	rmdir(stage);
}

/* create makes m's missing target on a tmpfs owned by the sandbox. */
static void create(struct view *v, const struct nsinit_mount *m)
{
	char *anc = nsinit_dir(nsinit_clean(m->target));
	struct stat st;
	while (stat(anc, &st) != 0 && strcmp(anc, "/") != 0)
		anc = nsinit_dir(anc);
	if (!owns(v, device_of(anc)))
		shadow(v, anc);
	if (stat(m->source, &st) != 0)
		nsinit_die(errno, "sandbox: mount source %q: stat %s: %v", m->source, m->source);
	const char *failed = m->target;
	if (S_ISDIR(st.st_mode)) {
		int err = mkdir_all(m->target, 0755, &failed);
		if (err)
			nsinit_die(err, "sandbox: creating mount target %q: mkdir %s: %v", m->target, failed);
		return;
	}
	int err = mkdir_all(nsinit_dir(m->target), 0755, &failed);
	if (err)
		nsinit_die(err, "sandbox: creating mount target %q: mkdir %s: %v", m->target, failed);
	touch(m->target);
}

/* bind mounts m, its source reached through source (a path to the same
 * file, such as an open descriptor's). */
static void bind(const struct nsinit_mount *m, const char *source)
{
	if (mount(source, m->target, NULL, MS_BIND | MS_REC, NULL) != 0)
		nsinit_die(errno, "sandbox: mounting %q at %q: %v", m->source, m->target);
	if (!m->read_only)
		return;
	/* A bind's flags can only be changed by a remount that restates the
	 * locked ones. */
	struct statfs sfs;
	if (statfs(m->target, &sfs) != 0)
		nsinit_die(errno, "sandbox: statfs %q: %v", m->target);
	unsigned long keep = (unsigned long)sfs.f_flags &
			     (MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_NOATIME | MS_NODIRATIME | MS_RELATIME);
	if (mount("", m->target, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | keep, NULL) != 0)
		nsinit_die(errno, "sandbox: making %q read-only: %v", m->target);
}

static int by_depth(const void *a, const void *b)
{
	const struct nsinit_mount *x = *(const struct nsinit_mount *const *)a;
	const struct nsinit_mount *y = *(const struct nsinit_mount *const *)b;
	int dx = nsinit_depth(x->target), dy = nsinit_depth(y->target);
	if (dx != dy)
		return dx < dy ? -1 : 1;
	/* Equal depths keep their order: the sort is stable. */
	return x < y ? -1 : (x > y);
}

void nsinit_build_view(struct nsinit_spec *sp)
{
	size_t n = sp->nmounts;
	if (n == 0)
		return;
	const struct nsinit_mount **mounts = nsinit_xmalloc(n * sizeof *mounts);
	for (size_t i = 0; i < n; i++)
		mounts[i] = &sp->mounts[i];
	qsort(mounts, n, sizeof *mounts, by_depth);

	const struct nsinit_mount **missing = nsinit_xmalloc(n * sizeof *missing);
	size_t nmissing = 0;
	for (size_t i = 0; i < n; i++) {
		struct stat st;
		if (stat(mounts[i]->target, &st) == 0)
			continue;
		if (errno != ENOENT)
			nsinit_die(errno, "sandbox: checking mount target %q: stat %s: %v", mounts[i]->target, mounts[i]->target);
		missing[nmissing++] = mounts[i];
	}
	struct view v = {0};
	if (nmissing > 0) {
		if (!sp->scratch_dir[0])
			nsinit_die(0, "sandbox: mount target %q does not exist and no scratch directory was given", missing[0]->target);
		pivot_to_mirror(&v, sp->scratch_dir);
	}
	/* Sources are held open before anything is mounted over them: an
	 * earlier mount (a private /tmp) may cover the path of a later one's
	 * source (a volume in a data dir under /tmp). After the pivot, so that
	 * they are in the new root's mounts. They close at the exec. */
	char **sources = nsinit_xmalloc(n * sizeof *sources);
	for (size_t i = 0; i < n; i++) {
		int fd;
		do {
			fd = open(mounts[i]->source, O_PATH | O_CLOEXEC);
		} while (fd < 0 && errno == EINTR);
		if (fd < 0)
			nsinit_die(errno, "sandbox: mounting %q at %q: %v", mounts[i]->source, mounts[i]->target);
		sources[i] = nsinit_xmalloc(32);
		snprintf(sources[i], 32, "/proc/self/fd/%d", fd);
	}
	if (nmissing > 0) {
		for (size_t i = 0; i < nmissing; i++)
			create(&v, missing[i]);
		rmdir(STAGE_DIR);
	}
	for (size_t i = 0; i < n; i++)
		bind(mounts[i], sources[i]);
}
