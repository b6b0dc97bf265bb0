#!/bin/sh
# kmstat's tests (tools/kmstat) against stats_program, which allocates
# known amounts (stats_fixture.h), publishes, and waits for its standard
# input to end.  One case per run, as CMakeLists.txt registers them:
#
#   kmstat_test.sh CASE KMSTAT STATS_PROGRAM
#
# Exit 0 passes, 77 skips (top without tmux outside CI).
set -u
captures="out err pane kmstat.txt"
. "$(dirname "$0")/../expect.sh"

if [ $# -ne 3 ]; then
	echo "usage: kmstat_test.sh CASE KMSTAT STATS_PROGRAM" >&2
	exit 2
fi
case_name=$1
kmstat=$(realpath "$2") || exit 1
program=$(realpath "$3") || exit 1

tmp=$(mktemp -d) || exit 1
socket=kmstat_test_$$
program_pid=
leftover=                       # a file in /dev/shm the case made
cleanup() {
	exec 3>&- 2>/dev/null
	[ -z "$program_pid" ] || kill "$program_pid" 2>/dev/null
	tmux -L "$socket" kill-server 2>/dev/null
	[ -z "$leftover" ] || rm -rf "$leftover"
	rm -rf "$tmp"
}
trap cleanup EXIT
cd "$tmp" || exit 1
unset KMEM_OPTIONS LD_PRELOAD TMUX
# wait_for CONDITION...: poll until the command succeeds, with a generous
# bound (the machine may be busy); fail with the command otherwise.
wait_for() {
	tries=0
	until "$@"; do
		tries=$((tries + 1))
		[ "$tries" -lt 600 ] || fail "timed out waiting for: $*"
		sleep 0.05
	done
}

# start_program publish|quiet [OPTIONS]: run stats_program, with OPTIONS
# in KMEM_OPTIONS if given, its input a fifo held open on descriptor 3,
# and wait until it is ready; its pid in $pid.
start_program() {
	rm -f ready feed
	mkfifo feed
	env ${2:+"KMEM_OPTIONS=$2"} "$program" "$1" ready <feed >/dev/null &
	program_pid=$!
	exec 3>feed
	wait_for test -s ready
	pid=$(cat ready)
}

# expect_fixture_figures: $tmp/out holds the four tables with the
# program's figures (stats_fixture.h).
expect_fixture_figures() {
	expect_out "Total [kmem_default]"
	expect_field stats_cache 2 200          # buf size
	expect_field stats_cache 3 10           # buf in use
	expect_out "NAME                     QUANTUM         INUSE"
	expect_field stats_arena 3 24576        # in use: 3 x 8192
	expect_out "Memory resource pool statistics"
	expect_field stats_pool 2 64            # Size
	expect_field stats_pool 3 7             # Requests
	expect_field stats_pcache 3 5
	expect_out "Memory statistics by type"
	expect_field stats_type 2 4             # InUse
	expect_field stats_type 8 128           # Size(s)
}

stop_program() {
	exec 3>&-
	wait "$program_pid"
	rc=$?
	program_pid=
	expect_rc 0
}

# kill_program: SIGKILL it and wait for it, so that it is gone and its
# segment is left behind.
kill_program() {
	kill -KILL "$program_pid"
	wait "$program_pid"
	program_pid=
	exec 3>&-
}

# gone_pid: a pid no process has (a shell that exited and was waited for).
gone_pid() {
	sh -c 'exit 0' &
	gone=$!
	wait "$gone"
}

# removed PID: --clean's output says it removed the segment of PID.
removed() {
	awk -v name="/libkmem.$1" '$1 == "removed" && $2 == name { found = 1 }
	    END { exit !found }' "$tmp/out"
}

# field LINE_START N: the Nth word of the output line that starts with
# LINE_START (after leading blanks).
field() {
	awk -v name="$1" -v n="$2" '$1 == name { print $n; exit }' "$tmp/out"
}

expect_field() {
	value=$(field "$1" "$2")
	[ "$value" = "$3" ] ||
	    fail "column $2 of \"$1\" is \"$value\", expected \"$3\""
}

case $case_name in
tables)
	# The four tables, with the figures the program allocated.
	start_program publish
	run "$kmstat" "$pid"
	expect_rc 0
	expect_out "libkmem statistics: process $pid (stats_program) at "
	expect_out "cache                            buf       buf       buf      memory"
	expect_fixture_figures
	expect_field stats_arena 2 4096         # quantum
	expect_field stats_arena 4 16777216     # total
	stop_program
	;;

at_exit)
	# The tables the program prints at exit (the "stats" option, here to
	# a file) are the four kmstat prints of it, laid out alike: the same
	# lines, each starting with the same word (the figures may move on).
	start_program publish "stats_file=$tmp/exit.txt"
	run "$kmstat" "$pid"
	expect_rc 0
	mv "$tmp/out" "$tmp/kmstat.txt"
	stop_program
	[ ! -s "$tmp/err" ] || fail "kmstat wrote to standard error"
	cp "$tmp/exit.txt" "$tmp/out"
	grep -qx "libkmem statistics: process $pid (stats_program) at exit" \
	    "$tmp/out" || fail "no header naming the process"
	awk 'NR > 1 { print $1 }' "$tmp/kmstat.txt" >"$tmp/kmstat.words"
	awk 'NR > 1 { print $1 }' "$tmp/out" >"$tmp/exit.words"
	cmp -s "$tmp/kmstat.words" "$tmp/exit.words" ||
	    fail "the tables at exit are not kmstat's: $(diff "$tmp/kmstat.words" "$tmp/exit.words" | head -20)"
	# With the program's figures, in every table.
	expect_fixture_figures
	# One empty line after each table, none doubled.
	[ -z "$(tail -n 1 "$tmp/out")" ] || fail "no empty line at the end"
	awk 'prev == "" && $0 == "" && NR > 1 { exit 1 } { prev = $0 }' \
	    "$tmp/out" || fail "two empty lines in a row"
	;;

json)
	start_program publish
	run "$kmstat" --json "$pid"
	expect_rc 0
	python3 - "$tmp/out" "$pid" <<'PY' || fail "the JSON does not hold what the program allocated"
import json, sys
snap = json.load(open(sys.argv[1]))
assert snap["pid"] == int(sys.argv[2]) and snap["program"] == "stats_program"
caches = {c["name"]: c for c in snap["caches"]}
assert caches["stats_cache"]["buf_inuse"] == 10
arenas = {a["name"]: a for a in snap["arenas"]}
assert arenas["stats_arena"]["mem_inuse"] == 3 * 8192
pools = {p["name"]: p for p in snap["pools"]}
assert pools["stats_pool"]["nget"] == 7 and pools["stats_pcache"]["nget"] == 5
types = {t["name"]: t for t in snap["malloc_types"]}
assert types["stats_type"]["inuse"] == 4
PY
	run "$kmstat" -j "$pid"
	expect_rc 0
	stop_program
	;;

usage)
	run "$kmstat" --help
	expect_rc 0
	for text in "usage: kmstat [--json] PID" "kmstat --top PID" \
	    "kmstat --list | --clean" --json --top --list --clean --help \
	    "Exit status"; do
		expect_out "$text"
	done
	run "$kmstat"
	expect_rc 2
	expect_err "kmstat: no process ID"
	expect_err "(kmstat --help for the options)"
	run "$kmstat" 12x
	expect_rc 2
	expect_err "kmstat: \"12x\" is not a process ID"
	run "$kmstat" 0
	expect_rc 2
	run "$kmstat" --bogus 1
	expect_rc 2
	expect_err "kmstat: unknown option \"--bogus\""
	run "$kmstat" -x 1
	expect_rc 2
	expect_err "kmstat: unknown option \"-x\""
	run "$kmstat" 1 2
	expect_rc 2
	expect_err "one process ID only"
	run "$kmstat" --json --top 1
	expect_rc 2
	expect_err "--json and --top do not go together"
	run "$kmstat" --list 1
	expect_rc 2
	expect_err "kmstat: --list takes no process ID"
	run "$kmstat" --clean 1
	expect_rc 2
	expect_err "kmstat: --clean takes no process ID"
	run "$kmstat" -l -c
	expect_rc 2
	expect_err "kmstat: --list and --clean do not go together"
	run "$kmstat" --top --list
	expect_rc 2
	expect_err "kmstat: --top and --list do not go together"
	run "$kmstat" --clean --json
	expect_rc 2
	expect_err "kmstat: --clean and --json do not go together"
	;;

errors)
	# Not running: a process that has exited (and been waited for).
	gone_pid
	run "$kmstat" "$gone"
	expect_rc 1
	expect_err "kmstat: process $gone is not running"
	# Running, not publishing: also for --json and --top.
	start_program quiet
	for option in "" --json --top; do
		run "$kmstat" $option "$pid"
		expect_rc 1
		expect_err "kmstat: process $pid does not publish statistics (start it under \`kmrun --publish\` or set KMEM_OPTIONS=publish)"
	done
	stop_program
	# After it exits its segment is gone.
	start_program publish
	[ -e "/dev/shm/libkmem.$pid" ] || fail "no segment while it runs"
	stop_program
	[ ! -e "/dev/shm/libkmem.$pid" ] || fail "the segment outlived it"
	# --top needs a terminal.
	start_program publish
	run "$kmstat" --top "$pid" </dev/null
	expect_rc 1
	expect_err "kmstat: --top needs a terminal"
	stop_program
	;;

list)
	# A publisher killed, a quiet one and a publisher running: the first
	# is listed as gone, the last as running, the quiet one not at all.
	start_program publish
	gone=$pid
	leftover=/dev/shm/libkmem.$gone
	kill_program
	[ -e "/dev/shm/libkmem.$gone" ] || fail "no segment left behind"
	start_program quiet
	quiet=$pid
	quiet_pid=$program_pid
	exec 4>&3 3>&-
	start_program publish
	run "$kmstat" --list
	expect_rc 0
	expect_field PID 2 STATE
	expect_field PID 3 PROGRAM
	expect_field "$gone" 2 gone
	expect_field "$gone" 3 stats_program
	expect_field "$pid" 2 running
	expect_field "$pid" 3 stats_program
	[ -z "$(field "$quiet" 1)" ] || fail "process $quiet does not publish"
	# In the order of their pids.
	awk 'NR > 1 { if ($1 + 0 <= last) exit 1; last = $1 + 0 }' "$tmp/out" ||
	    fail "not in the order of the pids"
	run "$kmstat" -l
	expect_rc 0
	expect_field "$gone" 2 gone
	stop_program
	exec 4>&-
	wait "$quiet_pid"
	;;

clean)
	# A publisher killed and one running: --clean removes the segment of
	# the first, says so, and leaves the second's.
	start_program publish
	gone=$pid
	leftover=/dev/shm/libkmem.$gone
	kill_program
	start_program publish
	run "$kmstat" --clean
	expect_rc 0
	expect_out "removed /libkmem.$gone (stats_program)"
	! removed "$pid" || fail "it removed the segment of running process $pid"
	[ ! -e "/dev/shm/libkmem.$gone" ] || fail "the stale segment is still there"
	[ -e "/dev/shm/libkmem.$pid" ] || fail "the running process's segment is gone"
	run "$kmstat" --list
	expect_field "$pid" 2 running
	[ -z "$(field "$gone" 1)" ] || fail "process $gone is still listed"
	# Again: nothing of ours to remove, and the reader still reads.
	run "$kmstat" -c
	expect_rc 0
	! removed "$gone" && ! removed "$pid" ||
	    fail "a second --clean removed one of ours"
	run "$kmstat" "$pid"
	expect_rc 0
	stop_program

	# A stale name that cannot be removed (a directory: shm_unlink fails
	# with EISDIR): exit status 1, and a message naming it.
	gone_pid
	leftover=/dev/shm/libkmem.$gone
	mkdir "$leftover" || fail "cannot make $leftover"
	run "$kmstat" --list
	expect_rc 0
	expect_field "$gone" 2 gone
	expect_field "$gone" 3 -
	run "$kmstat" --clean
	expect_rc 1
	expect_err "kmstat: cannot remove /libkmem.$gone, the statistics of process $gone, which is gone: "
	[ -d "$leftover" ] || fail "the directory is gone"
	rmdir "$leftover"
	leftover=

	# As another user, when root can run kmstat as nobody: root's running
	# publisher is running (kill() fails with EPERM), its name cannot be
	# read, and --clean leaves it; root's stale segment cannot be removed.
	nobody() {
		setpriv --reuid=65534 --regid=65534 --clear-groups "$@"
	}
	if [ "$(id -u)" != 0 ] || ! command -v setpriv >/dev/null ||
	    ! nobody "$kmstat" --help >/dev/null 2>&1; then
		echo "(not as another user: not root, or no setpriv)"
	else
		start_program publish
		run nobody "$kmstat" --list
		expect_rc 0
		expect_field "$pid" 2 running
		expect_field "$pid" 3 -
		run nobody "$kmstat" --clean
		expect_rc 0
		[ -e "/dev/shm/libkmem.$pid" ] || fail "the segment of $pid is gone"
		stop_program
		gone_pid
		leftover=/dev/shm/libkmem.$gone
		: >"$leftover" || fail "cannot make $leftover"
		run nobody "$kmstat" --clean
		expect_rc 1
		expect_err "kmstat: cannot remove /libkmem.$gone, the statistics of process $gone, which is gone: Permission denied"
	fi
	;;

top)
	if ! command -v tmux >/dev/null; then
		if [ "${CI:-}" = true ] && [ "$(id -u)" = 0 ]; then
			apt-get update -qq && apt-get install -y -qq tmux >/dev/null
		fi
		if ! command -v tmux >/dev/null; then
			echo "SKIP (top): tmux is not installed"
			exit 77
		fi
	fi
	start_program publish
	pane() {
		tmux -L "$socket" capture-pane -p -t kmstat >"$tmp/pane"
	}
	pane_has() {
		pane && grep -qF -- "$1" "$tmp/pane"
	}
	# The pane runs kmstat --top between two snapshots of the terminal
	# settings, then records its exit status, then idles.  The tmux
	# server must not hold the program's fifo open (3>&-).
	tmux -L "$socket" -f /dev/null new-session -d -s kmstat -x 120 -y 30 \
	    "stty -g >before; '$kmstat' --top $pid; echo \$? >status.tmp; mv status.tmp status; stty -g >after; sleep 600" 3>&- ||
	    fail "tmux cannot start"
	wait_for pane_has "stats_cache (kmem_default)"
	pane_has "kmstat --top  process $pid (stats_program)" ||
	    fail "no header naming the process"
	pane_has "MEMORY    IN USE     TOTAL" || fail "no column heads"
	# Too small, then large again: it follows the terminal's size.
	tmux -L "$socket" resize-window -t kmstat -x 30 -y 4
	wait_for pane_has "terminal too small"
	tmux -L "$socket" resize-window -t kmstat -x 120 -y 30
	wait_for pane_has "stats_cache (kmem_default)"
	# q quits; the terminal is as it was.
	tmux -L "$socket" send-keys -t kmstat q
	wait_for test -e status
	[ "$(cat status)" = 0 ] || fail "kmstat --top exited with $(cat status)"
	wait_for test -e after
	cmp -s before after || fail "the terminal settings were not restored"
	pane
	! grep -qF "stats_cache" "$tmp/pane" ||
	    fail "the view was left on the screen"
	tmux -L "$socket" kill-session -t kmstat

	# The program ends under the view: the view ends with a message (which
	# one depends on whether the last read saw the process exiting).
	rm -f status before after
	tmux -L "$socket" -f /dev/null new-session -d -s kmstat -x 120 -y 30 \
	    "'$kmstat' --top $pid; echo \$? >status.tmp; mv status.tmp status; sleep 600" 3>&-
	wait_for pane_has "stats_cache (kmem_default)"
	stop_program
	wait_for test -e status
	[ "$(cat status)" = 1 ] || fail "kmstat --top exited with $(cat status)"
	wait_for pane_has "kmstat: process $pid "
	pane_has "kmstat: process $pid is not running" ||
	    pane_has "kmstat: process $pid stopped publishing statistics" ||
	    fail "no message saying the process ended"
	;;

*)
	echo "kmstat_test.sh: no case \"$case_name\"" >&2
	exit 2
	;;
esac
echo "ok ($case_name)"
exit 0
