#!/bin/sh
# The symbols test: run symbols_prog with one bug and check, line by line,
# the frames its report prints (docs/debugging.md, "Reports").
# Usage: run_symbols.sh MODE KMRUN PROGRAM SRCDIR BUG
#   MODE     kmem (KMEM_DEBUG=default) or malloc (kmrun --debug)
#   PROGRAM  symbols_prog as built (-g, no -rdynamic), or a stripped copy
#            of it (its name ends in _stripped): then the program's frames
#            must fall back to object+offset, the library's still named;
#            the others' frames must give function and file:line
#   SRCDIR   where symbols_prog.c and symbols_lib.c are, for the lines
#            their "LINE:" comments mark
#   BUG      leak, double_free, overrun, write_after_free, verify (kmem
#            only: the report kmem_debug_verify() makes under its lock)
#            or guard_overflow (malloc only, run with kmrun --guard 1: the
#            report made in the guard page's fault handler)
set -u
mode=$1 kmrun=$2 program=$3 srcdir=$4 bug=$5
object=$(basename "$program")
library=libbug_symbols_lib.so
tmp=${TMPDIR:-/tmp}/kmem-symbols.$$
trap 'rm -f "$tmp".*' EXIT

unset KMEM_DEBUG UMEM_DEBUG KMEM_LOGGING UMEM_LOGGING
if [ "$bug" = guard_overflow ]; then
	"$kmrun" --guard 1 -- "$program" malloc "$bug" >"$tmp.out" 2>"$tmp.err"
elif [ "$mode" = malloc ]; then
	"$kmrun" --debug -- "$program" malloc "$bug" >"$tmp.out" 2>"$tmp.err"
else
	KMEM_DEBUG=default "$program" kmem "$bug" >"$tmp.out" 2>"$tmp.err"
fi
status=$?

fail() {
	echo "FAIL: $*"
	echo "--- exit status $status; standard output:"
	cat "$tmp.out"
	echo "--- standard error:"
	cat "$tmp.err"
	exit 1
}

# The line of FILE that the comment LINE:MARK is on.
line_of() {
	n=$(grep -n "LINE:$2 " "$srcdir/$1" | cut -d: -f1)
	[ -n "$n" ] || fail "no LINE:$2 in $1"
	echo "$n"
}

# The frames of the stack printed after the first line matching HEADER:
# the lines "      #N ..." that follow it, up to the next line that is
# neither a frame nor the "allocated at:" of a leak.
stack_after() {
	awk -v header="$1" '
		on && /^      #/ { print; next }
		on && /^  allocated at:$/ { next }
		on { exit }
		$0 ~ header { on = 1 }' "$tmp.err"
}

# Frame N of the stack after HEADER must be FUNCTION in FILE at the line
# marked MARK, in OBJECT: the whole line, in the form this build prints.
# N "any": some frame of that stack (a fault's stack starts with the
# signal trampoline's frames, which differ between unwinders).
frame() {
	header=$1 n=$2 function=$3 file=$4 mark=$5 in=$6
	offset='+0x[0-9a-f][0-9a-f]*'
	if [ "$in" = "$object" ] && [ "${object%_stripped}" != "$object" ]; then
		want="      #$n $in$offset"
	else
		want="      #$n $function$offset at $file:$(line_of "$file" "$mark") ($in)"
	fi
	if [ "$n" = any ]; then
		want=$(printf '%s\n' "$want" | sed 's/#any /#[0-9][0-9]* /')
		got=$(stack_after "$header")
	else
		got=$(stack_after "$header" | sed -n "$((n + 1))p")
	fi
	printf '%s\n' "$got" | grep -qx -- "$want" ||
		fail "after \"$header\", frame #$n is \"$got\"; expected \"$want\""
}

buffer=$(sed -n 's/^buffer //p' "$tmp.out" | tail -n 1)
[ -n "$buffer" ] || fail "the program printed no buffer"
grep -q "$buffer" "$tmp.err" || fail "the report must name the buffer $buffer"
p=symbols_prog.c l=symbols_lib.c
detected='^  detected in thread'
last='^  last transaction'
case $bug in
leak)
	[ $status -eq 0 ] || fail "the program must exit 0"
	mine='^libkmem: leak: 1 buffer, 100 bytes'
	frame "$mine" 0 lose_it $p lose_it "$object"
	frame "$mine" 1 main $p main_leak "$object"
	theirs='^libkmem: leak: 1 buffer, 300 bytes'
	frame "$theirs" 0 lib_allocate $l lib_allocate $library
	frame "$theirs" 1 symbols_lib_alloc $l symbols_lib_alloc $library
	frame "$theirs" 2 lose_it $p lose_in_library "$object"
	frame "$theirs" 3 main $p main_leak "$object"
	;;
double_free)
	[ $status -eq 134 ] || fail "the program must abort"
	grep -q '^libkmem: double free' "$tmp.err" || fail "no double free"
	frame "$detected" 0 put $p put "$object"
	frame "$detected" 1 free_twice $p second_free "$object"
	frame "$detected" 2 main $p main_double_free "$object"
	frame "$last" 0 put $p put "$object"
	frame "$last" 1 free_twice $p first_free "$object"
	;;
overrun)
	[ $status -eq 134 ] || fail "the program must abort"
	grep -q '^libkmem: buffer overrun' "$tmp.err" || fail "no overrun"
	frame "$detected" 0 put $p put "$object"
	frame "$detected" 1 overrun_by_one $p overrun_free "$object"
	frame "$detected" 2 main $p main_overrun "$object"
	frame "$last" 0 get $p get "$object"
	frame "$last" 1 main $p overrun_alloc "$object"
	;;
write_after_free)
	[ $status -eq 134 ] || fail "the program must abort"
	grep -q '^libkmem: write after free' "$tmp.err" ||
		fail "no write after free"
	frame "$detected" 0 get $p get "$object"
	frame "$detected" 1 main $p waf_found "$object"
	frame "$last" 0 put $p put "$object"
	frame "$last" 1 write_after_free $p waf_free "$object"
	;;
verify)
	[ $status -eq 134 ] || fail "the program must abort"
	grep -q '^libkmem: write after free: .* found by kmem_debug_verify()' \
		"$tmp.err" || fail "no write after free found by kmem_debug_verify()"
	frame "$detected" 0 main $p main_verify "$object"
	frame "$last" 0 put $p put "$object"
	frame "$last" 1 write_after_free $p waf_free "$object"
	;;
guard_overflow)
	[ $status -eq 134 ] || fail "the program must abort"
	grep -q '^libkmem: buffer overflow: access at offset 32 of guarded buffer' \
		"$tmp.err" || fail "no overflow of a guarded buffer"
	frame "$detected" any read_past_end $p guard_read "$object"
	frame "$detected" any main $p main_guard "$object"
	allocated='^  allocated by thread'
	frame "$allocated" 0 get $p get "$object"
	frame "$allocated" 1 main $p guard_alloc "$object"
	;;
*)
	fail "unknown bug $bug" ;;
esac
echo "ok: $mode $object $bug"
