/*
 * kmem_options_set(): a bad string changes nothing and names the option;
 * the reap options act only when a call names them, so a later call about
 * something else does not undo what the program did through the API.
 */
#include <dirent.h>
#include <string.h>
#include <unistd.h>

#include <kmem/kmem.h>
#include <kmem/malloc.h>

#include "check.h"

static unsigned
thread_count(void)
{
	DIR *dir = opendir("/proc/self/task");
	CHECK(dir != NULL);
	unsigned n = 0;
	for (struct dirent *d; (d = readdir(dir)) != NULL;)
		if (d->d_name[0] != '.')
			n++;
	closedir(dir);
	return (n);
}

/* A stopped thread leaves the task list a moment after it said it stopped. */
static unsigned
thread_count_settled(unsigned expected)
{
	unsigned n = thread_count();
	for (int tries = 0; n != expected && tries < 10000; tries++) {
		usleep(1000);
		n = thread_count();
	}
	return (n);
}

int
main(void)
{
	char err[256];
	unsigned alone = thread_count();

	CHECK_EQ(kmem_options_set("reap_thread=1", err, sizeof (err)), 0);
	CHECK_EQ(thread_count(), alone + 1);

	/* The program turns the thread off; a later unrelated call keeps it off. */
	CHECK_EQ(kmem_update_thread(0), 0);
	CHECK_EQ(thread_count_settled(alone), alone);
	CHECK_EQ(kmem_options_set("stats=0", err, sizeof (err)), 0);
	CHECK_EQ(thread_count(), alone);

	/* A bad option anywhere in the string: nothing applied, option named. */
	CHECK_EQ(kmem_options_set("reap_thread=1,bogus=3", err, sizeof (err)), -1);
	CHECK(strstr(err, "unknown option 'bogus'") != NULL);
	CHECK_EQ(thread_count(), alone);
	CHECK_EQ(kmem_options_set("reap_thread=maybe", err, sizeof (err)), -1);
	CHECK(strstr(err, "option 'reap_thread': bad value 'maybe'") != NULL);
	CHECK_EQ(kmem_options_set("reap_interval=soon", err, sizeof (err)), -1);
	CHECK(strstr(err, "reap_interval") != NULL);
	CHECK_EQ(thread_count(), alone);
	return (0);
}
