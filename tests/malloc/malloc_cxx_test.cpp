// C++ under the preloaded libkmem_malloc.so: operator new and delete (plain,
// array, aligned), the standard containers, exceptions (whose objects the
// C++ runtime allocates with malloc) and threads all run on our malloc.
// Run with LD_PRELOAD set (tests/malloc/CMakeLists.txt).
#include <dlfcn.h>
#include <malloc.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <new>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#define CHECK(cond) do {                                                \
	if (!(cond)) {                                                  \
		std::fprintf(stderr, "%s:%d: check failed: %s\n",       \
		    __FILE__, __LINE__, #cond);                         \
		std::exit(1);                                           \
	}                                                               \
} while (0)

struct alignas(256) Wide {
	unsigned char bytes[256];
};

static void
check_malloc_is_kmem()
{
	Dl_info info;
	void *(*volatile fn)(size_t) = std::malloc;
	CHECK(dladdr(reinterpret_cast<void *>(fn), &info) != 0);
	CHECK(std::strstr(info.dli_fname, "libkmem_malloc.so") != nullptr);
	// new takes its memory from that malloc: 100 bytes are a buffer of
	// the 112-byte class (glibc's chunk would give 104).
	char *p = new char[100];
	CHECK(malloc_usable_size(p) == 112);
	delete[] p;
}

static void
check_containers()
{
	std::vector<std::string> words;
	for (int i = 0; i < 100000; i++)
		words.push_back("word-" + std::to_string(i) +
		    std::string(static_cast<size_t>(i % 300), 'x'));
	std::map<std::string, size_t> index;
	for (size_t i = 0; i < words.size(); i++)
		index[words[i]] = i;
	CHECK(index.size() == words.size());
	CHECK(index["word-4242" + std::string(4242 % 300, 'x')] == 4242);
	std::vector<std::unique_ptr<int[]>> arrays;
	for (int i = 1; i < 2000; i++) {
		arrays.emplace_back(new int[static_cast<size_t>(i) * 37]);
		arrays.back()[static_cast<size_t>(i) * 37 - 1] = i;
	}
	for (int i = 1; i < 2000; i++)
		CHECK(arrays[static_cast<size_t>(i) - 1][static_cast<size_t>(i) *
		    37 - 1] == i);
}

static void
check_aligned_new()
{
	std::vector<Wide *> wides;
	for (int i = 0; i < 1000; i++) {
		Wide *w = new Wide;
		CHECK(reinterpret_cast<std::uintptr_t>(w) % 256 == 0);
		w->bytes[255] = static_cast<unsigned char>(i);
		wides.push_back(w);
	}
	for (int i = 0; i < 1000; i++) {
		CHECK(wides[static_cast<size_t>(i)]->bytes[255] ==
		    static_cast<unsigned char>(i));
		delete wides[static_cast<size_t>(i)];
	}
}

static void
check_exceptions()
{
	int caught = 0;
	for (int i = 0; i < 10000; i++) {
		try {
			throw std::runtime_error("error number " +
			    std::to_string(i));
		} catch (const std::runtime_error &e) {
			CHECK(std::strncmp(e.what(), "error number ", 13) == 0);
			caught++;
		}
	}
	CHECK(caught == 10000);
	try {
		std::vector<char> huge(static_cast<size_t>(-1) / 2);
		CHECK(false);
	} catch (const std::bad_alloc &) {
		// new failed cleanly: our malloc returned NULL with ENOMEM
	} catch (const std::length_error &) {
		// or the library refused the size before asking
	}
}

static void
check_threads()
{
	std::vector<std::thread> threads;
	std::vector<size_t> sums(4);
	for (size_t t = 0; t < 4; t++) {
		threads.emplace_back([t, &sums] {
			std::map<int, std::string> m;
			for (int i = 0; i < 20000; i++)
				m[i] = std::string(static_cast<size_t>(i % 64),
				    'a');
			size_t sum = 0;
			for (const auto &kv : m)
				sum += kv.second.size();
			sums[t] = sum;
		});
	}
	for (auto &t : threads)
		t.join();
	for (size_t t = 0; t < 4; t++)
		CHECK(sums[t] == sums[0] && sums[0] > 0);
}

int
main()
{
	check_malloc_is_kmem();
	check_containers();
	check_aligned_new();
	check_exceptions();
	check_threads();
	std::printf("malloc_cxx_test: ok\n");
	return 0;
}
