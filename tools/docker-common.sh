# docker-common.sh - what the container walkthroughs share (sourced, not run):
# tools/docker-test.sh (one daemon, docker/compose.yaml) and
# tools/docker-fleet-test.sh (the fleet, docker/compose.fleet.yaml).
#
# The sourcing script sets, before calling anything here:
#   OUT           folder for logs (made absolute by docker_common_init)
#   PROJECT       compose project name (its containers, network and volumes)
#   COMPOSE_FILE  the compose file, relative to the repository root
#   TAG           prefix of log lines ("docker-test")
# and defines cleanup(): called once by finish() before the summary; it must
# remove what the script started (stop_dockerd stops the dockerd this file
# started, if any).
# Every wait here is bounded.

BASE_IMAGE=debian:bookworm-slim
passed=0
failed=0
started_dockerd_pid=
t_start=$SECONDS

docker_common_init() {
    mkdir -p "$OUT"
    OUT=$(cd "$OUT" && pwd)
}

ok() { passed=$((passed + 1)); echo "ok   - $*"; }
bad() { failed=$((failed + 1)); echo "FAIL - $*"; }
check() { # description, command... : one test
    local what=$1; shift
    if "$@"; then ok "$what"; else bad "$what"; fi
}
log() { echo "$TAG: $*"; }

# wait_until SECONDS command... : poll once a second; 0 when command succeeded.
wait_until() {
    local limit=$1 t0=$SECONDS; shift
    while :; do
        "$@" >/dev/null 2>&1 && return 0
        [ $((SECONDS - t0)) -ge "$limit" ] && return 1
        sleep 1
    done
}

finish() { # print the summary and exit
    local rc=0
    cleanup
    log "took $((SECONDS - t_start)) s"
    echo "$passed passed, $failed failed"
    [ "$failed" -eq 0 ] || rc=1
    exit "$rc"
}

# abort MESSAGE: a step the rest depends on failed.
abort() { bad "$*"; finish; }

# ---- packages ---------------------------------------------------------------------
install_missing() {
    local p missing=()
    for p in docker.io docker-compose debootstrap curl; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' \
            || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    log "installing ${missing[*]}"
    apt-get update -qq >"$OUT/apt.log" 2>&1 \
        && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
            "${missing[@]}" >>"$OUT/apt.log" 2>&1
}

# ---- dockerd ----------------------------------------------------------------------
# start_dockerd: use the dockerd that answers, or start one (--iptables=false:
# the host firewall is left alone) and remember it for stop_dockerd.
start_dockerd() {
    if docker info >/dev/null 2>&1; then
        log "using the dockerd already running"
        return 0
    fi
    # A pid file left by a dockerd that died would stop a new one from starting.
    local pid
    pid=$(cat /var/run/docker.pid 2>/dev/null)
    if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then rm -f /var/run/docker.pid; fi
    log "starting dockerd (log: $OUT/dockerd.log)"
    dockerd --iptables=false >"$OUT/dockerd.log" 2>&1 &
    started_dockerd_pid=$!
    wait_until 60 docker info
}

stop_dockerd() {
    [ -n "$started_dockerd_pid" ] || return 0
    log "stopping dockerd (pid $started_dockerd_pid)"
    kill -TERM "$started_dockerd_pid" 2>/dev/null
    wait_until 30 bash -c "! kill -0 $started_dockerd_pid"
    kill -KILL "$started_dockerd_pid" 2>/dev/null
    wait "$started_dockerd_pid" 2>/dev/null
    started_dockerd_pid=
}

# pick_compose: COMPOSE is Compose v2 (docker compose) when present, else v1.
pick_compose() {
    if docker compose version >/dev/null 2>&1; then
        COMPOSE=(docker compose)
    else
        COMPOSE=(docker-compose)
    fi
    log "compose: ${COMPOSE[*]}"
}

# compose ARGS...: the project's compose command, bounded (COMPOSE_LIMIT seconds).
COMPOSE_LIMIT=120
compose() { timeout "$COMPOSE_LIMIT" "${COMPOSE[@]}" -p "$PROJECT" -f "$COMPOSE_FILE" "$@"; }

# ---- base image ---------------------------------------------------------------------
# apt_uri SUITE: the first archive URI this machine's apt sources use for SUITE
# (one-line sources.list / *.list, or deb822 *.sources); empty when none.
apt_uri() {
    local suite=$1 f
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -f "$f" ] || continue
        awk -v s="$suite" '
            $1 == "deb" {
                i = 2
                if ($i ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }
                if ($(i + 1) == s) { print $i; exit }
            }' "$f"
    done
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        awk -v s="$suite" '
            BEGIN { RS = ""; FS = "\n" }
            {
                types = ""; uris = ""; suites = ""; enabled = "yes"
                for (i = 1; i <= NF; i++) {
                    if ($i ~ /^[ \t]*#/) continue
                    split($i, kv, ":[ \t]*")
                    key = tolower(kv[1]); val = substr($i, length(kv[1]) + 2)
                    sub(/^[ \t]+/, "", val)
                    if (key == "types") types = val
                    else if (key == "uris") uris = val
                    else if (key == "suites") suites = val
                    else if (key == "enabled") enabled = tolower(val)
                }
                if (enabled == "no" || (" " types " ") !~ / deb /) next
                if ((" " suites " ") ~ (" " s " ")) { split(uris, u, /[ \t]+/); print u[1]; exit }
            }' "$f"
    done | head -n 1
}

# make_base_image: debian:bookworm-slim made with debootstrap from the Debian
# mirror this machine's apt uses (nothing is pulled from a registry); skipped
# when the image exists.
make_base_image() {
    if docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
        log "$BASE_IMAGE exists"
        return 0
    fi
    local mirror security dir
    mirror=$(apt_uri bookworm)
    security=$(apt_uri bookworm-security)
    if [ -z "$mirror" ]; then
        log "no apt source for bookworm found in /etc/apt"
        return 1
    fi
    dir=$(mktemp -d /var/tmp/mlpd-rootfs.XXXXXX)
    log "debootstrap minbase bookworm from $mirror (log: $OUT/debootstrap.log)"
    if ! timeout 600 debootstrap --variant=minbase bookworm "$dir" "$mirror" \
            >"$OUT/debootstrap.log" 2>&1; then
        rm -rf "$dir"
        return 1
    fi
    # The image's apt uses the same mirrors as this machine.
    rm -f "$dir/etc/apt/sources.list"
    {
        printf 'Types: deb\nURIs: %s\nSuites: bookworm bookworm-updates\n' "$mirror"
        printf 'Components: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n'
        if [ -n "$security" ]; then
            printf '\nTypes: deb\nURIs: %s\nSuites: bookworm-security\n' "$security"
            printf 'Components: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n'
        fi
    } >"$dir/etc/apt/sources.list.d/debian.sources"
    # Slim it as Debian's -slim images are: no docs, manuals or translations,
    # now or in packages installed later (copyright files are kept).
    cat >"$dir/etc/dpkg/dpkg.cfg.d/docker-slim" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
EOF
    find "$dir/usr/share/doc" -mindepth 1 ! -type d ! -name copyright -delete
    find "$dir/usr/share/doc" -mindepth 1 -type d -empty -delete
    rm -rf "$dir"/usr/share/man/* "$dir"/usr/share/groff/* "$dir"/usr/share/info/* \
        "$dir"/usr/share/lintian/* "$dir"/usr/share/locale/* \
        "$dir"/var/cache/apt/archives/*.deb "$dir"/var/cache/apt/*.bin \
        "$dir"/var/lib/apt/lists/* "$dir"/var/log/* "$dir"/var/cache/debconf/*-old
    : >"$dir/etc/resolv.conf"
    tar --numeric-owner -C "$dir" -c . \
        | docker import -c 'CMD ["bash"]' - "$BASE_IMAGE" >"$OUT/import.log" 2>&1
    local rc=$?
    rm -rf "$dir"
    return $rc
}

# extra_ca: behind a TLS-intercepting proxy between this machine and the npm
# registry, mlpd's build stage trusts the CA files this machine's node is told
# to trust (docker/extra-ca/; removed again by remove_extra_ca).
extra_ca() {
    local f n=0
    rm -f docker/extra-ca/*.crt
    for f in "${NODE_EXTRA_CA_CERTS:-}" /usr/local/share/ca-certificates/*.crt; do
        [ -f "$f" ] || continue
        n=$((n + 1))
        cp "$f" "docker/extra-ca/host-$n.crt"
    done
    log "build stage trusts $n extra CA file(s) of this machine"
}
remove_extra_ca() { rm -f docker/extra-ca/*.crt; }

# free_port: a free TCP port on the loopback.
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# ---- HTTP ---------------------------------------------------------------------------------
# http METHOD PATH [curl args...]: status code on stdout, body in $OUT/body
# ($BASE is the address; HTTP_BASE=... overrides it for one call).
http() {
    local method=$1 path=$2; shift 2
    curl -sS --max-time 20 -o "$OUT/body" -w '%{http_code}' -X "$method" "$@" \
        "${HTTP_BASE:-$BASE}$path" 2>>"$OUT/curl.log"
}
# json EXPR: evaluate a Python expression over the last body (bound to j).
json() { python3 -c 'import json,sys; j = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' \
    "$OUT/body" "$1" 2>/dev/null; }

# make_csv [ROWS]: a small learnable problem: 4 features in [0,1], label 1 when
# x0 + x1 > 1 (400 rows unless told). Fixed seed: every run gets the same rows.
make_csv() {
    awk -v n="${1:-400}" 'BEGIN { srand(7); print "label,x0,x1,x2,x3"
                 for (i = 0; i < n; i++) {
                     a = rand(); b = rand(); c = rand(); d = rand()
                     printf "%d,%.4f,%.4f,%.4f,%.4f\n", (a + b > 1), a, b, c, d } }'
}
