# xfmr build. `make` builds build/xfmr, build/libxfmr.a and build/libxfmr.so;
# `make test` runs every test; `make run` is the main job; `make deps` installs
# Debian packages; `make install PREFIX=...` installs the library and the tool.
# SAN=1 builds everything with AddressSanitizer + UBSan into build/san/.
# NATIVE=1 compiles for this machine's CPU (-march=native): for builds that stay
# on it; MARCH=x86-64-v3 (say) for a given level. The default runs on any CPU of
# the architecture. Use a separate BUILD=... (objects are not rebuilt when flags change).

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
NATIVE  ?= 0
MARCH   ?= $(if $(filter 1,$(NATIVE)),native)
ARCHFLAGS = $(if $(MARCH),-march=$(MARCH))
CFLAGS  ?= $(OPT) -g
CFLAGS  += -std=c11 -D_GNU_SOURCE $(WARN) -fopenmp -Iinclude -Isrc -I$(BLAS_INC) $(ARCHFLAGS) $(SANFLAGS) $(EXTRA_CFLAGS)
# math functions never set errno (nothing reads it), so sqrtf vectorises in
# `omp simd` loops (AdamW); results are unchanged (IEEE sqrt is exact-rounded)
CFLAGS  += -fno-math-errno
LDLIBS  = -L$(BLAS_DIR) -Wl,-rpath,$(BLAS_DIR) -lopenblas -lcjson -lpcre2-8 -licuuc -lm
LDFLAGS += -fopenmp $(SANFLAGS)
# Open MPI (src/dist/, docs/scale-out.md): its flags from pkg-config, else mpicc.
MPI_CFLAGS ?= $(shell pkg-config --cflags ompi-c 2>/dev/null || mpicc --showme:compile 2>/dev/null)
MPI_LIBS   ?= $(shell pkg-config --libs ompi-c 2>/dev/null || mpicc --showme:link 2>/dev/null)
CFLAGS  += $(MPI_CFLAGS)
LDLIBS  += $(MPI_LIBS)

LIB_SRC  = $(sort $(shell find src -name '*.c' -not -path 'src/cli/*'))
CLI_SRC  = $(sort $(wildcard src/cli/*.c))
TEST_SRC = $(sort $(shell find tests -name 'test_*.c'))
TOOL_SRC = $(sort $(wildcard tests/tools/*.c))

LIB_OBJ  = $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
CLI_OBJ  = $(CLI_SRC:%.c=$(BUILD)/obj/%.o)
TEST_BIN = $(TEST_SRC:%.c=$(BUILD)/%)
TOOL_BIN = $(TOOL_SRC:%.c=$(BUILD)/%)

.PHONY: all test deps run bench clean tests-build install fuzz fuzz-bins
all: $(BUILD)/xfmr $(BUILD)/libxfmr.a $(BUILD)/libxfmr.so

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

# The CLI is a client of the public API: src/cli/*.c see include/ and their own
# directory only, not src/, and build/xfmr links libxfmr.a, which exports only
# the public functions (tests/cli/test_cli_includes.sh checks the sources too).
CLI_CFLAGS = $(filter-out -Isrc,$(CFLAGS)) -Werror=implicit-function-declaration
$(BUILD)/obj/src/cli/%.o: src/cli/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CLI_CFLAGS) -MMD -MP -c $< -o $@

# ---- the library (docs/library.md) -------------------------------------------
# libxfmr_internal.a: every object as it is, for the CLI and the tests (which
# call internal functions). libxfmr.a: the same objects linked into one, with
# every global symbol but the public API (public.syms: the functions declared
# in include/xfmr/, scripts/public_symbols.sh) made local. libxfmr.so:
# position-independent objects (pic/) and a version script exporting the same
# list. tests/cli/test_symbols.sh checks both with nm.
XF_SOVERSION = $(shell sed -n 's/^\#define XF_VERSION_MAJOR \([0-9]*\).*/\1/p' include/xfmr/version.h)
XF_VERSION   = $(shell sed -n 's/^\#define XF_VERSION_STRING "\(.*\)"/\1/p' include/xfmr/version.h)
PUB_HDR = $(sort $(wildcard include/xfmr/*.h))
PIC_OBJ = $(LIB_SRC:%.c=$(BUILD)/pic/%.o)

$(BUILD)/pic/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -fPIC -MMD -MP -c $< -o $@

$(BUILD)/public.syms: $(PUB_HDR) scripts/public_symbols.sh
	@mkdir -p $(dir $@)
	bash scripts/public_symbols.sh $(PUB_HDR) > $@

$(BUILD)/libxfmr.map: $(BUILD)/public.syms
	{ echo 'XFMR_$(XF_SOVERSION) {'; echo '  global:'; sed 's/.*/    &;/' $<; echo '  local: *;'; echo '};'; } > $@

$(BUILD)/libxfmr_internal.a: $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/libxfmr.a: $(LIB_OBJ) $(BUILD)/public.syms
	$(LD) -r -o $(BUILD)/xfmr_all.o $(LIB_OBJ)
	objcopy --keep-global-symbols=$(BUILD)/public.syms $(BUILD)/xfmr_all.o $(BUILD)/xfmr_public.o
	rm -f $@ $(BUILD)/xfmr_all.o && ar rcs $@ $(BUILD)/xfmr_public.o && rm -f $(BUILD)/xfmr_public.o

$(BUILD)/libxfmr.so: $(PIC_OBJ) $(BUILD)/libxfmr.map
	$(CC) -shared -Wl,-soname,libxfmr.so.$(XF_SOVERSION) -Wl,--version-script=$(BUILD)/libxfmr.map \
	    -Wl,--no-undefined $(LDFLAGS) -o $@ $(PIC_OBJ) $(LDLIBS)

# make install PREFIX=... [DESTDIR=...]: headers, both libraries, xfmr.pc (its
# Libs.private are LDLIBS, with libgomp for OpenMP) and the tool. $(BUILD)/stage
# is the same installation made for the tests (tests/cli/test_examples.sh
# builds examples/ against it with pkg-config).
PREFIX ?= /usr/local
define xf_install # $(1): where to copy, $(2): the prefix the files will live at
	install -d $(1)/include/xfmr $(1)/lib/pkgconfig $(1)/bin
	install -m 644 $(PUB_HDR) $(1)/include/xfmr/
	install -m 644 $(BUILD)/libxfmr.a $(1)/lib/
	install -m 755 $(BUILD)/libxfmr.so $(1)/lib/libxfmr.so.$(XF_VERSION)
	ln -sf libxfmr.so.$(XF_VERSION) $(1)/lib/libxfmr.so.$(XF_SOVERSION)
	ln -sf libxfmr.so.$(XF_SOVERSION) $(1)/lib/libxfmr.so
	install -m 755 $(BUILD)/xfmr $(1)/bin/
	sed -e 's|@PREFIX@|$(2)|; s|@VERSION@|$(XF_VERSION)|; s|@LIBS_PRIVATE@|$(LDLIBS)|; s|@SANFLAGS@|$(SANFLAGS)|' \
	    scripts/xfmr.pc.in > $(1)/lib/pkgconfig/xfmr.pc
endef

install: all
	$(call xf_install,$(DESTDIR)$(PREFIX),$(PREFIX))

$(BUILD)/stage/lib/pkgconfig/xfmr.pc: $(BUILD)/xfmr $(BUILD)/libxfmr.a $(BUILD)/libxfmr.so $(PUB_HDR) scripts/xfmr.pc.in
	rm -rf $(BUILD)/stage
	$(call xf_install,$(abspath $(BUILD))/stage,$(abspath $(BUILD))/stage)

$(BUILD)/xfmr: $(CLI_OBJ) $(BUILD)/libxfmr.a
	$(CC) $(LDFLAGS) -o $@ $(CLI_OBJ) $(BUILD)/libxfmr.a $(LDLIBS)

$(BUILD)/tests/%: tests/%.c $(BUILD)/libxfmr_internal.a tests/test.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests -MMD -MP -MF $@.d -o $@ $< $(BUILD)/libxfmr_internal.a $(LDFLAGS) $(LDLIBS)

tests-build: all $(TEST_BIN) $(TOOL_BIN) $(BUILD)/stage/lib/pkgconfig/xfmr.pc

test: tests-build
	@BUILD=$(BUILD) bash tests/run.sh

# One part of `make test` (docs/testing.md): the C test binaries, the CLI and
# tokenizer scripts (examples and symbols included), the Python module, the
# PyTorch parity suite.
.PHONY: test-unit test-cli test-python test-parity
test-unit test-cli test-python test-parity: tests-build
	@BUILD=$(BUILD) PART=$(@:test-%=%) bash tests/run.sh

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

$(BUILD)/replay/%: tests/fuzz/%.c tests/fuzz/replay.c $(FUZZ_DEPS) $(BUILD)/libxfmrcli.a $(BUILD)/libxfmr_internal.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests -o $@ $< tests/fuzz/replay.c $(BUILD)/libxfmrcli.a $(BUILD)/libxfmr_internal.a $(LDFLAGS) $(LDLIBS)

$(BUILD)/fuzzers/%: tests/fuzz/%.c $(FUZZ_DEPS) $(BUILD)/libxfmrcli.a $(BUILD)/libxfmr_internal.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests -fsanitize=fuzzer -o $@ $< $(BUILD)/libxfmrcli.a $(BUILD)/libxfmr_internal.a $(LDFLAGS) -fsanitize=fuzzer $(LDLIBS)

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

# bench/bench_gemm (our GEMM against oneDNN's) links libdnnl, and bench/bwprobe
# measures the read bandwidth for the decode benchmark: both built here only
bench: all $(BUILD)/bench/bench_gemm $(BUILD)/bench/bwprobe $(BUILD)/bench/load_bench $(BUILD)/bench/mpi_probe
	BUILD=$(BUILD) bash bench/all.sh
	bash bench/decode.sh $(BUILD)
	bash bench/mpi.sh $(BUILD)

# bench/mpi.sh's allreduce probe (src/dist over Open MPI)
$(BUILD)/bench/mpi_probe: bench/mpi_probe.c $(BUILD)/libxfmr_internal.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(BUILD)/libxfmr_internal.a $(LDFLAGS) $(LDLIBS)

$(BUILD)/bench/bench_gemm: bench/bench_gemm.c $(BUILD)/libxfmr.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(BUILD)/libxfmr.a $(LDFLAGS) -ldnnl $(LDLIBS)

$(BUILD)/bench/bwprobe: bench/bwprobe.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(LDFLAGS)

# bench/load_bench: xf_model_open of a generated HF dir against reading its bytes (bench/load.sh)
$(BUILD)/bench/load_bench: bench/load_bench.c $(BUILD)/libxfmr.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(BUILD)/libxfmr.a $(LDFLAGS) $(LDLIBS)

clean:
	rm -rf build

-include $(shell find $(BUILD)/obj $(BUILD)/pic $(BUILD)/tests -name '*.d' 2>/dev/null)
