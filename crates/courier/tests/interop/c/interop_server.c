/*
 * interop_server.c -- libtirpc server for courier's interoperability tests.
 *
 * The dispatcher interop_prog_1() comes from `rpcgen -m interop.x` (plain,
 * non -M style); this file supplies the procedures and main().
 *
 * main() binds a TCP and a UDP socket to 127.0.0.1 port 0, wraps them with
 * svctcp_create / svcudp_bufcreate (65000-byte buffers), registers the program
 * with protocol 0 (no portmapper) -- or, given `--register`, with IPPROTO_TCP and
 * IPPROTO_UDP so that libtirpc registers it with the machine's binder, as an
 * rpcgen-generated server does -- prints "tcp=<port> udp=<port>" and serves.
 *
 * Result memory: the rpcgen dispatcher sends the reply *before* it calls
 * svc_freeargs on the decoded arguments, so the echo procedures return a pointer
 * to the argument itself (no copy, freed by the dispatcher). DESCRIBE and
 * WHOAMI keep static results whose heap parts are released on the next call.
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
#include <rpc/auth_unix.h>

#include "interop.h"
#include "rpcpeer.h"
#include "canon.h"


/* from the rpcgen -m output */
extern void interop_prog_1(struct svc_req *rqstp, SVCXPRT *transp);

prims *echo_prims_1_svc(prims *argp, struct svc_req *rqstp)
{
    (void)rqstp;
    return argp;
}

complex *echo_complex_1_svc(complex *argp, struct svc_req *rqstp)
{
    (void)rqstp;
    return argp;
}

bigdata *echo_big_1_svc(bigdata *argp, struct svc_req *rqstp)
{
    (void)rqstp;
    return argp;
}

char **describe_1_svc(complex *argp, struct svc_req *rqstp)
{
    static char *result;

    (void)rqstp;
    free(result);
    result = canon_complex_str(argp);
    if (result == NULL) {
        svcerr_systemerr(rqstp->rq_xprt);
        return NULL; /* dispatcher sends nothing more */
    }
    return &result;
}

whoami_res *whoami_1_svc(void *argp, struct svc_req *rqstp)
{
    static whoami_res result;
    static char empty[] = "";
    static u_int gids[16];

    (void)argp;
    if (result.machine != empty)
        free(result.machine);
    memset(&result, 0, sizeof result);
    result.machine = empty;
    result.gids.gids_val = gids;
    result.gids.gids_len = 0;

    result.flavor = (u_int)rqstp->rq_cred.oa_flavor;
    if (rqstp->rq_cred.oa_flavor == AUTH_SYS && rqstp->rq_clntcred != NULL) {
        const struct authunix_parms *aup = rqstp->rq_clntcred;
        u_int k, n = aup->aup_len;

        result.stamp = (u_int)aup->aup_time;
        if (aup->aup_machname != NULL) {
            char *m = strdup(aup->aup_machname);
            if (m != NULL)
                result.machine = m;
        }
        result.uid = (u_int)aup->aup_uid;
        result.gid = (u_int)aup->aup_gid;
        if (n > 16)
            n = 16;
        for (k = 0; k < n; k++)
            gids[k] = (u_int)aup->aup_gids[k];
        result.gids.gids_len = n;
    }
    return &result;
}

int main(int argc, char **argv)
{
    /* --register: announce the program to the binder, as rpcgen's main() does */
    int announce = argc > 1 && strcmp(argv[1], "--register") == 0;

    rpcpeer_serve("interop_server", INTEROP_PROG, INTEROP_V1, interop_prog_1, announce);
}
