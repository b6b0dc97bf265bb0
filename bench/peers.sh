# The peer mallocs the benchmarks compare kmem with: Debian's jemalloc,
# mimalloc and tcmalloc.  Sourced by bench/run and bench/malloc/run.

# The libraries (the sonames bench/peers.c preloads) and the Debian
# packages that ship them, in the same order.
PEER_NAMES=(jemalloc mimalloc tcmalloc)
PEER_LIBS=(libjemalloc.so.2 libmimalloc.so.2 libtcmalloc_minimal.so.4)
PEER_PACKAGES=(libjemalloc2 libmimalloc2.0 libtcmalloc-minimal4)

# Install the peer mallocs that are missing (as root, with apt-get).
install_peers() {
	local cache missing=() i
	cache=$(ldconfig -p 2>/dev/null || true)
	for i in "${!PEER_LIBS[@]}"; do
		[[ $cache == *"${PEER_LIBS[i]} "* ]] || missing+=("${PEER_PACKAGES[i]}")
	done
	((${#missing[@]} > 0)) || return 0
	if ((EUID != 0)); then
		echo "$0: not root, cannot install ${missing[*]}: their columns stay empty" >&2
		return 0
	fi
	echo "$0: installing ${missing[*]}" >&2
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

# The path of an installed library, by soname ("" when it is not there).
peer_path() {
	ldconfig -p 2>/dev/null | awk -v so="$1" '$1 == so { print $NF; exit }'
}
