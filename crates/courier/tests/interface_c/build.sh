#!/usr/bin/env bash
# build.sh XFILE OUTDIR -- builds OUTDIR/personlist_client from XFILE, the .x text
# courier prints for the PersonList trait, with `rpcgen -N` (SUM_AND_PRODUCT takes
# two arguments) and libtirpc (tests/support/rpcgen-build.sh does the work).
set -euo pipefail
[ "$#" -eq 2 ] || { echo "usage: $0 XFILE OUTDIR" >&2; exit 2; }
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
exec "$here/../../../../tests/support/rpcgen-build.sh" -N --name personlist "$1" "$2" \
    "client:personlist_client=$here/c/personlist_client.c"
