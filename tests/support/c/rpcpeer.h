/*
 * rpcpeer -- what courier's C test peers share: a client connected straight to
 * HOST:PORT (no portmapper consulted), and a server of one program version on
 * 127.0.0.1 TCP and UDP ports chosen by the kernel.
 */
#ifndef RPCPEER_H
#define RPCPEER_H

#include <rpc/rpc.h>

/* Transport buffer size: room for UDP datagrams of almost 64 KB. */
#define RPCPEER_BUFSZ 65000

/*
 * A client of PROG version VERS at HOST:PORT over "tcp" or "udp", with a 10 s
 * call timeout (UDP retransmits every second). Returns NULL for another PROTO;
 * prints why on stderr and exits 1 when the client cannot be made.
 */
CLIENT *rpcpeer_client(const char *progname, const char *proto, const char *host,
                       const char *port, rpcprog_t prog, rpcvers_t vers);

/*
 * Serves PROG version VERS with DISPATCH on 127.0.0.1, TCP and UDP, prints
 * "tcp=<port> udp=<port>" on stdout and runs. With ANNOUNCE the program is
 * registered with the machine's binder, as an rpcgen-generated main() does;
 * without, the binder is never contacted. Never returns.
 */
void rpcpeer_serve(const char *progname, rpcprog_t prog, rpcvers_t vers,
                   void (*dispatch)(struct svc_req *, SVCXPRT *), int announce);

#endif
