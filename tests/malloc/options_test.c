/*
 * kmem_options_set(): a bad string changes nothing and names the option;
 * the reap options act only when a call names them, so a later call about
 * something else does not undo what the program did through the API.
 * Then how a string splits into options, through kmem_options_check().
 */
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <kmem/kmem.h>
#include <kmem/malloc.h>

#include "check.h"

/* The threads named kmem_update (other threads come and go: a sanitizer's). */
static unsigned
update_threads(void)
{
	DIR *dir = opendir("/proc/self/task");
	CHECK(dir != NULL);
	unsigned n = 0;
	for (struct dirent *d; (d = readdir(dir)) != NULL;) {
		if (d->d_name[0] == '.')
			continue;
		char path[300], name[32] = "";
		snprintf(path, sizeof (path), "/proc/self/task/%s/comm",
		    d->d_name);
		FILE *f = fopen(path, "r");
		if (f == NULL)
			continue;       /* it exited meanwhile */
		if (fgets(name, sizeof (name), f) != NULL &&
		    strcmp(name, "kmem_update\n") == 0)
			n++;
		fclose(f);
	}
	closedir(dir);
	return (n);
}

/* A new thread names itself, and a stopped one leaves the task list, a
 * moment after the call that started or stopped it returned. */
static unsigned
update_threads_settled(unsigned expected)
{
	unsigned n = update_threads();
	for (int tries = 0; n != expected && tries < 10000; tries++) {
		usleep(1000);
		n = update_threads();
	}
	return (n);
}

/* The message of a string kmem_options_check() refuses. */
static const char *
refused(const char *options)
{
	static char err[256];
	err[0] = '\0';
	CHECK_EQ(kmem_options_check(options, err, sizeof (err)), -1);
	return (err);
}

/*
 * How a string splits into options: empty ones are skipped, the name ends
 * at the first "=", the value is the rest (even an empty one, or one with
 * "=" in it), and "name" alone has no value; a name must be whole.
 */
static void
test_splitting(void)
{
	char err[256];
	CHECK_EQ(kmem_options_check(NULL, err, sizeof (err)), 0);
	CHECK_EQ(kmem_options_check("", err, sizeof (err)), 0);
	CHECK_EQ(kmem_options_check(",", err, sizeof (err)), 0);
	CHECK_EQ(kmem_options_check(",,stats=0,,publish=0,", err,
	    sizeof (err)), 0);
	CHECK_EQ(kmem_options_check("stats", err, sizeof (err)), 0);
	CHECK_EQ(kmem_options_check("stats_file=/tmp/a=b", err, sizeof (err)),
	    0);

	CHECK(strcmp(refused("=1"), "unknown option '' (known: stats, "
	    "stats_file, reap_interval, reap_thread, publish, guard, trace)") == 0);
	CHECK(strcmp(refused("stats,bogus=1,publish=maybe"), "unknown option "
	    "'bogus' (known: stats, stats_file, reap_interval, reap_thread, "
	    "publish, guard, trace)") == 0);
	CHECK(strstr(refused("stat"), "unknown option 'stat' (known:") != NULL);
	CHECK(strstr(refused("stats_files=x"), "unknown option 'stats_files' "
	    "(known:") != NULL);
	CHECK(strcmp(refused("stats="), "option 'stats': bad value '' "
	    "(expected nothing, or 0 or 1)") == 0);
	CHECK(strcmp(refused("stats=1=1"), "option 'stats': bad value '1=1' "
	    "(expected nothing, or 0 or 1)") == 0);
	CHECK(strcmp(refused(",reap_interval,"), "option 'reap_interval': "
	    "bad value '' (expected a time such as 500ms or 15s)") == 0);

	/* guard=N: a number of allocations, 0 (off) to 2^30. */
	CHECK_EQ(kmem_options_check("guard=0,guard=1000", err, sizeof (err)),
	    0);
	CHECK_EQ(kmem_options_check("guard=1073741824", err, sizeof (err)), 0);
	const char *bad_guards[] = { "guard", "guard=", "guard=x", "guard=-1",
	    "guard=10k", "guard=1073741825", "guard=99999999999999999999" };
	for (size_t i = 0; i < sizeof (bad_guards) / sizeof (bad_guards[0]);
	    i++)
		CHECK(strstr(refused(bad_guards[i]), "option 'guard': bad value "
		    "") != NULL && strstr(refused(bad_guards[i]), "(expected a "
		    "number of allocations, 0 to 2^30)") != NULL);

	/* A value as long as a path can be is too long for a file name. */
	char option[PATH_MAX + 16] = "stats_file=";
	size_t len = strlen(option);
	memset(option + len, 'a', PATH_MAX);
	option[len + PATH_MAX] = '\0';
	CHECK(strcmp(refused(option), "option 'stats_file': value too long")
	    == 0);
	option[len + PATH_MAX - 1] = '\0';
	CHECK(strstr(refused(option), "option 'stats_file': bad value") !=
	    NULL);
}

int
main(void)
{
	char err[256];
	CHECK_EQ(kmem_options_set("reap_thread=1", err, sizeof (err)), 0);
	CHECK_EQ(update_threads_settled(1), 1);     /* it names itself */

	/* The program turns the thread off; a later unrelated call keeps it off. */
	CHECK_EQ(kmem_update_thread(0), 0);
	CHECK_EQ(update_threads_settled(0), 0);
	CHECK_EQ(kmem_options_set("stats=0", err, sizeof (err)), 0);
	CHECK_EQ(update_threads(), 0);

	/* A bad option anywhere in the string: nothing applied, option named. */
	CHECK_EQ(kmem_options_set("reap_thread=1,bogus=3", err, sizeof (err)), -1);
	CHECK(strstr(err, "unknown option 'bogus'") != NULL);
	CHECK_EQ(update_threads(), 0);
	CHECK_EQ(kmem_options_set("reap_thread=maybe", err, sizeof (err)), -1);
	CHECK(strstr(err, "option 'reap_thread': bad value 'maybe'") != NULL);
	CHECK_EQ(kmem_options_set("reap_interval=soon", err, sizeof (err)), -1);
	CHECK(strstr(err, "reap_interval") != NULL);
	CHECK_EQ(update_threads(), 0);

	test_splitting();
	return (0);
}
