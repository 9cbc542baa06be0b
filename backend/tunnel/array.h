/* SPDX-License-Identifier: MIT */
/* Growing the small dynamic arrays of the tunnel state machines. */
#pragma once

#include <stdlib.h>
#include <string.h>

/* Appends one zeroed element of size sz to the array *vp of *n elements and returns it; NULL
 * when the array already holds max elements or memory runs out (nothing changes then). */
static inline void *kiln_array_grow(void *vp, size_t *n, size_t sz, size_t max)
{
        void **v = vp;
        if (*n >= max)
                return NULL;
        char *nv = realloc(*v, (*n + 1) * sz);
        if (!nv)
                return NULL;
        *v = nv;
        memset(nv + *n * sz, 0, sz);
        return nv + (*n)++ * sz;
}

/* Removes element i of *n elements of size sz, keeping the order. */
static inline void kiln_array_remove(void *v, size_t *n, size_t sz, size_t i)
{
        char *a = v;
        memmove(a + i * sz, a + (i + 1) * sz, (*n - i - 1) * sz);
        (*n)--;
}
