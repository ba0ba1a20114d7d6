/*
 * host_ping — integration helper: proves host rings carry frames both ways.
 *
 *   host_ping SPEC SETUP_CMD MY_IP HOST_IP
 *
 * Opens SPEC (netmap:IF^), runs SETUP_CMD (which puts HOST_IP on the TAP and a static
 * neighbor entry for MY_IP), then writes ICMP echo requests from MY_IP to HOST_IP into the
 * host TX ring — delivered to the kernel stack as if IF had received them — and waits
 * (bounded, 3 s) for the kernel's echo reply to come out of the host RX ring.
 * Exit 0 when a correct reply arrived and the buffer audit holds.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "nmport.h"
#include "tools/pktgen_frame.h"

static const uint8_t my_mac[6] = {0x02, 0, 0, 0, 0, 0x99};

static uint16_t build_echo(uint8_t *b, const uint8_t *dst_mac, uint32_t sip, uint32_t dip,
                           uint16_t seq)
{
	memcpy(b, dst_mac, 6);
	memcpy(b + 6, my_mac, 6);
	b[12] = 0x08;
	b[13] = 0;
	uint8_t *ip = b + 14;
	memset(ip, 0, 20);
	ip[0] = 0x45;
	ip[3] = 20 + 8 + 32;
	ip[8] = 64;
	ip[9] = 1;
	memcpy(ip + 12, &sip, 4);
	memcpy(ip + 16, &dip, 4);
	uint16_t ck = htons(pg_csum_fold(pg_csum_add(0, ip, 20)));
	memcpy(ip + 10, &ck, 2);
	uint8_t *ic = ip + 20;
	memset(ic, 0, 8 + 32);
	ic[0] = 8; /* echo request */
	ic[4] = 0x12;
	ic[5] = 0x34;
	ic[6] = (uint8_t)(seq >> 8);
	ic[7] = (uint8_t)seq;
	for (int i = 0; i < 32; i++)
		ic[8 + i] = (uint8_t)i;
	ck = htons(pg_csum_fold(pg_csum_add(0, ic, 40)));
	memcpy(ic + 2, &ck, 2);
	return 14 + 20 + 40;
}

int main(int argc, char **argv)
{
	if (argc != 5) {
		fprintf(stderr, "usage: host_ping SPEC SETUP_CMD MY_IP HOST_IP\n");
		return 2;
	}
	uint32_t sip, dip;
	if (inet_pton(AF_INET, argv[3], &sip) != 1 || inet_pton(AF_INET, argv[4], &dip) != 1) {
		fprintf(stderr, "host_ping: bad address\n");
		return 2;
	}
	struct nmport *p = nmport_open(argv[1], NULL);
	if (!p) {
		fprintf(stderr, "host_ping: %s\n", nmport_errmsg());
		return 1;
	}
	if (system(argv[2]) != 0) {
		fprintf(stderr, "host_ping: setup command failed: %s\n", argv[2]);
		nmport_close(p);
		return 1;
	}
	unsigned r = (unsigned)p->host_ring;
	int replies = 0, other = 0;
	struct timespec t0, t;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (uint16_t seq = 1; seq <= 30 && !replies; seq++) {
		struct netmap_ring *tx = p->ring[r].tx;
		if (nm_ring_space(tx)) {
			struct netmap_slot *s = &tx->slot[tx->head];
			s->len = build_echo((uint8_t *)NETMAP_BUF(tx, s->buf_idx), p->mac, sip, dip,
			                    seq);
			nm_ring_advance(tx, nm_ring_next(tx, tx->head));
			nmport_txsync(p, r);
		}
		struct nmport_pollent pe = {.port = p, .ring = r, .events = POLLIN};
		if (nmport_poll(&pe, 1, 100) > 0) {
			struct netmap_ring *rx = p->ring[r].rx;
			uint32_t i = rx->head;
			for (uint32_t k = nm_ring_space(rx); k; k--) {
				const uint8_t *b =
				    (const uint8_t *)NETMAP_BUF(rx, rx->slot[i].buf_idx);
				if (rx->slot[i].len >= 14 + 20 + 8 && b[12] == 8 && b[13] == 0 &&
				    b[23] == 1 && b[34] == 0 && !memcmp(b, my_mac, 6) &&
				    !memcmp(b + 26, &dip, 4) && !memcmp(b + 30, &sip, 4))
					replies++;
				else
					other++;
				i = nm_ring_next(rx, i);
			}
			nm_ring_advance(rx, i);
		}
		clock_gettime(CLOCK_MONOTONIC, &t);
		if (t.tv_sec - t0.tv_sec > 3)
			break;
	}
	char msg[256];
	int a = nm_pool_audit(p->pool, &p, 1, msg, sizeof(msg));
	printf("host_ping: %d echo replies from the host stack, %d other frames; %s\n", replies,
	       other, msg);
	nmport_close(p);
	return replies > 0 && a == 0 ? 0 : 1;
}
