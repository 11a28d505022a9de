#!/usr/bin/env bash
# Proves that the Dockerfile builds and that the image runs, on a machine with no
# Docker engine and no registry access (Debian packages and PyPI reachable).
#
#   sudo scripts/docker-smoke.sh    # ~1 minute; ~2 the first time (debootstrap)
#
# What it does:
#   1. installs buildah and debootstrap if missing (Debian packages);
#   2. builds a stand-in for the Dockerfile's pinned python:*-slim-bookworm base from a
#      debootstrap'ed Debian bookworm (which ships python3.11), tagged with the base
#      image's exact name; cached under .cache/docker-smoke/ and reused next time;
#   3. builds the Dockerfile with buildah (vfs storage, chroot isolation, no pulls);
#   4. checks the image config (non-root numeric USER, HEALTHCHECK, ENTRYPOINT, ...),
#      then runs in a container: `id -u`, `watcher check`, and, through
#      scripts/docker_smoke_sim.py, `watcher once` and `watcher run` against a simulated
#      news site and webhook receiver on the host's 127.0.0.1 (chroot isolation shares
#      the host's network namespace), and the HEALTHCHECK command.
# It prints PASS/FAIL lines and exits 1 if any check failed.
#
# Environment: DOCKER_SMOKE_CACHE (default .cache/docker-smoke), DEBIAN_MIRROR,
# HOST_CA_BUNDLE (default /etc/ssl/certs/ca-certificates.crt), KEEP_CONTAINER=1.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${DOCKER_SMOKE_CACHE:-$ROOT/.cache/docker-smoke}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
HOST_CA_BUNDLE=${HOST_CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}
IMAGE=localhost/watcher:smoke
CONTAINER=watcher-smoke
# What python:*-slim-bookworm offers the Dockerfile: python with venv and pip,
# CA certificates (update-ca-certificates), netbase, tzdata.
SUITE=bookworm
STAND_IN_PACKAGES=python3,python3-venv,python3-pip,ca-certificates,netbase,tzdata
# Bump the leading number when make_rootfs_tarball changes: the cached rootfs and image
# are keyed by this recipe.
STAND_IN_RECIPE="1 $SUITE $STAND_IN_PACKAGES"

failures=0
HEALTHCHECK_TEST=null # the image's HEALTHCHECK command, as JSON (set by check_config)

say() { printf '\n== %s\n' "$*"; }
pass() { printf 'PASS %s\n' "$*"; }
fail() {
    printf 'FAIL %s\n' "$*"
    failures=$((failures + 1))
}
die() {
    printf 'FAIL %s\n' "$*" >&2
    exit 1
}

# buildah with its storage under the cache directory: nothing lands in
# /var/lib/containers, and `rm -rf .cache/docker-smoke` resets everything.
BUILDAH=(buildah --root "$CACHE/storage" --runroot "$CACHE/run" --storage-driver vfs)
bah() {
    "${BUILDAH[@]}" "$@"
}

require_tools() {
    [[ $(id -u) -eq 0 ]] || die "run as root (buildah with chroot isolation and debootstrap need it)"
    local missing=()
    command -v buildah > /dev/null || missing+=(buildah)
    command -v debootstrap > /dev/null || missing+=(debootstrap)
    if ((${#missing[@]})); then
        say "installing ${missing[*]}"
        DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}" \
            || die "could not install ${missing[*]} (apt-get update first?)"
    fi
    python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2> /dev/null \
        || die "python3 >= 3.11 is needed on the host for the simulated site (tests/sim.py)"
    buildah --version
}

# The base image named by the Dockerfile's first FROM, e.g. python:3.11.17-slim-bookworm.
base_image() {
    awk 'toupper($1) == "FROM" { print $2; exit }' "$ROOT/Dockerfile"
}

recipe_key() {
    printf '%s' "$STAND_IN_RECIPE" | sha256sum | cut -c1-12
}

# A bookworm rootfs shaped like the official python slim image: python, python3 and pip
# on /usr/local/bin, and no PEP 668 marker (the official image has none).
make_rootfs_tarball() {
    local tarball=$1 dir="$CACHE/rootfs.tmp"
    say "debootstrap $SUITE with $STAND_IN_PACKAGES (about a minute, cached afterwards)"
    rm -rf "$dir"
    debootstrap --variant=minbase --include="$STAND_IN_PACKAGES" "$SUITE" "$dir" "$MIRROR" \
        > "$CACHE/debootstrap.log" 2>&1 || die "debootstrap failed; see $CACHE/debootstrap.log"
    ln -sf /usr/bin/python3 "$dir/usr/local/bin/python3"
    ln -sf /usr/bin/python3 "$dir/usr/local/bin/python"
    ln -sf /usr/bin/pip3 "$dir/usr/local/bin/pip3"
    ln -sf /usr/bin/pip3 "$dir/usr/local/bin/pip"
    rm -f "$dir"/usr/lib/python3.*/EXTERNALLY-MANAGED
    # As the official images do: no apt lists or package caches in the image. The
    # host's resolv.conf is not ours to ship (buildah provides one at run time).
    rm -rf "$dir"/var/lib/apt/lists/* "$dir"/var/cache/apt/*.bin "$dir"/var/cache/apt/archives/*.deb
    : > "$dir/etc/resolv.conf"
    tar -C "$dir" --numeric-owner --exclude='./dev/*' -cf "$tarball.tmp" .
    mv "$tarball.tmp" "$tarball"
    rm -rf "$dir"
}

stand_in_base() {
    local base=$1 key tarball ctr mnt
    key=$(recipe_key)
    tarball="$CACHE/rootfs-$SUITE-$key.tar"
    if [[ $(image_config "$base" Labels) == *"\"smoke.recipe\":\"$key\""* ]]; then
        say "stand-in base $base: cached (recipe $key)"
        return
    fi
    [[ -f $tarball ]] || make_rootfs_tarball "$tarball"
    say "importing $tarball as $base"
    ctr=$(bah from --name smoke-stand-in scratch)
    mnt=$(bah mount "$ctr")
    tar -C "$mnt" --numeric-owner -xpf "$tarball"
    bah umount "$ctr" > /dev/null
    bah config \
        --env PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin \
        --env LANG=C.UTF-8 \
        --cmd python3 \
        --label smoke.recipe="$key" \
        --label smoke.note="stand-in for $base built by scripts/docker-smoke.sh" \
        "$ctr"
    bah commit --quiet --rm --format docker "$ctr" "$base" > /dev/null
    bah inspect --type image "$base" > /dev/null || die "stand-in base $base not found after commit"
    pass "stand-in base image tagged $base"
}

# pip in the build trusts what certifi trusts. Behind a TLS-intercepting proxy it also
# needs the host's CAs, passed as PEM text in PIP_CERT_BUNDLE. A whole bundle (~200 KB)
# is larger than one command-line argument may be (128 KiB on Linux), so pass the
# certificates of the host bundle that the stand-in's own Debian bundle lacks.
extra_ca_certs() {
    local base=$1 ctr stock
    stock=$(mktemp)
    ctr=$(bah from --pull=never "$base")
    cp "$(bah mount "$ctr")/etc/ssl/certs/ca-certificates.crt" "$stock"
    bah rm "$ctr" > /dev/null
    python3 - "$HOST_CA_BUNDLE" "$stock" << 'EOF'
import re, sys
def certs(path):
    text = open(path, encoding="ascii", errors="replace").read()
    return re.findall(r"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", text, re.S)
stock = {"".join(c.split()) for c in certs(sys.argv[2])}
print("\n".join(c for c in certs(sys.argv[1]) if "".join(c.split()) not in stock))
EOF
    rm -f "$stock"
}

build_image() {
    local base=$1 extra build_args=()
    if [[ -f $HOST_CA_BUNDLE ]]; then
        extra=$(extra_ca_certs "$base")
        if [[ -n $extra ]]; then
            echo "passing $(grep -c 'BEGIN CERTIFICATE' <<< "$extra") host CA certificate(s) not in Debian's bundle as PIP_CERT_BUNDLE"
            build_args+=(--build-arg "PIP_CERT_BUNDLE=$extra")
        fi
    fi
    say "buildah bud -t $IMAGE (chroot isolation, vfs, --pull=never)"
    local started=$SECONDS
    # --format docker keeps HEALTHCHECK, which the OCI image format has no field for.
    if bah bud --isolation chroot --pull=never --format docker "${build_args[@]}" \
        -t "$IMAGE" "$ROOT"; then
        pass "image built in $((SECONDS - started))s: $IMAGE ($(bah images --format '{{.Size}}' "$IMAGE"))"
        bah rmi --prune > /dev/null 2>&1 || true # the previous run's image, now untagged
    else
        die "buildah bud failed"
    fi
}

# image_config IMAGE FIELD: one field of an image's Docker config, as compact JSON
# ("null" if absent). buildah 1.28's --format has no json function, hence python.
image_config() {
    { bah inspect --type image "$1" 2> /dev/null || true; } | python3 -c '
import json, sys
text = sys.stdin.read()  # empty when there is no such image
config = json.loads(text)["Docker"]["config"] if text.strip() else {}
print(json.dumps(config.get(sys.argv[1]), separators=(",", ":")))' "$2"
}

inspect() {
    image_config "$IMAGE" "$1"
}

expect() {
    local what=$1 got=$2 want=$3
    if [[ $got == "$want" ]]; then pass "$what: $got"; else fail "$what: got $got, want $want"; fi
}

check_config() {
    say "image configuration"
    expect "USER" "$(inspect User)" '"10001:10001"'
    expect "ENTRYPOINT" "$(inspect Entrypoint)" '["watcher"]'
    expect "CMD" "$(inspect Cmd)" '["run"]'
    expect "WORKDIR" "$(inspect WorkingDir)" '"/app"'
    expect "VOLUME" "$(inspect Volumes)" '{"/app/state":{}}'
    expect "EXPOSE" "$(inspect ExposedPorts)" '{"8080/tcp":{}}'
    local env
    env=$(inspect Env)
    for want in WATCHER_CONFIG=/app/sources.yaml WATCHER_STATE=/app/state PYTHONUNBUFFERED=1; do
        if [[ $env == *"\"$want\""* ]]; then pass "ENV $want"; else fail "ENV $want missing: $env"; fi
    done
    HEALTHCHECK_TEST=$(python3 -c \
        'import json, sys; print(json.dumps((json.loads(sys.argv[1]) or {}).get("Test")))' \
        "$(inspect Healthcheck)")
    if [[ $HEALTHCHECK_TEST == *"/healthz"* ]]; then
        pass "HEALTHCHECK probes /healthz"
    else
        fail "HEALTHCHECK: $(inspect Healthcheck)"
    fi
}

cleanup() {
    if [[ ${KEEP_CONTAINER:-} != 1 ]]; then
        bah rm "$CONTAINER" > /dev/null 2>&1 || true
    fi
    if [[ -n ${WORK:-} ]]; then rm -rf "$WORK"; fi
}

run_container() {
    say "running the image"
    bah rm "$CONTAINER" > /dev/null 2>&1 || true
    bah from --pull=never --name "$CONTAINER" "$IMAGE" > /dev/null
    trap cleanup EXIT
    WORK=$(mktemp -d)
    local run=(bah run --isolation chroot)

    local uid
    uid=$("${run[@]}" "$CONTAINER" -- id -u)
    if [[ $uid =~ ^[0-9]+$ && $uid -ne 0 ]]; then
        pass "process runs as non-root uid $uid"
    else
        fail "process uid is '$uid'"
    fi
    expect "uid is the image's USER" "$uid" 10001

    # chroot isolation creates no network namespace: 127.0.0.1 inside is the host's.
    expect "network namespace is the host's" \
        "$("${run[@]}" "$CONTAINER" -- readlink /proc/self/ns/net)" "$(readlink /proc/self/ns/net)"

    local out
    if out=$("${run[@]}" "$CONTAINER" -- watcher check 2>&1); then
        pass "watcher check on the shipped /app/sources.yaml"
        sed -n '1,2p' <<< "$out" | sed 's/^/    /'
    else
        fail "watcher check: $out"
    fi

    # The simulated site writes its config to $WORK/sources.yaml, mounted read-only
    # over the shipped /app/sources.yaml as compose.yaml does; state stays in /app/state.
    say "watcher once / run against a simulated site and webhook receiver on 127.0.0.1"
    touch "$WORK/sources.yaml"
    (cd "$ROOT" && PYTHONPATH="$ROOT" python3 scripts/docker_smoke_sim.py "$WORK" \
        --healthcheck "$HEALTHCHECK_TEST" -- \
        "${BUILDAH[@]}" run --isolation chroot -v "$WORK/sources.yaml:/app/sources.yaml:ro" "$CONTAINER" --) \
        || failures=$((failures + 1))
}

main() {
    cd "$ROOT"
    require_tools
    mkdir -p "$CACHE"
    local base
    base=$(base_image)
    [[ -n $base ]] || die "no FROM line in Dockerfile"
    stand_in_base "$base"
    build_image "$base"
    check_config
    run_container
    echo
    if ((failures)); then
        echo "FAIL docker smoke: $failures check(s) failed"
        exit 1
    fi
    echo "PASS docker smoke: the image builds and runs"
}

main "$@"
