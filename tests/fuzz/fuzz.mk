# tests/fuzz/fuzz.mk - libFuzzer targets (clang, ASan + UBSan), included by the Makefile.
#
#   make fuzz                  build every target, fuzz each for FUZZ_SECONDS (default 60)
#   make fuzz-smoke            replay every corpus file, then fuzz each ~FUZZ_SMOKE_SECONDS (10): CI
#   make fuzz-long             every target for FUZZ_LONG_SECONDS (600) each, with the executions
#                              and the new coverage of each and in total
#   make fuzz-build            build only
#   make fuzz-seeds            regenerate the binary seed files (models, IDX) with the real writers
#
# A target is any tests/fuzz/fuzz_<name>.c defining LLVMFuzzerTestOneInput; its
# seeds live in tests/fuzz/corpus/<name>/ (tests/fuzz/corpus/fuzz_<name>/ is
# accepted too). Everything goes to FUZZ_BUILD (build/fuzz), apart from the
# gcc build, so a fuzz build never mixes with `make` or `make SANITIZE=1`.
#
# The engine, api and server sources are compiled again with clang, the
# sanitizers and -fsanitize=fuzzer-no-link (coverage feedback from the code
# under test, not only from the harness) and archived, so a target links just
# the objects it uses. Only targets named in FUZZ_SERVER_TARGETS link the
# server archive (and libmicrohttpd, sqlite): a server file being edited does
# not stop the engine targets from building.
#
# Names here all start with FUZZ_ so they cannot collide with the Makefile's.

# Whatever goal the including Makefile has (or will have) stays its default.
FUZZ_SAVED_GOAL := $(.DEFAULT_GOAL)

FUZZ_CC ?= clang
FUZZ_BUILD ?= build/fuzz
FUZZ_SECONDS ?= 60
FUZZ_SMOKE_SECONDS ?= 10
FUZZ_LONG_SECONDS ?= 600
FUZZ_SERVER_TARGETS ?= fuzz_router

FUZZ_PKG_CFLAGS := $(shell pkg-config --cflags openblas libmicrohttpd libcjson sqlite3 libpq zlib 2>/dev/null)
FUZZ_CORE_LIBS := $(shell pkg-config --libs openblas libcjson zlib 2>/dev/null) -lpthread -lm
FUZZ_SERVER_LIBS := $(shell pkg-config --libs libmicrohttpd sqlite3 libpq 2>/dev/null)

# -fno-sanitize-recover turns every UBSan report into an abort, which libFuzzer
# records as a crash with its input.
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
FUZZ_CFLAGS := -g -O1 -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -MMD -MP $(FUZZ_SAN) \
               $(ALL_INC) $(FUZZ_PKG_CFLAGS)

FUZZ_SRC := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BIN := $(FUZZ_SRC:tests/fuzz/%.c=$(FUZZ_BUILD)/%)
FUZZ_CORE_SRC := $(sort $(wildcard engine/*.c api/*.c))
FUZZ_SERVER_SRC := $(sort $(foreach l,$(SERVER_LAYERS),$(wildcard $(l)/*.c)))
FUZZ_CORE_OBJ := $(FUZZ_CORE_SRC:%.c=$(FUZZ_BUILD)/obj/%.o)
FUZZ_SERVER_OBJ := $(FUZZ_SERVER_SRC:%.c=$(FUZZ_BUILD)/obj/%.o)
FUZZ_CORE_LIB := $(FUZZ_BUILD)/libmlpfuzz_core.a
FUZZ_SERVER_LIB := $(FUZZ_BUILD)/libmlpfuzz_server.a
FUZZ_SEEDS_BIN := $(FUZZ_BUILD)/make_seeds

.PHONY: fuzz fuzz-smoke fuzz-long fuzz-build fuzz-seeds

$(FUZZ_BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

$(FUZZ_CORE_LIB): $(FUZZ_CORE_OBJ)
	rm -f $@ && ar rcs $@ $^

$(FUZZ_SERVER_LIB): $(FUZZ_SERVER_OBJ)
	rm -f $@ && ar rcs $@ $^

$(FUZZ_BUILD)/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_CORE_LIB)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(filter $(FUZZ_SERVER_LIB),$^) \
	    $(FUZZ_CORE_LIB) $(if $(filter $(FUZZ_SERVER_LIB),$^),$(FUZZ_SERVER_LIBS)) $(FUZZ_CORE_LIBS)

# Server targets also link the server archive (before the core one: its
# objects call into api/ and engine/).
$(FUZZ_SERVER_TARGETS:%=$(FUZZ_BUILD)/%): $(FUZZ_SERVER_LIB)

# The seed writer is an ordinary program (no libFuzzer main) built from the
# same sanitized objects.
$(FUZZ_SEEDS_BIN): tests/fuzz/make_seeds.c $(FUZZ_CORE_LIB)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $< $(FUZZ_CORE_LIB) $(FUZZ_CORE_LIBS)

fuzz-build: $(FUZZ_BIN)

fuzz-seeds: $(FUZZ_SEEDS_BIN)
	@mkdir -p tests/fuzz/corpus/model tests/fuzz/corpus/idx tests/fuzz/corpus/csv
	$(FUZZ_SEEDS_BIN) tests/fuzz/corpus

fuzz: $(FUZZ_BIN)
	@FUZZ_BUILD=$(FUZZ_BUILD) FUZZ_SECONDS=$(FUZZ_SECONDS) bash tests/fuzz/run.sh

fuzz-long: $(FUZZ_BIN)
	@FUZZ_BUILD=$(FUZZ_BUILD) FUZZ_SECONDS=$(FUZZ_LONG_SECONDS) FUZZ_SUMMARY=1 bash tests/fuzz/run.sh

fuzz-smoke: $(FUZZ_BIN)
	@FUZZ_BUILD=$(FUZZ_BUILD) FUZZ_SECONDS=$(FUZZ_SMOKE_SECONDS) bash tests/fuzz/run.sh

-include $(shell find $(FUZZ_BUILD) -name '*.d' 2>/dev/null)

.DEFAULT_GOAL := $(FUZZ_SAVED_GOAL)
