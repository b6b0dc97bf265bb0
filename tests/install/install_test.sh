#!/bin/sh
# install_test.sh BUILD_DIR PROGRAM.c UMEM_PROGRAM.c CC: install BUILD_DIR
# into a scratch prefix; build PROGRAM.c with the installed libkmem.pc and
# UMEM_PROGRAM.c, a libumem program that says #include <umem.h>, with the
# installed libkmem-umem.pc, and run them; run a program under the
# installed kmrun, which must find the installed libkmem_malloc.so beside
# itself; run the installed kmstat.
set -u
build=$1 program=$2 umem_program=$3 cc=$4
fail() { echo "install_test: $*" >&2; exit 1; }
command -v pkg-config >/dev/null || {
	echo "install_test: pkg-config is not installed" >&2
	[ "${CI:-}" = true ] && exit 1
	exit 77
}
prefix=$(mktemp -d)
trap 'rm -rf "$prefix"' EXIT
cmake --install "$build" --prefix "$prefix" >"$prefix.log" 2>&1 ||
	fail "cmake --install failed: $(cat "$prefix.log")"
rm -f "$prefix.log"
pc=$(find "$prefix" -name libkmem.pc)
[ -n "$pc" ] || fail "no libkmem.pc installed under $prefix"
[ -f "$prefix/include/kmem/malloc.h" ] || fail "headers not installed"
libdir=$(dirname "$(dirname "$pc")")
[ -f "$libdir/libkmem_malloc.so" ] || fail "libkmem_malloc.so not installed"

# --define-prefix: the prefix in libkmem.pc is the configured one; the
# scratch prefix is found from where the file is.
flags=$(PKG_CONFIG_PATH=$(dirname "$pc") pkg-config --define-prefix \
	--cflags --libs libkmem) || fail "pkg-config does not know libkmem"
"$cc" -o "$prefix/uses_libkmem" "$program" $flags ||
	fail "cannot build a program with: $flags"
out=$(LD_LIBRARY_PATH=$libdir "$prefix/uses_libkmem") ||
	fail "the program built with pkg-config failed"
[ "$out" = "linked against libkmem" ] || fail "unexpected output: $out"

[ -f "$prefix/include/kmem/compat/umem.h" ] || fail "kmem/compat/umem.h not installed"
[ ! -e "$prefix/include/umem.h" ] || fail "a bare umem.h is installed"
flags=$(PKG_CONFIG_PATH=$(dirname "$pc") pkg-config --define-prefix \
	--cflags --libs libkmem-umem) || fail "pkg-config does not know libkmem-umem"
"$cc" -o "$prefix/uses_umem" "$umem_program" $flags ||
	fail "cannot build a libumem program with: $flags"
out=$(LD_LIBRARY_PATH=$libdir "$prefix/uses_umem") ||
	fail "the libumem program built with pkg-config failed"
case $out in
*"umem_ex_reap: ok") ;;
*) fail "unexpected output from the libumem program: $out" ;;
esac

err=$("$prefix/bin/kmrun" --stats -- cat /dev/null 2>&1) ||
	fail "the installed kmrun failed: $err"
case $err in
*"libkmem statistics: process"*) ;;
*) fail "the installed kmrun printed no statistics: $err" ;;
esac
[ -f "$prefix/include/kmem/stats.h" ] || fail "kmem/stats.h not installed"
"$prefix/bin/kmstat" --help | grep -q "usage: kmstat" ||
	fail "the installed kmstat does not run"
echo "install_test: ok ($libdir)"
