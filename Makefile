# pomt — build with nothing but a C++17 compiler.
#   make                 build/pomt and build/libpomt.a (own kernels)
#   make test            build and run the unit + fixture tests (TEST_SHARDS processes, default:
#                        one per core up to 8; TEST_SHARDS=1 runs one process)
#   make BLAS=openblas   use OpenBLAS for the matrix products (Debian libopenblas-dev)
#   make JPEG=libjpeg    decode JPEG with libjpeg-turbo, bit-exact with PIL (Debian libjpeg62-turbo-dev)
#   make CXX=aarch64-linux-gnu-g++ BUILD=build-arm   cross-build for the Raspberry Pi
#   make SAN=address,undefined BUILD=build-asan      sanitizer build
#   make mca             llvm-mca on the aarch64 inner loops (tools/mca/mca.py; needs llvm-19)
CXX      ?= g++
BUILD    ?= build
BLAS     ?=
JPEG     ?=
SAN      ?=
OPT      ?= -O3
# Debug information: full by default; CI's extra builds use -g1 (line tables: enough for sanitizer
# and valgrind stack traces, and a third faster to compile).
DEBUG    ?= -g
WERROR   ?=
# Test processes run side by side by `make test` (tests/run_sharded.sh): most test cases use one core.
TEST_SHARDS ?= $(shell n=$$(nproc 2>/dev/null || echo 1); [ $$n -gt 8 ] && n=8; echo $$n)

TARGET_ARCH := $(shell $(CXX) -dumpmachine)
CPPFLAGS += -I. -Iinclude -Ithird_party -MMD -MP
# -ffp-contract=off: the kernels compute the operations they spell (their references and the tests
# of their bits rely on it); g++'s default fuses a multiply and an add wherever inlining puts them
# side by side, so the same source could round differently in two callers.
CXXFLAGS += -std=c++17 $(OPT) $(DEBUG) -Wall -Wextra $(WERROR) -pthread -fno-math-errno -ffp-contract=off
LDFLAGS  += -pthread
LDLIBS   +=

ifneq ($(SAN),)
  CXXFLAGS += -fsanitize=$(SAN) -fno-omit-frame-pointer
  LDFLAGS  += -fsanitize=$(SAN)
endif
ifeq ($(BLAS),openblas)
  CPPFLAGS += -DPOMT_USE_OPENBLAS -I/usr/include/x86_64-linux-gnu/openblas-pthread -I/usr/include/aarch64-linux-gnu/openblas-pthread
  LDLIBS   += -lopenblas
endif

ifeq ($(JPEG),libjpeg)
  CPPFLAGS += -DPOMT_USE_LIBJPEG
  LDLIBS   += -ljpeg
endif

# Library sources: every .cpp of the library folders; ISA-specific kernels only for their target.
LIB_DIRS := core kernels vit prune image eval profiler search weights_tools quantize api
LIB_SRCS := $(foreach d,$(LIB_DIRS),$(wildcard $(d)/*.cpp))
ifneq ($(findstring x86_64,$(TARGET_ARCH)),)
  LIB_SRCS += $(wildcard kernels/x86/*.cpp)
endif
ifneq ($(findstring aarch64,$(TARGET_ARCH)),)
  LIB_SRCS += $(wildcard kernels/arm/*.cpp)
endif
CLI_SRCS  := $(wildcard cli/*.cpp)
TEST_SRCS := $(wildcard tests/*.cpp)
EXAMPLE_SRCS := $(wildcard examples/*.cpp)

LIB_OBJS  := $(LIB_SRCS:%.cpp=$(BUILD)/obj/%.o)
CLI_OBJS  := $(CLI_SRCS:%.cpp=$(BUILD)/obj/%.o)
TEST_OBJS := $(TEST_SRCS:%.cpp=$(BUILD)/obj/%.o)
EXAMPLES  := $(EXAMPLE_SRCS:examples/%.cpp=$(BUILD)/examples/%)

.PHONY: all test examples clean mca
all: $(BUILD)/pomt $(BUILD)/libpomt.a

$(BUILD)/libpomt.a: $(LIB_OBJS)
	@mkdir -p $(@D)
	rm -f $@
	$(AR) rcs $@ $^

$(BUILD)/pomt: $(CLI_OBJS) $(BUILD)/libpomt.a
	$(CXX) $(LDFLAGS) -o $@ $(CLI_OBJS) $(BUILD)/libpomt.a $(LDLIBS)

$(BUILD)/pomt_tests: $(TEST_OBJS) $(BUILD)/libpomt.a
	$(CXX) $(LDFLAGS) -o $@ $(TEST_OBJS) $(BUILD)/libpomt.a $(LDLIBS)

$(BUILD)/examples/%: examples/%.cpp $(BUILD)/libpomt.a
	@mkdir -p $(@D)
	$(CXX) $(CPPFLAGS) $(CXXFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/libpomt.a $(LDLIBS)

examples: $(EXAMPLES)

# Decode-speed benchmark (tools/bench_decode.cpp, tools/README.md); not part of `all`.
$(BUILD)/bench_decode: tools/bench_decode.cpp $(BUILD)/libpomt.a
	$(CXX) $(CPPFLAGS) $(CXXFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/libpomt.a $(LDLIBS)

# The tests find the pomt binary (for CLI tests) next to themselves.
test: $(BUILD)/pomt_tests $(BUILD)/pomt examples
	tests/run_sharded.sh $(TEST_SHARDS) $(BUILD)/pomt_tests $(TEST_ARGS)

# Per-ISA kernels get their instruction-set flags; everything else stays portable so one x86-64
# binary runs everywhere and picks its kernels at run time.
$(BUILD)/obj/%_avx512.o: %_avx512.cpp
	@mkdir -p $(@D)
	$(CXX) $(CPPFLAGS) $(CXXFLAGS) -mavx512f -mavx512bw -mavx512dq -mavx512vl -mfma -mavx2 -c $< -o $@

# AVX512_BF16 (vdpbf16ps): used only where CPUID says the CPU has it.
$(BUILD)/obj/%_avx512bf16.o: %_avx512bf16.cpp
	@mkdir -p $(@D)
	$(CXX) $(CPPFLAGS) $(CXXFLAGS) -mavx512f -mavx512bw -mavx512dq -mavx512vl -mavx512bf16 -mfma -mavx2 -c $< -o $@

# AMX tiles (TDPBSSD, TDPBF16PS) with the avx512 float side: used only where CPUID, XCR0 and
# Linux's arch_prctl permission allow (kernels/x86/amx.h).
$(BUILD)/obj/%_amx.o: %_amx.cpp
	@mkdir -p $(@D)
	$(CXX) $(CPPFLAGS) $(CXXFLAGS) -mavx512f -mavx512bw -mavx512dq -mavx512vl -mavx512bf16 -mamx-tile -mamx-int8 -mamx-bf16 -mfma -mavx2 -c $< -o $@

$(BUILD)/obj/%_avx512vnni.o: %_avx512vnni.cpp
	@mkdir -p $(@D)
	$(CXX) $(CPPFLAGS) $(CXXFLAGS) -mavx512f -mavx512bw -mavx512dq -mavx512vl -mavx512vnni -mfma -mavx2 -c $< -o $@

# AVX-VNNI: the ymm vpdpbusd of Intel client CPUs without AVX-512 (Alder Lake and later).
$(BUILD)/obj/%_avxvnni.o: %_avxvnni.cpp
	@mkdir -p $(@D)
	$(CXX) $(CPPFLAGS) $(CXXFLAGS) -mavxvnni -mavx2 -mfma -c $< -o $@

# ARMv8.2 dot product (sdot); used only where HWCAP_ASIMDDP says the CPU has it.
$(BUILD)/obj/%_neondot.o: %_neondot.cpp
	@mkdir -p $(@D)
	$(CXX) $(CPPFLAGS) $(CXXFLAGS) -march=armv8.2-a+dotprod -c $< -o $@

# ARMv8.6 BF16 (bfdot); used only where HWCAP2_BF16 says the CPU has it.
$(BUILD)/obj/%_neonbf16.o: %_neonbf16.cpp
	@mkdir -p $(@D)
	$(CXX) $(CPPFLAGS) $(CXXFLAGS) -march=armv8.2-a+bf16 -c $< -o $@

$(BUILD)/obj/%_avx2.o: %_avx2.cpp
	@mkdir -p $(@D)
	$(CXX) $(CPPFLAGS) $(CXXFLAGS) -mavx2 -mfma -c $< -o $@

$(BUILD)/obj/%.o: %.cpp
	@mkdir -p $(@D)
	$(CXX) $(CPPFLAGS) $(CXXFLAGS) -c $< -o $@

# The Raspberry Pi inner loops under llvm-mca's Cortex-A72 and Neoverse-N1 models: the kernel objects
# of the cross-build (its flags, from the rules above), then one line per loop; fails under a floor
# or on a GEMM loop that touches the stack, and rewrites its table in docs/PERFORMANCE.md.
MCA_CXX     ?= aarch64-linux-gnu-g++
MCA_BUILD   ?= build-arm
MCA_OBJDUMP ?= aarch64-linux-gnu-objdump
LLVM_MCA    ?= llvm-mca-19
MCA_OBJS    := $(patsubst %.cpp,$(MCA_BUILD)/obj/%.o,$(wildcard kernels/arm/*.cpp))
mca:
	$(MAKE) --no-print-directory CXX=$(MCA_CXX) BUILD=$(MCA_BUILD) $(MCA_OBJS)
	python3 tools/mca/mca.py --objs $(MCA_BUILD)/obj --objdump $(MCA_OBJDUMP) --mca $(LLVM_MCA) --check \
	    --docs docs/PERFORMANCE.md

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
