#!/usr/bin/env bash
# build.sh OUTDIR -- build the C side of courier's interop tests.
#
# Runs rpcgen on interop.x (beside this script) in a temporary directory, never
# in the source tree, and compiles OUTDIR/interop_server and OUTDIR/interop_client
# against libtirpc. Works from any current directory.
set -euo pipefail

if [ "$#" -ne 1 ]; then
    echo "usage: $0 OUTDIR" >&2
    exit 2
fi

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
mkdir -p "$1"
out="$(cd "$1" && pwd)"
CC="${CC:-gcc}"

gen="$(mktemp -d "${TMPDIR:-/tmp}/interop-rpcgen.XXXXXX")"
trap 'rm -rf "$gen"' EXIT

# rpcgen writes the input's path into the generated #include lines, so run it
# on a copy inside the temporary directory.
cp "$here/interop.x" "$gen/interop.x"
(
    cd "$gen"
    rpcgen -h interop.x -o interop.h
    rpcgen -c interop.x -o interop_xdr.c
    rpcgen -m interop.x -o interop_svc.c   # dispatcher only, no main
)

read -r -a tirpc_cflags <<<"$(pkg-config --cflags libtirpc)"
read -r -a tirpc_libs <<<"$(pkg-config --libs libtirpc)"

cflags=(-std=gnu11 -O2 -g -Wall -Werror -I"$gen" -I"$here/c" "${tirpc_cflags[@]}")
# rpcgen declares an unused `register int32_t *buf;` in every XDR routine.
gen_cflags=("${cflags[@]}" -Wno-unused-variable)

"$CC" "${gen_cflags[@]}" -c "$gen/interop_xdr.c" -o "$gen/interop_xdr.o"
"$CC" "${gen_cflags[@]}" -c "$gen/interop_svc.c" -o "$gen/interop_svc.o"
"$CC" "${cflags[@]}" -c "$here/c/canon.c" -o "$gen/canon.o"
"$CC" "${cflags[@]}" -c "$here/c/interop_server.c" -o "$gen/interop_server.o"
"$CC" "${cflags[@]}" -c "$here/c/interop_client.c" -o "$gen/interop_client.o"

"$CC" -o "$out/interop_server" "$gen/interop_server.o" "$gen/interop_svc.o" \
    "$gen/interop_xdr.o" "$gen/canon.o" "${tirpc_libs[@]}"
"$CC" -o "$out/interop_client" "$gen/interop_client.o" \
    "$gen/interop_xdr.o" "$gen/canon.o" "${tirpc_libs[@]}"
