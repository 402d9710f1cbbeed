// Package deploy holds the files that run shipsync in production — a systemd unit, a Dockerfile,
// the shop database grants, a Grafana dashboard and Prometheus alert rules (README.md) — and the
// tests that keep them true to the code: the metric names against a live /metrics scrape,
// promtool on the rules and the scrape, systemd-analyze on the unit, and the grants against the
// MariaDB test environment. It has no code; nothing imports it.
package deploy
