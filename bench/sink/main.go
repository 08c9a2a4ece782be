// Command sink is the end-to-end benchmark's downstream service: the HTTP
// API every engine's flow POSTs to. It counts what it receives, so the
// benchmark counts flows completed, not requests answered.
//
//	POST /sink   counts the request, keeps its body, answers 200 {"ok":true}
//	GET  /count  how many POSTs arrived since the start or the last reset
//	GET  /last   the last body received
//	POST /reset  sets the count to zero
package main

import (
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"sync"
	"sync/atomic"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:9999", "address to listen on (loopback)")
	flag.Parse()
	var count atomic.Int64
	var mu sync.Mutex
	var last []byte
	http.HandleFunc("POST /sink", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		count.Add(1)
		mu.Lock()
		last = body
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"ok":true}`)
	})
	http.HandleFunc("GET /count", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, count.Load()) })
	http.HandleFunc("GET /last", func(w http.ResponseWriter, _ *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		w.Write(last)
	})
	http.HandleFunc("POST /reset", func(w http.ResponseWriter, _ *http.Request) { count.Store(0); fmt.Fprintln(w, 0) })
	log.Fatal(http.ListenAndServe(*addr, nil))
}
