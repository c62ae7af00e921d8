/*
 * filerw_client.c -- libtirpc FILEREADWRITE client (program 9999 version 2)
 * for courier's filerw interop test.
 *
 * usage: filerw_client tcp|udp HOST PORT COMMAND ARGS...
 *   write F POS TEXT   WRITE strlen(TEXT) bytes of TEXT    -> "write=ok"
 *   read F POS LEN     READ                                -> "read=<length> <bytes>"
 *   script             the fixed scenario of README.md     -> three "read=" lines
 *
 * Connects straight to HOST:PORT (IPv4; the port is set, so no portmapper is
 * consulted) with clnttcp_create / clntudp_bufcreate and 65000-byte buffers,
 * 10 s timeout (UDP retransmits every 1 s). Calls go through clnt_call with the
 * rpcgen XDR routines. Exit 0 on success; any failure is reported on stderr
 * (clnt_sperror for RPC failures) with exit 1.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <rpc/rpc.h>

#include "filerw.h"
#include "rpcpeer.h"


static struct timeval TIMEOUT = { 10, 0 };
static const char *progname = "filerw_client";

static void usage(void)
{
    fprintf(stderr,
            "usage: %s tcp|udp HOST PORT COMMAND ARGS...\n"
            "commands: write F POS TEXT | read F POS LEN | script\n",
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
    fprintf(stderr, "%s: %s\n", progname, clnt_sperror(clnt, what));
    exit(1);
}

/* a decimal int (negative values allowed: the server must ignore them) */
static int parse_int(const char *s, const char *what)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || end == s || *end != '\0' || v < INT_MIN || v > INT_MAX) {
        fprintf(stderr, "%s: bad %s: %s\n", progname, what, s);
        exit(1);
    }
    return (int)v;
}

/* ---- transport ---- */

static CLIENT *make_client(const char *proto, const char *host, const char *port_s)
{
    CLIENT *clnt = rpcpeer_client(progname, proto, host, port_s, FILEREADWRITE, VERSION);
    if (clnt == NULL)
        usage();
    return clnt;
}

/* ---- calls ---- */

static void do_write(CLIENT *clnt, int f, int pos, const char *text)
{
    static writeargs arg; /* static: ~1 KB, and the buffer tail stays zero */
    size_t n = strlen(text);

    if (n > MAX_DATA)
        die("TEXT longer than MAX_DATA (1000) bytes");
    memset(&arg, 0, sizeof arg);
    arg.f = f;
    arg.position = pos;
    arg.data.length = (int)n;
    memcpy(arg.data.buffer, text, n);
    if (clnt_call(clnt, WRITE, (xdrproc_t)xdr_writeargs, (caddr_t)&arg,
                  (xdrproc_t)xdr_void, NULL, TIMEOUT) != RPC_SUCCESS)
        die_rpc(clnt, "WRITE");
}

/* prints "read=<length> <bytes>" */
static void do_read(CLIENT *clnt, int f, int pos, int len)
{
    static Data res;
    readargs arg;
    int n;

    arg.f = f;
    arg.position = pos;
    arg.length = len;
    memset(&res, 0, sizeof res);
    if (clnt_call(clnt, READ, (xdrproc_t)xdr_readargs, (caddr_t)&arg,
                  (xdrproc_t)xdr_Data, (caddr_t)&res, TIMEOUT) != RPC_SUCCESS)
        die_rpc(clnt, "READ");
    /* the length is printed as received; only the bytes shown are clamped */
    n = res.length;
    if (n < 0)
        n = 0;
    if (n > MAX_DATA)
        n = MAX_DATA;
    printf("read=%d ", res.length);
    fwrite(res.buffer, 1, (size_t)n, stdout);
    printf("\n");
}

/* ---- commands ---- */

static void cmd_script(CLIENT *clnt)
{
    do_write(clnt, 3, 0, "hello, world");
    do_write(clnt, 3, 7, "courier");
    do_read(clnt, 3, 0, 100);  /* read=14 hello, courier */
    do_read(clnt, 3, 100, 10); /* read=0 (past the end) */
    do_read(clnt, 9, 0, 10);   /* read=0 (empty file) */
}

int main(int argc, char **argv)
{
    const char *cmd;
    CLIENT *clnt;
    int f = 0, pos = 0, len = 0, rc = 0;

    if (argc < 5)
        usage();
    cmd = argv[4];
    /* check the arguments before connecting */
    if (strcmp(cmd, "write") == 0 || strcmp(cmd, "read") == 0) {
        if (argc != 8)
            usage();
        f = parse_int(argv[5], "F");
        pos = parse_int(argv[6], "POS");
        if (strcmp(cmd, "read") == 0)
            len = parse_int(argv[7], "LEN");
        else if (strlen(argv[7]) > MAX_DATA)
            die("TEXT longer than MAX_DATA (1000) bytes");
    } else if (strcmp(cmd, "script") == 0) {
        if (argc != 5)
            usage();
    } else {
        usage();
    }

    clnt = make_client(argv[1], argv[2], argv[3]);

    if (strcmp(cmd, "write") == 0) {
        do_write(clnt, f, pos, argv[7]);
        printf("write=ok\n");
    } else if (strcmp(cmd, "read") == 0) {
        do_read(clnt, f, pos, len);
    } else {
        cmd_script(clnt);
    }

    if (clnt->cl_auth != NULL)
        auth_destroy(clnt->cl_auth);
    clnt_destroy(clnt);
    if (fflush(stdout) != 0)
        rc = 1;
    return rc;
}
