/*
 * nm_mac.h — parsing an Ethernet address written "aa:bb:cc:dd:ee:ff" (header only).
 *
 * Shared by nmrouter's config loader and pkt-gen. Each field is a hex number up to 0xff
 * (one or two digits, as sscanf's %x reads it); nothing may follow the sixth field.
 * Not ether_aton_r(): that one accepts trailing text after "ff" and so would let a typo
 * in a config file through.
 */
#ifndef NM_MAC_H
#define NM_MAC_H

#include <stdint.h>
#include <stdio.h>

/* 0 and the address in mac, or -1 (mac untouched). */
static inline int nm_parse_mac(const char *s, uint8_t mac[6])
{
	unsigned v[6];
	char tail;
	if (sscanf(s, "%x:%x:%x:%x:%x:%x%c", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &tail) != 6)
		return -1;
	for (int i = 0; i < 6; i++)
		if (v[i] > 255)
			return -1;
	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)v[i];
	return 0;
}

#endif
