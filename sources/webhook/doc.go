// Package webhook receives carriers' status pushes over HTTP: POST /push/{carrier}.
//
// It owns the HTTP side — routing by carrier name, the optional IP allow-list, the body size
// limit, the reply deadline — and nothing of any carrier's format: each carrier's Decoder
// verifies the signature over the raw bytes, parses, and writes the reply its carrier expects.
// Updates go to an Applier (the status model in sync/). It must not import sync/ or sinks/.
package webhook
