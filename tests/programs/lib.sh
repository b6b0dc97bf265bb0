# tests/programs/lib.sh: what the real-program tests share (sourced, not run).
#
# Each test runs one of Debian's programs twice on the same input, once
# under glibc's malloc and once with LD_PRELOAD=libkmem_malloc.so, and
# checks that the two runs print the same standard output and exit with the
# same status.  Besides, a preloaded run fails when
#   - the dynamic loader could not preload the library,
#   - the library wrote a report to standard error (lines starting with
#     "libkmem" or "kmem:", src/base/report.c),
#   - it crashed (a core file left in the run's directory is shown with
#     gdb's backtrace), or it ran past $KMEM_PROGRAMS_TIMEOUT seconds (the
#     backtraces of its processes are taken with gdb before it is killed).
#
# The library under test is the script's first argument (CTest passes
# $<TARGET_FILE:kmem_malloc>); $KMEM_MALLOC_SO, when set, overrides it, so
# the scripts also run by hand against a stand-in:
#   KMEM_MALLOC_SO=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2 bash tests/programs/git.sh
# Other knobs: KMEM_PROGRAMS_TIMEOUT (seconds per run, default 180),
# KMEM_PROGRAMS_KEEP=1 (keep the scratch directory), and KMEM_OPTIONS,
# which is passed on to the preloaded runs only (e.g.
# KMEM_OPTIONS=reap_thread=1,reap_interval=1ms ctest -L programs).
#
# Programs missing from the machine are installed with apt-get when we are
# root; when they cannot be, the test fails under CI=true and is skipped
# (exit 77) otherwise.
#
# A script uses it so:
#   . "$(dirname "$0")/lib.sh"
#   kmem_init "$@"
#   kmem_need /usr/bin/sqlite3 sqlite3
#   ... write inputs to $KMEM_INPUT ...
#   run_both "a name" /usr/bin/sqlite3 db "SELECT 1"
#   kmem_done

set -u
set -o pipefail

KMEM_SKIP=77
KMEM_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
KMEM_TEST_NAME=$(basename "$0" .sh)
KMEM_FAILED=0
KMEM_STEPS=0
KMEM_WORK=
KMEM_NEED_PKGS=()

kmem_log() {
	printf '%s: %s\n' "$KMEM_TEST_NAME" "$*"
}

kmem_fail_now() {
	kmem_log "FAIL: $*" >&2
	exit 1
}

# Skip the test (exit 77) -- or fail it when CI=true, where nothing may be
# silently left out.
kmem_skip_or_fail() {
	if [ "${CI:-}" = true ]; then
		kmem_log "FAIL (CI=true, so not skipped): $*" >&2
		exit 1
	fi
	kmem_log "SKIP: $*" >&2
	exit "$KMEM_SKIP"
}

kmem_cleanup() {
	if [ -n "$KMEM_WORK" ] && [ -d "$KMEM_WORK" ]; then
		if [ "${KMEM_PROGRAMS_KEEP:-0}" = 1 ]; then
			kmem_log "scratch directory kept: $KMEM_WORK"
		else
			rm -rf "$KMEM_WORK"
		fi
	fi
}

# kmem_init [library]: find the library, make the scratch directories and
# check once that preloading the library takes effect.
kmem_init() {
	local so=${KMEM_MALLOC_SO:-${1:-}}
	[ -n "$so" ] || kmem_fail_now "no library: pass libkmem_malloc.so as the first argument or set KMEM_MALLOC_SO"
	[ -f "$so" ] || kmem_fail_now "$so does not exist (build the target kmem_malloc first)"
	KMEM_SO=$(readlink -f "$so")
	export KMEM_SO

	KMEM_WORK=$(mktemp -d "${TMPDIR:-/tmp}/kmem-$KMEM_TEST_NAME.XXXXXX") ||
		kmem_fail_now "cannot make a scratch directory"
	trap kmem_cleanup EXIT
	KMEM_INPUT=$KMEM_WORK/input
	KMEM_RUN=$KMEM_WORK/run
	mkdir -p "$KMEM_INPUT" "$KMEM_WORK/home" "$KMEM_WORK/tmp"
	export KMEM_INPUT KMEM_RUN

	# The environment both runs share, the same for every machine: the
	# programs from Debian's directories (not pyenv's shims or anything in
	# /usr/local), the C locale, UTC, a home with no configuration in it.
	KMEM_ENV=(
		PATH=/usr/sbin:/usr/bin:/sbin:/bin
		HOME="$KMEM_WORK/home"
		TMPDIR="$KMEM_WORK/tmp"
		LC_ALL=C
		LANG=C
		TZ=UTC
		KMEM_INPUT="$KMEM_INPUT"
		KMEM_RUN="$KMEM_RUN"
		KMEM_SRC="$KMEM_SRC"
	)

	kmem_log "library under test: $KMEM_SO"

	# Preloading takes effect: the library is mapped into a preloaded
	# process.  (Each run's standard error is also checked for the
	# loader's "cannot be preloaded".)
	local maps
	maps=$(env -i LD_PRELOAD="$KMEM_SO" /bin/cat /proc/self/maps 2>&1) ||
		kmem_fail_now "cat /proc/self/maps under LD_PRELOAD=$KMEM_SO failed: $maps"
	if ! printf '%s\n' "$maps" | grep -qF "$KMEM_SO"; then
		printf '%s\n' "$maps" >&2
		kmem_fail_now "LD_PRELOAD=$KMEM_SO did not take effect: the library is not in /proc/self/maps of a preloaded cat"
	fi
	# ... and it is the library's malloc and free that the program and
	# the C library call (the loader tells where it binds each symbol).
	local bindings sym
	bindings=$(env -i LD_PRELOAD="$KMEM_SO" LD_DEBUG=bindings /bin/cat /dev/null 2>&1)
	for sym in malloc free; do
		if ! printf '%s\n' "$bindings" |
		    grep -F "to $KMEM_SO " | grep -qF "symbol \`$sym'"; then
			printf '%s\n' "$bindings" | grep -F "\`$sym'" >&2
			kmem_fail_now "under LD_PRELOAD=$KMEM_SO, $sym does not bind to the library"
		fi
	done
}

# kmem_need PATH PACKAGE: the file PATH comes from Debian's package
# PACKAGE.  Call kmem_install after the last one.
kmem_need() {
	[ -e "$1" ] || KMEM_NEED_PKGS+=("$2")
}

# Install what kmem_need found missing: apt-get update (quietly, only
# now that something is missing), then apt-get install.  Two tests that
# CTest runs at once take turns at apt through a lock file.
kmem_install() {
	[ ${#KMEM_NEED_PKGS[@]} -gt 0 ] || return 0
	local pkgs="${KMEM_NEED_PKGS[*]}"
	if [ "$(id -u)" != 0 ]; then
		kmem_skip_or_fail "missing Debian packages: $pkgs (not root, cannot install them: apt-get install $pkgs)"
	fi
	if ! command -v apt-get >/dev/null; then
		kmem_skip_or_fail "missing Debian packages: $pkgs (no apt-get to install them)"
	fi
	kmem_log "installing $pkgs"
	local log=$KMEM_WORK/apt.log
	if ! (
		if command -v flock >/dev/null; then
			exec 9>"${TMPDIR:-/tmp}/kmem-programs-apt.lock"
			flock 9
		fi
		export DEBIAN_FRONTEND=noninteractive
		apt-get -o DPkg::Lock::Timeout=300 update -qq &&
			apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends "${KMEM_NEED_PKGS[@]}"
	) >"$log" 2>&1; then
		tail -n 20 "$log" >&2
		kmem_skip_or_fail "cannot install $pkgs with apt-get (no network?)"
	fi
	KMEM_NEED_PKGS=()
}

# The ids of the processes in process group $1.
kmem_group_pids() {
	local stat rest pgrp
	for stat in /proc/[0-9]*/stat; do
		rest=$(cat "$stat" 2>/dev/null) || continue
		rest=${rest##*) }	# after the command name, which may hold spaces
		read -r _ _ pgrp _ <<<"$rest"	# state ppid pgrp ...
		if [ "$pgrp" = "$1" ]; then
			stat=${stat#/proc/}
			echo "${stat%/stat}"
		fi
	done
}

# Print every thread's backtrace of every process in group $1.
kmem_dump_group() {
	local pid
	for pid in $(kmem_group_pids "$1"); do
		echo "---- process $pid: $(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)"
		echo "wchan: $(cat "/proc/$pid/wchan" 2>/dev/null)"
		if command -v gdb >/dev/null; then
			timeout 60 gdb -nx -batch -p "$pid" \
				-ex 'info threads' -ex 'thread apply all bt' 2>&1 |
				grep -v '^\[New LWP\|^warning: .*debug\|^Download'
		fi
	done
}

# Backtraces from the core files a crash left in directory $1.
kmem_show_cores() {
	local core exe
	find "$1" -type f \( -name core -o -name 'core.[0-9]*' \) 2>/dev/null |
	while read -r core; do
		echo "---- core file $core"
		if ! command -v gdb >/dev/null; then
			echo "(no gdb to read it)"
			continue
		fi
		exe=$(gdb -nx -batch -c "$core" 2>&1 |
			sed -n "s/^Core was generated by \`\([^ ']*\).*/\1/p")
		[ -n "$exe" ] && [ "${exe#/}" = "$exe" ] && exe=$(command -v "$exe")
		gdb -nx -batch ${exe:+"$exe"} -c "$core" \
			-ex 'info threads' -ex 'thread apply all bt' 2>&1 |
			grep -v '^\[New LWP\|^warning: .*debug'
		[ "${KMEM_PROGRAMS_KEEP:-0}" = 1 ] || rm -f "$core"
	done
}

# kmem_run_one TAG PRELOAD CMD...: run CMD in a fresh $KMEM_RUN with the
# shared environment (and LD_PRELOAD=PRELOAD when that is not empty), its
# standard output and error going to $KMEM_WORK/TAG.out and TAG.err, and
# its exit status to TAG.status; the run's directory is left as
# $KMEM_WORK/TAG.dir.  Every run gets the same path so that programs that
# print where they work print the same thing.
kmem_run_one() {
	local tag=$1 preload=$2
	shift 2
	local out=$KMEM_WORK/$tag
	local limit=${KMEM_PROGRAMS_TIMEOUT:-180}
	rm -rf "$KMEM_RUN" "$out.dir" "$KMEM_WORK/tmp"
	mkdir -p "$KMEM_RUN" "$KMEM_WORK/tmp"

	# The command gets a session (so a process group) of its own, so that
	# a hang can be looked at and killed whole.  Core files land in the
	# run's directory (where the kernel's core_pattern allows).
	local env=("${KMEM_ENV[@]}")
	if [ -n "$preload" ]; then
		env+=(LD_PRELOAD="$preload")
		[ -z "${KMEM_OPTIONS:-}" ] || env+=(KMEM_OPTIONS="$KMEM_OPTIONS")
	fi
	(
		cd "$KMEM_RUN" || exit 126
		ulimit -c unlimited 2>/dev/null
		exec setsid env -i "${env[@]}" "$@"
	) </dev/null >"$out.out" 2>"$out.err" &
	local pid=$!

	# The watchdog: past the limit, take the backtraces, then kill.
	(
		trap 'kill $sleeper 2>/dev/null; exit 0' TERM
		sleep "$limit" &
		sleeper=$!
		wait $sleeper
		if kill -0 "$pid" 2>/dev/null; then
			{
				echo "TIMEOUT: still running after ${limit}s; the backtraces of its processes:"
				kmem_dump_group "$pid"
			} >"$out.hang" 2>&1
			kill -KILL -- "-$pid" 2>/dev/null
		fi
	) </dev/null >/dev/null 2>&1 &
	local watchdog=$!

	local started=$SECONDS status
	wait "$pid" 2>/dev/null	# (quiet about a child the watchdog killed)
	status=$?
	kill "$watchdog" 2>/dev/null
	wait "$watchdog" 2>/dev/null
	echo "$status" >"$out.status"
	echo $((SECONDS - started)) >"$out.seconds"
	mv "$KMEM_RUN" "$out.dir"
}

kmem_describe_status() {
	local s=$1
	if [ "$s" -gt 128 ] && [ "$s" -lt 160 ]; then
		echo "$s (killed by SIG$(kill -l $((s - 128))))"
	else
		echo "$s"
	fi
}

kmem_show_file() {	# kmem_show_file LABEL FILE
	[ -s "$2" ] || return 0
	echo "---- $1 ($(wc -l <"$2") lines, last 40):"
	tail -n 40 "$2"
}

# run_both NAME CMD...: run CMD under glibc's malloc, then preloaded; fail
# the step (and so the test, at kmem_done) when they differ or the
# preloaded run went wrong.  The plain run must succeed: if it does not,
# the test itself is broken on this machine.
run_both() {
	local name=$1
	shift
	KMEM_STEPS=$((KMEM_STEPS + 1))
	local base=$KMEM_WORK/step$KMEM_STEPS
	kmem_run_one "step$KMEM_STEPS.plain" "" "$@"
	kmem_run_one "step$KMEM_STEPS.preload" "$KMEM_SO" "$@"
	local p=$base.plain q=$base.preload
	local ps qs problems=()
	ps=$(cat "$p.status")
	qs=$(cat "$q.status")

	if [ "$ps" != 0 ]; then
		problems+=("the run under glibc's malloc exited $(kmem_describe_status "$ps"): the test is broken on this machine")
	fi
	if [ -e "$q.hang" ]; then
		problems+=("the preloaded run hung")
	elif [ "$ps" != "$qs" ]; then
		problems+=("exit status: $(kmem_describe_status "$ps") under glibc, $(kmem_describe_status "$qs") preloaded")
	fi
	if ! cmp -s "$p.out" "$q.out"; then
		problems+=("standard output differs")
	fi
	if grep -q '^libkmem\|^kmem:' "$q.err"; then
		problems+=("the library reported an error on standard error")
	fi
	if [ -n "$(find "$q.dir" -type f \( -name core -o -name 'core.[0-9]*' \) 2>/dev/null)" ]; then
		problems+=("a process crashed and left a core file")
	fi
	if grep -q 'cannot be preloaded' "$q.err"; then
		problems+=("the loader could not preload the library")
	fi

	if [ ${#problems[@]} -eq 0 ]; then
		kmem_log "ok   $name ($(cat "$p.seconds")s under glibc, $(cat "$q.seconds")s preloaded)"
		return 0
	fi
	KMEM_FAILED=$((KMEM_FAILED + 1))
	{
		kmem_log "FAIL $name"
		local cmd="$*"
		if [ "$(printf '%s\n' "$cmd" | wc -l)" -gt 8 ]; then
			cmd="$(printf '%s\n' "$cmd" | head -n 8)
	... (the rest is in $0)"
		fi
		echo "command: $cmd"
		echo "(runs in $KMEM_RUN with env -i ${KMEM_ENV[*]}, preloaded: LD_PRELOAD=$KMEM_SO${KMEM_OPTIONS:+ KMEM_OPTIONS=$KMEM_OPTIONS})"
		local problem
		for problem in "${problems[@]}"; do
			echo "  - $problem"
		done
		if ! cmp -s "$p.out" "$q.out"; then
			echo "---- diff of standard output, glibc (-) vs preloaded (+), first 60 lines:"
			diff -u "$p.out" "$q.out" | head -n 60
		fi
		kmem_show_file "standard error under glibc" "$p.err"
		kmem_show_file "standard error preloaded" "$q.err"
		[ ! -e "$q.hang" ] || cat "$q.hang"
		kmem_show_cores "$q.dir"
		kmem_show_cores "$p.dir"
		echo "----"
	}
	return 1
}

# kmem_text_file FILE LINES: a text file of LINES lines (40 to 60 bytes
# each), the same on every machine, compressible but not trivially.
kmem_text_file() {
	awk -v lines="$2" 'BEGIN {
		words = "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor"
		x = 1
		for (i = 0; i < lines; i++) {
			x = (x * 16807) % 2147483647
			printf "%08d %s %d %x %s\n", i, substr(words, 1 + x % 40, 8 + x % 30), x, x % 1048576, (x % 7 ? "same" : "different")
		}
	}' >"$1"
}

# kmem_done: the verdict.
kmem_done() {
	if [ "$KMEM_FAILED" -gt 0 ]; then
		kmem_log "$KMEM_FAILED of $KMEM_STEPS steps failed under $KMEM_SO"
		exit 1
	fi
	kmem_log "all $KMEM_STEPS steps agree under $KMEM_SO"
	exit 0
}
