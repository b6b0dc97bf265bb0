#!/bin/sh
# kmrun's tests (tools/kmrun): one case per run, named by the first
# argument, as tests/kmrun/CMakeLists.txt registers them with CTest:
#
#   kmrun_test.sh CASE KMRUN LIBRARY WORKLOAD
#
# KMRUN is the kmrun binary, LIBRARY the libkmem_malloc.so it should find
# by itself (it lives in ../lib from kmrun's directory), WORKLOAD the demo
# program examples/malloc_workload.  Each case checks exit statuses,
# messages and the environment the program sees; exit 0 passes, 77 skips.
set -u
. "$(dirname "$0")/../expect.sh"

if [ $# -ne 4 ]; then
	echo "usage: kmrun_test.sh CASE KMRUN LIBRARY WORKLOAD" >&2
	exit 2
fi
case_name=$1
# Absolute and without symbolic links, as kmrun sees them.
kmrun=$(realpath "$2") || exit 1
library=$(realpath "$3") || exit 1
workload=$(realpath "$4") || exit 1

tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
cd "$tmp" || exit 1
here=$(pwd -P)
unset KMRUN_LIBRARY KMEM_OPTIONS LD_PRELOAD

# expect_line LINE: standard output is exactly LINE.
expect_line() {
	[ "$(cat "$tmp/out")" = "$1" ] ||
	    fail "standard output is not \"$1\""
}

# A bad option is refused before anything runs.
expect_nothing_ran() {
	[ ! -e "$tmp/ran" ] || fail "the program ran"
}

case $case_name in
help)
	run "$kmrun" --help
	expect_rc 0
	expect_out "usage: kmrun [options] [--] PROGRAM [ARGS...]"
	for option in --stats --stats-file --reap-interval --reap-thread \
	    --publish --guard --debug --logging --options --library --help --version "(default 15s)"; do
		expect_out "$option"
	done
	# The default search, starting beside kmrun.
	expect_out "$(dirname "$kmrun")/../lib/libkmem_malloc.so"
	run "$kmrun" -h
	expect_rc 0
	expect_out "usage: kmrun"
	run "$kmrun" --version
	expect_rc 0
	expect_out "kmrun (libkmem) "
	;;

bad_value)
	# A value the library refuses: exit 2, naming the option and value.
	run "$kmrun" --reap-interval abc -- touch ran
	expect_rc 2
	expect_err "--reap-interval \"abc\""
	expect_err "reap_interval"
	expect_nothing_ran
	run "$kmrun" --reap-interval 0 -- touch ran
	expect_rc 2
	expect_err "--reap-interval \"0\""
	expect_nothing_ran
	run "$kmrun" --guard 2000000000 -- touch ran
	expect_rc 2
	expect_err "option 'guard': bad value '2000000000'"
	expect_nothing_ran
	run "$kmrun" --debug=guards,firewall=lots -- touch ran
	expect_rc 2
	expect_err "option 'firewall': bad value 'lots'"
	expect_nothing_ran
	run "$kmrun" --logging=everything -- touch ran
	expect_rc 2
	expect_err "logging: unknown option 'everything'"
	expect_nothing_ran
	run "$kmrun" --options stats=maybe -- touch ran
	expect_rc 2
	expect_err "--options \"stats=maybe\""
	expect_err "maybe"
	expect_nothing_ran
	run "$kmrun" --stats --options reap_thread,bogus=1 -- touch ran
	expect_rc 2
	expect_err "bogus"
	expect_nothing_ran
	;;

bad_environment)
	# A bad KMEM_OPTIONS already in the environment is caught too.
	run env KMEM_OPTIONS=stats,nonsense=3 "$kmrun" --stats -- touch ran
	expect_rc 2
	expect_err "KMEM_OPTIONS in the environment"
	expect_err "nonsense"
	expect_nothing_ran
	;;

bad_usage)
	run "$kmrun" --frobnicate -- touch ran
	expect_rc 2
	expect_err "unknown option \"--frobnicate\""
	expect_nothing_ran
	run "$kmrun" --library
	expect_rc 2
	expect_err "--library needs a value"
	run "$kmrun" --stats
	expect_rc 2
	expect_err "no program to run"
	run "$kmrun" --stats-file 'a,b' -- touch ran
	expect_rc 2
	expect_err "--stats-file"
	expect_err "comma"
	expect_nothing_ran
	run "$kmrun" --reap-interval '' -- touch ran
	expect_rc 2
	expect_err "--reap-interval: the value is empty"
	expect_nothing_ran
	;;

library_missing)
	run "$kmrun" --library "$tmp/no/libkmem_malloc.so" -- touch ran
	expect_rc 1
	expect_err "--library: cannot preload \"$tmp/no/libkmem_malloc.so\""
	expect_nothing_ran
	run env KMRUN_LIBRARY="$tmp" "$kmrun" -- touch ran
	expect_rc 1
	expect_err "KMRUN_LIBRARY: cannot preload \"$tmp\": not a regular file"
	expect_nothing_ran
	# A kmrun with no lib/ beside its bin/ names the paths it tried.
	mkdir "$tmp/bin" && cp "$kmrun" "$tmp/bin/kmrun" || exit 1
	run "$tmp/bin/kmrun" -- touch ran
	if [ "$rc" -eq 0 ]; then
		echo "skipped: a libkmem_malloc.so is installed where kmrun" \
		    "looks last"
		exit 77
	fi
	expect_rc 1
	expect_err "cannot find libkmem_malloc.so; tried:"
	expect_err "$here/bin/../lib/libkmem_malloc.so: No such file"
	expect_nothing_ran
	;;

library_found)
	# Found beside kmrun, by --library and by KMRUN_LIBRARY, and given
	# to the program by its absolute path.
	run "$kmrun" -- sh -c 'echo "$LD_PRELOAD"'
	expect_rc 0
	expect_line "$library"
	mkdir "$tmp/sub" && ln -s "$library" "$tmp/sub/lib.so" || exit 1
	run "$kmrun" --library sub/lib.so -- sh -c 'echo "$LD_PRELOAD"'
	expect_rc 0
	expect_line "$library"
	run env KMRUN_LIBRARY=sub/lib.so "$kmrun" sh -c 'echo "$LD_PRELOAD"'
	expect_rc 0
	expect_line "$library"
	;;

preload)
	# The library goes first; what was there stays, once.
	run env LD_PRELOAD=/nonexistent/libother.so "$kmrun" -- sh -c 'echo "$LD_PRELOAD"'
	expect_rc 0
	expect_line "$library:/nonexistent/libother.so"
	run env LD_PRELOAD="/nonexistent/a.so $library:/nonexistent/b.so" \
	    "$kmrun" -- sh -c 'echo "$LD_PRELOAD"'
	expect_rc 0
	expect_line "$library:/nonexistent/a.so:/nonexistent/b.so"
	;;

options)
	# Nothing asked, nothing set.
	run "$kmrun" -- sh -c 'echo "${KMEM_OPTIONS-unset}"'
	expect_rc 0
	expect_line "unset"
	run "$kmrun" --stats -- sh -c 'echo "$KMEM_OPTIONS"'
	expect_rc 0
	expect_line "stats"
	run "$kmrun" --guard 100 -- sh -c 'echo "$KMEM_OPTIONS"'
	expect_rc 0
	expect_line "guard=100"
	# The environment's first, then kmrun's in order; a relative stats
	# file made absolute.
	run env KMEM_OPTIONS=reap_thread=0 "$kmrun" --stats-file out.txt \
	    --reap-interval 250ms --reap-thread --options stats=0,reap_thread=0 \
	    -- sh -c 'echo "$KMEM_OPTIONS"'
	expect_rc 0
	expect_line "reap_thread=0,stats_file=$here/out.txt,reap_interval=250ms,reap_thread,stats=0,reap_thread=0"
	[ ! -s out.txt ] || fail "stats=0 came last, yet out.txt was written"
	;;

status)
	# kmrun becomes the program: its exit status is the program's.
	run "$kmrun" -- sh -c 'exit 7'
	expect_rc 7
	run "$kmrun" sh -c 'exit 0'
	expect_rc 0
	run "$kmrun" --stats sh -c 'exit 3'
	expect_rc 3
	run "$kmrun" -- sh -c 'kill -TERM $$'
	expect_rc 143
	# Arguments reach the program as they were.
	run "$kmrun" -- sh -c 'printf "%s|" "$@"' zero 'a b' '' --stats
	expect_rc 0
	expect_line "a b||--stats|"
	;;

not_found)
	run "$kmrun" -- kmrun-no-such-program
	expect_rc 127
	expect_err "kmrun-no-such-program: command not found"
	run "$kmrun" -- ./no-such-program
	expect_rc 127
	expect_err "./no-such-program"
	: >not-executable
	chmod 644 not-executable
	run "$kmrun" -- ./not-executable
	expect_rc 126
	expect_err "./not-executable"
	;;

stats)
	# The demo: the library prints its tables at the program's exit, the
	# four kmstat prints, in its order (a program that uses only malloc
	# has no pools: that table is its headings and a total).
	run "$kmrun" --stats -- "$workload" 20000 2
	expect_rc 0
	expect_out "2 threads wrote 40000 words of text"
	expect_out "   1  the"
	expect_err "cache                            buf       buf       buf      memory"
	expect_err "name                            size    in use     total      in use"
	expect_err "kmem_alloc_32 "
	expect_err "Total [kmem_default]"
	expect_err "NAME                     QUANTUM         INUSE"
	expect_err "  kmem_default              4096"
	expect_err "Memory resource pool statistics"
	expect_err "In use 0K, total allocated 0K; utilization 0.0%"
	expect_err "Memory statistics by type"
	awk '/^cache  / { t = t "c" } /^NAME  / { t = t "v" }
	    /^Memory resource pool statistics$/ { t = t "p" }
	    /^Memory statistics by type$/ { t = t "m" }
	    END { exit t != "cvpm" }' "$tmp/err" ||
	    fail "not the four tables, once each, in kmstat's order"
	# To a file instead.
	run "$kmrun" --stats-file tables.txt -- "$workload" 20000 2
	expect_rc 0
	[ ! -s "$tmp/err" ] || fail "--stats-file, yet standard error is not empty"
	grep -qF "kmem_alloc_32 " tables.txt ||
	    fail "tables.txt lacks the cache table"
	grep -q "^libkmem statistics: process [0-9]* (malloc_workload) at exit$" \
	    tables.txt || fail "tables.txt lacks the header naming the process"
	# A second run starts the file afresh.
	run "$kmrun" --stats-file tables.txt -- "$workload" 2000 1
	[ "$(grep -c "^libkmem statistics" tables.txt)" = 1 ] ||
	    fail "a second run appended to the stats file of the first"
	# Every process of the run prints its own tables, to its own file
	# with %p.  sh runs two programs (the second after a semicolon, so it
	# is not simply exec'd): three processes, three files.
	run "$kmrun" --stats-file 'each-%p.txt' -- sh -c '"$0" 200 1; "$0" 200 1' \
	    "$workload"
	expect_rc 0
	[ "$(ls each-*.txt | wc -l)" -ge 2 ] ||
	    fail "--stats-file with %p: expected a file per process: $(ls)"
	for f in each-*.txt; do
		pid=${f#each-}
		pid=${pid%.txt}
		grep -q "^libkmem statistics: process $pid " "$f" ||
		    fail "$f does not name process $pid"
	done
	# A program that closes standard error on its way out (sort, like
	# every coreutils program) still gets its tables printed.
	run "$kmrun" --stats -- sort /dev/null
	expect_rc 0
	grep -q "^libkmem statistics: process [0-9]* (sort) at exit" "$tmp/err" ||
	    fail "sort closed standard error and its tables were lost"
	expect_err "Total [kmem_default]"
	;;

trace)
	# --trace: a comma cannot travel in KMEM_OPTIONS; an old file is
	# replaced by the new trace; a file that cannot be made is an error
	# the library reports in the program, before main.
	run "$kmrun" --trace t,1 -- touch ran
	expect_rc 2
	expect_err "--trace: \"t,1\" contains a comma"
	expect_nothing_ran
	echo "an old file" >t.trace
	run "$kmrun" --trace t.trace -- "$workload" 2000 1
	expect_rc 0
	[ "$(head -c 8 t.trace)" = "KMTRACE" ] || fail "t.trace is no trace"
	[ "$(stat -c %s t.trace)" -gt 10000 ] || fail "t.trace holds no events"
	run "$kmrun" --trace no/such/dir/t.trace -- touch ran
	[ "$rc" -ne 0 ] || fail "a trace file that cannot be made, yet exit 0"
	expect_err "KMEM_OPTIONS: cannot open trace file $here/no/such/dir/t.trace"
	expect_nothing_ran
	;;
publish)
	# --publish: kmstat (beside kmrun) reads the running program's tables;
	# the segment goes when the program exits.  cat reads a fifo, so it
	# runs until the test closes it.
	kmstat=$(dirname "$kmrun")/kmstat
	run "$kmrun" --publish -- sh -c 'echo "$KMEM_OPTIONS"'
	expect_line "publish"
	mkfifo feed
	"$kmrun" --publish -- cat <feed >/dev/null &
	pid=$!
	exec 3>feed
	# The library starts publishing at cat's first allocation, from
	# another thread: poll, with a generous bound.
	tries=0
	until "$kmstat" "$pid" >"$tmp/out" 2>"$tmp/err"; do
		tries=$((tries + 1))
		[ "$tries" -lt 300 ] || { rc=1; fail "cat never published"; }
		sleep 0.1
	done
	rc=0
	expect_out "libkmem statistics: process $pid (cat) at "
	expect_out "Total [kmem_default]"
	expect_out "NAME                     QUANTUM         INUSE"
	expect_out "Memory resource pool statistics"
	expect_out "Memory statistics by type"
	[ -e "/dev/shm/libkmem.$pid" ] || fail "no segment while cat runs"
	exec 3>&-
	wait "$pid"
	rc=$?
	expect_rc 0
	[ ! -e "/dev/shm/libkmem.$pid" ] || fail "cat's segment outlived it"
	run "$kmstat" "$pid"
	expect_rc 1
	expect_err "kmstat: process $pid is not running"
	;;

*)
	echo "kmrun_test.sh: no case \"$case_name\"" >&2
	exit 2
	;;
esac
echo "ok ($case_name)"
exit 0
