/*
 * The debugging layer (include/kmem/debug.h, src/kmem_debug*.c,
 * src/kmem/kmem_firewall.c): the option parser, every option, bad values and
 * unknown names; then, with "default,verbose,firewall=8k" and every log
 * configured before the first allocation, what the checks catch, the
 * logs, the firewall and kmem_debug_verify().  The bug classes as whole
 * programs are in tests/bugs/.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <kmem/debug.h>
#include <kmem/kmem.h>
#include <kmem/malloc.h>

#include "check.h"
#include "kmem/kmem_impl.h"
#include "kmem_objects.h"

/*
 * On a test that commits a bug for the debugging layer to find (a write
 * after free, an overrun into the slack): in an AddressSanitizer build the
 * library must see it, not ASan, which knows the memory is poisoned.
 */
#define BUG_ON_PURPOSE KMEM_READS_FREED

#define FIREWALL        8192

/* ---- the parser ---- */

/* An option string for a message: NULL (no such variable) shown as such. */
static const char *
shown(const char *options)
{
	return (options != NULL ? options : "(unset)");
}

static kmem_debug_config_t
parsed(const char *debug, const char *logging)
{
	kmem_debug_config_t c;
	char err[256];
	if (kmem_debug_parse(debug, logging, &c, err, sizeof (err)) != 0) {
		fprintf(stderr, "\"%s\" / \"%s\": %s\n", shown(debug),
		    shown(logging), err);
		CHECK(!"the options parse");
	}
	return (c);
}

static void
check_bad(const char *debug, const char *logging, const char *expected)
{
	kmem_debug_config_t c;
	char err[256] = "";
	CHECK(kmem_debug_parse(debug, logging, &c, err, sizeof (err)) == -1);
	if (strstr(err, expected) == NULL) {
		fprintf(stderr, "\"%s\" / \"%s\": \"%s\" lacks \"%s\"\n",
		    shown(debug), shown(logging), err, expected);
		CHECK(!"the error names the option");
	}
}

static void
test_parser_options(void)
{
	kmem_debug_config_t c = parsed("", NULL);
	CHECK_EQ(c.flags, 0);
	CHECK_EQ(c.audit_depth, 15);
	CHECK_EQ(c.contents_bytes, 256);
	CHECK_EQ(c.maxverify, SIZE_MAX);
	CHECK_EQ(c.log_size[KMEM_LOG_TRANSACTION], 0);

	c = parsed("default", NULL);
	CHECK_EQ(c.flags, KMF_AUDIT | KMF_CONTENTS | KMF_DEADBEEF | KMF_REDZONE);
	CHECK_EQ(c.log_size[KMEM_LOG_CONTENTS], 64 * 1024);
	CHECK_EQ(parsed("guards", NULL).flags, KMF_DEADBEEF | KMF_REDZONE);
	CHECK_EQ(parsed("lite", NULL).flags, KMF_LITE);
	CHECK_EQ(parsed("audit", NULL).flags, KMF_AUDIT);
	CHECK_EQ(parsed("audit=40", NULL).audit_depth, 40);
	CHECK_EQ(parsed("contents", NULL).flags, KMF_CONTENTS);
	CHECK_EQ(parsed("contents=1k", NULL).contents_bytes, 1024);
	CHECK(parsed("verbose", NULL).verbose);
	CHECK(parsed("noabort", NULL).noabort);
	CHECK_EQ(parsed("firewall=4k", NULL).firewall_size, 4096);
	CHECK_EQ(parsed("firewall=100", NULL).firewall_size, 100);
	CHECK_EQ(parsed("maxverify=64", NULL).maxverify, 64);
	CHECK_EQ(parsed("maxverify=0", NULL).maxverify, 0);
	c = parsed("guards,,audit=3,", NULL);
	CHECK_EQ(c.flags, KMF_DEADBEEF | KMF_REDZONE | KMF_AUDIT);
	CHECK_EQ(c.audit_depth, 3);
	CHECK_EQ(parsed(",", ",,").flags, 0);
	c = parsed(",lite", ",fail=1k,,");
	CHECK_EQ(c.flags, KMF_LITE);
	CHECK_EQ(c.log_size[KMEM_LOG_FAIL], 1024);

	c = parsed(NULL, "transaction,contents=1m,fail=8K");
	CHECK_EQ(c.log_size[KMEM_LOG_TRANSACTION], 64 * 1024);
	CHECK_EQ(c.log_size[KMEM_LOG_CONTENTS], 1 << 20);
	CHECK_EQ(c.log_size[KMEM_LOG_FAIL], 8192);
	CHECK_EQ(parsed(NULL, "transaction=1g").log_size[KMEM_LOG_TRANSACTION],
	    1u << 30);
}

static void
test_parser_errors(void)
{
	check_bad("bogus", NULL, "debug: unknown option 'bogus' (known: "
	    "default audit contents guards verbose firewall lite maxverify "
	    "noabort)");
	check_bad("audit,deadbeef", NULL, "unknown option 'deadbeef'");
	check_bad(NULL, "transactions", "logging: unknown option "
	    "'transactions' (known: transaction contents fail)");
	check_bad("audit=0", NULL, "option 'audit': bad value '0' (expected a "
	    "number of stack frames from 1 to 64)");
	check_bad("audit=65", NULL, "option 'audit': bad value '65'");
	check_bad("audit=x", NULL, "option 'audit': bad value 'x'");
	check_bad("audit=", NULL, "option 'audit': bad value ''");
	check_bad("contents=5k", NULL, "option 'contents': bad value '5k'");
	check_bad("firewall", NULL, "option 'firewall': bad value '' "
	    "(expected a size in bytes");
	check_bad("firewall=4q", NULL, "option 'firewall': bad value '4q'");
	check_bad("firewall=0", NULL, "option 'firewall': bad value '0'");
	check_bad("maxverify", NULL, "option 'maxverify': bad value ''");
	check_bad("default=1", NULL, "option 'default': bad value '1' "
	    "(expected no value)");
	check_bad("guards=yes", NULL, "option 'guards'");
	check_bad("lite=1", NULL, "option 'lite'");
	check_bad("verbose=1", NULL, "option 'verbose'");
	check_bad("noabort=1", NULL, "option 'noabort'");
	check_bad(NULL, "fail=0", "option 'fail': bad value '0'");
	check_bad(NULL, "contents=8g", "option 'contents': bad value '8g'");
	check_bad(NULL, "transaction=99999999999999999999999",
	    "option 'transaction'");

	/* The name ends at the first "=" and must be whole; the value is the
	 * rest. */
	check_bad("=4k", NULL, "debug: unknown option '' (known: default");
	check_bad(",,=", NULL, "debug: unknown option '' (known: default");
	check_bad("audit,,bogus=1,lite=1", NULL, "debug: unknown option "
	    "'bogus' (known:");
	check_bad("audi", NULL, "debug: unknown option 'audi' (known:");
	check_bad("audits=2", NULL, "debug: unknown option 'audits' (known:");
	check_bad("audit=1=2", NULL, "debug: option 'audit': bad value '1=2' "
	    "(expected a number of stack frames from 1 to 64)");
	check_bad("lite=", NULL, "debug: option 'lite': bad value '' "
	    "(expected no value)");
	check_bad(NULL, ",fail=,", "logging: option 'fail': bad value '' "
	    "(expected a size in bytes up to 4g");
}

/* ---- configured for the rest of the process ---- */

static void
configure(void)
{
	char err[256];
	/* A bad string changes nothing... */
	CHECK(kmem_debug_configure("default,bogus", NULL, err,
	    sizeof (err)) == -1);
	CHECK(strstr(err, "unknown option 'bogus'") != NULL);
	CHECK_EQ(kmem_debug_flags(), 0);
	/* ... a good one applies, before the first allocation. */
	CHECK(kmem_debug_configure("default,verbose,firewall=8k",
	    "transaction=256k,contents,fail", err, sizeof (err)) == 0);
	CHECK_EQ(kmem_debug_flags(),
	    KMF_AUDIT | KMF_CONTENTS | KMF_DEADBEEF | KMF_REDZONE);
	void *b = kmem_alloc(8, KM_SLEEP);
	kmem_free(b, 8);
	CHECK(kmem_debug_configure("guards", NULL, err, sizeof (err)) == -1);
	CHECK(strstr(err, "too late") != NULL);
}

static kmem_cache_t *
class_cache(size_t size)
{
	return (kmem_alloc_class_cache(size, KM_SLEEP));
}

static void
test_classes_are_debug_caches(void)
{
	kmem_cache_stats_t st = stats_of(class_cache(64));
	CHECK(st.chunk_size > 64);
	CHECK(st.magazine_size > 0);
	CHECK(st.cflags & KMF_AUDIT);
	/* Caches created with KMC_NODEBUG are left alone. */
	kmem_cache_t *plain = kmem_cache_create("dbg_nodebug", 64, 0, NULL,
	    NULL, NULL, NULL, NULL, KMC_NODEBUG);
	CHECK_EQ(stats_of(plain).chunk_size, 64);
	CHECK(stats_of(plain).magazine_size != 0);
	kmem_cache_destroy(plain);
}

BUG_ON_PURPOSE static void
test_patterns(void)
{
	uint32_t *b = kmem_alloc(64, KM_SLEEP);
	for (int i = 0; i < 16; i++)
		CHECK_EQ(b[i], 0xbaddcafe);
	uintptr_t pcs[8];
	CHECK(kmem_audit_stack(class_cache(64), b, pcs, 8) > 0);
	kmem_free(b, 64);
	/* Freed, it holds the freed pattern (the test owns the memory). */
	for (int i = 0; i < 16; i++)
		CHECK_EQ(b[i], 0xdeadbeef);
	CHECK_EQ(kmem_debug_verify(), 0);
}

BUG_ON_PURPOSE static void
test_requested_size(void)
{
	unsigned char *b = kmem_alloc(10, KM_SLEEP);
	memset(b, 1, 10);
	CHECK_EQ(b[10], 0xbb);          /* the class's slack is a redzone */
	CHECK_REPORT(kmem_free(b, 12), "wrong size: kmem_free(");
	b[12] = 0;
	CHECK_REPORT(kmem_free(b, 10), "buffer overrun");

	char *m = kmem_malloc(20);
	CHECK_EQ(kmem_malloc_usable_size(m), 20);
	CHECK(kmem_realloc(m, 20) == m);
	char *bigger = kmem_realloc(m, 21);     /* moves: 21 was not asked */
	CHECK(bigger != NULL && bigger != m);
	kmem_malloc_free(bigger);
}

BUG_ON_PURPOSE static void
test_write_after_free_and_verify(void)
{
	kmem_cache_t *cp = kmem_cache_create("dbg_waf", 100, 0, NULL, NULL,
	    NULL, NULL, NULL, 0);
	char *b = kmem_cache_alloc(cp, KM_SLEEP);
	kmem_cache_free(cp, b);
	b[50] = 1;
	unsigned found;
	CHECK_REPORT(found = kmem_debug_verify(), "write after free: buffer");
	CHECK_EQ(found, 1);
	/* Found again at allocation, with the stack of the free. */
	CHECK_REPORT(b = kmem_cache_alloc(cp, KM_SLEEP),
	    "last transaction: free by thread");
	kmem_cache_free(cp, b);
	kmem_cache_destroy(cp);
}

BUG_ON_PURPOSE static void
test_double_free_names_last_free(void)
{
	void *b = kmem_alloc(200, KM_SLEEP);
	kmem_free(b, 200);
	CHECK_REPORT(kmem_free(b, 200), "last transaction: free by thread");
	/* verbose: the buffer's history from the transaction log follows. */
	CHECK_REPORT(kmem_free(b, 200), "transaction log (oldest first):");
}

/* ---- the logs ---- */

typedef struct seen {
	const void *buf;
	unsigned allocs, frees, fails;
	bool contents_ok, stacks;
} seen_t;

static int
look(void *arg, const kmem_debug_record_t *rec)
{
	seen_t *s = arg;
	if (rec->op == KMEM_OP_FAIL)
		s->fails++;
	if (rec->buf != s->buf)
		return (0);
	s->allocs += rec->op == KMEM_OP_ALLOC;
	s->frees += rec->op == KMEM_OP_FREE;
	s->stacks = rec->depth > 0;
	if (rec->contents_len == 24 &&
	    memcmp(rec->contents, "the buffer's own words!", 24) == 0)
		s->contents_ok = true;
	return (0);
}

BUG_ON_PURPOSE static void
test_logs(void)
{
	char *b = kmem_alloc(24, KM_SLEEP);
	memcpy(b, "the buffer's own words!", 24);
	kmem_free(b, 24);
	seen_t s = { .buf = b };
	CHECK(kmem_debug_log_walk(KMEM_LOG_TRANSACTION, look, &s) > 0);
	CHECK(s.allocs >= 1 && s.frees >= 1 && s.stacks);
	CHECK(kmem_debug_log_walk(KMEM_LOG_CONTENTS, look, &s) > 0);
	CHECK(s.contents_ok);

	CHECK(kmem_alloc((size_t)1 << 46, KM_NOSLEEP) == NULL);
	s = (seen_t){ 0 };
	CHECK(kmem_debug_log_walk(KMEM_LOG_FAIL, look, &s) >= 1);
	CHECK(s.fails >= 1);
	CHECK_EQ(kmem_debug_log_walk((kmem_debug_log_t)7, look, &s), 0);
}

/* ---- the firewall ---- */

static char *firewalled;

/* A fault kills the child, even under a sanitizer's handler. */
static void
default_segv(void)
{
	struct sigaction sa = { .sa_handler = SIG_DFL };
	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGBUS, &sa, NULL);
}

static void
overrun_firewalled(void)
{
	default_segv();
	((volatile char *)firewalled)[FIREWALL] = 1;    /* the guard page */
}

static void
use_after_free_firewalled(void)
{
	default_segv();
	kmem_free(firewalled, FIREWALL);
	((volatile char *)firewalled)[0] = 1;
}

BUG_ON_PURPOSE static void
test_firewall(void)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	/* Its class counts a firewalled buffer as its own, both ways. */
	uint64_t inuse = stats_of(class_cache(FIREWALL)).buf_inuse;
	firewalled = kmem_alloc(FIREWALL, KM_SLEEP);
	CHECK_EQ(((uintptr_t)firewalled + FIREWALL) % page, 0);
	CHECK_EQ(stats_of(class_cache(FIREWALL)).buf_inuse, inuse + 1);
	memset(firewalled, 7, FIREWALL);
	check_child_t c = check_run_child(overrun_firewalled);
	CHECK(WIFSIGNALED(c.status) && WTERMSIG(c.status) == SIGSEGV);
	c = check_run_child(use_after_free_firewalled);
	CHECK(WIFSIGNALED(c.status) && WTERMSIG(c.status) == SIGSEGV);
	CHECK_REPORT(kmem_free(firewalled, FIREWALL + 8), "wrong size");
	kmem_free(firewalled, FIREWALL);
	CHECK_EQ(stats_of(class_cache(FIREWALL)).buf_inuse, inuse);
	CHECK_REPORT(kmem_free(firewalled, FIREWALL), "double free: "
	    "firewalled buffer");
	CHECK_EQ(stats_of(class_cache(FIREWALL)).buf_inuse, inuse);

	/* Below the size: a tagged slab buffer.  Above KMEM_MAXBUF too. */
	void *small = kmem_alloc(FIREWALL - 8, KM_SLEEP);
	CHECK(((uintptr_t)small + FIREWALL - 8) % page != 0);
	kmem_free(small, FIREWALL - 8);
	char *huge = kmem_alloc(300000, KM_SLEEP);
	CHECK_EQ(((uintptr_t)huge + 300000) % page, 0);
	kmem_free(huge, 300000);

	/* malloc: the same firewall, and the size it was asked. */
	char *m = kmem_malloc(10000);
	CHECK_EQ(((uintptr_t)m + 10000) % 16, 0);
	CHECK_EQ(kmem_malloc_usable_size(m), 10000);
	kmem_malloc_free(m);

	/* A cache created with KMF_FIREWALL: every buffer. */
	kmem_cache_t *cp = kmem_cache_create("dbg_fw", 40, 0, NULL, NULL, NULL,
	    NULL, NULL, KMF_FIREWALL);
	char *b = kmem_cache_alloc(cp, KM_SLEEP);
	CHECK_EQ(((uintptr_t)b + 40) % page, 0);
	kmem_cache_t *other = kmem_cache_create("dbg_fw2", 40, 0, NULL, NULL,
	    NULL, NULL, NULL, KMF_FIREWALL);
	CHECK_REPORT(kmem_cache_free(other, b), "wrong cache");
	CHECK_EQ(stats_of(cp).buf_inuse, 1);
	kmem_cache_free(cp, b);
	kmem_cache_stats_t st = stats_of(cp);
	CHECK_EQ(st.alloc, 1);
	CHECK_EQ(st.free, 1);
	CHECK_EQ(st.buf_inuse, 0);
	kmem_cache_destroy(other);
	/* Destroyed with one outstanding: a leak, as of a slab buffer. */
	(void) kmem_cache_alloc(cp, KM_SLEEP);
	CHECK_REPORT(kmem_cache_destroy(cp), "kmem_cache_destroy(\"dbg_fw\"): "
	    "1 buffer never freed; leaked");
}

/* A constructor that fails, and a destructor that must then not run. */
static int destructed;

static int
refuse(void *buf, void *arg, int kmflag)
{
	(void) buf;
	(void) arg;
	(void) kmflag;
	return (-1);
}

static void
count_destructor(void *buf, void *arg)
{
	(void) buf;
	(void) arg;
	destructed++;
}

static void
test_firewall_constructor_fails(void)
{
	kmem_cache_t *cp = kmem_cache_create("dbg_fw_ctor", 64, 0, refuse,
	    count_destructor, NULL, NULL, NULL, KMF_FIREWALL);
	CHECK(kmem_cache_alloc(cp, KM_NOSLEEP) == NULL);
	CHECK_EQ(destructed, 0);
	CHECK_EQ(stats_of(cp).alloc_fail, 1);
	kmem_cache_destroy(cp);
}

/* ---- the runner ---- */

static const check_test_t tests[] = {
	CHECK_TEST(test_parser_options),
	CHECK_TEST(test_parser_errors),
	CHECK_TEST(test_classes_are_debug_caches),
	CHECK_TEST(test_patterns),
	CHECK_TEST(test_requested_size),
	CHECK_TEST(test_write_after_free_and_verify),
	CHECK_TEST(test_double_free_names_last_free),
	CHECK_TEST(test_logs),
	CHECK_TEST(test_firewall),
	CHECK_TEST(test_firewall_constructor_fails),
};

int
main(int argc, char **argv)
{
	check_catch_reports();
	configure();
	return (check_run_tests(tests, sizeof (tests) / sizeof (tests[0]), argc,
	    argv));
}
