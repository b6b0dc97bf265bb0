/*
 * An object cache as umem_cache_create(3MALLOC)'s examples write one, in
 * the man page's style: objects with a mutex, a condition variable, a
 * list and a reference count, constructed once and reused in that state;
 * and objects with a subordinate buffer, one constructor serving a 4 KiB
 * and an 8 KiB cache through callback_data.  Threads share the caches.
 *
 * Solaris's mutex_t and cond_t become POSIX's.  The file is C and C++ at
 * once (CMake builds it both ways), so the casts from void * are spelled
 * out.  It checks what it relies on and exits 1 if any of it fails.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <umem.h>

#define VERIFY(cond) do {                                               \
	if (!(cond)) {                                                  \
		(void) fprintf(stderr, "%s:%d: %s\n", __FILE__, __LINE__, \
		    #cond);                                             \
		exit(1);                                                \
	}                                                               \
} while (0)

struct bar {
	struct bar *next;
};

typedef struct my_obj {
	pthread_mutex_t my_mutex;
	pthread_cond_t my_cv;
	struct bar *my_barlist;
	unsigned my_refcount;
} my_obj_t;

/* Objects constructed and not yet destructed, counted by the callbacks. */
static pthread_mutex_t count_lock = PTHREAD_MUTEX_INITIALIZER;
static long constructed, destructed;

/*
 * my_objs can only be freed when my_barlist == NULL, my_refcount == 0,
 * there are no waiters on my_cv, and my_mutex is unlocked.
 */
static int
my_obj_constructor(void *buf, void *ignored, int flags)
{
	my_obj_t *myobj = (my_obj_t *)buf;

	(void) ignored;
	(void) flags;
	(void) pthread_mutex_init(&myobj->my_mutex, NULL);
	(void) pthread_cond_init(&myobj->my_cv, NULL);
	myobj->my_barlist = NULL;
	myobj->my_refcount = 0;

	(void) pthread_mutex_lock(&count_lock);
	constructed++;
	(void) pthread_mutex_unlock(&count_lock);
	return (0);
}

static void
my_obj_destructor(void *buf, void *ignored)
{
	my_obj_t *myobj = (my_obj_t *)buf;

	(void) ignored;
	VERIFY(myobj->my_refcount == 0);
	VERIFY(myobj->my_barlist == NULL);
	/* Unlocked, as the contract says: trylock must succeed. */
	VERIFY(pthread_mutex_trylock(&myobj->my_mutex) == 0);
	(void) pthread_mutex_unlock(&myobj->my_mutex);
	(void) pthread_cond_destroy(&myobj->my_cv);
	(void) pthread_mutex_destroy(&myobj->my_mutex);

	(void) pthread_mutex_lock(&count_lock);
	destructed++;
	(void) pthread_mutex_unlock(&count_lock);
}

static umem_cache_t *my_obj_cache;

/* Take a reference, hang a bar on the object, then undo it all. */
static void
use_obj(my_obj_t *cur, struct bar *b)
{
	/* Every object comes out of the cache constructed. */
	VERIFY(cur->my_refcount == 0 && cur->my_barlist == NULL);
	(void) pthread_mutex_lock(&cur->my_mutex);
	cur->my_refcount++;
	b->next = cur->my_barlist;
	cur->my_barlist = b;
	(void) pthread_cond_broadcast(&cur->my_cv);
	(void) pthread_mutex_unlock(&cur->my_mutex);

	(void) pthread_mutex_lock(&cur->my_mutex);
	cur->my_barlist = b->next;
	cur->my_refcount--;
	(void) pthread_mutex_unlock(&cur->my_mutex);
}

static void *
worker(void *arg)
{
	enum { HOLD = 100 };
	my_obj_t *objs[HOLD];
	struct bar bars[HOLD];
	int round;
	int i;

	(void) arg;
	for (round = 0; round < 100; round++) {
		for (i = 0; i < HOLD; i++) {
			objs[i] = (my_obj_t *)umem_cache_alloc(my_obj_cache,
			    UMEM_DEFAULT);
			VERIFY(objs[i] != NULL);
			use_obj(objs[i], &bars[i]);
		}
		for (i = 0; i < HOLD; i++)
			umem_cache_free(my_obj_cache, objs[i]);
	}
	return (arg);
}

/* ---- objects with a subordinate buffer (Example 4) ---- */

typedef struct my_buf_obj {
	char *my_buffer;
	size_t my_size;
} my_buf_obj_t;

static int
my_buf_obj_constructor(void *buf, void *arg, int flags)
{
	size_t sz = (size_t)arg;
	my_buf_obj_t *myobj = (my_buf_obj_t *)buf;

	if ((myobj->my_buffer = (char *)umem_alloc(sz, flags)) == NULL)
		return (1);
	myobj->my_size = sz;
	return (0);
}

static void
my_buf_obj_destructor(void *buf, void *arg)
{
	size_t sz = (size_t)arg;
	my_buf_obj_t *myobj = (my_buf_obj_t *)buf;

	VERIFY(sz == myobj->my_size);
	umem_free(myobj->my_buffer, sz);
}

static void
subordinate_buffers(void)
{
	umem_cache_t *my_obj_4k_cache = umem_cache_create("my_obj_4k",
	    sizeof (my_buf_obj_t), 0, my_buf_obj_constructor,
	    my_buf_obj_destructor, NULL, (void *)4096, NULL, 0);
	umem_cache_t *my_obj_8k_cache = umem_cache_create("my_obj_8k",
	    sizeof (my_buf_obj_t), 0, my_buf_obj_constructor,
	    my_buf_obj_destructor, NULL, (void *)8192, NULL, 0);
	VERIFY(my_obj_4k_cache != NULL && my_obj_8k_cache != NULL);

	enum { N = 50 };
	my_buf_obj_t *small[N], *big[N];
	int i;
	for (i = 0; i < N; i++) {
		small[i] = (my_buf_obj_t *)umem_cache_alloc(my_obj_4k_cache,
		    UMEM_DEFAULT);
		big[i] = (my_buf_obj_t *)umem_cache_alloc(my_obj_8k_cache,
		    UMEM_NOFAIL);
		VERIFY(small[i] != NULL && big[i] != NULL);
		VERIFY(small[i]->my_size == 4096 && big[i]->my_size == 8192);
		/* The whole subordinate buffer is ours. */
		memset(small[i]->my_buffer, 's', small[i]->my_size);
		memset(big[i]->my_buffer, 'b', big[i]->my_size);
	}
	for (i = 0; i < N; i++) {
		VERIFY(small[i]->my_buffer[4095] == 's');
		VERIFY(big[i]->my_buffer[8191] == 'b');
		/* make sure to return them to the correct cache */
		umem_cache_free(my_obj_4k_cache, small[i]);
		umem_cache_free(my_obj_8k_cache, big[i]);
	}
	umem_cache_destroy(my_obj_4k_cache);
	umem_cache_destroy(my_obj_8k_cache);
}

int
main(void)
{
	enum { THREADS = 4 };
	pthread_t tids[THREADS];
	int i;

	my_obj_cache = umem_cache_create("my_obj", sizeof (my_obj_t), 0,
	    my_obj_constructor, my_obj_destructor, NULL, NULL, NULL, 0);
	VERIFY(my_obj_cache != NULL);

	for (i = 0; i < THREADS; i++)
		VERIFY(pthread_create(&tids[i], NULL, worker, NULL) == 0);
	for (i = 0; i < THREADS; i++)
		VERIFY(pthread_join(tids[i], NULL) == 0);

	/* Objects were reused constructed: far fewer constructions. */
	VERIFY(constructed > 0);
	VERIFY(constructed < THREADS * 100 * 100);

	umem_cache_destroy(my_obj_cache);
	VERIFY(destructed == constructed);

	subordinate_buffers();
	(void) printf("umem_ex_objcache: %ld objects constructed and "
	    "destructed\n", constructed);
	return (0);
}
