/*
 * pktgen_frame.c — building and recognising pkt-gen's frames (see pktgen_frame.h).
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "nm_mac.h"
#include "tools/pktgen_frame.h"

uint32_t pg_csum_add(uint32_t sum, const void *data, size_t len)
{
	const uint8_t *p = data;
	while (len > 1) {
		sum += (uint32_t)(p[0] << 8 | p[1]);
		p += 2;
		len -= 2;
	}
	if (len)
		sum += (uint32_t)(p[0] << 8);
	return sum;
}

uint16_t pg_csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static uint32_t pick(uint32_t lo, uint32_t hi, uint64_t seq)
{
	uint64_t span = (uint64_t)hi - lo + 1;
	return lo + (uint32_t)(seq % span);
}

void pg_frame_build(const struct pg_frame_cfg *c, uint64_t seq, uint8_t *b)
{
	uint16_t iplen = (uint16_t)(c->len - 14), udplen = (uint16_t)(c->len - 34);
	uint32_t sip = pick(c->src.ip_lo, c->src.ip_hi, seq);
	uint32_t dip =
	    c->dst_list ? c->dst_list[seq % c->dst_count] : pick(c->dst.ip_lo, c->dst.ip_hi, seq);
	uint16_t sport = (uint16_t)pick(c->src.port_lo, c->src.port_hi, seq);
	uint16_t dport = (uint16_t)pick(c->dst.port_lo, c->dst.port_hi, seq);

	memcpy(b, c->dst_mac, 6);
	memcpy(b + 6, c->src_mac, 6);
	b[12] = 0x08;
	b[13] = 0x00;
	uint8_t *ip = b + 14;
	ip[0] = 0x45;
	ip[1] = 0;
	ip[2] = (uint8_t)(iplen >> 8);
	ip[3] = (uint8_t)iplen;
	ip[4] = (uint8_t)(seq >> 8); /* id */
	ip[5] = (uint8_t)seq;
	ip[6] = 0x40; /* DF */
	ip[7] = 0;
	ip[8] = 64;
	ip[9] = 17;
	ip[10] = ip[11] = 0;
	uint32_t s = htonl(sip), d = htonl(dip);
	memcpy(ip + 12, &s, 4);
	memcpy(ip + 16, &d, 4);
	uint16_t ck = htons(pg_csum_fold(pg_csum_add(0, ip, 20)));
	memcpy(ip + 10, &ck, 2);
	uint8_t *udp = ip + 20;
	udp[0] = (uint8_t)(sport >> 8);
	udp[1] = (uint8_t)sport;
	udp[2] = (uint8_t)(dport >> 8);
	udp[3] = (uint8_t)dport;
	udp[4] = (uint8_t)(udplen >> 8);
	udp[5] = (uint8_t)udplen;
	udp[6] = udp[7] = 0;
	uint8_t *pl = udp + 8;
	uint32_t magic = htonl(PG_MAGIC);
	memcpy(pl, &magic, 4);
	for (int i = 0; i < 8; i++)
		pl[4 + i] = (uint8_t)(seq >> (56 - 8 * i));
	for (uint32_t i = 12; i < (uint32_t)udplen - 8; i++)
		pl[i] = (uint8_t)(seq * 7 + i);
	if (!c->no_udp_csum) {
		uint32_t sum = pg_csum_add(0, ip + 12, 8);
		sum += 17 + udplen;
		sum = pg_csum_add(sum, udp, udplen);
		uint16_t u = pg_csum_fold(sum);
		if (u == 0)
			u = 0xffff;
		u = htons(u);
		memcpy(udp + 6, &u, 2);
	}
}

int64_t pg_frame_seq(const uint8_t *b, uint32_t len)
{
	uint32_t magic;
	if (len < PG_HDR_LEN + 12 || b[12] != 0x08 || b[13] != 0 || b[23] != 17)
		return -1;
	memcpy(&magic, b + PG_PAYLOAD_OFS, 4);
	if (ntohl(magic) != PG_MAGIC)
		return -1;
	uint64_t seq = 0;
	for (int i = 0; i < 8; i++)
		seq = seq << 8 | b[PG_PAYLOAD_OFS + 4 + i];
	return (int64_t)(seq & INT64_MAX);
}

static int parse_ipport(const char *s, uint32_t *ip, uint16_t *port, int *has_port)
{
	char buf[64];
	snprintf(buf, sizeof(buf), "%s", s);
	char *colon = strchr(buf, ':');
	*has_port = 0;
	if (colon) {
		*colon = 0;
		char *e;
		long v = strtol(colon + 1, &e, 10);
		if (*e || v < 0 || v > 65535)
			return -1;
		*port = (uint16_t)v;
		*has_port = 1;
	}
	struct in_addr a;
	if (inet_pton(AF_INET, buf, &a) != 1)
		return -1;
	*ip = ntohl(a.s_addr);
	return 0;
}

int pg_parse_range(const char *s, struct pg_range *r)
{
	char buf[128];
	snprintf(buf, sizeof(buf), "%s", s);
	char *dash = strchr(buf, '-');
	int hp1, hp2;
	if (dash)
		*dash = 0;
	if (parse_ipport(buf, &r->ip_lo, &r->port_lo, &hp1))
		return -1;
	r->ip_hi = r->ip_lo;
	if (!hp1)
		r->port_lo = r->port_hi = 1234;
	r->port_hi = r->port_lo;
	if (dash) {
		if (parse_ipport(dash + 1, &r->ip_hi, &r->port_hi, &hp2))
			return -1;
		if (!hp2)
			r->port_hi = r->port_lo;
		if (r->ip_hi < r->ip_lo || r->port_hi < r->port_lo)
			return -1;
	}
	return 0;
}

int pg_parse_mac(const char *s, uint8_t mac[6])
{
	return nm_parse_mac(s, mac);
}
