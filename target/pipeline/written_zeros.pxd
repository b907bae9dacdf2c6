# Zeroed memory for structures the control plane grows while workers read their neighbours
# (cimported by lpm_dir24 and match_exact; inline, so no module of its own).

from libc.stdlib cimport malloc
from libc.string cimport memset


cdef inline void *written_zeros(size_t size) noexcept nogil:
    """size bytes of zeros, every page written before any is read (or NULL).

    Not calloc: a large calloc is fresh mmap memory that it leaves untouched, so the first
    probe of a slot reads the page in as the kernel's shared zero page, and the store that
    follows replaces that mapping, which flushes the page from the TLB of every CPU running
    this process: one interrupt to each forwarding worker per 4 KiB of table, thousands
    during a reload. A page written first is mapped writable at once, with no flush."""
    cdef void *p = malloc(size)
    if p != NULL:
        memset(p, 0, size)
    return p
