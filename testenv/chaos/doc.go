// Package chaos holds the chaos suite: a steady stream of paid orders on ECShop's schema, with
// the carrier pushing status updates, while the daemon, MariaDB and Redis are SIGKILLed at
// random moments drawn from a printed seed (SHIPSYNC_CHAOS_SEED replays the schedule), some of
// them while a claim or a batch write-back is in flight, the carrier fails, and the shop pauses.
// It runs on its own MariaDB and Redis (started with testenv's scripts on private ports), never
// on the shared test environment, so it can break them. `make chaos` runs the long form; `make
// test` a short one. TestSentinelFailover runs the daemon on a Sentinel-monitored Redis master
// (testenv.StartRedisSentinel) and SIGKILLs the master mid-run.
package chaos
