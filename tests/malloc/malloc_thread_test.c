/*
 * The malloc family from several threads at once, in-process (so that
 * ThreadSanitizer sees it: the preloaded tests cannot run under it).  Each
 * thread allocates buffers of mixed sizes -- small classes, large buffers
 * kept for reuse, aligned ones from each aligned function, zeroed ones
 * from calloc -- fills each with a pattern of its own, grows some with
 * realloc, and passes half of them through a shared exchange to be
 * checked and freed by another thread; what is left in the exchange is
 * freed after its threads exited (glibc's tst-aligned-alloc-random-thread
 * and its -cross form check this of glibc's).  Meanwhile one thread runs
 * kmem_reap(), which gives back the large spans kept for reuse while
 * others take and return them.  Any buffer handed out twice, or changed
 * while another owned it, breaks a pattern; a calloc buffer that another
 * thread's pattern shows through was not zeroed.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <kmem/kmem.h>
#include <kmem/malloc.h>

#include "check.h"

#define THREADS         4
#define ROUNDS          4000
#define SLOTS           64
#define EXCHANGE        256

typedef struct buffer {
	unsigned char *p;
	size_t size;
	unsigned char tag;
} buffer_t;

static pthread_mutex_t exchange_lock = PTHREAD_MUTEX_INITIALIZER;
static buffer_t exchange[EXCHANGE];
static unsigned exchanged;
static bool done;

static size_t
random_size(uint64_t *rng)
{
	uint64_t r = check_random(rng);
	switch (r % 8) {
	case 0:
		return (200000 + (r >> 8) % 1200000);   /* large */
	case 1:
		return (1024 + (r >> 8) % 64000);
	default:
		return ((r >> 8) % 600);
	}
}

static void
fill(buffer_t *b)
{
	for (size_t i = 0; i < b->size; i += 61)
		b->p[i] = (unsigned char)(b->tag + i);
	if (b->size > 0)
		b->p[b->size - 1] = (unsigned char)(b->tag + b->size - 1);
}

static void
verify_and_free(const buffer_t *b)
{
	for (size_t i = 0; i < b->size; i += 61)
		CHECK_EQ(b->p[i], (unsigned char)(b->tag + i));
	if (b->size > 0)
		CHECK_EQ(b->p[b->size - 1], (unsigned char)(b->tag + b->size - 1));
	kmem_malloc_free(b->p);
}

/* calloc's zeroes, where fill() writes: at every 61st byte and the last. */
static void
check_zeroed(const buffer_t *b)
{
	for (size_t i = 0; i < b->size; i += 61)
		CHECK_EQ(b->p[i], 0);
	if (b->size > 0)
		CHECK_EQ(b->p[b->size - 1], 0);
}

static bool
new_buffer(buffer_t *b, uint64_t *rng, unsigned char tag)
{
	b->size = random_size(rng);
	b->tag = tag;
	uint64_t r = check_random(rng);
	size_t align = (size_t)16 << (r / 16 % 12);
	void *p = NULL;
	switch (r % 16) {
	case 0:
		b->p = kmem_memalign(align, b->size);
		break;
	case 1:
		b->p = kmem_aligned_alloc(align, b->size);
		break;
	case 2:
		CHECK_EQ(kmem_posix_memalign(&p, align, b->size), 0);
		b->p = p;
		break;
	case 3:
	case 4:
		align = 16;
		b->p = kmem_calloc(1, b->size);
		CHECK(b->p != NULL);
		check_zeroed(b);
		break;
	default:
		align = 16;
		b->p = kmem_malloc(b->size);
		break;
	}
	CHECK(b->p != NULL);
	CHECK_EQ((uintptr_t)b->p % align, 0);
	CHECK(kmem_malloc_usable_size(b->p) >= b->size);
	fill(b);
	return (true);
}

static void *
worker(void *arg)
{
	uint64_t rng = (uintptr_t)arg * 7919 + 1;
	buffer_t slots[SLOTS] = { { 0 } };
	unsigned char tag = (unsigned char)((uintptr_t)arg * 40);
	for (unsigned round = 0; round < ROUNDS; round++) {
		buffer_t *b = &slots[check_random(&rng) % SLOTS];
		if (b->p != NULL && check_random(&rng) % 4 == 0) {
			/* grow or shrink in place or by moving, contents kept */
			size_t keep = b->size;
			size_t size = random_size(&rng) + 1;  /* 0 would free */
			unsigned char *p = kmem_realloc(b->p, size);
			CHECK(p != NULL);
			for (size_t i = 0; i < keep && i < size; i += 61)
				CHECK_EQ(p[i], (unsigned char)(b->tag + i));
			b->p = p;
			b->size = size;
			fill(b);
			continue;
		}
		if (b->p != NULL) {
			bool handed = false;
			if (round % 2 == 0) {
				pthread_mutex_lock(&exchange_lock);
				if (exchanged < EXCHANGE) {
					exchange[exchanged++] = *b;
					handed = true;
				}
				pthread_mutex_unlock(&exchange_lock);
			}
			if (!handed)
				verify_and_free(b);
		}
		new_buffer(b, &rng, tag++);
		/* free what another thread handed over */
		buffer_t theirs = { 0 };
		pthread_mutex_lock(&exchange_lock);
		if (exchanged > 0)
			theirs = exchange[--exchanged];
		pthread_mutex_unlock(&exchange_lock);
		if (theirs.p != NULL)
			verify_and_free(&theirs);
	}
	for (unsigned i = 0; i < SLOTS; i++)
		if (slots[i].p != NULL)
			verify_and_free(&slots[i]);
	return (NULL);
}

static void *
reaper(void *arg)
{
	(void) arg;
	while (!__atomic_load_n(&done, __ATOMIC_ACQUIRE))
		kmem_reap();
	return (NULL);
}

int
main(void)
{
	pthread_t threads[THREADS], reap_thread;
	CHECK_EQ(pthread_create(&reap_thread, NULL, reaper, NULL), 0);
	for (uintptr_t i = 0; i < THREADS; i++)
		CHECK_EQ(pthread_create(&threads[i], NULL, worker,
		    (void *)(i + 1)), 0);
	for (unsigned i = 0; i < THREADS; i++)
		CHECK_EQ(pthread_join(threads[i], NULL), 0);
	__atomic_store_n(&done, true, __ATOMIC_RELEASE);
	CHECK_EQ(pthread_join(reap_thread, NULL), 0);
	for (unsigned i = 0; i < exchanged; i++)
		verify_and_free(&exchange[i]);
	printf("malloc_thread_test: ok\n");
	return (0);
}
