/*
 * canon.c -- canonical text of the interop.x values. See ../README.md for the
 * format; it must stay byte-for-byte identical to the Rust implementation.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "canon.h"

static uint32_t float_bits(float v)
{
    uint32_t b;
    memcpy(&b, &v, sizeof b);
    return b;
}

static uint64_t double_bits(double v)
{
    uint64_t b;
    memcpy(&b, &v, sizeof b);
    return b;
}

static void hex(FILE *f, const char *bytes, unsigned int len)
{
    unsigned int k;
    for (k = 0; k < len; k++)
        fprintf(f, "%02x", (unsigned char)bytes[k]);
}

void canon_prims(FILE *f, const prims *p)
{
    fprintf(f, "i=%d u=%u h=%lld uh=%llu f=0x%08x d=0x%016llx b=%d c=%d",
            p->i, p->u, (long long)p->h, (unsigned long long)p->uh,
            (unsigned int)float_bits(p->f),
            (unsigned long long)double_bits(p->d),
            p->b ? 1 : 0, (int)p->c);
}

void canon_complex(FILE *f, const complex *c)
{
    unsigned int k;
    const intnode *n;

    fputs("id=", f);
    hex(f, c->id, 6);

    fputs("|blob=", f);
    hex(f, c->blob.blob_val, c->blob.blob_len);

    fprintf(f, "|title=%s", c->title ? c->title : "");

    fprintf(f, "|triple=%d,%d,%d", c->triple[0], c->triple[1], c->triple[2]);

    fputs("|counts=", f);
    for (k = 0; k < c->counts.counts_len; k++)
        fprintf(f, "%s%d", k ? "," : "", c->counts.counts_val[k]);

    fputs("|names=", f);
    for (k = 0; k < c->names.names_len; k++)
        fprintf(f, "%s%s", k ? "," : "",
                c->names.names_val[k] ? c->names.names_val[k] : "");

    fprintf(f, "|s=%d:", c->s.kind);
    switch (c->s.kind) {
    case 1:
        fprintf(f, "0x%016llx", (unsigned long long)double_bits(c->s.shape_u.radius));
        break;
    case 2:
    case 3:
        fprintf(f, "%d", c->s.shape_u.side);
        break;
    case 0:
        fputs("void", f);
        break;
    default:
        fputs(c->s.shape_u.note ? c->s.shape_u.note : "", f);
        break;
    }

    fprintf(f, "|t=%d:", (int)c->t.c);
    switch (c->t.c) {
    case RED:
        fprintf(f, "%d", c->t.tint_u.level);
        break;
    case GREEN:
        fputs("void", f);
        break;
    default:
        fprintf(f, "%u", c->t.tint_u.other);
        break;
    }

    fprintf(f, "|fl=%d:", c->fl.set ? 1 : 0);
    if (c->fl.set)
        fprintf(f, "%lld", (long long)c->fl.flag_u.value);
    else
        fputs("void", f);

    fprintf(f, "|tg=%u:", c->tg.t);
    if (c->tg.t == 7)
        fprintf(f, "0x%08x", (unsigned int)float_bits(c->tg.tag_u.seven));
    else
        fputs("void", f);

    fputs("|list=", f);
    for (n = c->list; n != NULL; n = n->next)
        fprintf(f, "%s%d", n == c->list ? "" : ",", n->value);

    fputs("|extra=", f);
    if (c->extra)
        canon_prims(f, c->extra);
    else
        fputs("none", f);
}

char *canon_prims_str(const prims *p)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (f == NULL)
        return NULL;
    canon_prims(f, p);
    if (fclose(f) != 0) {
        free(buf);
        return NULL;
    }
    return buf;
}

char *canon_complex_str(const complex *c)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (f == NULL)
        return NULL;
    canon_complex(f, c);
    if (fclose(f) != 0) {
        free(buf);
        return NULL;
    }
    return buf;
}
