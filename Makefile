# nmbox — one non-recursive Makefile.
#
# Every module keeps its own fragment, DIR/module.mk, included below. A fragment
# appends to these variables and uses the helpers defined here:
#   PKGS        Debian packages needed to build and test (make deps installs the missing ones)
#   BENCH_PKGS  extra packages for benchmarks only (make bench-deps)
#   BINS        programs that `make` builds into bin/
#   UNIT_TESTS  names of C unit tests (each built plain and under ASan+UBSan)
#   EXTRA_UNIT_BINS  further unit-test binaries with their own rules (e.g. a TSan build)
#   INTEG_TESTS integration test scripts (run as root, in network namespaces they create)
# Helpers:
#   $(call objs,SRCS) / $(call sanobjs,SRCS)  object files of SRCS, plain / sanitized
#   $(eval $(call unit_test,NAME,SRCS,LIBS,LDLIBS))   defines bin/tests/NAME and NAME-san
# Libraries: lib/libX.a is archived from its prerequisites by the pattern rule below, and
# lib/libX-san.a likewise from sanitized objects.

.DEFAULT_GOAL := all
SHELL := /bin/bash

CC      := gcc
OPT     ?= -O2
CFLAGS  := $(OPT) -g -std=gnu11 -Wall -Wextra -Werror -D_GNU_SOURCE -MMD -MP -I. -Isys \
           -fno-strict-aliasing -march=x86-64-v2 $(EXTRA_CFLAGS)
SANFLAGS := -O1 -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS :=

PKGS := build-essential pkg-config clang llvm libbpf-dev libxdp-dev xdp-tools libevent-dev \
        libjansson-dev liburcu-dev libpcap-dev libcmocka-dev python3-scapy python3-pytest \
        python3-pyasn iproute2 iputils-ping netcat-openbsd ethtool procps bc
BENCH_PKGS :=
BINS :=
UNIT_TESTS :=
EXTRA_UNIT_BINS :=
INTEG_TESTS :=

objs    = $(patsubst %.c,build/obj/%.o,$(1))
sanobjs = $(patsubst %.c,build/san/%.o,$(1))

build/obj/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c -o $@ $<

build/san/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(SANFLAGS) -c -o $@ $<

lib/%.a:
	@mkdir -p $(@D)
	@rm -f $@
	ar rcs $@ $^

define unit_test
bin/tests/$(1): $(call objs,$(2)) $(patsubst %,%.a,$(3))
	@mkdir -p $$(@D)
	$$(CC) $$(CFLAGS) -o $$@ $$^ $(4)
bin/tests/$(1)-san: $(call sanobjs,$(2)) $(patsubst %,%-san.a,$(3))
	@mkdir -p $$(@D)
	$$(CC) $$(CFLAGS) $$(SANFLAGS) -o $$@ $$^ $(4)
UNIT_TESTS += $(1)
endef

include $(sort $(wildcard */module.mk))

UNIT_BINS := $(foreach t,$(UNIT_TESTS),bin/tests/$(t) bin/tests/$(t)-san) $(EXTRA_UNIT_BINS)

.PHONY: all deps bench-deps test unit integ demo bench clean format format-check
all: $(BINS)

# Installs only what is missing; apt-get update only when something is.
deps:
	@missing=$$(for p in $(PKGS); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | \
		grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "deps: installing $$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

bench-deps: deps
	@missing=$$(for p in $(BENCH_PKGS); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | \
		grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "bench-deps: installing $$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

unit: $(UNIT_BINS)
	tests/run.sh unit $(UNIT_BINS)

integ: all
	tests/run.sh integ $(INTEG_TESTS)

# The README's test command: installs, builds, runs every unit test (plain and
# ASan+UBSan) and every integration test, and prints one "N passed, N failed" line.
test: deps
	$(MAKE) all $(UNIT_BINS)
	tests/run.sh all $(UNIT_BINS) -- $(INTEG_TESTS)

demo: deps
	$(MAKE) all
	tools/demo.sh

bench: bench-deps
	$(MAKE) all
	for b in bench/*.sh; do [ -x $$b ] || continue; $$b || exit 1; done # lib.sh is sourced, not run

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

format-check:
	clang-format --dry-run -Werror $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build bin lib

-include $(shell find build -name '*.d' 2>/dev/null)
