#!/usr/bin/env bash
# Idle memory going back: bench/malloc/idle_return.c under glibc, the peer
# mallocs that are installed and libkmem_malloc.so, side by side, all at
# once (each allocator's samples are taken over the same wall-clock span).
#
#   bench/malloc/idle_return.sh [--quick] [-- idle_return arguments]
#
#   KMEM_MALLOC=<path>    the libkmem_malloc.so to run as "kmem" (default:
#                         build-bench/lib/, built here in Release)
#   KMEM_BASELINE=<path>  adds a column "baseline" for another build (an
#                         older commit, say)
#
# Prints a Markdown table: RSS in MiB at each sample, one column per
# allocator.  The runs go in parallel, so on a 2-core machine their thread
# phases compete; the idle phase, which the table is about, does not.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build="$root/build-bench"
# shellcheck source=../peers.sh
source "$root/bench/peers.sh"

args=()
if [[ ${1:-} == --quick ]]; then
	args=(--quick)
	shift
fi
[[ ${1:-} == -- ]] && shift
args+=("$@")

if [[ -z ${KMEM_MALLOC:-} ]]; then
	cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
	cmake --build "$build" -j2 --target kmem_malloc malloc_idle_return >/dev/null
	KMEM_MALLOC="$build/lib/libkmem_malloc.so"
fi
prog="$build/bench/malloc/malloc_idle_return"
[[ -x $prog ]] || cmake --build "$build" -j2 --target malloc_idle_return >/dev/null

names=(glibc) libs=("")
for i in "${!PEER_NAMES[@]}"; do
	path=$(peer_path "${PEER_LIBS[i]}")
	[[ -n $path ]] && names+=("${PEER_NAMES[i]}") libs+=("$path")
done
if [[ -n ${KMEM_BASELINE:-} ]]; then
	names+=(baseline) libs+=("$KMEM_BASELINE")
fi
names+=(kmem) libs+=("$KMEM_MALLOC")

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for i in "${!names[@]}"; do
	if [[ -n ${libs[i]} ]]; then
		LD_PRELOAD=${libs[i]} "$prog" "${args[@]}" >"$out/$i" &
	else
		"$prog" "${args[@]}" >"$out/$i" &
	fi
done
wait

# One row per sample time, one column per allocator.
printf '| idle (s) |'; printf ' %s |' "${names[@]}"; echo
printf '|---:|'; printf -- '---:|%.0s' "${names[@]}"; echo
for t in $(sed -n 's/^idle_return: t=\([0-9]*\) .*/\1/p' "$out/0"); do
	printf '| %s |' "$t"
	for i in "${!names[@]}"; do
		printf ' %s |' "$(sed -n "s/^idle_return: t=$t rss=//p" "$out/$i")"
	done
	echo
done
