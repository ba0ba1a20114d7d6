/*
 * table.h - reads a pyasn table (gzip; lines "prefix/len<TAB>asn", ';' starts a comment)
 * into left-aligned keys, lengths and next hops (the AS number, masked to LPM_NH_MAX).
 * Used by the full-table test and by bin/lpm-bench. IPv4 (w = 32) or IPv6 (w = 128)
 * lines are kept; the other family's lines are skipped.
 */
#ifndef NMBOX_LPM_TEST_TABLE_H
#define NMBOX_LPM_TEST_TABLE_H

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "lpm/tests/ref.h"

#define LPM_TABLE_V4 "/usr/lib/python3/dist-packages/data/ipasn_20140513.dat.gz"
#define LPM_TABLE_V6 "/usr/lib/python3/dist-packages/data/ipasn6_20151101.dat.gz"

struct table {
	u128 *key;
	uint8_t *len;
	uint32_t *nh;
	size_t n, cap;
	size_t bad; /* lines that did not parse */
};

static inline void table_free(struct table *t)
{
	free(t->key);
	free(t->len);
	free(t->nh);
	memset(t, 0, sizeof(*t));
}

/* Returns 0, -ENOENT when the file cannot be opened, -ENOMEM. */
static inline int table_load(struct table *t, const char *path, unsigned w)
{
	char line[256];
	gzFile z = gzopen(path, "rb");
	memset(t, 0, sizeof(*t));
	if (!z)
		return -ENOENT;
	while (gzgets(z, line, sizeof(line))) {
		char *slash, *tab;
		uint8_t a[16];
		if (line[0] == ';' || line[0] == '\n' || line[0] == 0)
			continue;
		int v6 = strchr(line, ':') != NULL;
		if (v6 != (w == 128))
			continue;
		slash = strchr(line, '/');
		tab = strchr(line, '\t');
		if (!slash || !tab) {
			t->bad++;
			continue;
		}
		*slash = 0;
		if (inet_pton(v6 ? AF_INET6 : AF_INET, line, a) != 1) {
			t->bad++;
			continue;
		}
		if (t->n == t->cap) {
			t->cap = t->cap ? 2 * t->cap : 65536;
			t->key = realloc(t->key, t->cap * sizeof(*t->key));
			t->len = realloc(t->len, t->cap * sizeof(*t->len));
			t->nh = realloc(t->nh, t->cap * sizeof(*t->nh));
			if (!t->key || !t->len || !t->nh) {
				gzclose(z);
				return -ENOMEM;
			}
		}
		u128 k = 0;
		for (int i = 0; i < (v6 ? 16 : 4); i++)
			k = k << 8 | a[i];
		t->key[t->n] = k << (v6 ? 0 : 96);
		t->len[t->n] = (uint8_t)atoi(slash + 1);
		t->nh[t->n] = (uint32_t)(strtoul(tab + 1, NULL, 10) & LPM_NH_MAX);
		t->n++;
	}
	gzclose(z);
	return 0;
}

#endif
