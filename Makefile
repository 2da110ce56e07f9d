# osrca -- passive root-cause analyzer for OpenStack. See README.md.
#
#   make demo       set up, build, analyze a bundled capture
#   make check      set up, build, run every test (plain and ASan/UBSan)
#   make all        build $(B)/osrca           make SAN=1 ...  sanitizer build
#   make unit golden fuzz bench golden-update clean
#
# Variables: CC, OPT (optimisation), SAN (1 = address,undefined, or a list),
# WERROR (set to -Werror in CI), FUZZ_SECONDS.

OPT ?= -O2
SAN ?=
WERROR ?=
FUZZ_SECONDS ?= 60
PKGS := libpcap libndpi jansson libpcre2-8 yaml-0.1 zlib libcurl libmicrohttpd

ifeq ($(SAN),)
B := build
SANFLAGS :=
else
B := build-san
ifeq ($(SAN),1)
SANFLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
else
SANFLAGS := -fsanitize=$(SAN) -fno-sanitize-recover=all -fno-omit-frame-pointer
endif
endif

PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CHECK_CFLAGS = $(shell pkg-config --cflags check 2>/dev/null)
CHECK_LIBS = $(shell pkg-config --libs check 2>/dev/null)

CFLAGS := -std=c11 -D_GNU_SOURCE -g $(OPT) -Wall -Wextra -Wstrict-prototypes -Wshadow \
	$(WERROR) $(SANFLAGS) -I. $(PKG_CFLAGS)
LDFLAGS := $(SANFLAGS)
LDLIBS := $(PKG_LIBS) -lm

LIB_SRC := $(sort $(wildcard capture/*.c parsers/*.c rca/*.c) \
	$(filter-out cli/main.c,$(wildcard cli/*.c)))
LIB_OBJ := $(LIB_SRC:%.c=$(B)/%.o)
TEST_SRC := $(sort $(wildcard tests/check_*.c))
TESTS := $(TEST_SRC:tests/%.c=$(B)/tests/%)
FUZZ_SRC := $(sort $(wildcard tests/fuzz/fuzz_*.c))

.PHONY: all deps demo check check-plain check-san unit golden golden-update badinput fuzz fuzz-build \
	bench clean

all: $(B)/osrca

deps:
	@sh tests/setup.sh

demo: deps
	@$(MAKE) --no-print-directory all
	TZ=UTC ./$(B)/osrca analyze --rules rules testdata/s2p_novalidhost_capacity.pcap

# The one test command: set-up, then every test, plain and under ASan/UBSan.
check: deps
	@$(MAKE) --no-print-directory WERROR=-Werror check-plain
	@$(MAKE) --no-print-directory WERROR=-Werror SAN=1 check-plain

check-plain: all $(TESTS)
	@$(MAKE) --no-print-directory unit golden
	@$(MAKE) --no-print-directory BAD_QUICK=1 badinput

unit: $(TESTS)
	@sh tests/run_unit.sh $(TESTS)

golden: $(B)/osrca
	@OSRCA=./$(B)/osrca sh tests/golden.sh

# Hostile input: damaged captures, garbage on service ports, huge lines,
# deep JSON, a SYN flood of 1,000,000 flows (BAD_QUICK=1: 100,000).
badinput: $(B)/osrca
	@OSRCA=./$(B)/osrca BAD_QUICK=$(BAD_QUICK) sh tests/badinput/run.sh

golden-update: $(B)/osrca
	@OSRCA=./$(B)/osrca UPDATE=1 sh tests/golden.sh

$(B)/osrca: $(B)/cli/main.o $(B)/libosrca.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(B)/libosrca.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(B)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c -o $@ $<

$(B)/tests/%: tests/%.c $(wildcard tests/*.h) $(B)/libosrca.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(CHECK_CFLAGS) -o $@ $< $(B)/libosrca.a $(LDFLAGS) $(CHECK_LIBS) $(LDLIBS)

# libFuzzer targets (clang): one per input surface.
FUZZ_CFLAGS := -std=c11 -D_GNU_SOURCE -g -O1 -I. $(PKG_CFLAGS) \
	-fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer
FUZZ_LIB_OBJ := $(LIB_SRC:%.c=build-fuzz/%.o)
build-fuzz/%.o: %.c
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -c -o $@ $<
build-fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_LIB_OBJ)
	clang $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $^ $(PKG_LIBS) -lm
fuzz-build: $(FUZZ_SRC:tests/fuzz/%.c=build-fuzz/%)
fuzz: fuzz-build
	@sh tests/fuzz/run.sh $(FUZZ_SECONDS) $(FUZZ_SRC:tests/fuzz/%.c=build-fuzz/%)

bench: all
	@sh tests/bench/run.sh ./$(B)/osrca

clean:
	rm -rf build build-san build-fuzz

-include $(LIB_OBJ:.o=.d) $(B)/cli/main.d
