package bench

import (
	"bytes"
	"context"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"

	"github.com/hookflow/hookflow/api"
	"github.com/hookflow/hookflow/engine"
	"github.com/hookflow/hookflow/engine/ingress"
	"github.com/hookflow/hookflow/engine/vault"
	"github.com/hookflow/hookflow/nodes"
	"github.com/hookflow/hookflow/store"
	"github.com/hookflow/hookflow/store/storetest"
)

// fiveNodeFlow is a webhook trigger and four transforms in a chain.
const fiveNodeFlow = `{"name": "bench", "nodes": [
	{"id": "hook", "type": "trigger.webhook", "params": {"verify": {"scheme": "github", "credential": "gh"}}},
	{"id": "a", "type": "transform", "params": {"fields": {"repo": "trigger.body.repository.full_name", "n": "len(trigger.body.commits)"}}},
	{"id": "b", "type": "transform", "params": {"fields": {"msg": "steps.a.repo + ' got ' + string(steps.a.n) + ' commits'"}}},
	{"id": "c", "type": "transform", "params": {"include_input": true, "rename": {"msg": "text"}}},
	{"id": "d", "type": "transform", "params": {"fields": {"out.text": "input.text", "out.big": "steps.a.n > 10"}}}],
	"edges": [{"from": "hook", "to": "a"}, {"from": "a", "to": "b"}, {"from": "b", "to": "c"}, {"from": "c", "to": "d"}]}`

func registry() *nodes.Registry {
	r := nodes.NewRegistry()
	nodes.RegisterBuiltins(r)
	return r
}

// newApp builds the HTTP app the way hookflow serve does.
func newApp(db store.Store, runner *engine.Engine, publicURL string) (*fiber.App, error) {
	reg := registry()
	sealer, err := vault.New(bytes.Repeat([]byte{42}, vault.KeySize))
	if err != nil {
		return nil, err
	}
	credentials := engine.NewCredentials(db, reg, sealer)
	flows := engine.NewFlows(db, reg)
	hooks := ingress.New(ingress.Options{Store: db, Engine: runner, Credentials: credentials, PublicURL: publicURL})
	flows.OnChange(hooks.Forget)
	return api.New(api.Options{Store: db, Registry: reg, Engine: runner, Flows: flows, Credentials: credentials,
		Ingress: hooks, PublicURL: publicURL})
}

// BenchmarkCompileFlow measures what saving a flow costs before it is
// stored: schema checks, strict decoding and expression compilation.
func BenchmarkCompileFlow(b *testing.B) {
	reg := registry()
	doc := []byte(fiveNodeFlow)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := engine.Compile(reg, doc); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAPI measures saving and reading flows through the fiber app on
// each database.
func BenchmarkAPI(b *testing.B) {
	for _, dialect := range storetest.Dialects() {
		b.Run(dialect, func(b *testing.B) {
			db := storetest.Open(b, dialect)
			const token = "hf_bench"
			if err := api.EnsureAdminToken(context.Background(), db, token); err != nil {
				b.Fatal(err)
			}
			app, err := newApp(db, engine.New(engine.Options{Store: db, Registry: registry()}), "http://bench")
			if err != nil {
				b.Fatal(err)
			}
			send := func(method, path, body string, want int) string {
				req := httptest.NewRequest(method, path, strings.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+token)
				res, err := app.Test(req, -1)
				if err != nil || res.StatusCode != want {
					b.Fatalf("%s %s: %v %v", method, path, res.StatusCode, err)
				}
				return res.Header.Get("Location")
			}
			b.Run("create", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					send("POST", "/api/v1/flows", fiveNodeFlow, 201)
				}
			})
			location := send("POST", "/api/v1/flows", fiveNodeFlow, 201)
			b.Run("get", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					send("GET", location, "", 200)
				}
			})
			b.Run("update", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					send("PUT", location, fiveNodeFlow, 200)
				}
			})
		})
	}
}
