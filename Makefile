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
NVFLAGS ?= -O3 -std=c++17 --use_fast_math -Xcompiler -fPIC -cudart static \
           -gencode arch=compute_80,code=sm_80 -gencode arch=compute_90,code=sm_90 \
           -gencode arch=compute_90,code=compute_90

DRIVERS := $(patsubst drivers/%.c,apr-%,$(wildcard drivers/*.c))
HEADERS := apr.h $(wildcard src/*.h)
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

test: $(TEST_BIN) $(DRIVERS)
	tests/run_tests.sh

asan:
	$(MAKE) clean-tests
	$(MAKE) $(TEST_BIN) CFLAGS="-O1 -g -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
	ASAN_OPTIONS=detect_leaks=1 APR_TEST_QUICK=1 tests/run_tests.sh
	$(MAKE) clean-tests

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
	rm -rf tests/bin

clean: clean-tests
	rm -f $(DRIVERS) libapr_cuda.so fuzz_gguf
