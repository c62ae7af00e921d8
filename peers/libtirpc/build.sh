#!/usr/bin/env bash
# build.sh OUTDIR -- builds the libtirpc peer, echopeer-server and echopeer-client, into
# OUTDIR from echopeer.x with the project's rpcgen build script (which also links
# tests/support/c/rpcpeer.c, the loopback server and HOST:PORT client helpers).
# Needs gcc, pkg-config, libtirpc-dev and rpcsvc-proto (rpcgen).
set -euo pipefail
[ "$#" -eq 1 ] || { echo "usage: $0 OUTDIR" >&2; exit 2; }
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
exec "$here/../../tests/support/rpcgen-build.sh" "$here/echopeer.x" "$1" \
    server:echopeer-server="$here/server.c" \
    client:echopeer-client="$here/client.c"
