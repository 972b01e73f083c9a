#!/usr/bin/env bash
# Evidence for the built-in profiles: every scenario with each whole profile, then each
# per-namespace key of each profile alone (--key) in the scenarios that exercise it. Writes
# docs/bench-results.json (read by scripts/profiles-doc.py) and the latency-profile plots in
# docs/bench/. Figures hold for the machine this runs on.
#
# Usage: bench/profile-evidence.sh [SECONDS] [OUT.json] [PLOT_DIR]   (root)
set -euo pipefail
secs=${1:-5}
here=$(cd "$(dirname "$0")/.." && pwd)
out=${2:-$here/docs/bench-results.json}
plots=${3:-$here/docs/bench}
bin=$here/target/release/hostperf
(cd "$here" && cargo build --release --quiet)
export HOSTPERF_PROFILE_DIR=/nonexistent NO_COLOR=1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

for profile in latency-profile throughput-profile; do
    plot=()
    [[ $profile == latency-profile ]] && plot=(--plot "$plots")
    echo "== $profile: every scenario" >&2
    "$bin" bench "$profile" --duration "$secs" "${plot[@]}" --output "json=$work/$profile.json" >/dev/null || true
    # Each in-effect key alone, in the scenarios that exercise it.
    python3 - "$work/$profile.json" >"$work/$profile.keys" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
keys = {s["key"] for s in r["settings"] if s["reach"] in ("in-effect", "emulated")}
scen = {
    "port-exhaustion": ["net.ipv4.ip_local_port_range", "net.ipv4.tcp_tw_reuse", "net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_max_tw_buckets"],
    "accept-burst": ["net.core.somaxconn", "net.ipv4.tcp_max_syn_backlog", "net.ipv4.tcp_syncookies"],
    "bufferbloat": ["net.ipv4.tcp_congestion_control", "net.ipv4.tcp_notsent_lowat", "net.ipv4.tcp_rmem", "net.ipv4.tcp_wmem", "net.ipv4.tcp_slow_start_after_idle"],
    "keepalive": ["net.ipv4.tcp_slow_start_after_idle", "net.ipv4.tcp_fastopen", "net.ipv4.tcp_tw_reuse", "net.ipv4.ip_local_port_range", "net.ipv4.tcp_fin_timeout"],
    "busy-poll": ["net.core.busy_read", "net.core.busy_poll"],
}
for s, ks in scen.items():
    for k in ks:
        if k in keys:
            print(k, s)
EOF
    while read -r key scenario; do
        echo "== $profile: $key alone in $scenario" >&2
        "$bin" bench "$profile" --key "$key" --scenario "$scenario" --duration "$secs" \
            --output "json=$work/$profile--$key--$scenario.json" >/dev/null || true
    done <"$work/$profile.keys"
    # A key that made an arm worse is run twice more; it counts as worse only when most
    # runs agree (single runs on a shared machine are noisy).
    for again in 2 3; do
        python3 - "$work" "$profile" <<'EOF2' | while read -r key scenario; do
import glob, json, os, sys
work, profile = sys.argv[1], sys.argv[2]
for f in sorted(glob.glob(os.path.join(work, profile + "--*--*.json"))):
    parts = os.path.basename(f)[:-5].split("--")
    if len(parts) != 3:
        continue
    r = json.load(open(f))
    for s in r["scenarios"]:
        for a in s["arms"]:
            b, p = a.get("baseline"), a.get("profile")
            if not (b and p):
                continue
            lb = (b.get("latency_ms") or {}).get("p99") or 0
            lp = (p.get("latency_ms") or {}).get("p99") or 0
            eb = sum(v for v in b["errors"].values() if isinstance(v, int))
            ep = sum(v for v in p["errors"].values() if isinstance(v, int))
            if (lp > lb * 1.5 and lp - lb > 2) or ep > eb * 1.1 + 5 or p["achieved_rps"] < b["achieved_rps"] * 0.9:
                print(parts[1], parts[2])
                break
EOF2
            echo "== $profile: $key alone in $scenario, run $again" >&2
            "$bin" bench "$profile" --key "$key" --scenario "$scenario" --duration "$secs" \
                --output "json=$work/$profile--$key--$scenario--$again.json" >/dev/null || true
        done
    done
done

python3 - "$work" "$out" "$secs" <<'EOF'
import glob, json, os, sys
work, out, secs = sys.argv[1], sys.argv[2], float(sys.argv[3])

def lat(run, q):
    return (run.get("latency_ms") or {}).get(q)

def verdict(b, p):
    """Worse/better by p99, errors and achieved req/s of one arm (single runs: small
    differences are noise and count as no clear change)."""
    worse, better = [], []
    eb, ep = b["errors"], p["errors"]
    tb = sum(v for k, v in eb.items() if isinstance(v, int))
    tp = sum(v for k, v in ep.items() if isinstance(v, int))
    if tp > tb * 1.1 + 5: worse.append(f"errors {tb} -> {tp}")
    if tb > tp * 1.1 + 5: better.append(f"errors {tb} -> {tp}")
    a, c = b["achieved_rps"], p["achieved_rps"]
    if c < a * 0.9: worse.append(f"req/s {a:.0f} -> {c:.0f}")
    if c > a * 1.1: better.append(f"req/s {a:.0f} -> {c:.0f}")
    x, y = lat(b, "p99"), lat(p, "p99")
    if x is not None and y is not None:
        if y > x * 1.5 and y - x > 2: worse.append(f"p99 {x:.2f} -> {y:.2f} ms")
        if x > y * 1.5 and x - y > 2: better.append(f"p99 {x:.2f} -> {y:.2f} ms")
    if b.get("bulk_mbit") and p.get("bulk_mbit"):
        if p["bulk_mbit"] < b["bulk_mbit"] * 0.9: worse.append(f"bulk {b['bulk_mbit']:.1f} -> {p['bulk_mbit']:.1f} Mbit/s")
    return ("worse" if worse and not better else "better" if better and not worse
            else "mixed" if worse else "no clear change"), worse + better

result = {"generated_by": "bench/profile-evidence.sh", "duration_s": secs, "profiles": {}, "keys": {}}
for profile in ("latency-profile", "throughput-profile"):
    path = os.path.join(work, profile + ".json")
    if not os.path.exists(path):
        continue
    full = json.load(open(path))
    result["machine"] = full["machine"]
    for s in full["scenarios"]:
        for arm in s["arms"]:
            for run in ("baseline", "profile"):
                if arm.get(run):
                    arm[run].pop("curve", None)
    result["profiles"][profile] = full
    keys = {}
    for row in full["settings"]:
        keys[row["key"]] = {"value": row["value"], "reach": row["reach"], "note": row["note"], "measured": []}
    for f in sorted(glob.glob(os.path.join(work, profile + "--*.json"))):
        parts = os.path.basename(f)[:-5].split("--")
        key, scenario = parts[1], parts[2]
        repeat = int(parts[3]) if len(parts) > 3 else 1
        r = json.load(open(f))
        for s in r["scenarios"]:
            if s["status"]["status"] != "done":
                keys[key]["measured"].append({"scenario": scenario, "status": s["status"]})
                continue
            for arm in s["arms"]:
                b, p = arm.get("baseline"), arm.get("profile")
                if not (b and p):
                    continue
                v, why = verdict(b, p)
                keys[key]["measured"].append({
                    "scenario": scenario, "arm": arm["name"], "run": repeat, "verdict": v, "why": why,
                    "p99_ms": [lat(b, "p99"), lat(p, "p99")],
                    "p50_ms": [lat(b, "p50"), lat(p, "p50")],
                    "achieved_rps": [round(b["achieved_rps"], 1), round(p["achieved_rps"], 1)],
                    "errors": [sum(x for x in b["errors"].values() if isinstance(x, int)),
                               sum(x for x in p["errors"].values() if isinstance(x, int))],
                    "server_cpu_us_per_request": [b["cpu"]["server_us_per_request"], p["cpu"]["server_us_per_request"]],
                })
    # Per key, scenario and arm: worse or better only when most of its runs say so.
    for k in keys.values():
        groups = {}
        for m in k["measured"]:
            if "verdict" in m:
                groups.setdefault((m["scenario"], m["arm"]), []).append(m["verdict"])
        k["verdicts"] = {}
        for (scenario, arm), vs in sorted(groups.items()):
            top = max(set(vs), key=vs.count)
            final = top if vs.count(top) * 2 > len(vs) else "no clear change"
            k["verdicts"][f"{scenario}/{arm}"] = {"verdict": final, "runs": vs}
    result["keys"][profile] = keys
with open(out, "w") as fh:
    json.dump(result, fh, indent=1)
    fh.write("\n")
print(f"wrote {out}", file=sys.stderr)
EOF
