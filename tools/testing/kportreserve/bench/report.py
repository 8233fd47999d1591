#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Collects the boots of 'make bench' into results.json, a table and a plot.

Usage: report.py --out DIR [--wall S] [--tsc-mhz F] [--git REV] BOOT.txt...
       report.py --check FILE    (make check: is FILE the valid output of one run?)

Each BOOT.txt is what one guest boot printed: kpr_bench's JSON lines, then
"KPR-EXIT=N" (vm.sh's guest status) and "KPR-WALL=S" (bench.sh's boot time).

The table gives, per case, the median over the boots of each boot's median, and
for cases measured with kportreserve on and off the median over the on/off pairs
of the ratio on/off, with the smallest and largest pair.  Ratios within one
boot (the owner's bind against an unreserved one) are medians over the "on"
boots.  A target is PASS when that median meets it.
"""

import argparse
import datetime
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys

RULES_OWNER = (1, 1000, 65536)
RULES_LOAD = (1000, 10000, 60000, 65536)
RULES_EXEC = (1000, 65536)

# The targets of issue 9.
T_COMMON = 1.01     # socket+close, bind+close, connect (autobind): on/off
T_BOUND = 1.15      # bind on a bound socket: on/off
T_RESERVED = 1.05   # autobind with 1000 reserved ports: rules/sysctl
T_OWNER = 1.3       # owner's bind / unreserved bind, same boot
T_POLICY_MS = 100   # load (any order) and read-back of 60000 rules, as the table says
T_POLICY_RULES = 60000

# The 1-minute load average after a boot: QEMU's own thread makes about 1.
HOST_LOAD_WARN = 1.5


def parse_boot(path):
    """One boot's output: meta, results keyed by case, errors, status."""
    boot = {"file": os.path.basename(path), "meta": None, "results": [],
            "errors": [], "end": None, "exit": None, "wall_s": None, "host_load": None}
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            line = line.strip()
            if line.startswith("KPR-EXIT="):
                boot["exit"] = int(line[9:] or -1)
            elif line.startswith("KPR-WALL="):
                boot["wall_s"] = int(line[9:] or 0)
            elif line.startswith("KPR-HOSTLOAD="):
                boot["host_load"] = float(line[13:] or 0)
            elif line.startswith("{"):
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError as e:
                    boot["errors"].append({"case": "output",
                                           "msg": f"not JSON ({e}): {line[:120]}"})
                    continue
                kind = obj.pop("type", None)
                if kind == "meta":
                    boot["meta"] = obj
                elif kind == "result":
                    boot["results"].append(obj)
                elif kind == "error":
                    boot["errors"].append(obj)
                elif kind == "end":
                    boot["end"] = obj
    meta = boot["meta"] or {}
    boot["mode"] = "on" if meta.get("kportreserve") else "off"
    return boot


def key(r):
    """The identity of a measurement: case, protocol, variant, rule count."""
    variant = r.get("via") or r.get("order") or ""
    return (r["case"], r.get("proto", ""), variant, r.get("rules", 0))


def check_output(path):
    """make check's smoke: exit 0, a meta and an end line, results, no error."""
    b = parse_boot(path)
    problems = [f"{e.get('case')}: {e.get('msg')}" for e in b["errors"]]
    if not b["meta"]:
        problems.append("no meta line")
    if not b["end"]:
        problems.append("no end line")
    if not b["results"]:
        problems.append("no results")
    for r in b["results"]:
        if not (r.get("median", 0) > 0 and r.get("rounds")):
            problems.append(f"bad result: {r}")
    if b["exit"] not in (0, None):
        problems.append(f"exit status {b['exit']}")
    cases = {r["case"] for r in b["results"]}
    if b["meta"] and b["meta"].get("kportreserve"):
        for c in ("owner_bind", "load", "read", "exec", "bind_close", "connect_reserved"):
            if c not in cases:
                problems.append(f"no {c} results")
    for p in problems:
        print(p)
    print(f"{len(b['results'])} results from kpr_bench")
    return not problems


def med(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def fmt_time(ns):
    if ns is None:
        return "–"
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("µs", 1e3)):
        if ns >= scale:
            v = ns / scale
            return f"{v:.3g} {unit}" if v < 100 else f"{v:.0f} {unit}"
    return f"{ns:.0f} ns"


def fmt_ratio(r, lo=None, hi=None):
    if r is None:
        return "–"
    s = f"{r:.3f}x"
    if lo is not None and hi is not None and lo != hi:
        s += f" ({lo:.3f}–{hi:.3f})"
    return s


def verdict(value, target):
    if value is None:
        return "–"
    return "PASS" if value <= target else "MISS"


class Report:
    def __init__(self, boots):
        self.boots = boots
        self.on = [b for b in boots if b["mode"] == "on"]
        self.off = [b for b in boots if b["mode"] == "off"]
        # Pairs in boot order: the i-th "on" boot with the i-th "off" boot.
        self.pairs = list(zip(self.on, self.off))
        self.rows = []

    @staticmethod
    def get(boot, k, field="median"):
        for r in boot["results"]:
            if key(r) == k:
                return r.get(field)
        return None

    def values(self, boots, k, field="median"):
        return [v for v in (self.get(b, k, field) for b in boots) if v is not None]

    def onoff(self, label, k_on, k_off, target, note=""):
        """A case measured with kportreserve on and off: median per-pair ratio."""
        ratios = []
        for b_on, b_off in self.pairs:
            a, b = self.get(b_on, k_on), self.get(b_off, k_off)
            if a and b:
                ratios.append(a / b)
        r = med(ratios)
        self.rows.append({
            "case": label, "on_ns": med(self.values(self.on, k_on)),
            "off_ns": med(self.values(self.off, k_off)), "ratio": r,
            "ratio_min": min(ratios) if ratios else None,
            "ratio_max": max(ratios) if ratios else None,
            "pairs": len(ratios), "target": target,
            "target_text": f"≤ {target}x of off" if target else "",
            "result": verdict(r, target) if target else "", "note": note})

    def owner(self, proto, rules):
        k = ("owner_bind", proto, "", rules)
        r = med(self.values(self.on, k, "ratio"))
        self.rows.append({
            "case": f"owner's bind+close, {proto.upper()}, {rules} rule{'s' if rules > 1 else ''}",
            "on_ns": med(self.values(self.on, k)),
            "off_ns": None, "ratio": r,
            "ratio_min": min(self.values(self.on, k, "ratio"), default=None),
            "ratio_max": max(self.values(self.on, k, "ratio"), default=None),
            "pairs": len(self.values(self.on, k, "ratio")), "target": T_OWNER,
            "target_text": f"≤ {T_OWNER}x of an unreserved bind",
            "result": verdict(r, T_OWNER),
            "note": f"unreserved: {fmt_time(med(self.values(self.on, k, 'base')))}"})

    def absolute(self, label, k, target_ms=None, note=""):
        v = med(self.values(self.on, k))
        self.rows.append({
            "case": label, "on_ns": v, "off_ns": None, "ratio": None,
            "ratio_min": None, "ratio_max": None, "pairs": len(self.values(self.on, k)),
            "target": target_ms,
            "target_text": f"≤ {target_ms} ms" if target_ms else "",
            "result": verdict(v / 1e6 if v else None, target_ms) if target_ms else "",
            "note": note})

    def build(self):
        self.onoff("getppid() (reference: no LSM hook)", ("syscall", "", "", 0),
                   ("syscall", "", "", 0), None)
        for p in ("udp", "tcp"):
            self.onoff(f"socket+close, {p.upper()}", ("socket_close", p, "", 0),
                       ("socket_close", p, "", 0), T_COMMON)
        for p in ("udp", "tcp"):
            self.onoff(f"bind+close to an unreserved port, {p.upper()}",
                       ("bind_close", p, "", 0), ("bind_close", p, "", 0), T_COMMON)
        for p in ("udp", "tcp"):
            self.onoff(f"bind on a bound socket (EINVAL), {p.upper()}",
                       ("bind_bound", p, "", 0), ("bind_bound", p, "", 0), T_BOUND)
        self.onoff("UDP connect (autobind)+close", ("connect", "udp", "", 0),
                   ("connect", "udp", "", 0), T_COMMON)
        self.onoff("TCP connect (autobind)+accept+close", ("connect", "tcp", "", 0),
                   ("connect", "tcp", "", 0), T_COMMON)
        for p in ("udp", "tcp"):
            k_rules = ("connect_reserved", p, "rules", 1000)
            k_sysctl = ("connect_reserved", p, "sysctl", 0)
            within = []
            for b in self.on:
                a, s = self.get(b, k_rules), self.get(b, k_sysctl)
                if a and s:
                    within.append(a / s)
            note = (f"in the same boot, rules/sysctl {fmt_ratio(med(within))}"
                    if within else "")
            self.onoff(f"{p.upper()} connect, 1000 ports reserved in the ephemeral range "
                       "(on: rules, off: ip_local_reserved_ports)",
                       k_rules, k_sysctl, T_RESERVED, note)
        self.onoff("fork+execve+wait, no rules", ("exec", "", "", 0),
                   ("exec", "", "", 0), None)
        for rules in RULES_OWNER:
            for p in ("tcp", "udp"):
                self.owner(p, rules)
        for rules in RULES_LOAD:
            for order in ("sorted", "shuffled"):
                k = ("load", "", order, rules)
                modes = {r.get("write_mode") for b in self.on for r in b["results"]
                         if key(r) == k}
                note = ", ".join(sorted(m for m in modes if m and m != "single"))
                note = {"efbig-512k": "EFBIG: written in 512 KiB pieces",
                        "short": "short writes"}.get(note, note)
                self.absolute(f"load {rules} rules, {order}", k,
                              T_POLICY_MS if rules == T_POLICY_RULES else None, note)
        for rules in RULES_LOAD:
            self.absolute(f"read back {rules} rules (64 KiB reads)", ("read", "", "", rules),
                          T_POLICY_MS if rules == T_POLICY_RULES else None)
        for rules in RULES_EXEC:
            k = ("exec", "", "", rules)
            within = [self.get(b, k) / self.get(b, ("exec", "", "", 0)) for b in self.on
                      if self.get(b, k) and self.get(b, ("exec", "", "", 0))]
            self.absolute(f"fork+execve+wait, {rules} rules naming {rules} distinct paths", k,
                          None, f"{fmt_ratio(med(within))} of no rules" if within else "")

    def table(self):
        lines = ["| case | on | off | ratio (min–max) | target | |",
                 "| --- | --- | --- | --- | --- | --- |"]
        for r in self.rows:
            if not r["pairs"]:
                continue
            case = r["case"] + (f" ({r['note']})" if r["note"] else "")
            lines.append(f"| {case} | {fmt_time(r['on_ns'])} | {fmt_time(r['off_ns'])} | "
                         f"{fmt_ratio(r['ratio'], r['ratio_min'], r['ratio_max'])} | "
                         f"{r['target_text']} | {r['result']} |")
        return "\n".join(lines)

    def plot_data(self):
        """Medians over the "on" boots against the rule count, for gnuplot."""
        def v(k, div):
            x = med(self.values(self.on, k))
            return f"{x / div:.6g}" if x else "NaN"
        out = ["# rules owner_tcp_us owner_udp_us exec_us load_sorted_ms "
               "load_shuffled_ms read_ms"]
        for n in sorted(set(RULES_OWNER + RULES_LOAD + RULES_EXEC)):
            out.append(" ".join([str(n), v(("owner_bind", "tcp", "", n), 1e3),
                                 v(("owner_bind", "udp", "", n), 1e3),
                                 v(("exec", "", "", n), 1e3),
                                 v(("load", "", "sorted", n), 1e6),
                                 v(("load", "", "shuffled", n), 1e6),
                                 v(("read", "", "", n), 1e6)]))
        refs = {"base_us": med(self.values(self.on, ("owner_bind", "tcp", "", 1), "base")),
                "exec0_us": med(self.values(self.on, ("exec", "", "", 0)))}
        return "\n".join(out) + "\n", {k: (x / 1e3 if x else 0) for k, x in refs.items()}


def host_cpu():
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out")
    ap.add_argument("--wall", type=int, help="seconds the run took, without lock waits")
    ap.add_argument("--lock-wait", type=int, default=0, help="seconds spent waiting for KPR_LOCK")
    ap.add_argument("--tsc-mhz", type=float)
    ap.add_argument("--clock", default="tsc", choices=["tsc", "icount"],
                    help="what the guest's TSC counted (bench.sh BENCH_CLOCK)")
    ap.add_argument("--git", default="unknown")
    ap.add_argument("--date", help="when the run started (default: now)")
    ap.add_argument("--check", metavar="FILE")
    ap.add_argument("boots", nargs="*")
    a = ap.parse_args()
    if a.check:
        return 0 if check_output(a.check) else 1
    if not a.out or not a.boots:
        ap.error("need --out and at least one boot file")

    boots = [parse_boot(p) for p in sorted(a.boots)]
    rep = Report(boots)
    rep.build()
    first = next((b["meta"] for b in boots if b["meta"]), {})
    date = a.date or datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    meta = {
        "date": date, "git": a.git, "kernel": first.get("kernel"),
        "kernel_build": first.get("kernel_build"), "accel": first.get("hypervisor"),
        "host_cpu": host_cpu(), "host_cpus": os.cpu_count(),
        "guest_cpu": first.get("cpu"), "guest_cpus": first.get("ncpu"),
        "tsc_mhz": a.tsc_mhz, "clock": a.clock, "pairs": len(rep.pairs), "boots": len(boots),
        "scale": first.get("scale"), "wall_s": a.wall, "lock_wait_s": a.lock_wait,
        "lsm_on": next((b["meta"]["lsm"] for b in rep.on if b["meta"]), None),
        "lsm_off": next((b["meta"]["lsm"] for b in rep.off if b["meta"]), None),
    }
    errors = [dict(e, boot=b["file"]) for b in boots for e in b["errors"]]
    errors += [{"boot": b["file"], "case": "boot", "msg": f"exit status {b['exit']}"}
               for b in boots if b["exit"] != 0 and not b["errors"]]
    with open(os.path.join(a.out, "results.json"), "w", encoding="utf-8") as f:
        json.dump({"meta": meta, "table": rep.rows, "errors": errors, "boots": boots},
                  f, indent=1)
        f.write("\n")

    head = (f"kportreserve benchmark, {date}: kernel {meta['kernel']} ({a.git}), "
            f"{meta['accel']} on {meta['host_cpu']} ({meta['host_cpus']} CPUs), "
            f"{len(rep.pairs)} on/off boot pairs, scale {meta['scale']}"
            + (", clock: icount (virtual time, 1 ns per guest instruction)"
               if a.clock == "icount" else ", clock: the host's TSC (wall time)")
            + (f", {a.wall // 60} min {a.wall % 60} s" if a.wall is not None else "")
            + (f" (and {a.lock_wait} s waiting for the lock)" if a.lock_wait else ""))
    table = rep.table()
    with open(os.path.join(a.out, "table.md"), "w", encoding="utf-8") as f:
        f.write(head + "\n\n" + table + "\n")
    print(head + "\n\n" + table)
    busy = [f"{b['file']} ({b['host_load']:.1f})" for b in boots
            if b["host_load"] is not None and b["host_load"] > HOST_LOAD_WARN]
    if busy:
        print("\nWARNING: the host was busy (load average above "
              f"{HOST_LOAD_WARN}) after {', '.join(busy)}: those boots may be slower.")
    for e in errors:
        print(f"ERROR {e['boot']}: {e.get('case')}: {e.get('msg')}")

    data, refs = rep.plot_data()
    dat = os.path.join(a.out, "cost-vs-rules.dat")
    with open(dat, "w", encoding="utf-8") as f:
        f.write(data)
    if all(f == "NaN" for line in data.splitlines()[1:] for f in line.split()[1:]):
        print("no results that depend on the rule count: no plot")
    elif shutil.which("gnuplot"):
        title = (f"kportreserve, {meta['accel']}, median of {len(rep.on)} boots, "
                 f"{date[:10]}, {a.git}")
        gp = os.path.join(os.path.dirname(os.path.abspath(__file__)), "cost-vs-rules.gp")
        svg = os.path.join(a.out, "cost-vs-rules.svg")
        subprocess.run(["gnuplot", "-e", f"data='{dat}'; out='{svg}'; heading='{title}'; "
                        f"base_us={refs['base_us']}; exec0_us={refs['exec0_us']}", gp],
                       check=True)
        print(f"plot: {svg}")
    else:
        print("gnuplot not found: no plot (make setup installs gnuplot-nox)")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
