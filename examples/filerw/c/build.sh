#!/usr/bin/env bash
# build.sh OUTDIR -- builds OUTDIR/filerw_server and OUTDIR/filerw_client from
# ../filerw.x with rpcgen and libtirpc (tests/support/rpcgen-build.sh does the work).
set -euo pipefail
[ "$#" -eq 1 ] || { echo "usage: $0 OUTDIR" >&2; exit 2; }
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
exec "$here/../../../tests/support/rpcgen-build.sh" "$here/../filerw.x" "$1" \
    "server:filerw_server=$here/filerw_server.c" \
    "client:filerw_client=$here/filerw_client.c"
