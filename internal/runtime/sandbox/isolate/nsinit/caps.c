/* Confining the container's command to its capability set, the last step
 * before the exec: what precedes it (mounts, setns, cgroup joins) needs
 * the supervisor's privileges. */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "nsinit.h"

#ifndef PR_CAP_AMBIENT
#define PR_CAP_AMBIENT 47
#endif
#ifndef PR_CAP_AMBIENT_CLEAR_ALL
#define PR_CAP_AMBIENT_CLEAR_ALL 4
#endif

void nsinit_limit_caps(unsigned long long keep)
{
	/* The bounding set first: dropping from it takes CAP_SETPCAP, which
	 * the capset below may remove. The kernel's capabilities end where
	 * PR_CAPBSET_READ says EINVAL. */
	for (int cap = 0; cap < 64; cap++) {
		int r = prctl(PR_CAPBSET_READ, cap, 0, 0, 0);
		if (r < 0 && errno == EINVAL)
			break;
		if (r < 0)
			nsinit_die(errno, "sandbox: reading capability %s of the bounding set: %v", nsinit_itoa(0, cap));
		if (r == 1 && !(keep & (1ULL << cap)) && prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0)
			nsinit_die(errno, "sandbox: dropping capability %s from the bounding set: %v", nsinit_itoa(0, cap));
	}
	/* Kernels before 4.3 have no ambient set to clear. */
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL)
		nsinit_die(errno, "sandbox: clearing the ambient capabilities: %v");
	struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct data[2];
	if (syscall(SYS_capget, &hdr, data) != 0)
		nsinit_die(errno, "sandbox: reading capabilities: %v");
	/* What the supervisor does not hold cannot be granted; capabilities
	 * this kernel lacks are ignored, as runc does. */
	for (int i = 0; i < 2; i++) {
		unsigned int set = (unsigned int)(keep >> (32 * i)) & data[i].permitted;
		data[i].permitted = set;
		data[i].effective = set;
		data[i].inheritable = 0;
	}
	if (syscall(SYS_capset, &hdr, data) != 0)
		nsinit_die(errno, "sandbox: setting capabilities: %v");
}
