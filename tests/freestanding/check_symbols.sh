#!/bin/sh
# The freestanding core may depend on nothing but the platform interface
# (kmem_* functions of src/platform/platform.h) and the four functions
# every freestanding C environment provides (memcpy, memmove, memset,
# memcmp).  Usage: check_symbols.sh NM OBJECT...
set -eu
nm=$1
shift
[ $# -gt 0 ] || { echo "no object files given"; exit 1; }
tmp=${TMPDIR:-/tmp}/kmem-symbols.$$
trap 'rm -f "$tmp".*' EXIT
"$nm" -u "$@" | awk 'NF == 2 { print $1, $2 }' | sort -u > "$tmp.undefined.all"
# A weak reference ("w", or "v" for an object) is a call upward by name
# that links whether or not its target exists: the core registers with
# the platform instead (platform.h), so it may have none.
weak=$(awk '$1 != "U" { print $2 }' "$tmp.undefined.all")
if [ -n "$weak" ]; then
	echo "the freestanding core has weak undefined symbols:"
	echo "$weak"
	exit 1
fi
awk '{ print $2 }' "$tmp.undefined.all" | sort -u > "$tmp.undefined"
"$nm" --defined-only "$@" | awk 'NF == 3 { print $3 }' | sort -u > "$tmp.defined"
[ -s "$tmp.defined" ] || { echo "nm found no symbols"; exit 1; }
allowed='^(memcpy|memmove|memset|memcmp|_GLOBAL_OFFSET_TABLE_|kmem_(mutex_(init|destroy|enter|tryenter|exit|held|enter_for_fork|exit_for_fork)|cv_(init|destroy|wait|timedwait|broadcast)|pagesize|pages_alloc|pages_free|clock_ns|random_u64|cpu_count|thread_count|pages_purge|console_write|abort|thread_create|thread_exit_notify|lock_note|signals_block|signals_restore|fork_register|fatal_handler_set|environment|backtrace|symbolize|thread_id|pages_protect|fault_hook_set|thread_stack|writable_segments|loader_code|fd_write|at_exit))$'
bad=$(comm -23 "$tmp.undefined" "$tmp.defined" | grep -Ev "$allowed" || true)
if [ -n "$bad" ]; then
	echo "the freestanding core depends on symbols outside the platform interface:"
	echo "$bad"
	exit 1
fi
echo "the core's undefined symbols are all platform functions:"
comm -23 "$tmp.undefined" "$tmp.defined" | tr '\n' ' '
echo
