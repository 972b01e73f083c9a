#!/usr/bin/env bash
# Benchmark for `hostperf probe` against `curl -w` (a benchmark, not a test).
#
# Starts nginx in the foreground from a temporary prefix (free high ports on 127.0.0.1, a CA
# and certificate made with openssl; the system's nginx config is never used), then for each
# of https (TLS 1.3, ALPN picks h2 for both tools) and plain http/1.1:
#   - curl: RUNS separate runs, one request each, its cumulative -w stamps turned into phases
#     (connect = time_connect - time_namelookup, tls = time_appconnect - time_connect,
#      processing = time_starttransfer - time_appconnect (time_connect for http: curl stamps
#      time_pretransfer after writing the request), transfer = time_total - time_starttransfer)
#   - hostperf probe -n RUNS --connections new: one process, RUNS requests on new connections
#   - curl warm: one curl process making RUNS new connections (Connection: close, no TLS
#     session reuse), so OpenSSL's one-time setup is not in its tls phase
# on loopback and through a relay that delays every chunk DELAY_MS (default 5) each way, and
# prints the medians side by side with the ratios; then the peak RSS of
# `hostperf probe -n RUNS` (both series) from /usr/bin/time -v, and the wall time of one
# process doing one request, each tool.
#
# The body is BODY_KIB (default 1024) KiB of zeros, so transfer is measured too.
#
# Usage: bench/probe.sh            (RUNS=50 by default; builds --release)
# Needs: nginx, openssl, curl, python3, /usr/bin/time (apt-get install -y nginx curl time).
set -euo pipefail

cd "$(dirname "$0")/.."
RUNS="${RUNS:-50}"
for tool in openssl curl python3; do
    command -v "$tool" >/dev/null || { echo "missing: $tool" >&2; exit 2; }
done
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$NGINX" ] || { echo "missing: nginx (apt-get install -y nginx)" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "missing: /usr/bin/time (apt-get install -y time)" >&2; exit 2; }
cargo build --release --quiet
BIN="$PWD/target/release/hostperf"

DIR=$(mktemp -d)
NGINX_PID=
cleanup() {
    if [ -n "$NGINX_PID" ]; then kill "$NGINX_PID" 2>/dev/null || true; wait "$NGINX_PID" 2>/dev/null || true; fi
    rm -rf "$DIR"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
TLS_PORT=$(free_port)
HTTP_PORT=$(free_port)

# A CA and a leaf for localhost (rustls refuses a CA certificate used as a server's).
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=bench-ca \
    -keyout "$DIR/ca.key" -out "$DIR/ca.crt" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=localhost \
    -keyout "$DIR/leaf.key" -out "$DIR/leaf.csr" 2>/dev/null
printf 'subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\n' >"$DIR/ext"
openssl x509 -req -in "$DIR/leaf.csr" -CA "$DIR/ca.crt" -CAkey "$DIR/ca.key" -CAcreateserial \
    -days 2 -extfile "$DIR/ext" -out "$DIR/leaf.crt" 2>/dev/null

mkdir -p "$DIR/tmp" "$DIR/www"
# A body big enough that its transfer is measured, not the tools' bookkeeping.
BODY_KIB="${BODY_KIB:-1024}"
head -c "$((BODY_KIB * 1024))" /dev/zero >"$DIR/www/index.html"
cat >"$DIR/nginx.conf" <<EOF
daemon off;
master_process off;
pid $DIR/nginx.pid;
error_log $DIR/error.log warn;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path $DIR/tmp; proxy_temp_path $DIR/tmp; fastcgi_temp_path $DIR/tmp;
  uwsgi_temp_path $DIR/tmp; scgi_temp_path $DIR/tmp;
  server {
    listen 127.0.0.1:$TLS_PORT ssl http2;
    ssl_certificate $DIR/leaf.crt; ssl_certificate_key $DIR/leaf.key;
    ssl_protocols TLSv1.3;
    root $DIR/www;
  }
  server {
    listen 127.0.0.1:$HTTP_PORT;
    root $DIR/www;
  }
}
EOF
"$NGINX" -p "$DIR" -c "$DIR/nginx.conf" -e "$DIR/error.log" &
NGINX_PID=$!
for _ in $(seq 100); do
    curl -s -o /dev/null "http://127.0.0.1:$HTTP_PORT/" && break
    sleep 0.05
done

# A relay that holds every chunk DELAY_MS before passing it on, both ways: a path with a
# round trip of 2 x DELAY_MS (this kernel has no netem, and tbf lets small packets through
# at once). Connect is to the relay, so it stays a loopback connect.
RELAY_PORT=$(free_port)
DELAY_MS="${DELAY_MS:-5}"
python3 - "$RELAY_PORT" "$TLS_PORT" "$DELAY_MS" <<'PY' &
import asyncio, sys
listen, upstream, delay = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]) / 1000
async def pipe(reader, writer):
    loop = asyncio.get_running_loop()
    queue = asyncio.Queue()
    async def send():
        while True:
            due, data = await queue.get()
            await asyncio.sleep(max(0, due - loop.time()))
            if not data:
                writer.close()
                return
            writer.write(data)
            await writer.drain()
    task = asyncio.create_task(send())
    while True:
        data = await reader.read(65536)
        await queue.put((loop.time() + delay, data))
        if not data:
            break
    await task
async def handle(cr, cw):
    ur, uw = await asyncio.open_connection("127.0.0.1", upstream)
    await asyncio.gather(pipe(cr, uw), pipe(ur, cw), return_exceptions=True)
async def main():
    server = await asyncio.start_server(handle, "127.0.0.1", listen)
    async with server:
        await server.serve_forever()
asyncio.run(main())
PY
RELAY_PID=$!
trap 'kill $RELAY_PID 2>/dev/null || true; cleanup' EXIT
sleep 0.5

CURL_W='%{time_namelookup} %{time_connect} %{time_appconnect} %{time_pretransfer} %{time_starttransfer} %{time_total} %{num_connects}\n'
compare() { # NAME URL CURL_AND_PROBE_ARGS...
    local name=$1 url=$2
    shift 2
    local resolve="localhost:${url##*:}"; resolve="${resolve%/}:127.0.0.1"
    # curl as an operator runs it: one process per request (OpenSSL set up each time).
    : >"$DIR/curl-cold.txt"
    for _ in $(seq "$RUNS"); do
        curl -s -o /dev/null --cacert "$DIR/ca.crt" --resolve "$resolve" "$@" -w "$CURL_W" \
            "$url" >>"$DIR/curl-cold.txt"
    done
    # curl warm: one process, RUNS new connections (Connection: close, no TLS session reuse).
    local args=()
    for _ in $(seq "$RUNS"); do args+=(-o /dev/null "$url"); done
    curl -s --cacert "$DIR/ca.crt" --resolve "$resolve" --no-sessionid -H 'Connection: close' \
        "$@" -w "$CURL_W" "${args[@]}" >"$DIR/curl-warm.txt"
    "$BIN" probe "$url" -n "$RUNS" --connections new --cacert "$DIR/ca.crt" --resolve "$resolve" \
        "$@" -o json >"$DIR/probe.json"
    python3 - "$name" "$DIR/curl-cold.txt" "$DIR/curl-warm.txt" "$DIR/probe.json" <<'PY'
import json, statistics, sys
name, cold_file, warm_file, probe_file = sys.argv[1:]
def curl_phases(path):
    out = {"connect": [], "tls": [], "processing": [], "transfer": [], "total": []}
    for line in open(path):
        if not line.strip():
            continue
        dns, conn, app, pre, start, total, connects = map(float, line.split())
        assert connects == 1, "curl reused a connection"
        out["connect"].append(conn - dns)
        if app > 0:
            out["tls"].append(app - conn)
        # curl stamps time_pretransfer after it has written the request, so the round trip
        # and the server's time lie before it: processing runs from the end of the handshake.
        out["processing"].append(start - (app if app > 0 else conn))
        out["transfer"].append(total - start)
        out["total"].append(total)
    return {k: statistics.median(v) * 1000 for k, v in out.items() if v}
cold, warm = curl_phases(cold_file), curl_phases(warm_file)
report = json.load(open(probe_file))["targets"][0]
phases = report["series"][0]["phases"]
print(f"== {name}: medians of {phases['total']['samples']} new-connection requests, ms ({report.get('http_version')})")
print(f"{'phase':<11} {'curl cold':>10} {'curl warm':>10} {'probe':>9} {'probe/warm':>11} {'probe/cold':>11}")
for phase in ["connect", "tls", "processing", "transfer", "total"]:
    if phase not in warm or phase not in phases:
        continue
    p = phases[phase]["p50"] * 1000
    ratio = lambda c: p / c if c > 0 else float("nan")
    print(f"{phase:<11} {cold[phase]:10.3f} {warm[phase]:10.3f} {p:9.3f} {ratio(warm[phase]):11.2f} {ratio(cold[phase]):11.2f}")
PY
}

compare "https TLS 1.3, HTTP/1.1, loopback" "https://localhost:$TLS_PORT/" --http1.1
compare "http/1.1, loopback" "http://localhost:$HTTP_PORT/" --http1.1
compare "https TLS 1.3, HTTP/1.1, ${DELAY_MS} ms each way (relay)" "https://localhost:$RELAY_PORT/" --http1.1

echo "== peak memory: hostperf probe -n $RUNS (new and kept-alive series), https"
/usr/bin/time -v "$BIN" probe "https://localhost:$TLS_PORT/" -n "$RUNS" --cacert "$DIR/ca.crt" \
    --resolve "localhost:$TLS_PORT:127.0.0.1" -o json 2>"$DIR/time.txt" >/dev/null
awk -F': ' '/Maximum resident set size/ { printf "hostperf probe: %.1f MiB\n", $2 / 1024 }' "$DIR/time.txt"
/usr/bin/time -v curl -s -o /dev/null --cacert "$DIR/ca.crt" --resolve "localhost:$TLS_PORT:127.0.0.1" \
    "https://localhost:$TLS_PORT/" 2>"$DIR/time.txt"
awk -F': ' '/Maximum resident set size/ { printf "curl (one request): %.1f MiB\n", $2 / 1024 }' "$DIR/time.txt"

echo "== wall time of one process doing one new-connection request, median of $RUNS, ms"
python3 - "$BIN" "$DIR" "$TLS_PORT" "$RUNS" <<'PY'
import statistics, subprocess, sys, time
bin, d, port, runs = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
url = f"https://localhost:{port}/"
res = f"localhost:{port}:127.0.0.1"
cmds = {
    "curl": ["curl", "-s", "-o", "/dev/null", "--cacert", f"{d}/ca.crt", "--resolve", res, url],
    "hostperf probe": [bin, "probe", url, "--connections", "new", "--cacert", f"{d}/ca.crt",
                       "--resolve", res, "-o", "json"],
}
for name, cmd in cmds.items():
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run(cmd, stdout=subprocess.DEVNULL, check=True)
        times.append((time.perf_counter() - t) * 1000)
    print(f"{name:<15} {statistics.median(times):8.2f}")
PY
