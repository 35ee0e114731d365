#!/usr/bin/env bash
# Bench section 6: start-up time of `mlpd serve`, from exec to the first
# 200 of GET /readyz, BENCH_STARTS times (default 5) with a fresh database
# (schema migrations run) and as many times again on the database the first
# start made (the usual restart). Prints median, min and max in ms.
#
# The clock and the polling live in one Python process (a poll every ~1 ms
# on a known free port), so no shell or curl start-up is counted.
set -u
cd "$(dirname "$0")/../.." || exit 1
. tests/bench/lib.sh
bench_init startup

echo "-- 6. start-up: exec of mlpd serve to the first successful /readyz (ms)"
$PY - "$MLPD" "$DATA_ROOT" "$BENCH_TMP" "${BENCH_STARTS:-5}" <<'PYEOF'
import http.client, os, signal, socket, statistics, subprocess, sys, time

mlpd, data_root, tmp, runs = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
# A TERM from the section's cleanup ends this script through `finally`, which
# stops the daemon it started.
signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ready(port):
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
        c.request("GET", "/readyz")
        ok = c.getresponse().status == 200
        c.close()
        return ok
    except OSError:
        return False


def start_once(db):
    """ms from exec to the first 200 of /readyz, or None."""
    port = free_port()
    t0 = time.perf_counter()
    p = subprocess.Popen([mlpd, "serve", "--bind", "127.0.0.1", "--port", str(port), "--db", db,
                          "--data-dir", data_root, "--quiet"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while time.perf_counter() - t0 < 15:
            if ready(port):
                return (time.perf_counter() - t0) * 1000
            if p.poll() is not None:
                return None
            time.sleep(0.001)
        return None
    finally:
        p.terminate()
        try:
            p.wait(5)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def report(label, times):
    ok = [t for t in times if t is not None]
    if not ok:
        print("%-34s %8s" % (label, "failed"))
        return
    print("%-34s %8.1f %8.1f %8.1f %6d/%d" % (label, statistics.median(ok), min(ok), max(ok),
                                               len(ok), len(times)))


print("%-34s %8s %8s %8s %8s" % ("", "median", "min", "max", "ok"))
fresh = [start_once(os.path.join(tmp, "fresh%d.db" % i)) for i in range(runs)]
report("fresh database (migrations run)", fresh)
report("existing database (restart)", [start_once(os.path.join(tmp, "fresh0.db"))
                                       for _ in range(runs)])
PYEOF
exit 0
