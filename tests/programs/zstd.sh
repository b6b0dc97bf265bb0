#!/usr/bin/env bash
# program_zstd: zstd round-trips a 23 MB text file with two worker threads
# (-T2, 1 MiB jobs so that both work), at a middle level, in long-distance
# mode, and from a pipe, and trains a dictionary on 1500 small
# files; the compressed files' and the round trips' checksums under
# libkmem_malloc.so must match those under glibc's malloc (multithreaded
# zstd output depends only on the settings, not on timing).
. "$(dirname "$0")/lib.sh"
kmem_init "$@"
kmem_need /usr/bin/zstd zstd
kmem_need /usr/bin/sha256sum coreutils
kmem_install

kmem_text_file "$KMEM_INPUT/data.txt" 400000

run_both "zstd -T2: compress, test, decompress, train a dictionary" bash -c '
	set -e
	sha256sum <"$KMEM_INPUT/data.txt"
	zstd -q -T2 -B1048576 -9 -c "$KMEM_INPUT/data.txt" >data.zst
	sha256sum <data.zst
	zstd -q -T2 --long=24 -3 -c "$KMEM_INPUT/data.txt" >long.zst
	sha256sum <long.zst
	cat "$KMEM_INPUT/data.txt" | zstd -q -T2 -B2097152 -6 >pipe.zst
	sha256sum <pipe.zst
	zstd -q -t data.zst long.zst pipe.zst
	zstd -q -dc data.zst | sha256sum
	zstd -q --long=24 -dc long.zst | sha256sum
	zstd -q -dc <pipe.zst | sha256sum
	mkdir samples
	head -n 60000 "$KMEM_INPUT/data.txt" | split -l 40 -a 4 - samples/s
	ls samples | wc -l
	zstd -q --train -r samples --maxdict=65536 -o dict
	sha256sum <dict
	zstd -q -T2 -D dict -19 -c samples/saaab | zstd -q -D dict -dc | sha256sum
'
kmem_done
