#!/bin/sh
# Every name of the C library's malloc family is libkmem_malloc.so's, or
# is on the list below with the reason it may stay the C library's.
#
# A name left to glibc mixes two heaps: __libc_valloc() handed out glibc's
# memory, which our free() refused and aborted on; malloc_trim() trimmed
# glibc's empty heap and none of ours.  The family is read from the C
# library the tests run on, so a glibc that adds a name (as 2.43 added
# C23's free_sized) fails here until the library covers it.
#
# usage: libc_names_test.sh LIBKMEM_MALLOC_SO
set -eu
lib=$1
libc=$(ldd /bin/sh | awk '/libc\.so/ { print $3 }')
[ -r "$libc" ] || { echo "cannot find the C library ($libc)"; exit 1; }

family='^(__libc_|__)?(malloc|calloc|realloc|reallocarray|free|cfree|memalign|valloc|pvalloc|aligned_alloc|posix_memalign|mallinfo2?|mallopt|free_sized|free_aligned_sized)($|_)'

# name: why it may stay glibc's
allowed() {
	case $1 in
	mallopt|__libc_mallopt)
		# tunes glibc's own heap (fast bins, trim threshold, arenas),
		# which holds nothing once libkmem is preloaded; kmem's
		# tunables are KMEM_OPTIONS
		return 0 ;;
	__malloc_hook|__free_hook|__realloc_hook|__memalign_hook|\
	__malloc_initialize_hook)
		# variables glibc stopped calling in 2.34 (compatibility only)
		return 0 ;;
	__libc_reallocarray)
		# GLIBC_PRIVATE, glibc's own; it calls realloc() through the
		# PLT, which is ours
		return 0 ;;
	esac
	return 1
}

names() {
	nm -D --defined-only "$1" | awk '{ sub(/@.*/, "", $3); print $3 }' |
	    grep -E "$family" | sort -u
}

ours=$(names "$lib")
theirs=$(names "$libc")
[ -n "$theirs" ] || { echo "no malloc family found in $libc"; exit 1; }
missing=0
for name in $theirs; do
	if echo "$ours" | grep -qx "$name"; then
		continue
	fi
	if allowed "$name"; then
		continue
	fi
	echo "$libc exports $name; $lib does not, and it is not on the list"
	missing=$((missing + 1))
done
# The names glibc may not have yet, which a program built elsewhere calls.
for name in free_sized free_aligned_sized cfree; do
	echo "$ours" | grep -qx "$name" || {
		echo "$lib does not export $name"; missing=$((missing + 1)); }
done
echo "$(echo "$theirs" | wc -l) names of $libc checked, $missing missing"
[ "$missing" -eq 0 ]
