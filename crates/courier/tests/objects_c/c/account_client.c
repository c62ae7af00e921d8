/*
 * account_client.c -- libtirpc client calling a Rust remote object through its handle.
 *
 * usage: account_client tcp|udp HOST PORT INCARNATION OBJECT AMOUNT
 *
 * INCARNATION (hex) and OBJECT (decimal) are the object's key, as its reference
 * obj://HOST:PORT/PROGRAM.VERSION/OBJECT@INCARNATION prints them. Calls DEPOSIT(key,
 * AMOUNT) and BALANCE(key) through the `rpcgen -N` stubs of the printed account.x and
 * prints "deposit=STATUS RESULT" and "balance=STATUS RESULT" (RESULT only when STATUS
 * is OBJECT_OK, 0). Exits 0, or prints clnt_sperror on stderr and exits 1.
 */
#include <stdio.h>
#include <stdlib.h>

#include <rpc/rpc.h>

#include "account.h"
#include "rpcpeer.h"

static const char *progname = "account_client";

static void print_reply(const char *what, object_status status, u_int result)
{
    if (status == OBJECT_OK)
        printf("%s=%d %u\n", what, (int)status, result);
    else
        printf("%s=%d\n", what, (int)status);
}

int main(int argc, char **argv)
{
    CLIENT *clnt;
    object_key key;
    account_deposit_reply *deposited;
    account_balance_reply *balance;

    if (argc != 7) {
        fprintf(stderr, "usage: %s tcp|udp HOST PORT INCARNATION OBJECT AMOUNT\n", progname);
        return 1;
    }
    clnt = rpcpeer_client(progname, argv[1], argv[2], argv[3], ACCOUNT, ACCOUNT_V1);
    if (clnt == NULL) {
        fprintf(stderr, "%s: protocol must be tcp or udp\n", progname);
        return 1;
    }
    key.incarnation = strtoull(argv[4], NULL, 16);
    key.object = strtoull(argv[5], NULL, 10);

    deposited = deposit_1(key, (u_int)strtoul(argv[6], NULL, 10), clnt);
    if (deposited == NULL) {
        fprintf(stderr, "%s: %s\n", progname, clnt_sperror(clnt, "DEPOSIT"));
        return 1;
    }
    print_reply("deposit", deposited->status, deposited->account_deposit_reply_u.result);

    balance = balance_1(key, clnt);
    if (balance == NULL) {
        fprintf(stderr, "%s: %s\n", progname, clnt_sperror(clnt, "BALANCE"));
        return 1;
    }
    print_reply("balance", balance->status, balance->account_balance_reply_u.result);
    clnt_destroy(clnt);
    return 0;
}
