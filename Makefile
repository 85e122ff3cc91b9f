# xfmr build. `make` builds build/xfmr and build/libxfmr.a; `make test` runs
# every test; `make run` is the main job; `make deps` installs Debian packages.
# SAN=1 builds everything with AddressSanitizer + UBSan into build/san/.

CC      ?= cc
SAN     ?= 0
ifeq ($(SAN),1)
BUILD   ?= build/san
SANFLAGS = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
OPT      = -O1
else
BUILD   ?= build
SANFLAGS =
OPT      = -O2
endif

BLAS_DIR ?= /usr/lib/x86_64-linux-gnu/openblas-openmp
BLAS_INC ?= /usr/include/x86_64-linux-gnu/openblas-openmp

WARN    = -Wall -Wextra -Wshadow -Wno-unused-parameter -Wstrict-prototypes -Wmissing-prototypes
CFLAGS  ?= $(OPT) -g -march=native
CFLAGS  += -std=c11 -D_GNU_SOURCE $(WARN) -fopenmp -Iinclude -Isrc -I$(BLAS_INC) $(SANFLAGS) $(EXTRA_CFLAGS)
LDLIBS  = -L$(BLAS_DIR) -Wl,-rpath,$(BLAS_DIR) -lopenblas -lcjson -lpcre2-8 -lm
LDFLAGS += -fopenmp $(SANFLAGS)

LIB_SRC  = $(sort $(shell find src -name '*.c' -not -path 'src/cli/*'))
CLI_SRC  = $(sort $(wildcard src/cli/*.c))
TEST_SRC = $(sort $(shell find tests -name 'test_*.c'))
TOOL_SRC = $(sort $(wildcard tests/tools/*.c))

LIB_OBJ  = $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
CLI_OBJ  = $(CLI_SRC:%.c=$(BUILD)/obj/%.o)
TEST_BIN = $(TEST_SRC:%.c=$(BUILD)/%)
TOOL_BIN = $(TOOL_SRC:%.c=$(BUILD)/%)

.PHONY: all test deps run bench clean tests-build fuzz fuzz-bins
all: $(BUILD)/xfmr $(BUILD)/libxfmr.a

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/libxfmr.a: $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/xfmr: $(CLI_OBJ) $(BUILD)/libxfmr.a
	$(CC) $(LDFLAGS) -o $@ $(CLI_OBJ) $(BUILD)/libxfmr.a $(LDLIBS)

$(BUILD)/tests/%: tests/%.c $(BUILD)/libxfmr.a tests/test.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests -MMD -MP -MF $@.d -o $@ $< $(BUILD)/libxfmr.a $(LDFLAGS) $(LDLIBS)

tests-build: all $(TEST_BIN) $(TOOL_BIN)

test: tests-build
	@BUILD=$(BUILD) bash tests/run.sh

# ---- fuzzing: one libFuzzer harness per reader of outside bytes -------------
# tests/fuzz/fuzz_<reader>.c with seeds in tests/fuzz/corpus/<reader>/ (adding a
# reader is that file and that directory). `make test` replays every harness,
# built without libFuzzer, over its seeds and its regressions
# (tests/fuzz/regress/<reader>/); `make fuzz FUZZ_TIME=S` builds them with
# clang -fsanitize=fuzzer,address,undefined in build/fuzz and runs each for S s.
FUZZ_SRC    = $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_DEPS   = tests/fuzz/fuzz.h tests/fuzz/tok_use.h
REPLAY_BIN  = $(FUZZ_SRC:tests/fuzz/%.c=$(BUILD)/replay/%)
FUZZ_BIN    = $(FUZZ_SRC:tests/fuzz/%.c=$(BUILD)/fuzzers/%)
CLI_LIB_OBJ = $(filter-out $(BUILD)/obj/src/cli/main.o,$(CLI_OBJ))
FUZZ_TIME  ?= 60
FUZZ_SAN    = -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer

$(BUILD)/libxfmrcli.a: $(CLI_LIB_OBJ)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/replay/%: tests/fuzz/%.c tests/fuzz/replay.c $(FUZZ_DEPS) $(BUILD)/libxfmrcli.a $(BUILD)/libxfmr.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests -o $@ $< tests/fuzz/replay.c $(BUILD)/libxfmrcli.a $(BUILD)/libxfmr.a $(LDFLAGS) $(LDLIBS)

$(BUILD)/fuzzers/%: tests/fuzz/%.c $(FUZZ_DEPS) $(BUILD)/libxfmrcli.a $(BUILD)/libxfmr.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests -fsanitize=fuzzer -o $@ $< $(BUILD)/libxfmrcli.a $(BUILD)/libxfmr.a $(LDFLAGS) -fsanitize=fuzzer $(LDLIBS)

tests-build: $(REPLAY_BIN)

fuzz-bins: $(FUZZ_BIN)

fuzz:
	$(MAKE) BUILD=build/fuzz CC=clang OPT=-O1 SANFLAGS='-fsanitize=fuzzer-no-link $(FUZZ_SAN)' fuzz-bins
	bash tests/fuzz/run.sh build/fuzz $(FUZZ_TIME)

# Installs every Debian package that building, testing and benchmarking need.
deps:
	apt-get update -q
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$(grep -v '^#' deps.txt)
	@# npm: Debian's package where none is installed (a nodesource nodejs brings its own)
	command -v npm > /dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends npm

# The main job: make a corpus, train a small model for a couple of minutes, sample.
run: all
	bash scripts/run.sh

bench: all
	bash bench/run.sh

clean:
	rm -rf build

-include $(shell find $(BUILD)/obj $(BUILD)/tests -name '*.d' 2>/dev/null)
