/*
 * The shape of the tests that record a trace in a process linked with
 * libkmem and read it back: record() runs in a child, recording to a
 * fresh file, and exits when it is done (the recorder writes its last
 * blocks at exit); then the parent reads the file, which must be whole,
 * and hands it to check().
 */
#ifndef TRACE_RECORDED_H
#define TRACE_RECORDED_H

#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <kmem/malloc.h>

#include "check.h"
#include "tracefile.h"

static inline int
trace_recorded(const char *name, void (*record)(void),
    void (*check)(const trace_file_t *t))
{
	char path[64];
	snprintf(path, sizeof (path), "/tmp/%s.XXXXXX", name);
	int fd = mkstemp(path);
	CHECK(fd >= 0);
	close(fd);
	unlink(path);           /* the recorder creates it */
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		char opt[300], err[256];
		snprintf(opt, sizeof (opt), "trace=%s", path);
		CHECK(kmem_options_set(opt, err, sizeof (err)) == 0);
		record();
		exit(0);
	}
	int status;
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	FILE *f = fopen(path, "rb");
	CHECK(f != NULL);
	static unsigned char data[64 << 20];
	size_t len = fread(data, 1, sizeof (data), f);
	fclose(f);
	unlink(path);
	CHECK(len > 0 && len < sizeof (data));
	trace_file_t t;
	int damaged = trace_file_read(&t, data, len);
	if (damaged != 0)
		fprintf(stderr, "%s: %s\n", name, t.damage);
	CHECK_EQ(damaged, 0);
	check(&t);
	trace_file_free(&t);
	printf("%s: ok\n", name);
	return (0);
}

#endif /* TRACE_RECORDED_H */
