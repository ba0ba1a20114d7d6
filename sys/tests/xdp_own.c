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
#include <unistd.h>
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

static int is_ours(const struct netmap_ring *r, const struct netmap_slot *s)
{
	const uint8_t *b = (const uint8_t *)NETMAP_BUF(r, s->buf_idx);
	return s->len == 64 && b[12] == 0x88 && b[13] == 0xb5 && !memcmp(b + 14, "xdp_own", 7);
}

/*
 * Closing an AF_XDP port gives back every buffer its slots name, including received
 * slots the user released (head moved past them) with no rxsync since: only the
 * buffers posted to the kernel's fill ring stay out of the pool.
 */
static void test_close_released(const char *ifa, const char *ifb)
{
	struct nm_pool *pl = nm_pool_default();
	const uint32_t n = 256, k = 100;
	struct nmport_opts o = {.quiet = 1, .ring_size = n};
	char sa[64], sb[64];
	snprintf(sa, sizeof(sa), "netmap:%s/xdp", ifa);
	snprintf(sb, sizeof(sb), "netmap:%s/xdp", ifb);
	/* The kernel frees a closed socket's queue after a moment (deferred work): a reopen
	 * right after the previous case may see EBUSY for a few ms. */
	struct nmport *a = NULL;
	for (int t = 0; t < 200 && !a; t++) {
		a = nmport_open(sa, &o);
		if (!a)
			usleep(5000);
	}
	CHECK(a != NULL, "open %s: %s", sa, nmport_errmsg());
	struct nmport *b = nmport_open(sb, &o);
	CHECK(b != NULL, "open %s: %s", sb, nmport_errmsg());
	if (!a || !b) {
		nmport_close(a);
		nmport_close(b);
		return;
	}
	/* b sends k frames to a */
	struct netmap_ring *tx = b->ring[0].tx;
	uint32_t i = tx->head;
	for (uint32_t j = 0; j < k; j++) {
		struct netmap_slot *s = &tx->slot[i];
		uint8_t *f = (uint8_t *)NETMAP_BUF(tx, s->buf_idx);
		memset(f, 0, 64);
		memset(f, 0xff, 6);
		memcpy(f + 6, b->mac, 6);
		f[12] = 0x88;
		f[13] = 0xb5;
		memcpy(f + 14, "xdp_own", 7);
		s->len = 64;
		i = nm_ring_next(tx, i);
	}
	nm_ring_advance(tx, i);
	/* a receives them (and whatever else the kernel sends) and releases every slot */
	uint32_t ours = 0, released = 0;
	for (int t = 0; t < 300 && ours < k; t++) {
		nmport_txsync(b, 0);
		struct nmport_pollent pe = {.port = a, .ring = 0, .events = POLLIN};
		if (nmport_poll(&pe, 1, 10) <= 0)
			continue;
		struct netmap_ring *rx = a->ring[0].rx;
		for (i = rx->head; i != rx->tail; i = nm_ring_next(rx, i))
			ours += is_ours(rx, &rx->slot[i]);
		released += nm_ring_space(rx);
		nm_ring_advance(rx, rx->tail);
	}
	CHECK(ours == k, "received %u of %u frames", ours, k);
	char msg[256];
	struct nmport *v[2] = {a, b};
	CHECK(nm_pool_audit(pl, v, 2, msg, sizeof(msg)) == 0, "%s", msg);
	/* a's TX slots own n buffers, its released RX slots `released` more */
	uint32_t before = nm_pool_free_count(pl);
	nmport_close(a);
	uint32_t after = nm_pool_free_count(pl);
	CHECK(after - before == n + released,
	      "close: %u buffers back, want %u (%u TX slots + %u released RX slots)",
	      after - before, n + released, n, released);
	printf("xdp_own: close after releasing %u received slots: %u buffers back (want %u)\n",
	       released, after - before, n + released);
	nmport_close(b);
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: xdp_own IF_A IF_B\n");
		return 2;
	}
	test_fill_exhausted(argv[1]);
	test_close_released(argv[1], argv[2]);
	printf("xdp_own: %d checks, %d failed\n", checks, failures);
	return failures ? 1 : 0;
}
