/* Shared declarations of the C init step; see nsinit.go. */
#ifndef BATCHLET_NSINIT_H
#define BATCHLET_NSINIT_H

#include <stddef.h>

#define NSINIT_SUBCOMMAND "sandbox-init"
#define NSINIT_FORK_SERVER_ARG "--fork-server"
/* Largest spec the fork server takes in one message (as forkserver.go). */
#define NSINIT_MAX_SPEC (4 << 20)

struct nsinit_mount {
	const char *source;
	const char *target;
	int read_only;
};

/* One container's isolation and command, decoded from the spec wire
 * format (wire.go in package isolate describes it). Strings point into the
 * received buffer; the lists are NULL-terminated. */
struct nsinit_spec {
	int namespaces;
	int terminal;
	int netns_fd;
	const char *hostname;
	const char *scratch_dir;
	const char *netns;
	const char *path;
	const char *dir;
	char **args;
	size_t nargs;
	char **env;
	size_t nenv;
	char **cgroup_procs;
	size_t ncgroup_procs;
	struct nsinit_mount *mounts;
	size_t nmounts;
	/* limit_caps confines the command to caps (bit n: capability n). */
	int limit_caps;
	unsigned long long caps;
};

/* report.c: errors go to the parent as a structured status message. */
void nsinit_set_status_fd(int fd);
/* nsinit_fail reports the error fmt (a Go format of %s, %q and a final %v
 * for errnum when errnum != 0; every other verb takes one string argument)
 * and exits with code. */
void nsinit_fail(int code, int errnum, const char *fmt, ...) __attribute__((noreturn));
/* nsinit_die is nsinit_fail with the exit code of a failed setup. */
#define nsinit_die(errnum, ...) nsinit_fail(128, (errnum), __VA_ARGS__)
/* nsinit_itoa formats n in a static buffer of its own per slot. */
const char *nsinit_itoa(int slot, long long n);

/* wire.c */
int nsinit_decode(char *buf, size_t len, struct nsinit_spec *sp, const char **detail);
int nsinit_parse_fd(const char *s);

/* path.c: the lexical path helpers of Go's path/filepath. */
char *nsinit_clean(const char *p);
char *nsinit_dir(const char *p);
char *nsinit_join(const char *a, const char *b);
int nsinit_depth(const char *p);
/* nsinit_xmalloc never returns NULL: it fails the init step instead. */
void *nsinit_xmalloc(size_t n);
/* nsinit_use_arena makes nsinit_xmalloc hand out buf's len bytes in turn,
 * never to be freed; NULL returns it to malloc. */
void nsinit_use_arena(char *buf, size_t len);

/* container.c */
void nsinit_exec_container(struct nsinit_spec *sp) __attribute__((noreturn));

/* caps.c */
void nsinit_limit_caps(unsigned long long keep);

/* forkserver.c */
void nsinit_fork_server(const char *sock_arg) __attribute__((noreturn));

/* template.c: the mount namespace the fork server clones containers
 * from. */
void nsinit_template_init(void);
/* nsinit_template_refresh rebuilds the template when the host's mounts
 * changed; called before each clone. */
void nsinit_template_refresh(void);
/* nsinit_template_leave moves a child that gets no mount namespace of its
 * own into the host's. */
void nsinit_template_leave(void);

/* view.c */
void nsinit_build_view(struct nsinit_spec *sp);

#endif
