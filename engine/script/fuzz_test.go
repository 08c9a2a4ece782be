package script_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow/engine/script"
)

// FuzzRun compiles and runs any source under short limits: it may fail, as
// the script's own failure, but not panic or hang.
func FuzzRun(f *testing.F) {
	for _, seed := range []string{
		`return input`, `return {a: [1, 2, {b: null}]}`, `throw new Error("x")`, `while (true) {}`,
		`return [...Array(1e9)]`, `}); (function () {`, `return (() => { return 1 })`, "let s = 'x'; for (;;) s += s",
		`return new Proxy({}, {ownKeys() { throw 1 }})`, `return {get a() { for (;;) {} }}`, `return Symbol()`,
		`console.log({toString() { throw 1 }}, Symbol('x'), 1n)`, `return Object.create(null)`, "/*", "`${",
	} {
		f.Add(seed)
	}
	limits := script.Limits{Time: 100 * time.Millisecond, Sample: 2 * time.Millisecond}
	f.Fuzz(func(t *testing.T, source string) {
		p, err := script.Compile(source)
		if err != nil {
			return
		}
		out, err := p.WithLimits(limits).Run(context.Background(), testScope(), slog.New(slog.DiscardHandler))
		if err != nil {
			var failed *script.Error
			require.ErrorAs(t, err, &failed, "only the script can fail")
			return
		}
		_, err = json.Marshal(out)
		require.NoError(t, err, "the output is JSON")
	})
}
