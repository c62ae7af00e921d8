/*
 * canon.h -- canonical text of the interop.x values (shared by the C client and
 * server; the Rust tests produce the identical strings). See ../README.md.
 */
#ifndef INTEROP_CANON_H
#define INTEROP_CANON_H

#include <stdio.h>
#include "interop.h"

/* Write the canonical text to f. */
void canon_prims(FILE *f, const prims *p);
void canon_complex(FILE *f, const complex *c);

/* The same, as a malloc'd NUL-terminated string (NULL on allocation failure). */
char *canon_prims_str(const prims *p);
char *canon_complex_str(const complex *c);

#endif
