package script

import (
	"context"
	"fmt"
	"runtime/metrics"
	"time"

	"github.com/dop251/goja"
)

// limitError is a run stopped at one of its limits.
type limitError string

func (e limitError) Error() string { return string(e) }

// contextEnded interrupts a run whose context ended; the error is the
// context's cause.
type contextEnded struct{}

// liveHeap reads the heap the last collection found live: cheap (no
// stop-the-world), and not swollen by garbage as the allocated heap is.
func liveHeap() int64 {
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(sample)
	if sample[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return int64(sample[0].Value.Uint64())
}

// watch interrupts vm when ctx ends, when the run has taken its time, or
// when the live heap has grown past the memory limit since it started. The
// heap is the whole server's, so the bound is practical, not exact: runs
// allocating at once share it. stop ends the watch and waits for it.
func (l Limits) watch(ctx context.Context, vm *goja.Runtime) (stop func()) {
	done, finished := make(chan struct{}), make(chan struct{})
	base := liveHeap()
	timer := time.NewTimer(l.Time)
	ticker := time.NewTicker(l.Sample)
	go func() {
		defer close(finished)
		defer timer.Stop()
		defer ticker.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				vm.Interrupt(contextEnded{})
				return
			case <-timer.C:
				vm.Interrupt(limitError(fmt.Sprintf("the code ran longer than its limit of %s", l.Time)))
				return
			case <-ticker.C:
				if grown := liveHeap() - base; grown > l.Memory {
					vm.Interrupt(limitError(fmt.Sprintf("the code used more memory than its limit of %s", byteSize(l.Memory))))
					return
				}
			}
		}
	}()
	return func() {
		close(done)
		<-finished
	}
}

func byteSize(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}
