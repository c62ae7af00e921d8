/*
 * filerw_server.c -- libtirpc FILEREADWRITE server (program 9999 version 2)
 * for courier's filerw interop test.
 *
 * The dispatcher filereadwrite_2() comes from `rpcgen -m filerw.x` (plain,
 * non -M style); this file supplies the procedures and main().
 *
 * Files live in memory: NFILES files (FileIdentifier 0..15) of at most
 * FILE_MAX bytes each, all empty at start.
 *  - WRITE copies data.buffer[0..data.length) into file f at position, growing
 *    the file's size as needed (a gap left by writing past the end reads as
 *    zeros). Invalid f, position or length (negative, length > MAX_DATA, or
 *    position + length > FILE_MAX) are ignored silently: the reply is void.
 *  - READ returns length = min(requested length, size - position, MAX_DATA)
 *    bytes from position, or 0 when there is nothing there or the request is
 *    invalid; the unused rest of the 1000-byte buffer is zero.
 *
 * main() binds a TCP and a UDP socket to 127.0.0.1 port 0, wraps them with
 * svctcp_create / svcudp_bufcreate (65000-byte buffers), registers the program
 * with protocol 0 (no portmapper), prints "tcp=<port> udp=<port>" and serves.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <rpc/rpc.h>

#include "filerw.h"
#include "rpcpeer.h"

#define NFILES 16
#define FILE_MAX (64 * 1024)

/* from the rpcgen -m output */
extern void filereadwrite_2(struct svc_req *rqstp, SVCXPRT *transp);

static struct {
    long size;
    char bytes[FILE_MAX];
} files[NFILES];

void *write_2_svc(writeargs *argp, struct svc_req *rqstp)
{
    /* the dispatcher sends a reply only for a non-NULL result */
    static char dummy;
    long f = argp->f, pos = argp->position, len = argp->data.length;

    (void)rqstp;
    if (f < 0 || f >= NFILES || pos < 0 || len < 0 || len > MAX_DATA ||
        pos + len > FILE_MAX)
        return &dummy; /* invalid: ignored */
    if (len == 0)
        return &dummy; /* nothing to write, the size does not change */
    memcpy(files[f].bytes + pos, argp->data.buffer, (size_t)len);
    if (pos + len > files[f].size)
        files[f].size = pos + len;
    return &dummy;
}

Data *read_2_svc(readargs *argp, struct svc_req *rqstp)
{
    static Data result;
    long f = argp->f, pos = argp->position, len = argp->length;

    (void)rqstp;
    memset(&result, 0, sizeof result);
    if (f < 0 || f >= NFILES || pos < 0 || len <= 0 || pos >= files[f].size)
        return &result; /* length 0 */
    if (len > files[f].size - pos)
        len = files[f].size - pos;
    if (len > MAX_DATA)
        len = MAX_DATA;
    memcpy(result.buffer, files[f].bytes + pos, (size_t)len);
    result.length = (int)len;
    return &result;
}

int main(void)
{
    rpcpeer_serve("filerw_server", FILEREADWRITE, VERSION, filereadwrite_2, 0);
}
