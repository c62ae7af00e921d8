/*
 * interop_client.c -- libtirpc client for courier's interoperability tests.
 *
 * usage: interop_client tcp|udp HOST PORT COMMAND [ARG]
 *
 * Connects straight to HOST:PORT (IPv4; the port is set, so no portmapper is
 * consulted) with clnttcp_create / clntudp_bufcreate and 65000-byte buffers.
 * Each command prints the lines described in ../README.md and exits 0, or
 * reports on stderr and exits 1.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <rpc/rpc.h>

#include "interop.h"
#include "canon.h"
#include "rpcpeer.h"

#define BADPROC 99

static struct timeval TIMEOUT = { 10, 0 };
static const char *progname = "interop_client";

static void usage(void)
{
    fprintf(stderr,
            "usage: %s tcp|udp HOST PORT COMMAND [ARG]\n"
            "commands: null prims complex big N whoami badproc badvers garbage\n",
            progname);
    exit(1);
}

static void die(const char *msg)
{
    fprintf(stderr, "%s: %s\n", progname, msg);
    exit(1);
}

static void die_rpc(CLIENT *clnt, const char *what)
{
    fprintf(stderr, "%s: %s: %s\n", progname, what, clnt_sperror(clnt, ""));
    exit(1);
}

static float float_from_bits(uint32_t b)
{
    float v;
    memcpy(&v, &b, sizeof v);
    return v;
}

static double double_from_bits(uint64_t b)
{
    double v;
    memcpy(&v, &b, sizeof v);
    return v;
}

/* ---- sample values (see ../README.md) ---- */

static void sample_prims(prims *p)
{
    memset(p, 0, sizeof *p);
    p->i = -123456789;
    p->u = 4000000000u;
    p->h = -9007199254740993LL;
    p->uh = 18446744073709551615ULL;
    p->f = float_from_bits(0x80000001u);
    p->d = double_from_bits(0x400921fb54442d18ULL);
    p->b = TRUE;
    p->c = BLUE;
}

static char sample_blob[] = { (char)0xde, (char)0xad, (char)0xbe, (char)0xef, 0x00, (char)0xff };
static int sample_counts[] = { 1, 2, 3, 4, 5 };
static char name_alpha[] = "alpha", name_empty[] = "", name_gamma[] = "gamma";
static name sample_names[] = { name_alpha, name_empty, name_gamma };
static char sample_title[] = "courier/interop";
static intnode sample_nodes[4];
static prims sample_extra;

static void sample_complex(complex *c)
{
    static const int values[4] = { 10, 20, 30, -40 };
    int k;

    memset(c, 0, sizeof *c);
    for (k = 0; k < 6; k++)
        c->id[k] = (char)(k + 1);
    c->blob.blob_len = sizeof sample_blob;
    c->blob.blob_val = sample_blob;
    c->title = sample_title;
    c->triple[0] = -1;
    c->triple[1] = 0;
    c->triple[2] = 2147483647;
    c->counts.counts_len = sizeof sample_counts / sizeof sample_counts[0];
    c->counts.counts_val = sample_counts;
    c->names.names_len = sizeof sample_names / sizeof sample_names[0];
    c->names.names_val = sample_names;
    c->s.kind = 3;
    c->s.shape_u.side = -42;
    c->t.c = BLUE;
    c->t.tint_u.other = 77;
    c->fl.set = TRUE;
    c->fl.flag_u.value = -5000000000LL;
    c->tg.t = 7;
    c->tg.tag_u.seven = float_from_bits(0x40490fdbu);
    for (k = 0; k < 4; k++) {
        sample_nodes[k].value = values[k];
        sample_nodes[k].next = k < 3 ? &sample_nodes[k + 1] : NULL;
    }
    c->list = &sample_nodes[0];
    sample_prims(&sample_extra);
    c->extra = &sample_extra;
}

/* ---- transport ---- */

static CLIENT *make_client(const char *proto, const char *host, const char *port_s,
                           u_long vers)
{
    CLIENT *clnt = rpcpeer_client(progname, proto, host, port_s, INTEROP_PROG, vers);
    if (clnt == NULL)
        usage();
    return clnt;
}

/* ---- commands ---- */

static int cmd_null(CLIENT *clnt)
{
    if (clnt_call(clnt, NULLPROC, (xdrproc_t)xdr_void, NULL,
                  (xdrproc_t)xdr_void, NULL, TIMEOUT) != RPC_SUCCESS)
        die_rpc(clnt, "null");
    printf("null=ok\n");
    return 0;
}

static int cmd_prims(CLIENT *clnt)
{
    prims arg, res;

    sample_prims(&arg);
    memset(&res, 0, sizeof res);
    if (clnt_call(clnt, ECHO_PRIMS, (xdrproc_t)xdr_prims, (caddr_t)&arg,
                  (xdrproc_t)xdr_prims, (caddr_t)&res, TIMEOUT) != RPC_SUCCESS)
        die_rpc(clnt, "ECHO_PRIMS");
    printf("echo=");
    canon_prims(stdout, &res);
    printf("\n");
    xdr_free((xdrproc_t)xdr_prims, (char *)&res);
    return 0;
}

static int cmd_complex(CLIENT *clnt)
{
    complex arg, res;
    char *text = NULL;

    sample_complex(&arg);
    memset(&res, 0, sizeof res);
    if (clnt_call(clnt, ECHO_COMPLEX, (xdrproc_t)xdr_complex, (caddr_t)&arg,
                  (xdrproc_t)xdr_complex, (caddr_t)&res, TIMEOUT) != RPC_SUCCESS)
        die_rpc(clnt, "ECHO_COMPLEX");
    printf("echo=");
    canon_complex(stdout, &res);
    printf("\n");
    xdr_free((xdrproc_t)xdr_complex, (char *)&res);

    if (clnt_call(clnt, DESCRIBE, (xdrproc_t)xdr_complex, (caddr_t)&arg,
                  (xdrproc_t)xdr_wrapstring, (caddr_t)&text, TIMEOUT) != RPC_SUCCESS)
        die_rpc(clnt, "DESCRIBE");
    printf("describe=%s\n", text);
    xdr_free((xdrproc_t)xdr_wrapstring, (char *)&text);
    return 0;
}

static int cmd_big(CLIENT *clnt, const char *n_s)
{
    bigdata arg, res;
    unsigned long n, k;
    char *end;
    int match;

    if (n_s == NULL)
        usage();
    errno = 0;
    n = strtoul(n_s, &end, 10);
    if (errno || *end != '\0' || n > 0x7fffffffUL)
        die("bad N");

    arg.bigdata_len = (u_int)n;
    arg.bigdata_val = malloc(n ? n : 1);
    if (arg.bigdata_val == NULL)
        die("out of memory");
    for (k = 0; k < n; k++)
        arg.bigdata_val[k] = (char)((k * 7 + 3) & 0xff);

    memset(&res, 0, sizeof res);
    if (clnt_call(clnt, ECHO_BIG, (xdrproc_t)xdr_bigdata, (caddr_t)&arg,
                  (xdrproc_t)xdr_bigdata, (caddr_t)&res, TIMEOUT) != RPC_SUCCESS)
        die_rpc(clnt, "ECHO_BIG");
    match = res.bigdata_len == arg.bigdata_len &&
            (n == 0 || memcmp(res.bigdata_val, arg.bigdata_val, n) == 0);
    printf("big=%u %s\n", res.bigdata_len, match ? "match" : "mismatch");
    xdr_free((xdrproc_t)xdr_bigdata, (char *)&res);
    free(arg.bigdata_val);
    return 0;
}

static int cmd_whoami(CLIENT *clnt)
{
    static char machine[] = "interop-host";
    uid_t gids[3] = { 10, 20, 30 };
    whoami_res res;
    AUTH *auth;
    u_int k;

    auth = authunix_create(machine, 1234, 5678, 3, gids);
    if (auth == NULL)
        die("authunix_create failed");
    auth_destroy(clnt->cl_auth);
    clnt->cl_auth = auth;

    memset(&res, 0, sizeof res);
    if (clnt_call(clnt, WHOAMI, (xdrproc_t)xdr_void, NULL,
                  (xdrproc_t)xdr_whoami_res, (caddr_t)&res, TIMEOUT) != RPC_SUCCESS)
        die_rpc(clnt, "WHOAMI");
    printf("flavor=%u machine=%s uid=%u gid=%u gids=", res.flavor,
           res.machine ? res.machine : "", res.uid, res.gid);
    for (k = 0; k < res.gids.gids_len; k++)
        printf("%s%u", k ? "," : "", res.gids.gids_val[k]);
    printf("\n");
    xdr_free((xdrproc_t)xdr_whoami_res, (char *)&res);
    return 0;
}

/* the three error commands: success of the call is the unexpected outcome */
static int expect_failure(CLIENT *clnt, enum clnt_stat stat, const char *what, int show_vers)
{
    struct rpc_err err;

    if (stat == RPC_SUCCESS) {
        fprintf(stderr, "%s: %s: call unexpectedly succeeded\n", progname, what);
        return 1;
    }
    if (show_vers) {
        clnt_geterr(clnt, &err);
        printf("error=%d low=%lu high=%lu\n", (int)stat,
               (unsigned long)err.re_vers.low, (unsigned long)err.re_vers.high);
    } else {
        printf("error=%d\n", (int)stat);
    }
    return 0;
}

static int cmd_badproc(CLIENT *clnt)
{
    enum clnt_stat stat = clnt_call(clnt, BADPROC, (xdrproc_t)xdr_void, NULL,
                                    (xdrproc_t)xdr_void, NULL, TIMEOUT);
    return expect_failure(clnt, stat, "badproc", 0);
}

static int cmd_badvers(CLIENT *clnt)
{
    enum clnt_stat stat = clnt_call(clnt, NULLPROC, (xdrproc_t)xdr_void, NULL,
                                    (xdrproc_t)xdr_void, NULL, TIMEOUT);
    return expect_failure(clnt, stat, "badvers", 1);
}

static int cmd_garbage(CLIENT *clnt)
{
    int junk = 42;
    prims res;
    enum clnt_stat stat;

    memset(&res, 0, sizeof res);
    stat = clnt_call(clnt, ECHO_PRIMS, (xdrproc_t)xdr_int, (caddr_t)&junk,
                     (xdrproc_t)xdr_prims, (caddr_t)&res, TIMEOUT);
    if (stat == RPC_SUCCESS) {
        /* e.g. a libtirpc UDP server decodes past the end of the datagram */
        fprintf(stderr, "%s: garbage: server replied echo=", progname);
        canon_prims(stderr, &res);
        fprintf(stderr, "\n");
        xdr_free((xdrproc_t)xdr_prims, (char *)&res);
    }
    return expect_failure(clnt, stat, "garbage", 0);
}

int main(int argc, char **argv)
{
    const char *cmd, *arg;
    CLIENT *clnt;
    u_long vers = INTEROP_V1;
    int rc;

    if (argc < 5 || argc > 6)
        usage();
    cmd = argv[4];
    arg = argc == 6 ? argv[5] : NULL;
    if (strcmp(cmd, "badvers") == 0)
        vers = INTEROP_V1 + 1;

    clnt = make_client(argv[1], argv[2], argv[3], vers);

    if (strcmp(cmd, "null") == 0)
        rc = cmd_null(clnt);
    else if (strcmp(cmd, "prims") == 0)
        rc = cmd_prims(clnt);
    else if (strcmp(cmd, "complex") == 0)
        rc = cmd_complex(clnt);
    else if (strcmp(cmd, "big") == 0)
        rc = cmd_big(clnt, arg);
    else if (strcmp(cmd, "whoami") == 0)
        rc = cmd_whoami(clnt);
    else if (strcmp(cmd, "badproc") == 0)
        rc = cmd_badproc(clnt);
    else if (strcmp(cmd, "badvers") == 0)
        rc = cmd_badvers(clnt);
    else if (strcmp(cmd, "garbage") == 0)
        rc = cmd_garbage(clnt);
    else {
        usage();
        rc = 1;
    }

    if (clnt->cl_auth != NULL)
        auth_destroy(clnt->cl_auth);
    clnt_destroy(clnt);
    if (fflush(stdout) != 0)
        rc = 1;
    return rc;
}
