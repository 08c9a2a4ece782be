package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hookflow/hookflow/store"
	"github.com/hookflow/hookflow/store/storetest"
)

// BenchmarkStoreRunWrites measures what the store's writer spends on the
// writes of one webhook run as the engine makes them for the end-to-end
// benchmark's flow (webhook -> transform -> HTTP -> respond, answered when
// done): the delivery with its run, taken on at once, then the run's finish
// with its four step records. 64 runs are written at a time, as under load.
// One op is one run.
func BenchmarkStoreRunWrites(b *testing.B) {
	for _, dialect := range storetest.Dialects() {
		b.Run(dialect, func(b *testing.B) {
			ctx := context.Background()
			db := storetest.Open(b, dialect)
			f, err := db.CreateFlow(ctx, store.FlowDocument{Name: "bench", Definition: []byte(`{}`)})
			if err != nil {
				b.Fatal(err)
			}
			if err := db.RegisterWorker(ctx, "w", time.Now().Add(time.Hour)); err != nil {
				b.Fatal(err)
			}
			body := []byte(`{"order":{"id":123,"total":42.5,"items":[{"sku":"a","qty":2}]}}`)
			headers, _ := json.Marshal(map[string]string{"content-type": "application/json", "user-agent": "wrk", "host": "127.0.0.1:18092"})
			port := ""
			output := []byte(`{"greeting":"Hello, order 123!","item_count":1,"order_id":123,"total_cents":4250}`)
			answer := []byte(`{"body":{"ok":true},"headers":{"Content-Length":"11","Content-Type":"application/json","Date":"Thu, 03 Dec 2026 16:00:00 GMT"},"status":200}`)
			var next atomic.Int64
			b.ReportAllocs()
			cpu := processCPU()
			b.ResetTimer()
			var wg sync.WaitGroup
			for range 64 {
				wg.Go(func() {
					for next.Add(1) <= int64(b.N) {
						res, err := db.RecordDelivery(ctx, &store.NewDelivery{
							Delivery: store.Delivery{FlowID: f.ID, Status: store.DeliveryAccepted, HTTPStatus: 202, Method: "POST",
								Headers: headers, ContentType: "application/json", Body: body, BodySize: len(body), ReceivedAt: time.Now()},
							FlowVersion: 1, Owner: "w",
						})
						if err != nil {
							panic(err)
						}
						t := time.Now()
						steps := []*store.Step{
							{RunID: res.RunID, NodeID: "hook", Attempt: 1, Seq: 1, Status: store.StepSucceeded, Port: &port, StartedAt: t},
							{RunID: res.RunID, NodeID: "shape", Attempt: 1, Seq: 2, Status: store.StepSucceeded, Port: &port, InputFrom: "hook", Output: output, StartedAt: t, Duration: 30 * time.Microsecond},
							{RunID: res.RunID, NodeID: "post", Attempt: 1, Seq: 3, Status: store.StepSucceeded, Port: &port, InputFrom: "shape", Output: answer, StartedAt: t, Duration: 300 * time.Microsecond},
							{RunID: res.RunID, NodeID: "reply", Attempt: 1, Seq: 4, Status: store.StepSucceeded, Port: &port, InputFrom: "post", Output: []byte(`{"body":{"ok":true},"headers":{},"status":200}`), StartedAt: t},
						}
						if err := <-db.FinishRun(store.Write{Owner: "w", RunID: res.RunID, N: store.WriteNumber(1, 1), Steps: steps}, store.RunSucceeded, ""); err != nil {
							panic(fmt.Sprint("finish: ", err))
						}
					}
				})
			}
			wg.Wait()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "runs/s")
			// CPU time says more than wall time on a machine whose other
			// tenants take turns on its cores.
			b.ReportMetric(float64((processCPU()-cpu).Microseconds())/float64(b.N), "cpu-µs/run")
		})
	}
}

// processCPU is the CPU time the process has used, user and system.
func processCPU() time.Duration {
	var u syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &u)
	return time.Duration(u.Utime.Nano() + u.Stime.Nano())
}
