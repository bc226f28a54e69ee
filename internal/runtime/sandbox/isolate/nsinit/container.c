/* The container's side of the init step: cgroups, network namespace,
 * the private mount namespace, working directory and the final exec. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "nsinit.h"

#ifndef NSFS_MAGIC
#define NSFS_MAGIC 0x6e736673
#endif

#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

static int open_retry(const char *path, int flags, mode_t mode)
{
	int fd;
	do {
		fd = open(path, flags, mode);
	} while (fd < 0 && errno == EINTR);
	return fd;
}

static void join_cgroup(const char *procs)
{
	/* "0" is the writing process itself, whatever PID namespace it is in. */
	int fd = open_retry(procs, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0);
	if (fd < 0)
		nsinit_die(errno, "sandbox: joining cgroup %s: open %s: %v", nsinit_dir(procs), procs);
	ssize_t n;
	do {
		n = write(fd, "0", 1);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		nsinit_die(errno, "sandbox: joining cgroup %s: write %s: %v", nsinit_dir(procs), procs);
	close(fd);
}

static void join_netns(struct nsinit_spec *sp)
{
	int fd = sp->netns_fd;
	if (fd <= 0) {
		fd = open_retry(sp->netns, O_RDONLY | O_CLOEXEC, 0);
		if (fd < 0)
			nsinit_die(errno, "sandbox: opening the pod's network namespace: open %s: %v", sp->netns);
		struct statfs st;
		if (fstatfs(fd, &st) != 0 || st.f_type != NSFS_MAGIC)
			nsinit_die(0, "sandbox: %s is not a network namespace", sp->netns);
	}
	if (setns(fd, CLONE_NEWNET) != 0)
		nsinit_die(errno, "sandbox: joining the pod's network namespace: %v");
	close(fd);
}

static void setup_namespaces(struct nsinit_spec *sp)
{
	/* Nothing mounted from here on may propagate back to the host. */
	if (mount("", "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
		nsinit_die(errno, "sandbox: making / private: %v");
	if (sp->hostname[0] && sethostname(sp->hostname, strlen(sp->hostname)) != 0)
		nsinit_die(errno, "sandbox: setting hostname: %v");
	/* A proc for the new PID namespace; build_view reaches mount sources
	 * through it. */
	if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, "") != 0)
		nsinit_die(errno, "sandbox: mounting /proc: %v");
	nsinit_build_view(sp);
}

static int is_executable(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0 && !S_ISDIR(st.st_mode) && (st.st_mode & 0111) != 0;
}

/* resolve_command finds the executable inside the sandbox's view: the
 * path resolved by the caller if it exists there, else argv[0] looked up
 * in the container's PATH (the last PATH entry of env wins, as in Go). */
static const char *resolve_command(struct nsinit_spec *sp)
{
	const char *argv0 = sp->args[0];
	if (sp->path[0] && is_executable(sp->path))
		return sp->path;
	if (strchr(argv0, '/'))
		return argv0;
	const char *dirs = DEFAULT_PATH;
	for (size_t i = 0; i < sp->nenv; i++)
		if (strncmp(sp->env[i], "PATH=", 5) == 0)
			dirs = sp->env[i] + 5;
	/* An empty PATH lists no directory at all, as Go's SplitList has it. */
	for (const char *d = dirs; *dirs;) {
		const char *colon = strchr(d, ':');
		size_t len = colon ? (size_t)(colon - d) : strlen(d);
		char *dir = nsinit_xmalloc(len + 2);
		memcpy(dir, d, len);
		dir[len] = '\0';
		if (len == 0)
			strcpy(dir, ".");
		char *p = nsinit_join(dir, argv0);
		if (is_executable(p))
			return p;
		if (!colon)
			break;
		d = colon + 1;
	}
	nsinit_die(0, "failed to start container process: exec: %q: executable file not found in $PATH", argv0);
}

void nsinit_exec_container(struct nsinit_spec *sp)
{
	if (sp->nargs == 0)
		nsinit_die(0, "sandbox: no command");
	for (size_t i = 0; i < sp->ncgroup_procs; i++)
		join_cgroup(sp->cgroup_procs[i]);
	if (sp->netns[0])
		join_netns(sp);
	if (sp->namespaces)
		setup_namespaces(sp);
	if (sp->dir[0] && chdir(sp->dir) != 0)
		nsinit_die(errno, "failed to start container process: chdir to cwd (%q) set in config.json failed: %v", sp->dir);
	const char *path = resolve_command(sp);
	if (sp->limit_caps)
		nsinit_limit_caps(sp->caps);
	execve(path, sp->args, sp->env);
	nsinit_die(errno, "failed to start container process: exec: %q: %v", path);
}
