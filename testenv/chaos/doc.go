// Package chaos holds the chaos suite: a steady stream of paid orders on ECShop's schema while
// the daemon is killed, MariaDB and Redis are restarted, the carrier fails, and the shop pauses.
// It runs on its own MariaDB and Redis (started with testenv's scripts on private ports), never
// on the shared test environment, so it can break them. `make chaos` runs the long form; `make
// test` a short one.
package chaos
