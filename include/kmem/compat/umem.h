/*
 * <umem.h> for programs written for libumem: with this directory on the
 * include path (pkg-config's libkmem-umem gives it), #include <umem.h>
 * is <kmem/umem.h>.  It is installed under kmem/, not beside the system's
 * headers, where it would clash with a real libumem's umem.h.
 */
#include <kmem/umem.h>
