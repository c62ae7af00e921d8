#!/usr/bin/env bash
# build.sh XFILE OUTDIR -- build the C client of courier's interface interop test.
#
# Copies XFILE (the .x text courier prints for the PersonList trait) into a
# temporary directory as personlist.x, runs `rpcgen -N` there (header, XDR
# routines, client stubs; -N because SUM_AND_PRODUCT takes two arguments) and
# compiles OUTDIR/personlist_client against libtirpc. Never writes into the
# source tree. Works from any current directory.
set -euo pipefail

if [ "$#" -ne 2 ]; then
    echo "usage: $0 XFILE OUTDIR" >&2
    exit 2
fi

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
xfile="$1"
[ -f "$xfile" ] || { echo "$0: no such file: $xfile" >&2; exit 2; }
mkdir -p "$2"
out="$(cd "$2" && pwd)"
CC="${CC:-gcc}"

gen="$(mktemp -d "${TMPDIR:-/tmp}/interface-rpcgen.XXXXXX")"
trap 'rm -rf "$gen"' EXIT

# rpcgen writes the input's path into the generated #include lines, so run it
# on a copy inside the temporary directory.
cp "$xfile" "$gen/personlist.x"
(
    cd "$gen"
    rpcgen -N -h personlist.x -o personlist.h
    rpcgen -N -c personlist.x -o personlist_xdr.c
    rpcgen -N -l personlist.x -o personlist_clnt.c
)

read -r -a tirpc_cflags <<<"$(pkg-config --cflags libtirpc)"
read -r -a tirpc_libs <<<"$(pkg-config --libs libtirpc)"

cflags=(-std=gnu11 -O2 -g -Wall -Werror -I"$gen" -I"$here/c" "${tirpc_cflags[@]}")
# rpcgen declares an unused `register int32_t *buf;` in every XDR routine.
gen_cflags=("${cflags[@]}" -Wno-unused-variable)

"$CC" "${gen_cflags[@]}" -c "$gen/personlist_xdr.c" -o "$gen/personlist_xdr.o"
"$CC" "${gen_cflags[@]}" -c "$gen/personlist_clnt.c" -o "$gen/personlist_clnt.o"
"$CC" "${cflags[@]}" -c "$here/c/personlist_client.c" -o "$gen/personlist_client.o"

"$CC" -o "$out/personlist_client" "$gen/personlist_client.o" \
    "$gen/personlist_clnt.o" "$gen/personlist_xdr.o" "${tirpc_libs[@]}"
