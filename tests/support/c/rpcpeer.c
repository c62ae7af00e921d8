/*
 * rpcpeer.c -- see rpcpeer.h.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "rpcpeer.h"

static void die(const char *progname, const char *msg)
{
    fprintf(stderr, "%s: %s\n", progname, msg);
    exit(1);
}

CLIENT *rpcpeer_client(const char *progname, const char *proto, const char *host,
                       const char *port_s, rpcprog_t prog, rpcvers_t vers)
{
    static struct timeval timeout = { 10, 0 };
    struct sockaddr_in sin;
    char *end;
    long port;
    int sock = RPC_ANYSOCK;
    CLIENT *clnt;

    errno = 0;
    port = strtol(port_s, &end, 10);
    if (errno || *end != '\0' || port <= 0 || port > 65535)
        die(progname, "bad PORT");

    memset(&sin, 0, sizeof sin);
    sin.sin_family = AF_INET;
    sin.sin_port = htons((unsigned short)port);
    if (inet_pton(AF_INET, host, &sin.sin_addr) != 1) {
        struct addrinfo hints, *res;
        memset(&hints, 0, sizeof hints);
        hints.ai_family = AF_INET;
        if (getaddrinfo(host, NULL, &hints, &res) != 0 || res == NULL)
            die(progname, "cannot resolve HOST to an IPv4 address");
        sin.sin_addr = ((struct sockaddr_in *)res->ai_addr)->sin_addr;
        freeaddrinfo(res);
    }

    if (strcmp(proto, "tcp") == 0) {
        clnt = clnttcp_create(&sin, prog, vers, &sock, RPCPEER_BUFSZ, RPCPEER_BUFSZ);
    } else if (strcmp(proto, "udp") == 0) {
        struct timeval wait = { 1, 0 }; /* retransmit interval */
        clnt = clntudp_bufcreate(&sin, prog, vers, wait, &sock, RPCPEER_BUFSZ, RPCPEER_BUFSZ);
    } else {
        return NULL;
    }
    if (clnt == NULL) {
        fprintf(stderr, "%s: %s\n", progname, clnt_spcreateerror("cannot create client"));
        exit(1);
    }
    /* once set, this timeout wins over the one each clnt_call (or stub) passes */
    if (!clnt_control(clnt, CLSET_TIMEOUT, (char *)&timeout))
        die(progname, "clnt_control(CLSET_TIMEOUT) failed");
    return clnt;
}

/* A socket of TYPE bound to 127.0.0.1 on a port the kernel chooses. */
static int bound_socket(int type, unsigned short *port)
{
    struct sockaddr_in sin;
    socklen_t len = sizeof sin;
    int one = 1;
    int fd = socket(AF_INET, type, 0);

    if (fd < 0) {
        perror("socket");
        exit(1);
    }
    if (type == SOCK_STREAM)
        (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    memset(&sin, 0, sizeof sin);
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sin.sin_port = 0;
    if (bind(fd, (struct sockaddr *)&sin, sizeof sin) < 0) {
        perror("bind");
        exit(1);
    }
    if (type == SOCK_STREAM && listen(fd, SOMAXCONN) < 0) {
        perror("listen");
        exit(1);
    }
    if (getsockname(fd, (struct sockaddr *)&sin, &len) < 0) {
        perror("getsockname");
        exit(1);
    }
    *port = ntohs(sin.sin_port);
    return fd;
}

void rpcpeer_serve(const char *progname, rpcprog_t prog, rpcvers_t vers,
                   void (*dispatch)(struct svc_req *, SVCXPRT *), int announce)
{
    unsigned short tcp_port, udp_port;
    SVCXPRT *tcp, *udp;

    /* a client that disconnects mid-reply must not kill the server */
    signal(SIGPIPE, SIG_IGN);

    tcp = svctcp_create(bound_socket(SOCK_STREAM, &tcp_port), RPCPEER_BUFSZ, RPCPEER_BUFSZ);
    if (tcp == NULL)
        die(progname, "svctcp_create failed");
    udp = svcudp_bufcreate(bound_socket(SOCK_DGRAM, &udp_port), RPCPEER_BUFSZ, RPCPEER_BUFSZ);
    if (udp == NULL)
        die(progname, "svcudp_bufcreate failed");
    /* protocol 0 registers the dispatcher locally and never contacts a binder */
    if (!svc_register(tcp, prog, vers, dispatch, announce ? IPPROTO_TCP : 0))
        die(progname, "svc_register (tcp) failed");
    if (!svc_register(udp, prog, vers, dispatch, announce ? IPPROTO_UDP : 0))
        die(progname, "svc_register (udp) failed");

    printf("tcp=%u udp=%u\n", (unsigned)tcp_port, (unsigned)udp_port);
    fflush(stdout);

    svc_run();
    die(progname, "svc_run returned");
}
