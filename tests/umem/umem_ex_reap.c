/*
 * umem_alloc(3MALLOC)'s Examples 1 and 2 (umem_alloc, umem_zalloc), and a
 * reclaim callback as umem_cache_create(3MALLOC) describes one: a program
 * that keeps idle sessions around longer than it needs them, and gives
 * some back to their cache when umem asks, here through umem_reap().
 *
 * It checks what it relies on and exits 1 if any of it fails.
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

/* ---- Examples 1 and 2 ---- */

static int
examples(void)
{
	char *buf = (char *)umem_alloc(1024, UMEM_DEFAULT);

	if (buf == NULL) {
		(void) fprintf(stderr, "out of memory\n");
		return (1);
	}
	/* cannot assume anything about buf's contents */
	memset(buf, 'x', 1024);
	umem_free(buf, 1024);

	buf = (char *)umem_zalloc(1024, UMEM_DEFAULT);
	if (buf == NULL) {
		(void) fprintf(stderr, "out of memory\n");
		return (1);
	}
	/* buf contains zeros, even where the 'x's were just freed */
	for (int i = 0; i < 1024; i++)
		VERIFY(buf[i] == 0);
	umem_free(buf, 1024);
	return (0);
}

/* A table of counters, zeroed by umem_zalloc whatever memory it reuses. */
static void
zeroed_tables(void)
{
	static const size_t sizes[] = { 16, 200, 4096, 100000, 1 << 20 };
	for (size_t s = 0; s < sizeof (sizes) / sizeof (sizes[0]); s++) {
		size_t n = sizes[s] / sizeof (long);
		for (int round = 0; round < 20; round++) {
			long *counts = (long *)umem_zalloc(n * sizeof (long),
			    UMEM_NOFAIL);
			for (size_t i = 0; i < n; i++) {
				VERIFY(counts[i] == 0);
				counts[i] = (long)i + 1;
			}
			umem_free(counts, n * sizeof (long));
		}
	}
}

/* ---- idle sessions and a reclaim callback ---- */

typedef struct session {
	struct session *s_next;         /* on the idle list */
	int s_id;
	char s_scratch[200];
} session_t;

typedef struct sessions {
	umem_cache_t *cache;
	pthread_mutex_t lock;           /* reclaim may come from any thread */
	session_t *idle;
	int nidle;
	int reclaims;
} sessions_t;

static sessions_t sessions = { NULL, PTHREAD_MUTEX_INITIALIZER, NULL, 0, 0 };

/* Give back half of the idle sessions (at least one). */
static void
sessions_reclaim(void *arg)
{
	sessions_t *sp = (sessions_t *)arg;

	(void) pthread_mutex_lock(&sp->lock);
	sp->reclaims++;
	int give = (sp->nidle + 1) / 2;
	while (give-- > 0) {
		session_t *s = sp->idle;
		sp->idle = s->s_next;
		sp->nidle--;
		umem_cache_free(sp->cache, s);
	}
	(void) pthread_mutex_unlock(&sp->lock);
}

static session_t *
session_get(int id)
{
	session_t *s;

	(void) pthread_mutex_lock(&sessions.lock);
	if ((s = sessions.idle) != NULL) {
		sessions.idle = s->s_next;
		sessions.nidle--;
	}
	(void) pthread_mutex_unlock(&sessions.lock);
	if (s == NULL)
		s = (session_t *)umem_cache_alloc(sessions.cache, UMEM_NOFAIL);
	s->s_id = id;
	return (s);
}

/* Done with it: keep it for the next session instead of freeing it. */
static void
session_put(session_t *s)
{
	(void) pthread_mutex_lock(&sessions.lock);
	s->s_next = sessions.idle;
	sessions.idle = s;
	sessions.nidle++;
	(void) pthread_mutex_unlock(&sessions.lock);
}

static void
idle_sessions(void)
{
	enum { N = 64 };
	session_t *live[N];

	sessions.cache = umem_cache_create("session_cache",
	    sizeof (session_t), 0, NULL, NULL, sessions_reclaim, &sessions,
	    NULL, 0);
	VERIFY(sessions.cache != NULL);

	for (int i = 0; i < N; i++) {
		live[i] = session_get(i);
		memset(live[i]->s_scratch, i, sizeof (live[i]->s_scratch));
	}
	for (int i = 0; i < N; i++)
		session_put(live[i]);
	VERIFY(sessions.nidle == N);

	/* Each reap asks at least once; each answer halves the idle list. */
	for (int r = 1; sessions.nidle > 0; r++) {
		int before = sessions.nidle;
		umem_reap();
		VERIFY(sessions.reclaims >= r);
		VERIFY(sessions.nidle <= before / 2);
		(void) printf("after reap %d: %d idle sessions\n", r,
		    sessions.nidle);
		VERIFY(r < 20);
	}
	VERIFY(sessions.nidle == 0 && sessions.idle == NULL);

	/* Sessions still work after the cache gave memory back. */
	session_t *s = session_get(1000);
	VERIFY(s->s_id == 1000);
	umem_cache_free(sessions.cache, s);
	umem_cache_destroy(sessions.cache);
}

int
main(void)
{
	if (examples() != 0)
		return (1);
	zeroed_tables();
	idle_sessions();
	(void) printf("umem_ex_reap: ok\n");
	return (0);
}
