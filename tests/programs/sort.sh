#!/usr/bin/env bash
# program_sort: GNU sort orders a 300,000-line file (about 17 MB, made
# deterministically) with two threads: in memory, and with a 2 MB buffer
# that forces temporary files and merges; by numeric and multiple keys,
# uniquely, in reverse, and under the C.UTF-8 locale's collation.  The
# outputs' checksums under libkmem_malloc.so must match those under
# glibc's malloc.
. "$(dirname "$0")/lib.sh"
kmem_init "$@"
kmem_need /usr/bin/sort coreutils
kmem_install

kmem_text_file "$KMEM_INPUT/data.txt" 300000

run_both "sort --parallel=2: in memory, external, by keys, unique" bash -c '
	set -e
	in=$KMEM_INPUT/data.txt
	sort --parallel=2 -S 200M "$in" | sha256sum
	sort --parallel=2 -S 2M -T . "$in" >external.txt
	sha256sum <external.txt
	sort -c external.txt
	sort --parallel=2 -S 50M -t " " -k3,3n -k1,1r "$in" | sha256sum
	sort --parallel=2 -S 4M -T . -k2,2 -k4,4 -s "$in" | sha256sum
	sort --parallel=2 -u -k5,5 -k2,2 "$in" | sha256sum
	sort --parallel=2 -r -g -k3 "$in" | head -n 5
	LC_ALL=C.UTF-8 sort --parallel=2 -f -k2 "$in" | sha256sum
	sort -m external.txt external.txt | sha256sum
'
kmem_done
