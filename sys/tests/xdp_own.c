/*
 * xdp_own — integration helper: buffer ownership of AF_XDP ports on error and close paths.
 *
 *   xdp_own IF_A IF_B      (the two ends of a veth pair, both up, in this namespace)
 *
 * Each case counts the free buffers of the process pool around an open or a close and
 * checks that no buffer was lost or given back twice. Prints one line per check; exit 0
 * when all hold.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "nmport.h"

static int failures, checks;

#define CHECK(cond, ...)                                                                           \
	do {                                                                                       \
		checks++;                                                                          \
		if (!(cond)) {                                                                     \
			failures++;                                                                \
			fprintf(stderr, "xdp_own:%d: CHECK(%s) failed: ", __LINE__, #cond);        \
			fprintf(stderr, __VA_ARGS__);                                              \
			fprintf(stderr, "\n");                                                     \
		}                                                                                  \
	} while (0)

/*
 * An AF_XDP open that runs out of buffers half way through posting its fill ring gives
 * back exactly the buffers it took: the pool's free count is what it was before.
 */
static void test_fill_exhausted(const char *ifa)
{
	struct nm_pool *pl = nm_pool_default();
	const uint32_t n = 1024, keep = n + n / 2; /* TX takes n, the fill ring stops at n/2 */
	uint32_t nb = nm_pool_nbufs(pl), ntaken = 0;
	uint32_t *taken = calloc(nb, sizeof(*taken));
	while (nm_pool_free_count(pl) > keep)
		taken[ntaken++] = nm_pool_get(pl);
	CHECK(nm_pool_free_count(pl) == keep, "free %u", nm_pool_free_count(pl));

	char spec[64];
	snprintf(spec, sizeof(spec), "netmap:%s/xdp", ifa);
	struct nmport_opts o = {.quiet = 1, .ring_size = n};
	struct nmport *p = nmport_open(spec, &o);
	CHECK(p == NULL, "%s opened with %u free buffers for 2 x %u", spec, keep, n);
	CHECK(p != NULL || strstr(nmport_errmsg(), "exhausted"), "message '%s'", nmport_errmsg());
	nmport_close(p);
	uint32_t after = nm_pool_free_count(pl);
	CHECK(after == keep, "failed open: %u free before, %u after (%d lost)", keep, after,
	      (int)keep - (int)after);
	printf("xdp_own: failed open (fill ring half posted): %u free before, %u after\n", keep,
	       after);
	for (uint32_t i = 0; i < ntaken; i++)
		nm_pool_put(pl, taken[i]);
	free(taken);
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: xdp_own IF_A IF_B\n");
		return 2;
	}
	test_fill_exhausted(argv[1]);
	printf("xdp_own: %d checks, %d failed\n", checks, failures);
	return failures ? 1 : 0;
}
