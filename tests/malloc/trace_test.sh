#!/bin/sh
# trace_test.sh CASE KMRUN KMLAB TRACE_PROGRAM: the recorder (kmrun --trace,
# KMEM_OPTIONS=trace=...) on trace_program.c, read back by kmlab.
#
#   roundtrip  record "basic"; the allocations and the buffers left in use
#              that libkmem's statistics counted (kmrun --stats-file) equal
#              those of the trace (kmlab --dump); the laboratory's replay
#              makes the same number of allocations (a realloc in place
#              replayed as a free and an allocation), frees everything
#              the trace frees, and reaches the program's own peak of live
#              bytes
#   threads    five threads' events, each thread's its own, all read back,
#              the same counts as libkmem's statistics
#   fork       "%p": the parent's and the child's events in files of their
#              own; without "%p" the child records nothing
#   kill       a program killed with SIGKILL mid-run leaves a trace that
#              reads without damage, or cut short only at its end, and
#              replays
set -u
case_=$1 kmrun=$2 kmlab=$3 program=$4
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
fail() {
	echo "trace_test $case_: FAIL: $*" >&2
	exit 1
}

# The dump's tallies: allocations (a, and r making a new object), frees
# (f, and r ending an object other than in place), reallocs in place.
tally() {
	awk '
	/^a / { a++ }
	/^f / { f++ }
	/^r / {
		if ($2 != "-" && $2 == $3) { ip++; next }
		if ($3 != "-") a++
		if ($2 != "-") f++
	}
	END { printf "%d %d %d\n", a, f, ip }' "$1"
}

# The allocations and the buffers in use at exit that libkmem's statistics
# (stats file $1) counted -- every class cache's, and kmem_oversize's
# large buffers -- equal those of the trace's dump $2.
same_as_stats() {
	set -- $(awk '
	/^kmem_alloc_[0-9]/ { a += $6; u += $3 }
	$1 == "kmem_oversize" { a += $6; u += $6 - $7 }
	END { printf "%d %d\n", a, u }' "$1") $(tally "$2")
	[ "$1" -eq "$3" ] ||
	    fail "libkmem counted $1 allocations, the trace has $3"
	[ "$2" -eq $(($3 - $4)) ] ||
	    fail "libkmem counted $2 buffers in use at exit, the trace" \
	        "leaves $(($3 - $4))"
}

case $case_ in
roundtrip)
	"$kmrun" --trace "$dir/t" --stats-file "$dir/stats" -- \
	    "$program" basic >"$dir/out" || fail "the program failed"
	read -r _ peak _ inplace <"$dir/out"
	"$kmlab" --dump "$dir/t" >"$dir/dump" || fail "kmlab --dump failed"
	set -- $(tally "$dir/dump")
	allocs=$1 frees=$2 ip=$3
	[ "$ip" -eq "$inplace" ] ||
	    fail "$ip reallocs in place in the trace, the program made $inplace"
	same_as_stats "$dir/stats" "$dir/dump"
	# Every free is of an object the trace allocated (the program
	# allocates nothing before recording starts), and no object is
	# allocated twice: no free recorded twice, none missed.
	! grep -q "before recording" "$dir/dump" ||
	    fail "frees of objects the trace never allocated"
	! grep -q "addresses allocated again while live" "$dir/dump" ||
	    fail "an address allocated again while live: a free missed"
	# The laboratory's replay, on the resource map (no failures on the
	# budget it grows for the trace).
	"$kmlab" --trace "$dir/t" -a rmap -r 1 -q --csv "$dir/csv" ||
	    fail "kmlab --trace failed"
	set -- $(awk -F, 'NR == 2 { print $5, $6, $7, $9 }' "$dir/csv")
	[ "$1" -eq $((allocs + inplace)) ] ||
	    fail "the lab made $1 allocations, not $((allocs + inplace))"
	[ "$2" -eq $((frees + inplace)) ] ||
	    fail "the lab made $2 frees, not $((frees + inplace))"
	[ "$3" -eq 0 ] || fail "the lab failed $3 allocations"
	[ "$4" -eq "$peak" ] ||
	    fail "the lab's peak of live bytes is $4, the program's $peak"
	# The dump reads back as the same workload.
	"$kmlab" --trace "$dir/dump" -a rmap -r 1 -q --csv "$dir/csv2" ||
	    fail "kmlab cannot read its own dump"
	cut -d, -f1,3- "$dir/csv" | cut -d, -f1-19 >"$dir/a"
	cut -d, -f1,3- "$dir/csv2" | cut -d, -f1-19 >"$dir/b"
	cmp -s "$dir/a" "$dir/b" || fail "the dump replays differently"
	# The functions are told apart.
	for f in op=calloc op=memalign op=posix_memalign op=aligned_alloc \
	    op=valloc op=pvalloc "# failed: malloc"; do
		grep -q -- "$f" "$dir/dump" || fail "no \"$f\" in the dump"
	done
	;;
threads)
	"$kmrun" --trace "$dir/t" --stats-file "$dir/stats" -- \
	    "$program" threads || fail "the program failed"
	"$kmlab" --dump "$dir/t" >"$dir/dump" || fail "kmlab --dump failed"
	for t in 1 2 3 4 5; do
		grep -q " th=$t\$" "$dir/dump" || fail "no events of thread $t"
	done
	# Each worker's 20,000 allocations of its own size, on one thread.
	for size in 1000 1001 1002 1003; do
		n=$(awk -v s="$size" '$1 == "a" && $3 == s { print $NF }' \
		    "$dir/dump" | sort | uniq -c | awk '$1 >= 20000' | wc -l)
		[ "$n" -eq 1 ] || fail "size $size: not 20,000 on one thread"
	done
	# The C library keeps each thread's TLS vector (calloc) with its
	# stack: in use at exit, as libkmem counts too.
	same_as_stats "$dir/stats" "$dir/dump"
	;;
fork)
	"$kmrun" --trace "$dir/t.%p" -- "$program" fork || fail "the program failed"
	set -- "$dir"/t.*
	[ $# -eq 2 ] || fail "$# trace files, not 2"
	parent=0 child=0
	for f in "$@"; do
		"$kmlab" --dump "$f" >"$f.txt" || fail "kmlab --dump $f failed"
		grep -q '^a [0-9]* 55555 ' "$f.txt" && parent=$((parent + 1))
		grep -q '^a [0-9]* 77777 ' "$f.txt" && child=$((child + 1))
	done
	[ $parent -eq 1 ] && [ $child -eq 1 ] ||
	    fail "the parent's allocation in $parent files, the child's in $child"
	# Without %p the child records nothing, in no file.
	"$kmrun" --trace "$dir/one" -- "$program" fork || fail "the program failed"
	"$kmlab" --dump "$dir/one" >"$dir/one.txt" || fail "kmlab --dump failed"
	grep -q '^a [0-9]* 55555 ' "$dir/one.txt" || fail "no parent's event"
	! grep -q '^a [0-9]* 77777 ' "$dir/one.txt" ||
	    fail "the child's event is in the parent's file"
	;;
kill)
	"$kmrun" --trace "$dir/t" -- "$program" forever &
	pid=$!
	# Until two blocks are written (64 KiB each).
	i=0
	while [ "$(stat -c %s "$dir/t" 2>/dev/null || echo 0)" -lt 140000 ]; do
		i=$((i + 1))
		[ $i -lt 500 ] || { kill -9 $pid; fail "no trace written"; }
		sleep 0.02
	done
	kill -9 $pid
	wait $pid 2>/dev/null
	"$kmlab" --dump "$dir/t" >"$dir/dump" 2>"$dir/err"
	status=$?
	case $status in
	0) ;;
	1) grep -q "cut short" "$dir/err" || fail "damage: $(cat "$dir/err")" ;;
	*) fail "kmlab --dump exit status $status: $(cat "$dir/err")" ;;
	esac
	[ "$(grep -c '^a ' "$dir/dump")" -gt 5000 ] || fail "too few events"
	"$kmlab" --trace "$dir/t" -a rmap,buddy -r 1 -q ||
	    fail "the killed program's trace does not replay"
	;;
*)
	fail "unknown case"
	;;
esac
exit 0
