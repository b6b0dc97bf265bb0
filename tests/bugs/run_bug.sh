#!/bin/sh
# Run one bug program under the debug options and check what it reports.
# Usage: run_bug.sh MODE KMRUN PROGRAM KIND FUNCTION [DEBUG]
#   MODE      kmem (KMEM_DEBUG=DEBUG, default "default"), umem (the same
#             in libumem's UMEM_DEBUG) or malloc (kmrun --debug=DEBUG --
#             PROGRAM malloc); DEBUG "off" runs with debugging off (no
#             KMEM_DEBUG, no --debug), where reports carry no stacks
#   KIND      what the report must name ("double free", ...); "clean" for
#             no report at all; "baddcafe" for the uninitialised pattern in
#             the program's output
#   FUNCTION  the buggy function, which the report's stacks must name
# A report must also name the buffer the program printed ("buffer 0x..."),
# and the program must die by abort() -- or, with noabort in DEBUG, go on
# and print "survived".
set -u
mode=$1 kmrun=$2 program=$3 kind=$4 function=$5 debug=${6:-default}
tmp=${TMPDIR:-/tmp}/kmem-bug.$$
trap 'rm -f "$tmp".*' EXIT

unset KMEM_DEBUG UMEM_DEBUG
if [ "$debug" = off ]; then
	if [ "$mode" = malloc ]; then
		"$kmrun" -- "$program" malloc >"$tmp.out" 2>"$tmp.err"
	else
		"$program" kmem >"$tmp.out" 2>"$tmp.err"
	fi
elif [ "$mode" = kmem ]; then
	KMEM_DEBUG=$debug "$program" kmem >"$tmp.out" 2>"$tmp.err"
elif [ "$mode" = umem ]; then
	UMEM_DEBUG=$debug "$program" kmem >"$tmp.out" 2>"$tmp.err"
else
	"$kmrun" --debug="$debug" -- "$program" malloc >"$tmp.out" 2>"$tmp.err"
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

case $kind in
bad_option:*)
	# A bad KMEM_DEBUG: the program aborts at its first allocation,
	# naming the option.
	[ $status -eq 134 ] || fail "a bad option must abort the program"
	grep -q "^libkmem: ${kind#bad_option:}" "$tmp.err" ||
		fail "the error must say \"${kind#bad_option:}\""
	;;
clean)
	[ $status -eq 0 ] || fail "a clean program must exit 0"
	[ -s "$tmp.err" ] && fail "a clean program must report nothing"
	;;
baddcafe)
	[ $status -eq 0 ] || fail "the program must exit 0"
	grep -q "read 0xbaddcafe" "$tmp.out" ||
		fail "uninitialised memory must read 0xbaddcafe"
	;;
*)
	case $kind:$debug in
	leak:*)
		# Reported at exit; whether that aborts is the leak
		# detector's to say.
		;;
	*noabort*)
		[ $status -eq 0 ] && grep -q survived "$tmp.out" ||
			fail "with noabort the program must go on" ;;
	*)
		# 134: killed by SIGABRT, as a shell reports it.
		[ $status -eq 134 ] || fail "the program must abort" ;;
	esac
	grep -q "^libkmem: .*$kind" "$tmp.err" ||
		fail "the report must name the bug: \"$kind\""
	buffer=$(sed -n 's/^buffer //p' "$tmp.out")
	[ -n "$buffer" ] || fail "the program printed no buffer"
	grep -q "$buffer" "$tmp.err" ||
		fail "the report must name the buffer $buffer"
	[ "$debug" = off ] || grep -q "#[0-9]* $function+" "$tmp.err" ||
		fail "the report's stacks must name $function"
	;;
esac
echo "ok: $mode $program: $kind"
