#!/usr/bin/env bash
# Installs the external tools some tests need, with apt-get, when they are missing:
#   promtool  (Debian package prometheus)  deploy tests: `promtool check rules`, `promtool check metrics`
#   chromium  (Debian package chromium)    the status-page browser test
#   systemd-analyze (Debian package systemd, present on most installs)  deploy tests: `verify` of the unit
#   podman    (Debian package podman)      deploy image test: `podman build` of deploy/Dockerfile, `make image`
#   runc      (Debian package runc)        `podman run` (make image-test), where crun refuses a cgroup v1/hybrid host
#   redis-sentinel (Debian package redis-sentinel)  testenv/chaos: the Sentinel failover test
#   pdftotext, pdfinfo (Debian package poppler-utils)  sinks/label: reading back the labels' PDF
#   a Chinese font (Debian package fonts-wqy-microhei)  sinks/label: Chromium draws 张三 as glyphs, not
#             boxes, so pdftotext can read it back; missing when `fc-list :lang=zh` lists nothing
# Idempotent: does nothing when all are present. Needs root (and apt-get) only when something is
# missing. The prometheus package ships a server and enables a service for it; its maintainer
# scripts are kept from starting it (policy-rc.d), and a server that starts anyway is stopped, so
# the only thing used is /usr/bin/promtool.
#   bash deploy/install-tools.sh
set -euo pipefail
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

log() { printf 'install-tools: %s\n' "$*" >&2; }
die() {
	printf 'install-tools: error: %s\n' "$*" >&2
	exit 1
}

# prometheus_pids: pids of running processes whose executable is the packaged server.
prometheus_pids() {
	local p exe
	for p in /proc/[0-9]*; do
		exe=$(readlink "$p/exe" 2>/dev/null || true)
		[[ $exe == /usr/bin/prometheus ]] && printf '%s\n' "${p#/proc/}"
	done
	return 0
}

# has_zh_font: fontconfig knows a font covering Chinese. Without fc-list (fontconfig comes with
# chromium) there is no way to tell, so the font counts as missing.
has_zh_font() {
	command -v fc-list >/dev/null 2>&1 && [[ -n $(fc-list :lang=zh 2>/dev/null) ]]
}

pkgs=()
command -v promtool >/dev/null 2>&1 || pkgs+=(prometheus)
command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || pkgs+=(chromium)
command -v systemd-analyze >/dev/null 2>&1 || pkgs+=(systemd)
command -v podman >/dev/null 2>&1 || pkgs+=(podman)
command -v runc >/dev/null 2>&1 || pkgs+=(runc)
command -v redis-sentinel >/dev/null 2>&1 || pkgs+=(redis-sentinel)
command -v pdftotext >/dev/null 2>&1 && command -v pdfinfo >/dev/null 2>&1 || pkgs+=(poppler-utils)
has_zh_font || pkgs+=(fonts-wqy-microhei)
if ((${#pkgs[@]} == 0)); then
	log "promtool, chromium, systemd-analyze, podman, runc, redis-sentinel, pdftotext and a Chinese font are installed"
	exit 0
fi
if ((EUID != 0)); then
	die "missing ${pkgs[*]}; install them (Debian: apt-get install --no-install-recommends ${pkgs[*]}) or run this script as root"
fi
command -v apt-get >/dev/null 2>&1 || die "missing ${pkgs[*]} and no apt-get to install them"

# Servers already running before us are not ours to stop.
before=" $(prometheus_pids | tr '\n' ' ') "

# Keep the packages' maintainer scripts from starting services (invoke-rc.d and
# deb-systemd-invoke honour policy-rc.d). A policy already in place is left as it is.
policy=/usr/sbin/policy-rc.d
own_policy=0
if [[ ! -e $policy ]]; then
	printf '#!/bin/sh\n# installed by shipsync deploy/install-tools.sh for the duration of apt-get\nexit 101\n' >"$policy"
	chmod 755 "$policy"
	own_policy=1
	trap 'rm -f "$policy"' EXIT
fi

log "installing ${pkgs[*]} with apt-get"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null

if ((own_policy)); then
	rm -f "$policy"
	trap - EXIT
fi

if [[ " ${pkgs[*]} " == *" prometheus "* ]]; then
	# Only promtool is wanted: no server now, none at boot.
	if [[ -d /run/systemd/system ]] && command -v systemctl >/dev/null 2>&1; then
		systemctl disable --now prometheus.service >/dev/null 2>&1 || true
	elif command -v update-rc.d >/dev/null 2>&1; then
		update-rc.d prometheus disable >/dev/null 2>&1 || true
	fi
	for pid in $(prometheus_pids); do
		[[ $before == *" $pid "* ]] && continue
		log "stopping the prometheus server the package started (pid $pid)"
		kill "$pid" 2>/dev/null || true
		for _ in $(seq 50); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
	done
fi

if [[ " ${pkgs[*]} " == *" redis-sentinel "* ]]; then
	# Only the binary is wanted (tests start their own Sentinels): no service at boot.
	if [[ -d /run/systemd/system ]] && command -v systemctl >/dev/null 2>&1; then
		systemctl disable --now redis-sentinel.service >/dev/null 2>&1 || true
	elif command -v update-rc.d >/dev/null 2>&1; then
		update-rc.d redis-sentinel disable >/dev/null 2>&1 || true
	fi
fi

command -v promtool >/dev/null 2>&1 || die "promtool still missing after apt-get install prometheus"
command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 ||
	die "chromium still missing after apt-get install chromium"
command -v systemd-analyze >/dev/null 2>&1 || die "systemd-analyze still missing after apt-get install systemd"
command -v podman >/dev/null 2>&1 || die "podman still missing after apt-get install podman"
command -v runc >/dev/null 2>&1 || die "runc still missing after apt-get install runc"
command -v redis-sentinel >/dev/null 2>&1 || die "redis-sentinel still missing after apt-get install redis-sentinel"
command -v pdftotext >/dev/null 2>&1 && command -v pdfinfo >/dev/null 2>&1 ||
	die "pdftotext or pdfinfo still missing after apt-get install poppler-utils"
has_zh_font || die "no Chinese font after apt-get install fonts-wqy-microhei (fc-list :lang=zh lists nothing)"
log "ok: $(promtool --version 2>&1 | head -n1)"
