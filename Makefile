# apr - build the drivers, the CUDA plugin (when nvcc is found) and the tests.
#   make            drivers (and libapr_cuda.so if nvcc is on the PATH)
#   make test       build and run the whole test suite
#   make asan       the test suite under AddressSanitizer + UndefinedBehaviorSanitizer
#   make fuzz       the GGUF reader fuzz target (libFuzzer with clang, plain main otherwise)
#   make cuda       libapr_cuda.so only
#   make chat       build everything and chat with the default model (see README.md)

CC      ?= cc
CFLAGS  ?= -O2 -g
WARN    := -Wall -Wextra -Wno-unused-function
STD     := -std=c99
LDLIBS  := -lm -lpthread -ldl
NVCC    ?= $(shell command -v nvcc 2>/dev/null || ls /usr/local/cuda/bin/nvcc 2>/dev/null)
# sm_90a: Hopper's own instructions (wgmma, the prompt GEMM k_wgemm); an sm_90a cubin runs
# on H100/H200 only, other GPUs take sm_80 or the compute_90 PTX (wmma GEMM there)
NVFLAGS ?= -O3 -std=c++17 --use_fast_math -Xcompiler -fPIC -cudart static \
           -gencode arch=compute_80,code=sm_80 -gencode arch=compute_90a,code=sm_90a \
           -gencode arch=compute_90,code=compute_90

DRIVERS := $(patsubst drivers/%.c,apr-%,$(wildcard drivers/*.c))
HEADERS := apr.h
TEST_SRC := $(wildcard tests/test_*.c)
TEST_BIN := $(patsubst tests/%.c,tests/bin/%,$(TEST_SRC))

.PHONY: all test asan fuzz cuda clean chat
all: $(DRIVERS) $(if $(NVCC),libapr_cuda.so)

apr-%: drivers/%.c $(HEADERS)
	$(CC) $(CFLAGS) $(WARN) -o $@ $< $(LDLIBS)

libapr_cuda.so: apr_cuda.cu apr.h
	$(NVCC) $(NVFLAGS) -shared -o $@ apr_cuda.cu
cuda: libapr_cuda.so

tests/bin/%: tests/%.c tests/test.h $(HEADERS)
	@mkdir -p tests/bin
	$(CC) $(CFLAGS) $(WARN) -Werror $(STD) -I. -o $@ $< $(LDLIBS)

test: deps
	$(MAKE) build-tests
	tests/run_tests.sh

build-tests: $(TEST_BIN) $(DRIVERS)

ASAN_FLAGS := -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
ASAN_BIN := $(patsubst tests/%.c,tests/bin-asan/%,$(TEST_SRC))
tests/bin-asan/%: tests/%.c tests/test.h $(HEADERS)
	@mkdir -p tests/bin-asan
	$(CC) $(ASAN_FLAGS) $(WARN) -Werror $(STD) -I. -o $@ $< $(LDLIBS)

# The test programs under ASan+UBSan (APR_TEST_QUICK: lighter loops); drivers that tests
# run as subprocesses are the normal builds.
asan: $(ASAN_BIN) $(DRIVERS)
	ASAN_OPTIONS=detect_leaks=1 APR_TEST_QUICK=1 APR_TEST_BIN=tests/bin-asan tests/run_tests.sh

fuzz: tests/fuzz_gguf.c $(HEADERS)
	@if command -v clang >/dev/null && echo 'int LLVMFuzzerTestOneInput(const char*d,long n){return 0;}' | clang -fsanitize=fuzzer -x c - -o /dev/null 2>/dev/null; then \
	  clang -O1 -g -fsanitize=fuzzer,address,undefined -I. -o fuzz_gguf tests/fuzz_gguf.c $(LDLIBS); \
	else \
	  $(CC) -O1 -g -fsanitize=address,undefined -DAPR_FUZZ_MAIN -I. -o fuzz_gguf tests/fuzz_gguf.c $(LDLIBS); \
	fi

chat: $(DRIVERS)
	tools/chat.sh

.PHONY: clean-tests
clean-tests:
	rm -rf tests/bin tests/bin-arm tests/bin-asan

clean: clean-tests
	rm -f $(DRIVERS) libapr_cuda.so fuzz_gguf

# ---- checks CI runs beyond `make test` ---------------------------------------------------
CLANG   ?= $(shell command -v clang 2>/dev/null)
CXX     ?= g++
compile-check:
	@mkdir -p tests/bin
	$(CC) -std=c99 -Wall -Wextra -Werror -I. -c -o tests/bin/cc_c99.o tests/compile_check.c
	$(CXX) -x c++ -std=c++11 -Wall -Wextra -Werror -I. -c -o tests/bin/cc_cxx.o tests/compile_check.c
	$(CC) -std=c99 -Wall -Wextra -Werror -I. -DAPR_STATIC -DCHECK_SECOND_UNIT -c -o tests/bin/cc_static2.o tests/compile_check.c
	$(CC) -std=c99 -Wall -Wextra -Werror -I. -DAPR_STATIC -c -o tests/bin/cc_static1.o tests/compile_check.c
	$(CC) -o tests/bin/cc_static tests/bin/cc_static1.o tests/bin/cc_static2.o $(LDLIBS) && tests/bin/cc_static
	$(CC) -std=c99 -Wall -Wextra -Werror -I. -DAPR_NO_SIMD -DAPR_NO_THREADS -c -o tests/bin/cc_nosimd.o tests/compile_check.c
	@for f in check bench act_rounding offsteps xcheck; do \
	  $(CC) -std=gnu99 -Wall -Wextra -Werror -I. -c -o tests/bin/cuda_$$f.o bench/cuda/$$f.c || exit 1; done
	@if [ -n "$(CLANG)" ]; then \
	  $(CLANG) -std=c99 -Wall -Wextra -Werror -I. -c -o tests/bin/cc_clang.o tests/compile_check.c && \
	  $(CLANG) -x c++ -std=c++11 -Wall -Wextra -Werror -Wno-deprecated -I. -c -o tests/bin/cc_clangxx.o tests/compile_check.c && \
	  echo "clang: C99 and C++ ok"; else echo "clang not found: skipped"; fi
	@echo "compile checks passed"

MINGW ?= x86_64-w64-mingw32-gcc
cross-windows:
	@mkdir -p tests/bin/win
	@for d in $(DRIVERS); do \
	  echo "$(MINGW) drivers/$${d#apr-}.c"; \
	  $(MINGW) -O1 -Wall -Wextra -I. -o tests/bin/win/$$d.exe drivers/$${d#apr-}.c -lws2_32 || exit 1; done
	$(MINGW) -O1 -Wall -Wextra -I. -o tests/bin/win/test_platform.exe tests/test_platform.c
	@echo "Windows cross-compile passed"

ARM_CC    ?= aarch64-linux-gnu-gcc
ARM_TESTS ?= test_platform test_quant test_sample test_model
cross-arm-test:
	@mkdir -p tests/bin-arm
	@for t in $(ARM_TESTS); do [ -f tests/$$t.c ] || continue; \
	  echo "$(ARM_CC) tests/$$t.c"; \
	  $(ARM_CC) -O2 -static $(STD) -Wall -Wextra -Wno-unused-function -Werror -I. -o tests/bin-arm/$$t tests/$$t.c $(LDLIBS) || exit 1; done
	APR_TEST_QUICK=1 APR_TEST_BIN=tests/bin-arm tests/run_tests.sh qemu-aarch64

.PHONY: compile-check cross-windows cross-arm-test deps
deps:
	@tools/install_deps.sh
