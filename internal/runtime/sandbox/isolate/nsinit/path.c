/* Lexical path helpers with the results of Go's filepath.Clean, Dir and
 * Join, so that the C init step makes the same paths as the Go one. */
#include <string.h>

#include "nsinit.h"

char *nsinit_clean(const char *p)
{
	size_t n = strlen(p);
	int rooted = n > 0 && p[0] == '/';
	/* The result is never longer than the input, or "." for "". */
	char *out = nsinit_xmalloc(n + 2);
	size_t w = 0, floor = 0; /* floor: where ".." can no longer pop */
	if (rooted) {
		out[w++] = '/';
		floor = 1;
	}
	for (size_t r = 0; r < n;) {
		if (p[r] == '/') {
			r++;
			continue;
		}
		size_t e = r;
		while (e < n && p[e] != '/')
			e++;
		size_t len = e - r;
		if (len == 1 && p[r] == '.') {
			/* drop */
		} else if (len == 2 && p[r] == '.' && p[r + 1] == '.') {
			if (w > floor) {
				/* Pop the last element. */
				while (w > floor && out[w - 1] != '/')
					w--;
				if (w > floor)
					w--;
			} else if (!rooted) {
				if (w > 0)
					out[w++] = '/';
				out[w++] = '.';
				out[w++] = '.';
				floor = w;
			}
		} else {
			if (w > 0 && out[w - 1] != '/')
				out[w++] = '/';
			memcpy(out + w, p + r, len);
			w += len;
		}
		r = e;
	}
	if (w == 0)
		out[w++] = '.';
	out[w] = '\0';
	return out;
}

char *nsinit_dir(const char *p)
{
	const char *slash = strrchr(p, '/');
	if (!slash)
		return nsinit_clean("");
	size_t n = (size_t)(slash - p) + 1;
	char *head = nsinit_xmalloc(n + 1);
	memcpy(head, p, n);
	head[n] = '\0';
	return nsinit_clean(head);
}

char *nsinit_join(const char *a, const char *b)
{
	if (!*a && !*b) {
		char *empty = nsinit_xmalloc(1);
		empty[0] = '\0';
		return empty;
	}
	if (!*a)
		return nsinit_clean(b);
	if (!*b)
		return nsinit_clean(a);
	size_t la = strlen(a), lb = strlen(b);
	char *s = nsinit_xmalloc(la + lb + 2);
	memcpy(s, a, la);
	s[la] = '/';
	memcpy(s + la + 1, b, lb + 1);
	return nsinit_clean(s);
}

int nsinit_depth(const char *p)
{
	int n = 0;
	for (const char *c = nsinit_clean(p); *c; c++)
		n += *c == '/';
	return n;
}
