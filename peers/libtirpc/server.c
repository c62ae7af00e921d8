/*
 * server.c -- the libtirpc echo server, as users run one: rpcgen's dispatcher (classic
 * style) under svc_run(), single-threaded, on 127.0.0.1 TCP and UDP ports chosen by the
 * kernel. The transports come from svctcp_create/svcudp_bufcreate and are registered
 * with protocol 0, so rpcbind is never contacted (tests/support/c/rpcpeer.c). Prints
 * "tcp=<port> udp=<port>" and serves until killed.
 */
#include <stdlib.h>

#include "echopeer.h"
#include "rpcpeer.h"

/* the dispatcher, from `rpcgen -m echopeer.x` (the header does not declare it) */
extern void echopeer_1(struct svc_req *rqstp, SVCXPRT *transp);

/*
 * ECHOPEER_ECHO: the result is the argument itself. The dispatcher sends the reply
 * before it frees the argument, so no copy is needed.
 */
echo_data *echopeer_echo_1_svc(echo_data *arg, struct svc_req *req)
{
    static echo_data result;

    (void)req;
    result = *arg;
    return &result;
}

int main(int argc, char **argv)
{
    (void)argc;
    rpcpeer_serve(argv[0], ECHOPEER, ECHOPEER_V1, echopeer_1, 0);
    return EXIT_FAILURE;
}
