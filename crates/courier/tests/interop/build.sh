#!/usr/bin/env bash
# build.sh OUTDIR -- builds OUTDIR/interop_server and OUTDIR/interop_client from
# interop.x with rpcgen and libtirpc (tests/support/rpcgen-build.sh does the work).
set -euo pipefail
[ "$#" -eq 1 ] || { echo "usage: $0 OUTDIR" >&2; exit 2; }
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
exec "$here/../../../../tests/support/rpcgen-build.sh" "$here/interop.x" "$1" \
    "server:interop_server=$here/c/interop_server.c,$here/c/canon.c" \
    "client:interop_client=$here/c/interop_client.c,$here/c/canon.c"
