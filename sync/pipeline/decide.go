package pipeline

import (
	"errors"
	"fmt"
	"strings"
)

// refusal is one carrier's answer in a failover round that certainly created nothing.
type refusal struct {
	carrier string
	err     error
}

// roundError decides a failover round in which every candidate carrier certainly created
// nothing (DESIGN.md §2): the most hopeful error wins. An open circuit anywhere means that
// carrier may take the order once it recovers: the order waits for it, spending no attempt. Any
// other transient failure is retried, spending one. Only when every candidate refused the order
// permanently does it go to the dead letter, with each carrier's reason. No answer here pins
// the order to a carrier: none of them may hold its waybill.
func roundError(rs []refusal) error {
	if len(rs) == 0 {
		return nil
	}
	var open circuitOpen
	for _, r := range rs {
		if errors.As(r.err, &open) {
			return r.err
		}
	}
	for _, r := range rs {
		if !isPermanent(r.err) {
			return r.err
		}
	}
	if len(rs) == 1 {
		return rs[0].err
	}
	reasons := make([]string, len(rs))
	for i, r := range rs {
		reasons[i] = fmt.Sprintf("%s: %v", r.carrier, r.err)
	}
	return &permanentError{"every carrier refused the order: " + strings.Join(reasons, "; ")}
}
