#!/usr/bin/env bash
# Builds the shipsync container image with podman from deploy/Dockerfile, with no registry: the
# static binary is built here and copied, with the host's CA bundle, into a FROM scratch image.
#   bash deploy/build-image.sh [TAG]     (default localhost/shipsync:latest; GO=go, PODMAN=podman)
# Prints the image ID on stdout. Run from anywhere; needs podman (deploy/install-tools.sh) and
# Debian's ca-certificates.
set -euo pipefail

tag=${1:-localhost/shipsync:latest}
go=${GO:-go}
podman=${PODMAN:-podman}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cabundle=/etc/ssl/certs/ca-certificates.crt

die() {
	printf 'build-image: error: %s\n' "$*" >&2
	exit 1
}
command -v "$podman" >/dev/null 2>&1 || die "podman not found: bash deploy/install-tools.sh (as root) installs it"
[[ -s $cabundle ]] || die "no CA bundle at $cabundle: apt-get install ca-certificates"

ctx=$(mktemp -d "${TMPDIR:-/tmp}/shipsync-image.XXXXXX")
trap 'rm -rf "$ctx"' EXIT
(cd "$root" && CGO_ENABLED=0 GOOS=linux "$go" build -trimpath -ldflags '-s -w' -o "$ctx/shipsync" ./cmd/shipsync)
cp "$cabundle" "$ctx/ca-certificates.crt"
chmod 0755 "$ctx/shipsync"
chmod 0644 "$ctx/ca-certificates.crt"
"$podman" build --quiet --pull=never -f "$root/deploy/Dockerfile" -t "$tag" "$ctx"
