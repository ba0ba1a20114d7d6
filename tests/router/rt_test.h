/*
 * rt_test.h — what the router's C unit tests share (test_rt_engine.c, test_rt_io.c): CHECK
 * (tests/check.h), the Internet checksum, the router's two ports' MACs and host A's, and an
 * IPv4 UDP frame. One test program per file that includes it.
 */
#ifndef RT_TEST_H
#define RT_TEST_H

#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "tests/check.h"

/* The Internet checksum of d[0..len) on top of the partial sum s (RFC 1071). */
static inline uint16_t cksum(const void *d, unsigned len, uint32_t s)
{
	const uint8_t *p = d;
	for (; len > 1; p += 2, len -= 2)
		s += (uint32_t)(p[0] << 8 | p[1]);
	if (len)
		s += (uint32_t)(p[0] << 8);
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

/* p0's and p1's MACs, and host A's (on p0) */
static const uint8_t MAC0[6] = {2, 0, 0, 0, 0, 0x10}, MAC1[6] = {2, 0, 0, 0, 0, 0x11};
static const uint8_t HA[6] = {2, 0, 0, 0, 0, 0xa1};

static inline uint32_t ip4(const char *s)
{
	uint32_t a;
	inet_pton(AF_INET, s, &a);
	return a;
}

/* Ethernet (from HA) + IPv4 + UDP with 18 bytes of payload into f (2048 bytes, zeroed
 * first); returns the frame length. */
static inline unsigned mk_udp4(uint8_t *f, const uint8_t *dmac, const char *src, const char *dst,
                               uint8_t ttl)
{
	memset(f, 0, 2048);
	memcpy(f, dmac, 6);
	memcpy(f + 6, HA, 6);
	f[12] = 0x08;
	uint8_t *ip = f + 14;
	ip[0] = 0x45;
	ip[3] = 20 + 8 + 18;
	ip[4] = 0x12;
	ip[5] = 0x34;
	ip[8] = ttl;
	ip[9] = 17;
	uint32_t a = ip4(src), b = ip4(dst);
	memcpy(ip + 12, &a, 4);
	memcpy(ip + 16, &b, 4);
	uint16_t c = cksum(ip, 20, 0);
	ip[10] = (uint8_t)(c >> 8);
	ip[11] = (uint8_t)c;
	ip[20] = 0x30;
	ip[21] = 0x39; /* sport 12345 */
	ip[23] = 53;
	ip[25] = 26;
	for (int i = 0; i < 18; i++)
		ip[28 + i] = (uint8_t)i;
	return 14 + 46;
}

#endif /* RT_TEST_H */
