/*
 * vmem for the library's other layers: what they may ask of an arena
 * beyond <kmem/vmem.h>, without seeing vmem's structures (vmem_impl.h),
 * so vmem may change them without their knowing.  Today the laboratory's
 * metadata column.
 *
 * Locks: takes the arena's lock; call it with no vmem lock held.
 */
#ifndef KMEM_VMEM_QUERY_H
#define KMEM_VMEM_QUERY_H

#include <stddef.h>

#include <kmem/vmem.h>

/* The bytes of bookkeeping vmp uses: the arena, its segment structures
 * (allocated, free, spans and reserved) and a hash grown past its own. */
size_t vmem_metadata_bytes(vmem_t *vmp);

#endif /* KMEM_VMEM_QUERY_H */
