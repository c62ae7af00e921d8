#!/usr/bin/env bash
# build.sh OUTDIR -- build the C side of the filerw example's interop test.
#
# Runs rpcgen on ../filerw.x (the interface beside this directory) in a
# temporary directory, never in the source tree, and compiles
# OUTDIR/filerw_server and OUTDIR/filerw_client against libtirpc. Works from
# any current directory.
set -euo pipefail

if [ "$#" -ne 1 ]; then
    echo "usage: $0 OUTDIR" >&2
    exit 2
fi

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
xfile="$here/../filerw.x"
mkdir -p "$1"
out="$(cd "$1" && pwd)"
CC="${CC:-gcc}"

gen="$(mktemp -d "${TMPDIR:-/tmp}/filerw-rpcgen.XXXXXX")"
trap 'rm -rf "$gen"' EXIT

# rpcgen writes the input's path into the generated #include lines, so run it
# on a copy inside the temporary directory.
cp "$xfile" "$gen/filerw.x"
(
    cd "$gen"
    rpcgen -h filerw.x -o filerw.h
    rpcgen -c filerw.x -o filerw_xdr.c
    rpcgen -m filerw.x -o filerw_svc.c   # dispatcher only, no main
)

read -r -a tirpc_cflags <<<"$(pkg-config --cflags libtirpc)"
read -r -a tirpc_libs <<<"$(pkg-config --libs libtirpc)"

cflags=(-std=gnu11 -O2 -g -Wall -Werror -I"$gen" -I"$here" "${tirpc_cflags[@]}")
# rpcgen declares an unused `register int32_t *buf;` in every XDR routine.
gen_cflags=("${cflags[@]}" -Wno-unused-variable)

"$CC" "${gen_cflags[@]}" -c "$gen/filerw_xdr.c" -o "$gen/filerw_xdr.o"
"$CC" "${gen_cflags[@]}" -c "$gen/filerw_svc.c" -o "$gen/filerw_svc.o"
"$CC" "${cflags[@]}" -c "$here/filerw_server.c" -o "$gen/filerw_server.o"
"$CC" "${cflags[@]}" -c "$here/filerw_client.c" -o "$gen/filerw_client.o"

"$CC" -o "$out/filerw_server" "$gen/filerw_server.o" "$gen/filerw_svc.o" \
    "$gen/filerw_xdr.o" "${tirpc_libs[@]}"
"$CC" -o "$out/filerw_client" "$gen/filerw_client.o" \
    "$gen/filerw_xdr.o" "${tirpc_libs[@]}"
