# The README's two commands, and a few conveniences around CMake/CTest.
#
#   make demo    build (Release) and run the demo: kmrun --stats on a workload
#   make test    build with the tests and run them all
#   make install build (Release) and install under PREFIX (/usr/local)
#   make bench   run the benchmarks (see docs/benchmarks.md)
#   make ci      what CI runs: the tests, then the sanitizer builds
#
# CMAKE_FLAGS adds options to the test build's configuration (CI passes
# -DKMEM_WERROR=ON).
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=
PREFIX ?= /usr/local

.PHONY: demo test install bench ci clean

demo:
	cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DKMEM_TESTS=OFF -DKMEM_BENCH=OFF
	cmake --build build -j$(JOBS) --target kmrun kmem_malloc malloc_workload vmem_demo
	build/bin/kmrun --stats -- build/bin/malloc_workload

test:
	cmake -S . -B build-test -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_FLAGS)
	cmake --build build-test -j$(JOBS)
	ctest --test-dir build-test --output-on-failure -j$(JOBS)

install:
	cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DKMEM_TESTS=OFF -DKMEM_BENCH=OFF \
		-DCMAKE_INSTALL_PREFIX=$(PREFIX)
	cmake --build build -j$(JOBS)
	cmake --install build

bench:
	bench/run

ci:
	bash .ci/run

clean:
	rm -rf build build-test build-asan build-tsan build-valgrind build-release build-fuzz build-bench
