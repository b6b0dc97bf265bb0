#!/usr/bin/env bash
# program_xz: xz round-trips a 23 MB text file with two threads (-T2,
# 1 MiB blocks so that both threads work), compressing from a file and
# from a pipe and decompressing with the threaded decoder; the compressed
# files' and the round trips' checksums, and `xz --list`, under
# libkmem_malloc.so must match those under glibc's malloc (multithreaded
# xz output depends only on the settings, not on timing).
. "$(dirname "$0")/lib.sh"
kmem_init "$@"
kmem_need /usr/bin/xz xz-utils
kmem_need /usr/bin/sha256sum coreutils
kmem_install

kmem_text_file "$KMEM_INPUT/data.txt" 400000

run_both "xz -T2: compress, list, test, decompress" bash -c '
	set -e
	sha256sum <"$KMEM_INPUT/data.txt"
	xz -T2 --block-size=1MiB -3 -c "$KMEM_INPUT/data.txt" >data.xz
	sha256sum <data.xz
	cat "$KMEM_INPUT/data.txt" | xz -T2 --block-size=2MiB -1 >pipe.xz
	sha256sum <pipe.xz
	xz --robot --list data.xz pipe.xz
	xz -T2 -t data.xz pipe.xz
	xz -T2 -dc data.xz | sha256sum
	xz -T2 -dc <pipe.xz | sha256sum
'
kmem_done
