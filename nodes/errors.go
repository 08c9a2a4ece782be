package nodes

import (
	"errors"
	"time"
)

// permanentError is a failure that retrying cannot fix.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// Permanent marks a failure as final: the executor does not retry it,
// whatever the node's retry policy. A 4xx answer is one.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err: err}
}

// IsPermanent reports whether err was marked with Permanent.
func IsPermanent(err error) bool {
	var p *permanentError
	return errors.As(err, &p)
}

// retryAfterError is a failure whose sender said when to try again, or
// whose node keeps a schedule of its own.
type retryAfterError struct {
	after time.Duration
	err   error
	// scheduled is set for a node's own schedule (webhook.send's), which
	// may wait hours; a wait a server asks for is capped shorter.
	scheduled bool
}

func (e *retryAfterError) Error() string { return e.err.Error() }
func (e *retryAfterError) Unwrap() error { return e.err }

// RetryAfter marks a failure to be retried no sooner than after: a 429 with
// Retry-After. The executor waits that long instead of its own backoff when
// the node's retry policy allows another attempt.
func RetryAfter(after time.Duration, err error) error {
	if err == nil {
		return nil
	}
	return &retryAfterError{after: after, err: err}
}

// RetryScheduled marks a failure to be retried after the wait its node's
// schedule sets for this attempt, up to MaxWait: a webhook sender's growing
// delays over hours.
func RetryScheduled(after time.Duration, err error) error {
	if err == nil {
		return nil
	}
	return &retryAfterError{after: after, err: err, scheduled: true}
}

// RetryDelay returns the wait a RetryAfter or RetryScheduled error asks
// for.
func RetryDelay(err error) (time.Duration, bool) {
	var r *retryAfterError
	if errors.As(err, &r) {
		return r.after, true
	}
	return 0, false
}

// IsScheduled reports whether err asks for its wait with RetryScheduled.
func IsScheduled(err error) bool {
	var r *retryAfterError
	return errors.As(err, &r) && r.scheduled
}
