package engine

import (
	"context"
	"sync/atomic"
	"time"
)

// Clock is the time the engine sees: it stamps records, computes retries'
// backoff, times steps out and ends in-memory waits. Tests give the engine
// a clock they advance, so retries, delays and timeouts need no sleeping.
type Clock interface {
	Now() time.Time
	// AfterFunc calls f on its own goroutine once d has passed, unless the
	// returned timer is stopped first.
	AfterFunc(d time.Duration, f func()) Timer
}

// Timer is a pending call of Clock.AfterFunc.
type Timer interface {
	// Stop prevents the call; it reports whether it did.
	Stop() bool
}

// systemClock is the real time.
type systemClock struct{}

func (systemClock) Now() time.Time                            { return time.Now() }
func (systemClock) AfterFunc(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }

// clockTimeoutCtx ends when its Clock says its time is up; like a context
// of context.WithTimeout, its Err is then context.DeadlineExceeded, and its
// Cause the cause given.
type clockTimeoutCtx struct {
	context.Context
	expired atomic.Bool
}

func (c *clockTimeoutCtx) Err() error {
	err := c.Context.Err()
	if err != nil && c.expired.Load() {
		return context.DeadlineExceeded
	}
	return err
}

// withClockTimeout is context.WithTimeoutCause on clock's time.
func withClockTimeout(parent context.Context, clock Clock, d time.Duration, cause error) (context.Context, context.CancelFunc) {
	inner, cancel := context.WithCancelCause(parent)
	ctx := &clockTimeoutCtx{Context: inner}
	timer := clock.AfterFunc(d, func() {
		ctx.expired.Store(true)
		cancel(cause)
	})
	return ctx, func() {
		timer.Stop()
		cancel(context.Canceled)
	}
}
