#!/usr/bin/env python3
"""Medians and the issue's targets from the rows of a scripts/bench-peers run.

Reads every round-*/*.json under RUN (rows of `courier bench`, which have no `peer`
field and are courier's, and of the peers' clients), takes the median over the rounds
of each metric of each (peer, transport, size, in flight), writes them as JSON, and
writes a markdown section between the marker lines `<!-- peers:begin -->` and
`<!-- peers:end -->` of the docs file (appending markers and section when missing;
nothing outside the markers is touched).

usage: report.py --run DIR --medians FILE --docs FILE --command CMD --rounds N --seconds S
"""

import argparse
import datetime
import glob
import json
import os
import platform
import statistics
import subprocess
import textwrap

BEGIN = "<!-- peers:begin -->"
END = "<!-- peers:end -->"
METRICS = ("calls", "calls_per_second", "p50_us", "p99_us", "cpu_us_per_call")
PEERS = ("courier", "raw-tokio", "tonic", "tarpc", "libtirpc")
RPC_PEERS = ("libtirpc", "tonic", "tarpc")  # the stacks courier competes with
MIB = 1024 * 1024


def load_rows(run):
    """Every row of every round, with `peer` filled in for courier's."""
    rows = []
    for path in sorted(glob.glob(os.path.join(run, "round-*", "*.json"))):
        with open(path) as f:
            for row in json.load(f):
                row.setdefault("peer", "courier")
                row["round"] = os.path.basename(os.path.dirname(path))
                rows.append(row)
    return rows


def medians(rows):
    """{(peer, transport, size, in_flight): {metric: median or None, "rounds": n}}."""
    groups = {}
    for row in rows:
        key = (row["peer"], row["transport"], row["size"], row["in_flight"])
        groups.setdefault(key, []).append(row)
    out = {}
    for key, group in groups.items():
        med = {"rounds": len(group)}
        for metric in METRICS:
            values = [r[metric] for r in group if r.get(metric) is not None]
            med[metric] = statistics.median(values) if values else None
        out[key] = med
    return out


def size_name(size):
    if size == 0:
        return "0 B"
    if size % MIB == 0:
        return f"{size // MIB} MiB"
    if size % 1024 == 0:
        return f"{size // 1024} KiB"
    return f"{size} B"


def num(value, digits=1):
    if value is None:
        return "–"
    if digits == 0:
        return f"{value:,.0f}".replace(",", " ")
    return f"{value:.{digits}f}"


def ratio_text(ratio):
    return "–" if ratio is None else f"{ratio:.2f}×"


def targets(med):
    """Rows of the targets table: (target, courier, reference, ratio, met)."""
    rows = []

    def get(peer, transport, size, in_flight, metric):
        return med.get((peer, transport, size, in_flight), {}).get(metric)

    def verdict(ok):
        return "–" if ok is None else ("**yes**" if ok else "no")

    # Small-call throughput against libtirpc and the best of tonic and tarpc.
    for n in (16, 64, 256):
        c = get("courier", "tcp", 0, n, "calls_per_second")
        lib = get("libtirpc", "tcp", 0, n, "calls_per_second")
        ratio = c / lib if c and lib else None
        rows.append((f"small calls/s, {n} in flight: courier ≥ 2 × libtirpc",
                     num(c, 0), f"libtirpc {num(lib, 0)}", ratio_text(ratio),
                     verdict(None if ratio is None else ratio >= 2)))
        peers = {p: get(p, "tcp", 0, n, "calls_per_second") for p in ("tonic", "tarpc")}
        peers = {p: v for p, v in peers.items() if v is not None}
        best = max(peers, key=peers.get) if peers else None
        ratio = c / peers[best] if c and best else None
        rows.append((f"small calls/s, {n} in flight: courier ≥ 1.2 × max(tonic, tarpc)",
                     num(c, 0), f"{best} {num(peers.get(best), 0)}" if best else "–",
                     ratio_text(ratio), verdict(None if ratio is None else ratio >= 1.2)))

    # CPU per call, client + server, at 64 in flight.
    c = get("courier", "tcp", 0, 64, "cpu_us_per_call")
    t = get("tarpc", "tcp", 0, 64, "cpu_us_per_call")
    ratio = c / t if c is not None and t else None
    rows.append(("CPU µs per small call (client + server), 64 in flight: courier ≤ tarpc",
                 num(c) if c is not None else "not measured", f"tarpc {num(t)}",
                 ratio_text(ratio), verdict(None if ratio is None else ratio <= 1)))

    # Latency of one small call at a time.
    c = get("courier", "tcp", 0, 1, "p50_us")
    raw = get("raw-tokio", "tcp", 0, 1, "p50_us")
    ratio = c / raw if c and raw else None
    rows.append(("p50 µs of a small call, 1 in flight, TCP: courier ≤ 1.2 × raw tokio",
                 num(c), f"raw tokio {num(raw)}", ratio_text(ratio),
                 verdict(None if ratio is None else ratio <= 1.2)))
    c = get("courier", "udp", 0, 1, "p50_us")
    lib = get("libtirpc", "udp", 0, 1, "p50_us")
    ratio = c / lib if c and lib else None
    rows.append(("p50 µs of a small call, 1 in flight, UDP: courier ≤ libtirpc",
                 num(c), f"libtirpc {num(lib)}", ratio_text(ratio),
                 verdict(None if ratio is None else ratio <= 1)))

    # Larger echoes against the best RPC peer.
    for size in (4096, MIB):
        for n in (1, 16):
            c = get("courier", "tcp", size, n, "calls_per_second")
            peers = {p: get(p, "tcp", size, n, "calls_per_second") for p in RPC_PEERS}
            peers = {p: v for p, v in peers.items() if v is not None}
            best = max(peers, key=peers.get) if peers else None
            ratio = c / peers[best] if c and best else None
            rows.append((f"{size_name(size)} echo calls/s, {n} in flight: courier ≥ best peer",
                         num(c, 0), f"{best} {num(peers.get(best), 0)}" if best else "–",
                         ratio_text(ratio), verdict(None if ratio is None else ratio >= 1)))
    return rows


def machine():
    def run(*cmd):
        try:
            return subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            return "?"

    model = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    libtirpc = run("dpkg-query", "-W", "-f=${Version}", "libtirpc-dev")
    return {
        "nproc": run("nproc"),
        "cpu": model,
        "kernel": platform.release(),
        "rustc": run("rustc", "--version"),
        "libtirpc": libtirpc,
    }


def wrap(text):
    return textwrap.fill(text, width=90, break_long_words=False, break_on_hyphens=False)


def section(med, args, info):
    date = datetime.date.today().isoformat()
    try:
        busy = float(args.load.split()[0]) > 0.5
    except (ValueError, IndexError):
        busy = False
    busy = " (other work was running: the numbers are noisy)" if busy else ""
    lines = [
        BEGIN,
        "## Against other stacks: `scripts/bench-peers`",
        "",
        "```sh",
        args.command,
        "```",
        "",
        wrap(f"Measured {date} on {info['nproc']} cores ({info['cpu']}), Linux {info['kernel']}, "
             f"{info['rustc']}, libtirpc {info['libtirpc']}; load average {args.load} when the run "
             f"began{busy}. Written by the script (it replaces only the text between its two marker "
             "comments)."),
        "",
        wrap(f"Each number is the median of {args.rounds} round(s); each combination ran "
        f"{args.seconds} s. In each round every stack runs in turn (courier, raw tokio, "
        "tonic, tarpc, libtirpc), its server a separate process started for the round and "
        "killed after it. courier is `courier bench` (which starts its own node) over one "
        "connection or socket; raw tokio is length-prefixed frames echoed by a tokio server, "
        "pipelined on one connection (with 1 in flight a plain write-then-read loop: the "
        "latency floor); tonic is unary gRPC on one HTTP/2 connection; tarpc uses its serde "
        "transport with bincode on one connection. **libtirpc clients are synchronous**: N "
        "in flight there are N threads, each with its own connection (or UDP socket), "
        "against libtirpc's single-threaded `svc_run` server. CPU µs/call is the CPU time "
        "(user + system) of client and server processes over the measurement, divided by "
        "the calls. See `peers/README.md`."),
        "",
        "### Targets",
        "",
        "| target | courier | reference | ratio | met |",
        "|---|---:|---:|---:|:---:|",
    ]
    for row in targets(med):
        lines.append("| " + " | ".join(row) + " |")
    lines += ["", wrap("The best peer of the last rows is the best of libtirpc, tonic and tarpc; "
                       "raw tokio, a floor rather than a peer, is in the tables below."), ""]

    workloads = sorted({(t, s, n) for (_, t, s, n) in med}, key=lambda w: (w[0] != "tcp", w[0], w[1], w[2]))
    for transport, size, n in workloads:
        lines += [f"### {transport.upper()}, {size_name(size)}, {n} in flight", "",
                  "| peer | calls/s | p50 µs | p99 µs | CPU µs/call |", "|---|---:|---:|---:|---:|"]
        for peer in PEERS:
            m = med.get((peer, transport, size, n))
            if m is None:
                continue
            lines.append(f"| {peer} | {num(m['calls_per_second'], 0)} | {num(m['p50_us'])} | "
                         f"{num(m['p99_us'])} | {num(m['cpu_us_per_call'])} |")
        lines.append("")
    lines.append(END)
    return "\n".join(lines) + "\n"


def write_docs(path, text):
    """Replaces what is between the markers (re-reading the file just before)."""
    with open(path) as f:
        doc = f.read()
    begin, end = doc.find(BEGIN), doc.find(END)
    if begin >= 0 and end > begin:
        doc = doc[:begin] + text.rstrip("\n") + doc[end + len(END):]
    else:
        doc = doc.rstrip("\n") + "\n\n" + text
    with open(path, "w") as f:
        f.write(doc)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", required=True)
    parser.add_argument("--medians", required=True)
    parser.add_argument("--docs", required=True)
    parser.add_argument("--command", required=True)
    parser.add_argument("--rounds", required=True)
    parser.add_argument("--seconds", required=True)
    parser.add_argument("--load", default="?")
    args = parser.parse_args()

    rows = load_rows(args.run)
    if not rows:
        raise SystemExit(f"report.py: no results under {args.run}")
    med = medians(rows)
    info = machine()
    with open(args.medians, "w") as f:
        json.dump({
            "command": args.command,
            "date": datetime.date.today().isoformat(),
            "machine": info,
            "rounds": int(args.rounds),
            "seconds": float(args.seconds),
            "rows": [dict(peer=p, transport=t, size=s, in_flight=n, **m)
                     for (p, t, s, n), m in sorted(med.items(), key=lambda kv: (kv[0][1], kv[0][2], kv[0][3], PEERS.index(kv[0][0]) if kv[0][0] in PEERS else 99))],
        }, f, indent=2)
        f.write("\n")
    text = section(med, args, info)
    write_docs(args.docs, text)
    print(text)


if __name__ == "__main__":
    main()
