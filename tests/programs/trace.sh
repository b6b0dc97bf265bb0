#!/usr/bin/env bash
# program_trace_NAME: a real program recorded (KMEM_OPTIONS=trace=...%p,
# libkmem_malloc.so preloaded) and its trace replayed through the
# laboratory, quickly (one timed round): python, sqlite3, gcc and git, each
# a small job of its own.  The trace of the process that allocated most
# must read without damage, hold thousands of events, dump as text that
# reads back, and replay through every allocator with no error from the
# library.  Usage: trace.sh NAME libkmem_malloc.so kmlab
. "$(dirname "$0")/lib.sh"
name=$1
shift
KMEM_TEST_NAME=trace_$name
kmlab=$(readlink -f "$2")
kmem_init "$1"
case $name in
python) kmem_need /usr/bin/python3 python3 ;;
sqlite3) kmem_need /usr/bin/sqlite3 sqlite3 ;;
gcc) kmem_need /usr/bin/gcc gcc ;;
git) kmem_need /usr/bin/git git ;;
*) kmem_fail_now "unknown program $name" ;;
esac
kmem_install

traces=$KMEM_WORK/traces
mkdir -p "$traces" "$KMEM_WORK/job"
cd "$KMEM_WORK/job" || exit 1
record() {
	env -i "${KMEM_ENV[@]}" LD_PRELOAD="$KMEM_SO" \
	    KMEM_OPTIONS="trace=$traces/t.%p" "$@" >"$KMEM_WORK/out" 2>&1 ||
	    { cat "$KMEM_WORK/out" >&2; kmem_fail_now "$name failed"; }
}
case $name in
python)
	# Every object from malloc, not from pymalloc's arenas.
	record env PYTHONMALLOC=malloc /usr/bin/python3 -c '
import json, collections
d = {str(i): list(range(i % 50)) for i in range(300)}
s = json.dumps(d)
c = collections.Counter(s.split(","))
print(len(json.loads(s)), len(c))' ;;
sqlite3)
	record /usr/bin/sqlite3 db "CREATE TABLE t(a, b);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20000)
INSERT INTO t SELECT i, hex(randomblob(i % 200)) FROM n;
CREATE INDEX tb ON t(b); SELECT count(*), sum(length(b)) FROM t;" ;;
gcc)
	printf '#include <stdio.h>\nstruct s { int a[10]; };\nint f(struct s *p) { int t = 0; for (int i = 0; i < 10; i++) t += p->a[i]; return t; }\nint main(void) { struct s x = {{1,2,3}}; printf("%%d\\n", f(&x)); return 0; }\n' >hello.c
	record /usr/bin/gcc -O2 -c hello.c -o hello.o ;;
git)
	record /bin/sh -c 'git init -q r && cd r && awk "BEGIN {
		for (i = 1; i <= 300; i++) { for (j = 1; j <= i; j++)
		print \"line\", i, j > (\"f\" i); close(\"f\" i) } }" &&
		git add . && git -c user.name=t -c user.email=t@t commit -qm one &&
		sed -i "s/line/LINE/" f1* && git diff --stat >/dev/null &&
		git -c user.name=t -c user.email=t@t commit -qam two &&
		git log -p >/dev/null' ;;
esac

# The process that allocated most (the largest file).
trace=$(ls -S "$traces"/t.* | head -n 1)
[ -n "$trace" ] || kmem_fail_now "no trace written"
kmem_log "$(ls "$traces" | wc -l) traces; replaying $(basename "$trace"), $(stat -c %s "$trace") bytes"
"$kmlab" --dump "$trace" >"$KMEM_WORK/dump" 2>"$KMEM_WORK/err" ||
	kmem_fail_now "kmlab --dump: $(cat "$KMEM_WORK/err")"
events=$(grep -c '^[afr] ' "$KMEM_WORK/dump")
[ "$events" -ge 2000 ] || kmem_fail_now "only $events events"
"$kmlab" --trace "$trace" -r 1 >"$KMEM_WORK/lab" 2>"$KMEM_WORK/err" ||
	{ cat "$KMEM_WORK/lab" "$KMEM_WORK/err" >&2; kmem_fail_now "kmlab --trace failed"; }
cat "$KMEM_WORK/lab"
grep -q '^vmem-next ' "$KMEM_WORK/lab" || kmem_fail_now "no table"
"$kmlab" --trace "$KMEM_WORK/dump" -a rmap -r 1 -q ||
	kmem_fail_now "the dump does not read back"
kmem_log "ok: $events events replayed"
exit 0
