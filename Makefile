# cairn - one plain, non-recursive Makefile.
#
#   make            build the programs into $(O)/bin
#   make test       build and run the unit and end-to-end tests
#   make check      the same under AddressSanitizer + UBSan (in build-check/)
#   make bench      build and run the benchmarks, printing every figure
#   make fuzz       build the libFuzzer harnesses with clang (build-fuzz/)
#                   and run each for FUZZ_SECONDS (default 600)
#   make demo       the main job: run the demonstration (see README.md)
#   make install    install programs, man pages and docs under $(PREFIX)
#   make deb        the Debian packages cairn, cairn-node, cairn-coordinator
#                   (debian/; built in $(O)/deb/, docs/build.md)
#   make test-deb   build, install, upgrade and purge them (root, dpkg)
#   make V=1        show the full command lines
#
# Required flags live apart from CFLAGS, so `make CFLAGS=-O0` keeps
# -Wall -Wextra -Werror.  Missing Debian packages are installed on the first
# build when running as root (tools/deps.sh), otherwise it names the command.

.DEFAULT_GOAL := all

O	?= build
PREFIX	?= /usr/local
CC	?= cc
CFLAGS	?= -O2 -g
LDFLAGS	?=

REQ_CFLAGS := -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow \
	-Wstrict-prototypes -Wmissing-prototypes -Wno-unused-parameter \
	-I. -I$(O)/gen -MMD -MP
ifeq ($(SAN),1)
SAN_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all \
	-fno-omit-frame-pointer
endif
ifeq ($(FUZZ),1)
SAN_FLAGS := -fsanitize=fuzzer-no-link,address,undefined \
	-fno-sanitize-recover=all -fno-omit-frame-pointer
endif

ifeq ($(V),1)
Q :=
say = @true
else
Q := @
say = @printf '  %-6s %s\n' $(1) $(2)
endif

# Package flags, found (and packages installed) once per build folder.
ifeq ($(filter clean,$(MAKECMDGOALS)),)
include $(O)/deps.mk
endif
$(O)/deps.mk: tools/deps.sh
	@mkdir -p $(O)
	@sh tools/deps.sh > $@.tmp && mv $@.tmp $@

ALL_CFLAGS = $(REQ_CFLAGS) $(PKG_CFLAGS) $(SAN_FLAGS) $(CPPFLAGS) $(CFLAGS)
ALL_LDFLAGS = $(SAN_FLAGS) $(LDFLAGS) -Wl,--as-needed
LIBS = $(PKG_LIBS) -lm -pthread

# Sources: every .c of the module folders goes into libcairn.a, except the
# programs' main files.  synth/ (`cairn synth`) is its own archive, which
# only `cairn` and the unit tests link; cmd/ is the `cairn` entry point
# (its {name, fn, help} table and `cairn demo`); bench/ holds the
# benchmark programs, each linked on its own.
MODULES := common privacy keys protocol node node/engine coordinator query audit
MAIN_SRC := $(wildcard node/node_main.c coordinator/coord_main.c)
CMD_SRC := $(wildcard cmd/*.c)
SYNTH_SRC := $(wildcard synth/*.c)
BENCH_SRC := $(wildcard bench/bench_*.c)
LIB_SRC := $(filter-out $(MAIN_SRC), \
	$(wildcard $(addsuffix /*.c,$(MODULES))))

# protoc-c writes messages only; the build generates them, never commit.
PROTO := $(wildcard protocol/*.proto)
GEN_C := $(patsubst %.proto,$(O)/gen/%.pb-c.c,$(PROTO))
GEN_H := $(GEN_C:.c=.h)

LIB_OBJ := $(patsubst %.c,$(O)/obj/%.o,$(LIB_SRC)) \
	$(patsubst $(O)/gen/%.c,$(O)/obj/gen/%.o,$(GEN_C))
CMD_OBJ := $(patsubst %.c,$(O)/obj/%.o,$(CMD_SRC))
SYNTH_OBJ := $(patsubst %.c,$(O)/obj/%.o,$(SYNTH_SRC))
PROGS := $(O)/bin/cairn \
	$(patsubst node/node_main.c,$(O)/bin/cairn-node, \
	$(patsubst coordinator/coord_main.c,$(O)/bin/cairn-coordinator, \
	$(MAIN_SRC)))
BENCHES := $(patsubst bench/%.c,$(O)/bin/%,$(BENCH_SRC))

TEST_SRC := $(wildcard tests/unit/test_*.c)
TEST_HELP_SRC := $(filter-out $(TEST_SRC),$(wildcard tests/unit/*.c))
TESTS := $(patsubst tests/unit/%.c,$(O)/tests/%,$(TEST_SRC))
TEST_HELP_OBJ := $(patsubst %.c,$(O)/obj/%.o,$(TEST_HELP_SRC))
# Helper programs the end-to-end scripts start (tests/e2e/*.c).
E2E_SRC := $(wildcard tests/e2e/*.c)
E2E_PROGS := $(patsubst tests/e2e/%.c,$(O)/bin/%,$(E2E_SRC))

.PHONY: all test check bench demo install clean test-long fuzz fuzz-build \
	deb test-deb
.SECONDARY:
all: $(PROGS)

$(O)/gen/%.pb-c.c $(O)/gen/%.pb-c.h: %.proto
	$(call say,PROTOC,$<)
	@mkdir -p $(O)/gen
	$(Q)protoc-c --proto_path=. --c_out=$(O)/gen $<

$(O)/obj/gen/%.o: $(O)/gen/%.c
	$(call say,CC,$<)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(ALL_CFLAGS) -Wno-shadow -Wno-missing-prototypes -c -o $@ $<

$(O)/obj/%.o: %.c | $(GEN_H)
	$(call say,CC,$<)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(O)/libcairn.a: $(LIB_OBJ)
	$(call say,AR,$@)
	@rm -f $@
	$(Q)ar rcs $@ $^

$(O)/libsynth.a: $(SYNTH_OBJ)
	$(call say,AR,$@)
	@rm -f $@
	$(Q)ar rcs $@ $^

# synth/ uses libcairn.a, so its archive comes first on the link line.
$(O)/bin/cairn: $(CMD_OBJ) $(O)/libsynth.a $(O)/libcairn.a
$(O)/bin/cairn-node: $(O)/obj/node/node_main.o $(O)/libcairn.a
$(O)/bin/cairn-coordinator: $(O)/obj/coordinator/coord_main.o $(O)/libcairn.a
$(PROGS):
	$(call say,LD,$@)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)

$(BENCHES): $(O)/bin/%: $(O)/obj/bench/%.o $(O)/libcairn.a
	$(call say,LD,$@)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)

# A test or fuzz harness may add link flags of its own: LDFLAGS_<name>.
# WRAP_TRANSPORT serves the coordinator in process (tests/unit/
# fake_transport.c); WRAP_ALLOC lets test_allocfail fail allocations.
comma := ,
WRAP_ALLOC := -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc \
	-Wl,--wrap=strdup,--wrap=strndup,--wrap=big_alloc
WRAP_TRANSPORT := $(addprefix -Wl$(comma)--wrap=,keys_tls_load \
	keys_tls_free transport_server_start transport_server_stop \
	transport_server_port transport_call_role transport_call_peer \
	transport_call_peer_cert_fpr transport_call_method \
	transport_call_remaining_ms transport_call_is_cancelled \
	transport_call_reply transport_call_fail transport_call_send \
	transport_call_finish)
LDFLAGS_test_allocfail := $(WRAP_ALLOC) $(WRAP_TRANSPORT)
LDFLAGS_fuzz_coord_msg := $(WRAP_TRANSPORT)
$(O)/tests/%: $(O)/obj/tests/unit/%.o $(TEST_HELP_OBJ) $(O)/libsynth.a \
    $(O)/libcairn.a
	$(call say,LD,$@)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(ALL_LDFLAGS) $(LDFLAGS_$*) -o $@ $^ $(CMOCKA_LIBS) $(LIBS)

$(E2E_PROGS): $(O)/bin/%: $(O)/obj/tests/e2e/%.o $(O)/libcairn.a
	$(call say,LD,$@)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)

# Fuzzing (docs/security.md): every tests/fuzz/fuzz_*.c is a libFuzzer
# harness.  make test links each with tests/fuzz/replay_main.c and the
# normal compiler, and tests/e2e/fuzz_replay.sh replays its seed corpus and
# regression inputs; make fuzz builds them with clang and
# -fsanitize=fuzzer,address,undefined in build-fuzz/ and runs each one for
# FUZZ_SECONDS (tests/fuzz/run.sh).
FUZZ_SECONDS ?= 600
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_HELP_SRC := $(filter-out $(FUZZ_SRC) tests/fuzz/replay_main.c, \
	$(wildcard tests/fuzz/*.c))
FUZZ_HELP_OBJ := $(patsubst %.c,$(O)/obj/%.o,$(FUZZ_HELP_SRC))
FUZZ_REPLAY := $(patsubst tests/fuzz/%.c,$(O)/fuzz/%,$(FUZZ_SRC))
FUZZ_BIN := $(patsubst tests/fuzz/%.c,$(O)/fuzz/%-libfuzzer,$(FUZZ_SRC))

$(FUZZ_REPLAY): $(O)/fuzz/%: $(O)/obj/tests/fuzz/%.o \
    $(O)/obj/tests/fuzz/replay_main.o $(FUZZ_HELP_OBJ) \
    $(O)/obj/tests/unit/fake_transport.o $(O)/libcairn.a
	$(call say,LD,$@)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(ALL_LDFLAGS) $(LDFLAGS_$*) -o $@ $^ $(LIBS)

$(FUZZ_BIN): $(O)/fuzz/%-libfuzzer: $(O)/obj/tests/fuzz/%.o \
    $(FUZZ_HELP_OBJ) $(O)/obj/tests/unit/fake_transport.o $(O)/libcairn.a
	$(call say,LD,$@)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(ALL_LDFLAGS) $(LDFLAGS_$*) -fsanitize=fuzzer -o $@ $^ \
	    $(LIBS)

fuzz-build: $(FUZZ_BIN)

fuzz:
	@command -v clang >/dev/null 2>&1 || { echo "cairn: make fuzz needs \
	clang; run: sudo apt-get install -y clang" >&2; exit 1; }
	@# Objects of another configuration would be kept (.SECONDARY).
	@[ "$$(cat build-fuzz/.config 2>/dev/null)" = "clang FUZZ=1" ] || \
	    { rm -rf build-fuzz; mkdir -p build-fuzz; \
	    echo "clang FUZZ=1" > build-fuzz/.config; }
	@$(MAKE) --no-print-directory O=build-fuzz CC=clang FUZZ=1 \
	    CFLAGS="-O1 -g" fuzz-build
	@sh tests/fuzz/run.sh build-fuzz $(FUZZ_SECONDS)

test: $(PROGS) $(TESTS) $(E2E_PROGS) $(FUZZ_REPLAY)
	@sh tests/run.sh $(O)

# The Python client (clients/python/, docs/analyst.md): `make python`
# generates its messages from the proto into $(O)/python/ with Debian's
# python3-grpc-tools.  `make` never needs Python's packages; `make test`
# does (tests/e2e/python_client.sh), and tools/deps.sh installs them.
PYTHON ?= /usr/bin/python3
PY_GEN := $(O)/python/cairn_pb2.py $(O)/python/cairn_pb2_grpc.py
.PHONY: python
python: $(PY_GEN)
$(O)/python/cairn_pb2_grpc.py: $(O)/python/cairn_pb2.py
$(O)/python/cairn_pb2.py: protocol/cairn.proto
	$(call say,GRPCPY,$<)
	@mkdir -p $(O)/python
	@$(PYTHON) -c 'import grpc_tools' 2>/dev/null || { echo "cairn: make \
	python needs $(PYTHON) with python3-grpc-tools; run: sudo apt-get \
	install -y python3-grpc-tools" >&2; exit 1; }
	$(Q)$(PYTHON) -m grpc_tools.protoc --proto_path=protocol \
	    --python_out=$(O)/python --grpc_python_out=$(O)/python $<

test: python

check:
	@$(MAKE) --no-print-directory O=build-check SAN=1 CFLAGS="-O1 -g" test

# The long hardening run (docs/security-faults.md): every crash point,
# ENOSPC, netns, the attack suite's long mode, `make fuzz`; one report.
test-long: $(PROGS) $(E2E_PROGS)
	@sh bench/test-long.sh $(O)

bench: $(PROGS) $(BENCHES)
	@sh bench/bench.sh $(O)

demo: $(PROGS)
	@sh tools/demo.sh $(O)

# The man pages name docs/*.md relative to $(PREFIX)/share/doc/cairn/.
DOC := $(PREFIX)/share/doc/cairn
install: $(PROGS)
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 0755 $(PROGS) $(DESTDIR)$(PREFIX)/bin
	install -m 0644 $(wildcard docs/man/*.1) $(DESTDIR)$(PREFIX)/share/man/man1
	install -d $(DESTDIR)$(PREFIX)/share/cairn
	install -m 0755 tools/demo.sh $(DESTDIR)$(PREFIX)/share/cairn
	install -m 0644 tools/federation_lib.sh $(DESTDIR)$(PREFIX)/share/cairn
	install -d $(DESTDIR)$(PREFIX)/share/cairn/portal/i18n
	install -m 0755 tools/portal.mjs $(DESTDIR)$(PREFIX)/share/cairn
	install -m 0644 $(wildcard portal/*.html portal/*.js portal/*.css) \
	    $(DESTDIR)$(PREFIX)/share/cairn/portal
	install -m 0644 $(wildcard portal/i18n/*.json) \
	    $(DESTDIR)$(PREFIX)/share/cairn/portal/i18n
	install -d $(DESTDIR)$(DOC)/docs/examples $(DESTDIR)$(DOC)/clients/python
	install -m 0644 README.md $(DESTDIR)$(DOC)
	install -m 0644 $(wildcard docs/*.md) $(DESTDIR)$(DOC)/docs
	install -m 0644 $(wildcard docs/examples/*) $(DESTDIR)$(DOC)/docs/examples
	install -m 0644 clients/python/README.md $(DESTDIR)$(DOC)/clients/python

# Debian packages (debian/, docs/build.md): the tracked and new files of
# this tree, copied to $(O)/deb/cairn/ and built there with
# dpkg-buildpackage (binary only, unsigned, nocheck: `make test` runs the
# tests); the .deb files land in $(O)/deb/.  lintian runs on them.
deb:
	@sh tools/deb.sh build $(O)/deb

test-deb:
	@sh tools/deb.sh test $(O)/test-deb

clean:
	rm -rf build build-check build-fuzz build-deb

-include $(LIB_OBJ:.o=.d) $(TEST_HELP_OBJ:.o=.d) $(FUZZ_HELP_OBJ:.o=.d) \
	$(CMD_OBJ:.o=.d) $(SYNTH_OBJ:.o=.d) \
	$(patsubst %.c,$(O)/obj/%.d,$(MAIN_SRC) $(BENCH_SRC) $(TEST_SRC) \
	$(E2E_SRC) $(FUZZ_SRC) tests/fuzz/replay_main.c)
