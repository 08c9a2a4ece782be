package ingress

// Outcome is what became of a request to a trigger URL, for metrics.
type Outcome string

// Outcomes of a request.
const (
	// Accepted: the delivery and its queued run are stored.
	Accepted Outcome = "accepted"
	// Duplicate: the delivery repeats one seen within the dedupe window.
	Duplicate Outcome = "duplicate"
	// Captured: an inactive flow's trigger captured it as a test event.
	Captured Outcome = "captured"
	// Refused: anything else; the answer's status says why (4xx, or 503
	// when it could not be taken just now).
	Refused Outcome = "refused"
)

// Outcome reports what became of the request this answers. Only the paths
// that take a request mark their answer; every other answer, wherever it
// is made, is a refusal, so a new way of refusing needs no marking to be
// counted.
func (r *Reply) Outcome() Outcome {
	if r.outcome == "" {
		return Refused
	}
	return r.outcome
}

// taken marks an answer to a request that was taken.
func taken(r *Reply, o Outcome) *Reply {
	r.outcome = o
	return r
}
