# osrca -- passive root-cause analyzer for OpenStack. See README.md.
#
#   make demo       set up, build, analyze a bundled capture
#   make check      set up, build, run every test (plain and ASan/UBSan),
#                   and a short fuzz smoke of every libFuzzer target
#   make all        build $(B)/osrca           make SAN=1 ...  sanitizer build
#   make release    build-release/osrca: -O3 with profile feedback (GCC)
#   make unit golden badinput benchcheck labscore fuzz bench golden-update clean
#   make labrecord  record the lab corpus again (root, ../shared/lab installed)
#   make install uninstall     [PREFIX=/usr/local] [DESTDIR=]
#   make unit-verify           systemd-analyze verify of the installed unit
#   make deb deb-test fresh-test   Debian package; it and the README's two
#                   commands on a fresh minimal Debian 12 (root, network)
#
# Variables: CC, OPT (optimisation), SAN (1 = address,undefined, or a list),
# WERROR (set to -Werror in CI), FUZZ_SECONDS, FUZZ_RUNS, FUZZ_TARGETS,
# FUZZ_SMOKE_SECONDS, CFLAGS_EXTRA and LDFLAGS_EXTRA (appended: a
# distribution's hardening flags), PREFIX and the install directories below.

OPT ?= -O2
SAN ?=
WERROR ?=
FUZZ_SECONDS ?= 60
CFLAGS_EXTRA ?=
LDFLAGS_EXTRA ?=
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
# libcurl and libmicrohttpd are dlopen'ed on first use (cli/dynlib.h): headers only
LINK_PKGS := libpcap libndpi jansson libpcre2-8 yaml-0.1 zlib
PKG_LIBS = $(shell pkg-config --libs $(LINK_PKGS) 2>/dev/null)
CHECK_CFLAGS = $(shell pkg-config --cflags check 2>/dev/null)
CHECK_LIBS = $(shell pkg-config --libs check 2>/dev/null)

CFLAGS := -std=c11 -D_GNU_SOURCE -g $(OPT) -Wall -Wextra -Wstrict-prototypes -Wshadow \
	$(WERROR) $(SANFLAGS) -I. $(PKG_CFLAGS) $(CFLAGS_EXTRA)
LDFLAGS := $(SANFLAGS) $(LDFLAGS_EXTRA)
LDLIBS := $(PKG_LIBS) -lm

LIB_SRC := $(sort $(wildcard capture/*.c parsers/*.c rca/*.c) \
	$(filter-out cli/main.c,$(wildcard cli/*.c cli/*/*.c)))
LIB_OBJ := $(LIB_SRC:%.c=$(B)/%.o)
TEST_SRC := $(sort $(wildcard tests/check_*.c))
TESTS := $(TEST_SRC:tests/%.c=$(B)/tests/%)
FUZZ_SRC := $(sort $(wildcard tests/fuzz/fuzz_*.c))

.PHONY: all deps demo check check-plain check-san unit golden golden-update badinput benchcheck \
	labscore labscore-open labrecord otlpcheck otlp-live reportcheck buscheck hostsrecord \
	fuzz fuzz-build \
	fuzz-smoke \
	release bench clean install uninstall unit-verify deb deb-test fresh-test FORCE

all: $(B)/osrca

deps:
	@sh tests/setup.sh

demo: deps
	@$(MAKE) --no-print-directory all
	TZ=UTC ./$(B)/osrca analyze --rules rules testdata/s2p_novalidhost_capacity.pcap

# The one test command: set-up, then every test, plain and under ASan/UBSan,
# then every fuzz target for FUZZ_SMOKE_SECONDS from its seeds (needs clang).
check: deps
	@$(MAKE) --no-print-directory WERROR=-Werror check-plain
	@$(MAKE) --no-print-directory WERROR=-Werror SAN=1 check-plain
	@$(MAKE) --no-print-directory fuzz-smoke

check-plain: all $(TESTS)
	@$(MAKE) --no-print-directory unit golden
	@$(MAKE) --no-print-directory BAD_QUICK=1 badinput
	@$(MAKE) --no-print-directory benchcheck
	@$(MAKE) --no-print-directory otlpcheck OTLP_QUICK=$(if $(SAN),1,)
	@$(if $(SAN),true,$(MAKE) --no-print-directory reportcheck)
	@$(MAKE) --no-print-directory buscheck
	@$(MAKE) --no-print-directory labscore LABSCORE_MIN="$(LABSCORE_CI)"
	@$(MAKE) --no-print-directory labscore LABSCORE_MIN="$(LABSCORE_BASELINE_CI)"

# Sensors and the correlator (tests/bus): correlate of a sensor's stream
# equal to analyze on every capture (SAN: the bundled ones), one span port against a sensor
# per host on the multi-host lab recordings (stream files), then over a
# real redis-server started on loopback: the plain run, the correlator
# killed and restarted, Redis restarted, a clock 2 s off, a silent sensor,
# a flood (FLOOD_BYTES of the bench generator's traffic).
FLOOD_BYTES ?= 100000000
buscheck: $(B)/osrca $(B)/bench/gen
	@OSRCA=./$(B)/osrca QUICK=$(if $(SAN),1,) sh tests/bus/same_as_analyze.sh
	@OSRCA=./$(B)/osrca sh tests/bus/hosts.sh
	@OSRCA=./$(B)/osrca GEN=./$(B)/bench/gen FLOOD_BYTES=$(FLOOD_BYTES) sh tests/bus/redis.sh

# Record the multi-host recordings again (root, the lab installed).
hostsrecord:
	sh tests/bus/record_hosts.sh

unit: $(TESTS)
	@sh tests/run_unit.sh $(TESTS)

golden: $(B)/osrca
	@OSRCA=./$(B)/osrca sh tests/golden.sh
	@OSRCA=./$(B)/osrca sh tests/pictures.sh

# Hostile input: damaged captures, garbage on service ports, huge lines,
# deep JSON, a SYN flood of 1,000,000 flows (BAD_QUICK=1: 100,000).
badinput: $(B)/osrca
	@OSRCA=./$(B)/osrca BAD_QUICK=$(BAD_QUICK) sh tests/badinput/run.sh

# The benchmark's tools (generator, scorer, CPU timer), built with the
# analyzer's flags (sanitized under SAN) and tested: the scorer on verdicts
# with known answers, the generator's determinism, and precision and recall
# of gen -> osrca analyze -> score at CI size (tests/bench/selftest.sh).
BENCH_TOOLS := $(B)/bench/gen $(B)/bench/score $(B)/bench/cputime
$(B)/bench/%: tests/bench/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(LDFLAGS) $(LDLIBS)
benchcheck: $(B)/osrca $(BENCH_TOOLS)
	@OSRCA=./$(B)/osrca BIN=$(B)/bench sh tests/bench/selftest.sh

# Traces: every capture's OTLP/JSON and OTLP/protobuf read by the official
# definitions' generated code (npm @opentelemetry/otlp-transformer, pinned in
# tests/otlp/package-lock.json), the sender retried after a 503, no secret
# in either (tests/otlp/run.sh; OTLP_QUICK=1: the bundled captures only).
otlpcheck: $(B)/osrca
	@OSRCA=./$(B)/osrca OTLP_NODE=build/otlp-node OTLP_QUICK=$(OTLP_QUICK) sh tests/otlp/run.sh

# The incident report in a real browser: headless Chromium renders `osrca
# report` of lab outages (network off); the DOM must hold every verdict,
# incident, waterfall and the service map, and no script (tests/report).
REPORT_CAPS ?= testdata/lab/outage3-nova-scheduler.pcap.gz testdata/lab/outage3-glance-api.pcap.gz \
	testdata/lab/slow-hang-conductor.pcap.gz testdata/lab/user-errors.pcap.gz
reportcheck: $(B)/osrca
	@for c in $(REPORT_CAPS); do OSRCA=./$(B)/osrca sh tests/report/browser.sh $$c || exit 1; done

# `osrca live --otlp-endpoint` during a tcpreplay in a namespace of its own,
# against the receiver answering 503 first (root, tcpreplay; not in check)
otlp-live: $(B)/osrca otlpcheck
	@OSRCA=$(PWD)/$(B)/osrca OTLP_NODE=$(PWD)/build/otlp-node sh tests/otlp/live_otlp.sh

# The lab corpus (testdata/lab: real recordings of the fault lab with their
# truth): precision and recall of the verdicts per recording and per fault
# class (tests/lab/labscore.py). In check, with thresholds: a regression
# fails. LABSCORE_MIN="--min-precision P --min-recall R --max-duplicates N".
LABSCORE_CI := --min-precision 0.99 --min-recall 0.99 --max-duplicates 0 \
	--min-slow-precision 1.0 --min-slow-recall 0.75
# the same with the usual durations of the fault-free recordings loaded
# first (--baseline): slow operations judged from the first one on
LABSCORE_BASELINE_CI := $(LABSCORE_CI) --min-slow-recall 1.0 \
	--baseline-from slow-healthy-concurrent --baseline-from mh-healthy
LABSCORE_MIN ?=
labscore: $(B)/osrca
	@python3 tests/lab/labscore.py --osrca ./$(B)/osrca --rules rules $(LABSCORE_MIN) \
		testdata/lab/*.truth.json

# Held-out recordings osrca does not get right yet (testdata/lab-open,
# tests/lab/heldout4.list): scored, no thresholds, not in check.
labscore-open: $(B)/osrca
	@python3 tests/lab/labscore.py --osrca ./$(B)/osrca --rules rules -v \
		testdata/lab-open/*.truth.json

# Record the corpus again with the fault lab (root; `../shared/lab/lab
# install` once): every line of tests/lab/corpus.list, or LAB_NAMES="a b".
labrecord:
	@sh tests/lab/record.sh $(LAB_NAMES)

golden-update: $(B)/osrca
	@OSRCA=./$(B)/osrca UPDATE=1 sh tests/golden.sh

$(B)/osrca: $(B)/cli/main.o $(B)/libosrca.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# P: members by their path (cli/out/event.o and parsers/event.o both stay)
$(B)/libosrca.a: $(LIB_OBJ)
	@rm -f $@
	ar rcsP $@ $^

$(B)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c -o $@ $<

$(B)/tests/%: tests/%.c $(wildcard tests/*.h) $(B)/libosrca.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(CHECK_CFLAGS) -o $@ $< $(B)/libosrca.a $(LDFLAGS) $(CHECK_LIBS) $(LDLIBS)

# libFuzzer targets (clang, ASan+UBSan): one per input surface, seeds cut
# from testdata/ and rules/ by tests/fuzz/seeds.py. FB: their build dir.
# make fuzz [FUZZ_SECONDS=N | FUZZ_RUNS=N] [FUZZ_TARGETS="pcap amqp"]
# make fuzz-smoke   (part of check) every target FUZZ_SMOKE_SECONDS from seeds
FB ?= build-fuzz
FUZZ_RUNS ?=
FUZZ_TARGETS ?=
FUZZ_SMOKE_SECONDS ?= 15
FUZZ_CFLAGS := -std=c11 -D_GNU_SOURCE -g -O1 -I. $(PKG_CFLAGS) \
	-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined \
	-fno-omit-frame-pointer
FUZZ_LIB_OBJ := $(LIB_SRC:%.c=$(FB)/%.o)
FUZZ_BIN := $(FUZZ_SRC:tests/fuzz/%.c=$(FB)/%)
FUZZ_SEL := $(if $(FUZZ_TARGETS),$(FUZZ_TARGETS:%=$(FB)/fuzz_%),$(FUZZ_BIN))
.SECONDARY: $(FUZZ_LIB_OBJ)
# The libc-only foundation (counters, accounted allocation, arenas) parses
# no input: sanitized but without coverage feedback, which there only costs
# time (counter lookups by name were a third of an empty AMQP input's run).
FUZZ_NOCOV := capture/stats.c capture/mem.c capture/arena.c
comma := ,
$(FB)/%.o: %.c
	@mkdir -p $(dir $@)
	clang $(if $(filter $<,$(FUZZ_NOCOV)),$(subst fuzzer-no-link$(comma),,$(FUZZ_CFLAGS)),$(FUZZ_CFLAGS)) \
		-MMD -MP -c -o $@ $<
# Through an archive: a target links only the modules it uses, so
# libFuzzer scans only their coverage counters after every execution.
$(FB)/libosrca.a: $(FUZZ_LIB_OBJ)
	@rm -f $@
	ar rcsP $@ $^
$(FB)/fuzz_%: tests/fuzz/fuzz_%.c $(FB)/libosrca.a
	clang $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $^ $(PKG_LIBS) -lm
$(FB)/seeds/.done: tests/fuzz/seeds.py $(wildcard testdata/*.pcap rules/*.yaml)
	@rm -rf $(FB)/seeds
	@python3 tests/fuzz/seeds.py $(FB)/seeds
	@touch $@
fuzz-build: $(FUZZ_BIN) $(FB)/seeds/.done
fuzz: fuzz-build
	@FB=$(FB) FUZZ_RUNS=$(FUZZ_RUNS) sh tests/fuzz/run.sh $(FUZZ_SECONDS) $(FUZZ_SEL)
fuzz-smoke:
	@sh tests/setup.sh fuzz
	@$(MAKE) --no-print-directory -j2 fuzz-build
	@FB=$(FB) FUZZ_SMOKE=1 FUZZ_JOBS=2 sh tests/fuzz/run.sh $(FUZZ_SMOKE_SECONDS) $(FUZZ_SEL)

# The build to deploy, and the one make bench measures: $(RELEASE_OPT) with
# GCC profile feedback. An instrumented build is run over the bundled real
# captures (testdata/*.pcap: analyze, chains, messages, flows; never the
# benchmark's generated input), then everything is compiled again with the
# profile it wrote. Same output as the plain build, ~8 % less CPU.
RB := build-release
RELEASE_OPT ?= -O3
PGO_USE ?= -fprofile-partial-training
PGO_TRAIN := for f in testdata/*.pcap; do \
	  for c in "analyze" "analyze --format json" "chains --format json" "messages" "flows"; do \
	    TZ=UTC $(RB)/osrca $$c --rules rules "$$f" >/dev/null 2>&1; \
	  done; \
	done; true
release: $(RB)/.done
$(RB)/.done: $(LIB_SRC) cli/main.c $(wildcard capture/*.h parsers/*.h rca/*.h cli/*.h cli/*/*.h) \
		$(wildcard testdata/*.pcap) Makefile
	@rm -rf $(RB)
	@$(MAKE) --no-print-directory B=$(RB) SAN= LDFLAGS=-fprofile-generate \
		OPT="$(RELEASE_OPT) -fprofile-generate -fprofile-update=single" $(RB)/osrca
	@echo "release: training on testdata/*.pcap"
	@$(PGO_TRAIN)
	@find $(RB) -name '*.o' -delete && rm -f $(RB)/libosrca.a $(RB)/osrca
	@$(MAKE) --no-print-directory B=$(RB) SAN= LDFLAGS= \
		OPT="$(RELEASE_OPT) -fprofile-use $(PGO_USE) -Wno-missing-profile" \
		$(RB)/osrca
	@touch $@

# BENCH_BIN: the analyzer measured (default the release build).
BENCH_BIN ?= $(RB)/osrca
bench: $(if $(filter $(RB)/osrca,$(BENCH_BIN)),release,all)
	@sh tests/bench/run.sh ./$(BENCH_BIN)

clean:
	rm -rf build build-san build-release $(FB)

# ---- installing (README "Install"; docs/man, docs/systemd) ----
# An installed osrca reads /etc/osrca/rules when present, else
# $(DATADIR)/rules (compiled into cli/common.o; rebuilt when it changes).
PREFIX ?= /usr/local
DESTDIR ?=
BINDIR ?= $(PREFIX)/bin
DATADIR ?= $(PREFIX)/share/osrca
MANDIR ?= $(PREFIX)/share/man
SYSCONFDIR ?= /etc
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
$(B)/cli/common.o: CFLAGS += -DOSRCA_SHARE_RULES='"$(DATADIR)/rules"'
$(B)/cli/common.o: $(B)/.datadir
$(B)/.datadir: FORCE
	@mkdir -p $(B)
	@echo '$(DATADIR)' | cmp -s - $@ || echo '$(DATADIR)' > $@
FORCE:

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(DATADIR)/rules $(DESTDIR)$(MANDIR)/man1 \
		$(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(SYSTEMDUNITDIR) $(DESTDIR)$(SYSUSERSDIR) \
		$(DESTDIR)$(SYSCONFDIR)/default
	install -m 755 $(B)/osrca $(DESTDIR)$(BINDIR)/osrca
	install -m 644 rules/*.yaml $(DESTDIR)$(DATADIR)/rules/
	install -m 644 docs/man/osrca.1 $(DESTDIR)$(MANDIR)/man1/osrca.1
	install -m 644 docs/man/osrca-rules.5 $(DESTDIR)$(MANDIR)/man5/osrca-rules.5
	sed 's|@BINDIR@|$(BINDIR)|g' docs/systemd/osrca-live@.service.in \
		> $(DESTDIR)$(SYSTEMDUNITDIR)/osrca-live@.service
	chmod 644 $(DESTDIR)$(SYSTEMDUNITDIR)/osrca-live@.service
	install -m 644 docs/systemd/osrca.sysusers $(DESTDIR)$(SYSUSERSDIR)/osrca.conf
	@# the operator's settings are never overwritten
	[ -e $(DESTDIR)$(SYSCONFDIR)/default/osrca ] || \
		install -m 644 docs/systemd/osrca.default $(DESTDIR)$(SYSCONFDIR)/default/osrca

# Removes what install wrote; the settings file only when unchanged.
uninstall:
	rm -f $(DESTDIR)$(BINDIR)/osrca $(DESTDIR)$(MANDIR)/man1/osrca.1 \
		$(DESTDIR)$(MANDIR)/man5/osrca-rules.5 $(DESTDIR)$(SYSTEMDUNITDIR)/osrca-live@.service \
		$(DESTDIR)$(SYSUSERSDIR)/osrca.conf
	rm -rf $(DESTDIR)$(DATADIR)
	! cmp -s docs/systemd/osrca.default $(DESTDIR)$(SYSCONFDIR)/default/osrca || \
		rm -f $(DESTDIR)$(SYSCONFDIR)/default/osrca

# The unit as installed (PREFIX=/usr into a scratch root), checked by
# systemd-analyze verify; the scratch root is then removed.
unit-verify:
	@sh tests/install/unit_verify.sh

# Not in check (root, network, minutes): the Debian package (into
# DEB_DIR, default /var/tmp/osrca-deb), it installed with apt on a fresh
# minimal Debian 12, and the README's two commands on one.
deb:
	@sh tests/install/deb.sh build
deb-test:
	@sh tests/install/deb.sh test
fresh-test:
	@sh tests/install/fresh.sh

-include $(LIB_OBJ:.o=.d) $(B)/cli/main.d $(FUZZ_LIB_OBJ:.o=.d)
