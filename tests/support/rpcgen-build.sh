#!/usr/bin/env bash
# rpcgen-build.sh [-N] [--name BASE] XFILE OUTDIR ROLE:PROGRAM=SOURCE[,SOURCE…]…
#
# Builds C peers of courier's interoperability tests from a .x file: runs rpcgen
# on a copy of XFILE (named BASE.x, default XFILE's own name) in a temporary
# directory — never in the source tree, since rpcgen writes the input's path into
# its #include lines — for the header, the XDR routines, the server dispatcher
# (-m, no main) and the client stubs (-l), then links each PROGRAM into OUTDIR
# from its SOURCEs, the XDR routines, tests/support/c/rpcpeer.c and, for ROLE
# `server`, the dispatcher or, for ROLE `client`, the stubs. -N is rpcgen's
# multiple-argument style. Sources build with -Wall -Werror; generated code also
# with -Wno-unused-variable (rpcgen declares an unused `buf` in every routine).
set -euo pipefail

usage() {
    echo "usage: $0 [-N] [--name BASE] XFILE OUTDIR ROLE:PROGRAM=SOURCE[,SOURCE...]..." >&2
    exit 2
}
newstyle=()
base=""
while [ "$#" -gt 0 ]; do
    case "$1" in
        -N) newstyle=(-N); shift ;;
        --name) base="$2"; shift 2 ;;
        *) break ;;
    esac
done
[ "$#" -ge 3 ] || usage
xfile="$1"
[ -f "$xfile" ] || { echo "$0: no such file: $xfile" >&2; exit 2; }
mkdir -p "$2"
out="$(cd "$2" && pwd)"
shift 2
base="${base:-$(basename "$xfile" .x)}"
support="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/c"
CC="${CC:-gcc}"

gen="$(mktemp -d "${TMPDIR:-/tmp}/rpcgen-build.XXXXXX")"
trap 'rm -rf "$gen"' EXIT
cp "$xfile" "$gen/$base.x"
(
    cd "$gen"
    rpcgen "${newstyle[@]}" -h "$base.x" -o "$base.h"
    rpcgen "${newstyle[@]}" -c "$base.x" -o "${base}_xdr.c"
    rpcgen "${newstyle[@]}" -m "$base.x" -o "${base}_svc.c"
    rpcgen "${newstyle[@]}" -l "$base.x" -o "${base}_clnt.c"
)

read -r -a tirpc_cflags <<<"$(pkg-config --cflags libtirpc)"
read -r -a tirpc_libs <<<"$(pkg-config --libs libtirpc)"
cflags=(-std=gnu11 -O2 -g -Wall -Werror -I"$gen" -I"$support" "${tirpc_cflags[@]}")
gen_cflags=("${cflags[@]}" -Wno-unused-variable)

for part in xdr svc clnt; do
    "$CC" "${gen_cflags[@]}" -c "$gen/${base}_$part.c" -o "$gen/${base}_$part.o"
done
"$CC" "${cflags[@]}" -c "$support/rpcpeer.c" -o "$gen/rpcpeer.o"

for spec in "$@"; do
    role="${spec%%:*}"
    rest="${spec#*:}"
    program="${rest%%=*}"
    case "$role" in
        server) glue="$gen/${base}_svc.o" ;;
        client) glue="$gen/${base}_clnt.o" ;;
        *) usage ;;
    esac
    objects=()
    IFS=, read -r -a sources <<<"${rest#*=}"
    for source in "${sources[@]}"; do
        object="$gen/$program-$(basename "$source" .c).o"
        "$CC" "${cflags[@]}" -I"$(dirname "$source")" -c "$source" -o "$object"
        objects+=("$object")
    done
    "$CC" -o "$out/$program" "${objects[@]}" "$glue" "$gen/${base}_xdr.o" "$gen/rpcpeer.o" "${tirpc_libs[@]}"
done
