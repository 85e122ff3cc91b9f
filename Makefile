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

.PHONY: all test deps run bench clean tests-build
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

# Installs every Debian package that building, testing and benchmarking need.
deps:
	apt-get update -q
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$(grep -v '^#' deps.txt)
	@# npm: Debian's package where none is installed (a nodesource nodejs brings its own)
	command -v npm > /dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends npm

# The main job: make a corpus, train a small model for a couple of minutes, sample.
run: all
	bash scripts/run.sh

bench: all $(BUILD)/bench/bwprobe
	bash bench/run.sh
	bash bench/decode.sh $(BUILD)

# the read-bandwidth probe of the decode benchmark
$(BUILD)/bench/bwprobe: bench/bwprobe.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(LDFLAGS)

clean:
	rm -rf build

-include $(shell find $(BUILD)/obj $(BUILD)/tests -name '*.d' 2>/dev/null)
