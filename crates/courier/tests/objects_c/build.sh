#!/usr/bin/env bash
# build.sh XFILE OUTDIR -- builds OUTDIR/account_client from XFILE, the .x text courier
# prints for the Account remote interface of tests/objects.rs, with `rpcgen -N` (the
# procedures take the object key and then their arguments) and libtirpc
# (tests/support/rpcgen-build.sh does the work).
set -euo pipefail
[ "$#" -eq 2 ] || { echo "usage: $0 XFILE OUTDIR" >&2; exit 2; }
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
exec "$here/../../../../tests/support/rpcgen-build.sh" -N --name account "$1" "$2" \
    "client:account_client=$here/c/account_client.c"
