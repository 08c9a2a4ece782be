package engine

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow/nodes"
)

// testRegistry holds the builtins plus a branch kind with two ports, so port
// rules can be tested before the engine's own branch kinds exist.
func testRegistry(t testing.TB) *nodes.Registry {
	t.Helper()
	reg := nodes.NewRegistry()
	nodes.RegisterBuiltins(reg)
	type branchParams struct{}
	require.NoError(t, reg.Register(nodes.Define(nodes.Spec{
		Kind: "test.branch", Category: nodes.CategoryFlow, Icon: "git-branch", Title: "Branch", Summary: "Two ports.",
		Ports: []string{"true", "false"},
	}, func(*nodes.Builder, *branchParams) nodes.Node { return branchNode{} })))
	return reg
}

type branchNode struct{}

func (branchNode) Run(context.Context, *nodes.Input) (nodes.Result, error) {
	return nodes.Result{Port: "true"}, nil
}

func TestCompileValidFlow(t *testing.T) {
	t.Parallel()
	doc := `{
	  "name": "Stripe payment",
	  "nodes": [
	    {"id": "save", "type": "transform", "params": {"fields": {"copy": "steps.amount.usd"}}},
	    {"id": "hook", "type": "trigger.webhook", "params": {"verify": {"scheme": "stripe", "credential": "stripe-signing"}}},
	    {"id": "amount", "type": "transform", "params": {"fields": {"usd": "trigger.body.data.object.amount / 100"}},
	     "retry": {"max_attempts": 3, "backoff_ms": 100}, "timeout_ms": 5000, "on_error": "route", "ui": {"x": 10, "y": 20}},
	    {"id": "big", "type": "test.branch"}
	  ],
	  "edges": [
	    {"from": "hook", "to": "amount"},
	    {"from": "amount", "to": "big"},
	    {"from": "amount", "port": "error", "to": "save"},
	    {"from": "big", "port": "true", "to": "save"}
	  ]
	}`
	plan, err := Compile(testRegistry(t), []byte(doc))
	require.NoError(t, err)
	assert.Equal(t, "hook", plan.Trigger.Def.ID)
	var order []string
	for _, n := range plan.Nodes {
		order = append(order, n.Def.ID)
	}
	assert.Equal(t, []string{"hook", "amount", "big", "save"}, order, "topological order")
	amount, ok := plan.Node("amount")
	require.True(t, ok)
	assert.Equal(t, []string{"error"}, amount.Ports, "on_error route adds the error port")
	assert.Len(t, amount.Out, 2)
	save, _ := plan.Node("save")
	assert.Len(t, save.In, 2)

	webhook, ok := plan.Trigger.Node.(*nodes.WebhookTrigger)
	require.True(t, ok)
	assert.Equal(t, []string{"POST"}, webhook.Methods, "defaults are applied")
	assert.Equal(t, 300, webhook.Verify.ToleranceS, "defaults reach nested objects")
	assert.Equal(t, nodes.RespondImmediately, webhook.Respond)
}

func TestCompileProblems(t *testing.T) {
	t.Parallel()
	const hook = `{"id": "hook", "type": "trigger.webhook"}`
	tests := []struct {
		name string
		doc  string
		want []Problem // Message holds a fragment the real message must contain
	}{
		{
			name: "duplicate ids, unknown kind and dangling edge",
			doc: `{"name": "f", "nodes": [` + hook + `,
				{"id": "a", "type": "transform"}, {"id": "a", "type": "transform"},
				{"id": "b", "type": "no.such.kind"}],
				"edges": [{"from": "hook", "to": "a"}, {"from": "a", "to": "ghost"}]}`,
			want: []Problem{
				{Node: "a", Field: "id", Message: `id "a" is used by more than one node`},
				{Node: "b", Field: "type", Message: `unknown node type "no.such.kind"`},
				{Field: "edges[1].to", Message: `"ghost" is not a node of this flow`},
			},
		},
		{
			name: "unknown keys at every level",
			doc: `{"name": "f", "extra": 1, "nodes": [{"id": "hook", "type": "trigger.webhook", "colour": "red",
				"params": {"bogus": true}}], "edges": [{"from": "hook", "to": "hook", "why": 1}]}`,
			want: []Problem{
				{Field: "extra", Message: "is not a known field"},
				{Node: "hook", Field: "colour", Message: "is not a known field"},
				{Node: "hook", Field: "params.bogus", Message: "is not a known field"},
				{Field: "edges[0].to", Message: "is a trigger"},
				{Field: "edges[0].why", Message: "is not a known field"},
			},
		},
		{
			name: "missing name and bad ids",
			doc:  `{"nodes": [` + hook + `, {"id": "Bad-Id", "type": "transform"}, {"type": "transform"}]}`,
			want: []Problem{
				{Field: "name", Message: "is required"},
				{Field: "nodes[1].id", Message: "must match"},
				{Field: "nodes[2].id", Message: "is required"},
			},
		},
		{
			name: "wrong types",
			doc: `{"name": 7, "nodes": [{"id": "hook", "type": "trigger.webhook", "params": [], "timeout_ms": "soon",
				"on_error": "explode", "retry": {"max_attempts": 0}}]}`,
			want: []Problem{
				{Field: "name", Message: "must be a string, not number"},
				{Node: "hook", Field: "on_error", Message: "must be one of: fail, continue, route"},
				{Node: "hook", Field: "params", Message: "must be an object, not array"},
				{Node: "hook", Field: "retry.max_attempts", Message: "must be at least 1"},
				{Node: "hook", Field: "timeout_ms", Message: "must be an integer, not string"},
			},
		},
		{
			name: "no trigger",
			doc:  `{"name": "f", "nodes": [{"id": "a", "type": "transform"}]}`,
			want: []Problem{{Field: "nodes", Message: "needs exactly one trigger node; it has none"}},
		},
		{
			name: "two triggers",
			doc:  `{"name": "f", "nodes": [` + hook + `, {"id": "manual", "type": "trigger.manual"}]}`,
			want: []Problem{{Node: "manual", Field: "type", Message: `"hook" is already its trigger`}},
		},
		{
			name: "cycle",
			doc: `{"name": "f", "nodes": [` + hook + `, {"id": "a", "type": "transform"}, {"id": "b", "type": "transform"},
				{"id": "c", "type": "transform"}],
				"edges": [{"from": "hook", "to": "a"}, {"from": "a", "to": "b"}, {"from": "b", "to": "a"}, {"from": "b", "to": "c"}]}`,
			want: []Problem{{Node: "a", Message: "is in a cycle (a → b → a)"}},
		},
		{
			name: "self loop",
			doc: `{"name": "f", "nodes": [` + hook + `, {"id": "a", "type": "transform"}],
				"edges": [{"from": "hook", "to": "a"}, {"from": "a", "to": "a"}]}`,
			want: []Problem{{Node: "a", Message: "is in a cycle (a → a)"}},
		},
		{
			name: "ports",
			doc: `{"name": "f", "nodes": [` + hook + `, {"id": "br", "type": "test.branch"}, {"id": "a", "type": "transform"}],
				"edges": [{"from": "hook", "to": "br"}, {"from": "br", "to": "a"}, {"from": "br", "port": "maybe", "to": "a"},
				{"from": "hook", "port": "out", "to": "a"}, {"from": "hook", "port": "error", "to": "a"},
				{"from": "br", "port": "true", "to": "a"}, {"from": "br", "port": "true", "to": "a"}]}`,
			want: []Problem{
				{Field: "edges[1].port", Message: "must name one of: true, false"},
				{Field: "edges[2].port", Message: `has no port "maybe"; its ports are: true, false`},
				{Field: "edges[3].port", Message: "single unnamed output"},
				{Field: "edges[4].port", Message: `error port only when its on_error is "route"`},
				{Field: "edges[6]", Message: "repeats an earlier edge"},
			},
		},
		{
			name: "loop bodies are closed",
			doc: `{"name": "f", "nodes": [` + hook + `, {"id": "each", "type": "foreach", "params": {"items": "trigger.body.items"}},
				{"id": "inside", "type": "transform"}, {"id": "outside", "type": "transform"}],
				"edges": [{"from": "hook", "to": "each"}, {"from": "each", "port": "each", "to": "inside"},
				{"from": "hook", "to": "outside"}, {"from": "outside", "to": "inside"}]}`,
			want: []Problem{{Node: "inside", Message: `is in the loop of "each" (behind its each port), so only that loop's nodes may lead into it, not "outside"`}},
		},
		{
			name: "params checked against the kind",
			doc: `{"name": "f", "nodes": [
				{"id": "hook", "type": "trigger.webhook", "params": {"methods": ["POST", "BREW"], "verify": {"scheme": "hmac", "credential": "c"},
				 "respond": "later", "dedupe": "trigger.headers["}},
				{"id": "t", "type": "transform", "params": {"fields": {"usd": "nope(", "ok": "1 + 1", "a..b": "1"},
				 "include_input": "yes"}},
				{"id": "u", "type": "transform", "params": {"fields": {"x": "undefined_name + 1"}, "remove": ["a"]}}],
				"edges": [{"from": "hook", "to": "t"}, {"from": "hook", "to": "u"}]}`,
			want: []Problem{
				{Node: "hook", Field: "params.methods[1]", Message: "must be one of: GET, POST"},
				{Node: "hook", Field: "params.respond", Message: "must be one of: immediately, when_done"},
				{Node: "t", Field: "params.include_input", Message: "must be a boolean, not string"},
				{Node: "u", Field: "params.fields.x", Message: "unknown name undefined_name"},
				{Node: "u", Field: "params.remove", Message: "needs include_input"},
			},
		},
		{
			name: "builder problems once the schema passes",
			doc: `{"name": "f", "nodes": [
				{"id": "hook", "type": "trigger.webhook", "params": {"verify": {"scheme": "hmac", "credential": "c",
				 "signed_string": "{timestamp}.{body}"}, "dedupe": "trigger.headers[", "methods": ["POST", "POST"]}},
				{"id": "t", "type": "transform", "params": {"fields": {"usd": "nope(", "a..b": "1"}}},
				{"id": "r", "type": "transform", "retry": {"max_attempts": 2, "backoff_ms": 500, "max_backoff_ms": 100}}],
				"edges": [{"from": "hook", "to": "t"}, {"from": "t", "to": "r"}]}`,
			want: []Problem{
				{Node: "hook", Field: "params.dedupe", Message: "line 1"},
				{Node: "hook", Field: "params.methods", Message: "lists POST twice"},
				{Node: "hook", Field: "params.verify.header", Message: "is required for the hmac scheme"},
				{Node: "hook", Field: "params.verify.signed_string", Message: "timestamp_header is required"},
				{Node: "t", Field: "params.fields.a..b", Message: "has an empty part"},
				{Node: "t", Field: "params.fields.usd", Message: "unexpected token EOF"},
				{Node: "r", Field: "retry.max_backoff_ms", Message: "must not be less than backoff_ms"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Compile(testRegistry(t), []byte(tt.doc))
			var invalid *InvalidFlowError
			require.ErrorAs(t, err, &invalid)
			got := invalid.Problems
			require.Len(t, got, len(tt.want), "problems: %+v", got)
			for i, want := range tt.want {
				assert.Equal(t, want.Node, got[i].Node, "problem %d node: %+v", i, got[i])
				assert.Equal(t, want.Field, got[i].Field, "problem %d field: %+v", i, got[i])
				assert.Contains(t, got[i].Message, want.Message, "problem %d message", i)
			}
		})
	}
}

func TestCompileFindsLoopBodies(t *testing.T) {
	t.Parallel()
	doc := `{"name": "nested", "nodes": [
		{"id": "hook", "type": "trigger.manual"},
		{"id": "orders", "type": "foreach", "params": {"items": "trigger.body.orders"}},
		{"id": "price", "type": "transform", "params": {"fields": {"total": "item.total"}}},
		{"id": "lines", "type": "foreach", "params": {"items": "item.lines"}},
		{"id": "line", "type": "transform", "params": {"fields": {"sku": "item.sku"}}},
		{"id": "after_lines", "type": "transform"},
		{"id": "report", "type": "transform"}],
		"edges": [{"from": "hook", "to": "orders"}, {"from": "orders", "port": "each", "to": "price"},
		{"from": "price", "to": "lines"}, {"from": "lines", "port": "each", "to": "line"},
		{"from": "lines", "port": "done", "to": "after_lines"}, {"from": "orders", "port": "done", "to": "report"}]}`
	plan, err := Compile(testRegistry(t), []byte(doc))
	require.NoError(t, err)
	ids := func(ns []*PlanNode) []string {
		var out []string
		for _, n := range ns {
			out = append(out, n.Def.ID)
		}
		return out
	}
	orders, _ := plan.Node("orders")
	lines, _ := plan.Node("lines")
	report, _ := plan.Node("report")
	line, _ := plan.Node("line")
	assert.Equal(t, []string{"price", "lines", "after_lines"}, ids(orders.Body))
	assert.Equal(t, []string{"line"}, ids(lines.Body))
	assert.Nil(t, report.Loop)
	assert.Equal(t, lines, line.Loop, "a node belongs to its innermost loop")
	assert.Equal(t, orders, lines.Loop)
}

func TestCompileRefusesWhatIsNotAFlow(t *testing.T) {
	t.Parallel()
	reg := testRegistry(t)
	for _, doc := range []string{``, `{`, `{"name": "f"} trailing`, `nul`} {
		_, err := Compile(reg, []byte(doc))
		var malformed *MalformedFlowError
		assert.ErrorAs(t, err, &malformed, "%q", doc)
	}
	_, err := Compile(reg, []byte(`[1, 2]`))
	var invalid *InvalidFlowError
	assert.ErrorAs(t, err, &invalid, "JSON of the wrong shape is invalid, not malformed")

	big := `{"name": "` + strings.Repeat("x", MaxFlowBytes) + `"}`
	_, err = Compile(reg, []byte(big))
	assert.True(t, errors.Is(err, ErrFlowTooLarge))
}

func TestCompileKeepsProblemsInDocumentOrder(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	b.WriteString(`{"name": "f", "nodes": [{"id": "hook", "type": "trigger.manual"}`)
	for i := range 12 {
		b.WriteString(`, {"id": "n` + string(rune('a'+i)) + `", "type": "transform"}`)
	}
	b.WriteString(`], "edges": [`)
	for i := range 12 {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(`{"from": "hook", "to": "missing"}`)
	}
	b.WriteString(`]}`)
	_, err := Compile(testRegistry(t), []byte(b.String()))
	var invalid *InvalidFlowError
	require.ErrorAs(t, err, &invalid)
	require.Len(t, invalid.Problems, 12)
	assert.Equal(t, "edges[9].to", invalid.Problems[9].Field)
	assert.Equal(t, "edges[10].to", invalid.Problems[10].Field, "positions compare as numbers")
}

func TestInvalidErrorsCountTheirProblems(t *testing.T) {
	t.Parallel()
	one := []Problem{{Field: "name", Message: "is required"}}
	assert.Equal(t, "flow is invalid: 1 problem", (&InvalidFlowError{Problems: one}).Error())
	assert.Equal(t, "flow is invalid: 2 problems", (&InvalidFlowError{Problems: append(one, one...)}).Error())
	assert.Equal(t, "credential is invalid: 1 problem", (&InvalidCredentialError{Problems: one}).Error())
}
