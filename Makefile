# vpnd: a WireGuard-compatible VPN daemon and its control tool.
#
#   make            build vpnd and vpnctl
#   make deps       install the Debian build and test dependencies (root)
#   make demo       install what is missing, build, run the local demo (root)
#   make check      install what is missing, build, run every test: unit,
#                   unit under ASan/UBSan and valgrind, netns integration
#   make asan       build and run the unit tests under ASan and UBSan
#   make valgrind   run the unit tests under valgrind
#   make fuzz       smoke run of every libFuzzer harness (a few seconds
#                   each, two at a time) and their regression inputs
#   make fuzz-long FUZZ_SECONDS=N [FUZZ_JOBS=J]
#                   each harness N seconds on its kept corpus, J at a time
#                   (default: the cores); prints executions, exec/s,
#                   cov, features, corpus, crashes, CPU seconds per target
#                   (tests/fuzz/README.md)
#   make install    install into $(DESTDIR)$(PREFIX): programs, systemd
#                   units (UNITDIR), man pages, bash completion
#   make man        the man pages, from docs/*.md (pandoc), in build/man
#   make deb        the Debian package (dpkg-buildpackage in a copy of the
#                   tree, under build/deb; the .deb lands in build/)

PREFIX  ?= /usr/local
BINDIR  ?= $(PREFIX)/bin
UNITDIR ?= $(PREFIX)/lib/systemd/system
MANDIR  ?= $(PREFIX)/share/man
COMPLETIONDIR ?= $(PREFIX)/share/bash-completion/completions
DESTDIR ?=
BUILD   ?= build
CC      ?= cc

CFLAGS  ?= -O2 -g
# Always applied, even when CFLAGS is given on the command line (make asan).
override CFLAGS += -std=gnu11 -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
           -Wmissing-prototypes -Wformat=2 -fno-strict-aliasing \
           -fstack-protector-strong -D_FORTIFY_SOURCE=2 -D_GNU_SOURCE
CPPFLAGS += -Iinclude -Ivpnd -MMD -MP
LDLIBS_CORE = -lsodium -liniparser
LDLIBS_VPND = $(LDLIBS_CORE) -lev -lmnl -ljson-c
LDLIBS_TEST = $(LDLIBS_CORE) -lev -lmnl -ljson-c -lcmocka

DEB_DEPS = build-essential pkg-config libsodium-dev libssl-dev libev-dev \
           libmnl-dev libnftables-dev libiniparser-dev libcmocka-dev \
           wireguard-go wireguard-tools iproute2 iperf3 tcpdump nftables \
           valgrind python3 iputils-ping clang systemd procps util-linux \
           debhelper dpkg-dev fakeroot lintian pandoc debootstrap \
           systemd-container strace openssl \
           libcurl4-openssl-dev libjson-c-dev etcd-server etcd-client \
           libsystemd-dev dbus-daemon bind9-dnsutils

ifeq ($(V),1)
Q :=
say = @true
else
Q := @
say = @printf '  %-7s %s\n' $(1) $(2)
endif

CORE_SRCS  := $(filter-out vpnd/main.c,$(wildcard vpnd/*.c))
CORE_OBJS  := $(CORE_SRCS:%.c=$(BUILD)/%.o)
VPND_OBJS  := $(BUILD)/vpnd/main.o
CTL_SRCS   := $(wildcard vpnctl/*.c)
CTL_OBJS   := $(CTL_SRCS:%.c=$(BUILD)/%.o)
TEST_SRCS  := $(wildcard tests/unit/test_*.c)
TEST_BINS  := $(TEST_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
TEST_HELP  := $(filter-out $(TEST_SRCS),$(wildcard tests/unit/*.c))
TEST_HOBJS := $(TEST_HELP:%.c=$(BUILD)/%.o)

.PHONY: all deps check unit netns pkg asan valgrind fuzz fuzz-long install clean demo \
        man deb bench-aead
.SECONDARY:

all: vpnd/vpnd vpnctl/vpnctl

$(BUILD)/%.o: %.c
	$(call say,CC,$<)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(BUILD)/libvpncore.a: $(CORE_OBJS)
	$(call say,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

vpnd/vpnd: $(VPND_OBJS) $(BUILD)/libvpncore.a
	$(call say,LD,$@)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS_VPND)

# vpnctl reads servers.conf with vpnd's own reader when vpnd is not running,
# and probes the servers itself then (servers.c, noise.c, cookie.c, crypto.c).
vpnctl/vpnctl: $(CTL_OBJS) $(BUILD)/libvpncore.a
	$(call say,LD,$@)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ -lsodium -liniparser

# A unit test may #include the .c it tests to reach its statics; the core
# archive then supplies only what the test did not define itself.
# test_noise counts Diffie-Hellman operations through a link-time wrapper.
TEST_LDFLAGS_test_noise = -Wl,--wrap=wg_dh
# test_leaktest includes vpnctl/leaktest.c, which calls into ctl.c and json.c.
$(BUILD)/tests/test_leaktest: $(BUILD)/vpnctl/ctl.o $(BUILD)/vpnctl/json.o

$(BUILD)/tests/%: $(BUILD)/tests/unit/%.o $(TEST_HOBJS) $(BUILD)/libvpncore.a
	$(call say,LD,$@)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) $(TEST_LDFLAGS_$*) -o $@ $^ $(LDLIBS_TEST)

# A helper the netlink integration test drives, one operation per run.
$(BUILD)/tests/netlink_driver: $(BUILD)/tests/netns/netlink_driver.o $(BUILD)/libvpncore.a
	$(call say,LD,$@)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ -lmnl

$(BUILD)/tests/firewall_driver: $(BUILD)/tests/netns/firewall_driver.o $(BUILD)/libvpncore.a
	$(call say,LD,$@)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ -lmnl

$(BUILD)/tests/killswitch_driver: $(BUILD)/tests/netns/killswitch_driver.o $(BUILD)/libvpncore.a
	$(call say,LD,$@)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ -lmnl

# The AEAD microbenchmark (tests/bench/aead.c): not a test, not in check.
# It alone links OpenSSL, whose EVP it measures vpnd's AEAD against.
$(BUILD)/tests/bench_aead: $(BUILD)/tests/bench/aead.o $(BUILD)/libvpncore.a
	$(call say,LD,$@)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS_CORE) -lcrypto

bench-aead: $(BUILD)/tests/bench_aead
	@$(BUILD)/tests/bench_aead $(BENCH_SECONDS)

unit: $(TEST_BINS)
	@tests/unit/run $(TEST_BINS)

netns: all $(BUILD)/tests/netlink_driver $(BUILD)/tests/firewall_driver \
       $(BUILD)/tests/killswitch_driver
	@tests/netns/run

# Each phase in turn, timed; the last lines give the time of each and one
# closing count for the whole check (tests/phases.sh).
check: deps all
	@MAKE='$(MAKE)' tests/phases.sh unit asan valgrind fuzz netns pkg

# The units, the install, the Debian package, and the units under a real
# systemd (tests/pkg/).
pkg: all
	@tests/pkg/run

# libFuzzer harnesses under ASan/UBSan (tests/fuzz/README.md).  check runs
# the smoke run; fuzz-long is for hunting.  FUZZ_SECONDS and FUZZ_JOBS, on
# the command line or in the environment, reach run.sh as they are.
fuzz:
	@tests/fuzz/run.sh smoke

fuzz-long:
	@tests/fuzz/run.sh long

demo: deps all
	@tests/demo/demo.sh

asan:
	@echo "  ASAN    unit tests"
	$(Q)$(MAKE) --no-print-directory BUILD=build-asan \
	  CFLAGS='-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all' \
	  LDFLAGS='-fsanitize=address,undefined' unit

valgrind: $(TEST_BINS)
	@echo "  VALGRIND unit tests"
	@VALGRIND=1 tests/unit/run $(TEST_BINS)

deps:
	@if [ "$$(id -u)" = 0 ]; then \
	  missing=$$(for p in $(DEB_DEPS); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'ok installed' || echo $$p; done); \
	  if [ -n "$$missing" ]; then \
	    echo "  DEPS    installing:" $$missing; \
	    apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing >/dev/null; \
	  fi; \
	else echo "  DEPS    not root: assuming $(DEB_DEPS) are installed"; fi

# The units name the programs where they are installed.
UNITS := vpnd@.service vpnd-server@.service vpnd-client.service \
         vpnd-killswitch.service

# Man pages: roff from the markdown in docs/ (vpnd.conf(5) is its own
# header followed by docs/config.md; vpnctl's page is section 8, as it
# needs root or the vpnd group).
# Left-adjusted: justified tables and long option lines make groff warn.
PANDOC_MAN = pandoc -s -f markdown -t man -V adjusting=l
MANPAGES := $(BUILD)/man/vpnd.8 $(BUILD)/man/vpnctl.8 $(BUILD)/man/vpnd.conf.5
man: $(MANPAGES)

$(BUILD)/man/vpnd.8: docs/vpnd.8.md
	$(call say,MAN,$@)
	@mkdir -p $(dir $@)
	$(Q)$(PANDOC_MAN) -o $@ $<

$(BUILD)/man/vpnctl.8: docs/vpnctl.1.md
	$(call say,MAN,$@)
	@mkdir -p $(dir $@)
	$(Q)sed '1s/^% VPNCTL(1)\(.*\)User Commands/% VPNCTL(8)\1System Administration/; 1s/^% VPNCTL(1)/% VPNCTL(8)/' $< | \
		$(PANDOC_MAN) -o $@

$(BUILD)/man/vpnd.conf.5: docs/vpnd.conf.5.md docs/config.md
	$(call say,MAN,$@)
	@mkdir -p $(dir $@)
	$(Q)$(PANDOC_MAN) -o $@ $^

install: all man
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(UNITDIR) \
		$(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8 \
		$(DESTDIR)$(COMPLETIONDIR)
	install -m 0755 vpnd/vpnd vpnctl/vpnctl $(DESTDIR)$(BINDIR)/
	for u in $(UNITS); do \
		sed 's|@BINDIR@|$(BINDIR)|g' packaging/$$u >$(DESTDIR)$(UNITDIR)/$$u && \
		chmod 0644 $(DESTDIR)$(UNITDIR)/$$u || exit 1; \
	done
	install -m 0644 $(BUILD)/man/vpnd.8 $(BUILD)/man/vpnctl.8 $(DESTDIR)$(MANDIR)/man8/
	install -m 0644 $(BUILD)/man/vpnd.conf.5 $(DESTDIR)$(MANDIR)/man5/
	install -m 0644 packaging/vpnctl.bash-completion $(DESTDIR)$(COMPLETIONDIR)/vpnctl

# dpkg-buildpackage writes into the tree it builds (debian/ under it, the
# .deb beside it): it builds a copy of the committed-or-not sources, so
# this tree stays as it was; the .deb and its .changes go to $(BUILD).
deb:
	$(call say,DEB,$(BUILD))
	$(Q)rm -rf $(BUILD)/deb && mkdir -p $(BUILD)/deb/src
	$(Q)tar -c --exclude=./build --exclude=./build-asan --exclude=./$(BUILD) \
		--exclude=./.git --exclude=./vpnd/vpnd --exclude=./vpnctl/vpnctl \
		--exclude='*.o' --exclude='*.d' . | tar -x -C $(BUILD)/deb/src
	$(Q)cp -a packaging/debian $(BUILD)/deb/src/debian
	$(Q)cd $(BUILD)/deb/src && dpkg-buildpackage -us -uc -b >../build.log 2>&1 || \
		{ tail -40 ../build.log; exit 1; }
	$(Q)mv $(BUILD)/deb/*.deb $(BUILD)/deb/*.changes $(BUILD)/deb/*.buildinfo $(BUILD)/
	$(Q)ls $(BUILD)/*.deb

clean:
	rm -rf build build-asan vpnd/vpnd vpnctl/vpnctl

-include $(shell find $(BUILD) build-asan -name '*.d' 2>/dev/null)

# Benchmark drivers (tests/bench/): not part of "all" or CI.
.PHONY: bench-tools
bench-tools: tests/bench/hsflood tests/bench/flood tests/bench/relay tests/bench/aipmove

# The soak's lossy, reordering UDP relay: plain C, no project code.
tests/bench/relay: tests/bench/relay.c
	$(call say,CC,$@)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $<

tests/bench/hsflood tests/bench/flood tests/bench/aipmove: tests/bench/%: $(BUILD)/tests/bench/%.o $(BUILD)/libvpncore.a
	$(call say,LD,$@)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS_CORE)
