# lpm/: longest-prefix-match tables (IPv4 + IPv6), RCU-published (liburcu QSBR).
# Users link lib/liblpm.a -lurcu-qsbr.
LPM_SRCS := lpm/lpm4.c lpm/lpm6.c
LPM_LDLIBS := -lurcu-qsbr

PKGS += liburcu-dev zlib1g-dev python3-pyasn
BENCH_PKGS += dpdk-dev

lib/liblpm.a: $(call objs,$(LPM_SRCS))
lib/liblpm-san.a: $(call sanobjs,$(LPM_SRCS))

$(eval $(call unit_test,lpm,lpm/tests/test_lpm.c,lib/liblpm,$(LPM_LDLIBS)))
$(eval $(call unit_test,lpm-full,lpm/tests/test_lpm_full.c,lib/liblpm,$(LPM_LDLIBS) -lz))
$(eval $(call unit_test,lpm-conc,lpm/tests/test_lpm_conc.c,lib/liblpm,$(LPM_LDLIBS) -lpthread))
