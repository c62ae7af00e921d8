/*
 * personlist_client.c -- libtirpc client for courier's interface interop test.
 *
 * usage: personlist_client tcp|udp HOST PORT
 *
 * Connects straight to HOST:PORT (IPv4; the port is set, so no portmapper is
 * consulted) with clnttcp_create / clntudp_bufcreate, sets a 10 s timeout and
 * runs a fixed scenario through the `rpcgen -N` client stubs of personlist.x,
 * printing one line per call (see ../README.md). Exits 0, or prints
 * clnt_sperror on stderr and exits 1 at the first failed call.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <rpc/rpc.h>

#include "personlist.h"
#include "rpcpeer.h"


static const char *progname = "personlist_client";

static void usage(void)
{
    fprintf(stderr, "usage: %s tcp|udp HOST PORT\n", progname);
    exit(1);
}

static void die(const char *msg)
{
    fprintf(stderr, "%s: %s\n", progname, msg);
    exit(1);
}

static void die_rpc(CLIENT *clnt, const char *what)
{
    /* clnt_sperror gives "<what>: RPC: <reason>" */
    fprintf(stderr, "%s: %s\n", progname, clnt_sperror(clnt, what));
    exit(1);
}

/* ---- transport ---- */

static CLIENT *make_client(const char *proto, const char *host, const char *port_s)
{
    CLIENT *clnt = rpcpeer_client(progname, proto, host, port_s, PERSON_LIST, PERSON_LIST_V1);
    if (clnt == NULL)
        usage();
    return clnt;
}

/* ---- the scenario ---- */

static void add_person(CLIENT *clnt, char *name, u_int age, char **emails, u_int n)
{
    Person p;
    u_int *count;

    memset(&p, 0, sizeof p);
    p.name = name;
    p.age = age;
    p.emails.emails_len = n;
    p.emails.emails_val = emails;

    count = add_person_1(p, clnt);
    if (count == NULL)
        die_rpc(clnt, "ADD_PERSON");
    printf("add=%u\n", *count);
}

static void get_person(CLIENT *clnt, char *name)
{
    option_person *res;
    Person *p;
    u_int k;

    /* string_t is `char *`: the stub takes the string itself by value */
    res = get_person_1(name, clnt);
    if (res == NULL)
        die_rpc(clnt, "GET_PERSON");
    p = *res; /* option_person is `Person *`; NULL means none */
    if (p == NULL) {
        printf("get=none\n");
    } else {
        printf("get=%s %u ", p->name ? p->name : "", p->age);
        for (k = 0; k < p->emails.emails_len; k++)
            printf("%s%s", k ? "," : "",
                   p->emails.emails_val[k] ? p->emails.emails_val[k] : "");
        printf("\n");
    }
    /* the stub's result lives in static storage; free what XDR allocated in it */
    if (!clnt_freeres(clnt, (xdrproc_t)xdr_option_person, (caddr_t)res))
        die("clnt_freeres failed");
}

static void sum_and_product(CLIENT *clnt, int a, int b)
{
    sum_and_product_result *res;

    /* -N: two arguments, packed by the stub into sum_and_product_1_argument */
    res = sum_and_product_1(a, b, clnt);
    if (res == NULL)
        die_rpc(clnt, "SUM_AND_PRODUCT");
    printf("sum=%d product=%d\n", res->field0, res->field1);
}

int main(int argc, char **argv)
{
    static char ada[] = "ada", alan[] = "alan", nobody[] = "nobody";
    static char email1[] = "ada@example.org", email2[] = "countess@example.org";
    char *ada_emails[] = { email1, email2 };
    CLIENT *clnt;
    int rc = 0;

    if (argc != 4)
        usage();

    clnt = make_client(argv[1], argv[2], argv[3]);

    add_person(clnt, ada, 36, ada_emails, 2);
    add_person(clnt, alan, 41, NULL, 0);
    get_person(clnt, ada);
    get_person(clnt, nobody);
    sum_and_product(clnt, 6, 7);

    if (clnt->cl_auth != NULL)
        auth_destroy(clnt->cl_auth);
    clnt_destroy(clnt);
    if (fflush(stdout) != 0)
        rc = 1;
    return rc;
}
