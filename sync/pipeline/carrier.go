package pipeline

import (
	"github.com/shipsync/shipsync/sync/carrier"
	"github.com/shipsync/shipsync/sync/config"
)

// Carrier is a carrier's client (sync/carrier builds them by type, see NewCarrier).
type Carrier = carrier.Client

// NewCarrier builds the client for a configured carrier by its type.
func NewCarrier(c config.Carrier) (Carrier, error) { return carrier.NewClient(c) }
