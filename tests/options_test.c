/*
 * kmem_options_set(): a bad string changes nothing and names the option;
 * the reap options act only when a call names them, so a later call about
 * something else does not undo what the program did through the API.
 */
#include <dirent.h>
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
	return (0);
}
