// Package config owns shipsync's YAML configuration: its shape, ${ENV} expansion, strict
// decoding, defaults and validation. Every key is documented in the root config.yaml, which a
// test loads so that it can never go stale.
//
// It does no I/O beyond reading the file Load is given, and imports nothing from the module:
// every other package may import it, and it must not import any of them.
package config
