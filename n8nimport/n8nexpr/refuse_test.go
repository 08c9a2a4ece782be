package n8nexpr

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow/engine/expression"
	"github.com/hookflow/hookflow/n8nimport/n8njs"
)

func TestRefused(t *testing.T) {
	t.Parallel()
	tests := []struct{ n8n, reason string }{
		{`={{ $input.all() }}`, "multi-item"},
		{`={{ $('HTTP Request').all() }}`, "multi-item"},
		{`={{ $items("HTTP Request") }}`, "$items()"},
		{`={{ $items("HTTP Request")[1].json.x }}`, "other than the first"},
		{`={{ $node["Nowhere"].json.x }}`, `"Nowhere", which is not in the imported flow`},
		{`={{ $node["HTTP Request"].parameter.url }}`, "other than its json"},
		{`={{ $('HTTP Request').params.url }}`, "other than through"},
		{`={{ $json.items.map(i => i.id) }}`, "defines a function"},
		{`={{ (function() { return 1 })() }}`, "defines a function"},
		{`={{ $json.a.replace(/\s/g, '') }}`, "regular expression"},
		{`={{ x = 1 }}`, "assigns"},
		{`={{ $jmespath($json, "a") }}`, "$jmespath"},
		{`={{ $evaluateExpression("1") }}`, "$evaluateExpression"},
		{`={{ $json.a.toFixed(2) }}`, "toFixed()"},
		{`={{ parseInt($json.n, 16) }}`, "radix"},
		{`={{ JSON.stringify($json) }}`, "JSON.stringify"},
		{`={{ $now }}`, "$now"},
		{`={{ $now.toFormat('dd LLL yyyy') }}`, "only the tokens"},
		{`={{ $today }}`, "$today"},
		{`={{ new Date() }}`, "new Date()"},
		{`={{ typeof $json.a }}`, "typeof"},
		{`={{ window.x }}`, "not defined"},
		{`={{ $json.a; $json.b }}`, "statements"},
		{`={{ $json.a.split(',', 2) }}`, "limit"},
		{`={{ $json.a.slice(-2) }}`, "at least 0"},
		{`={{ "a" in $json }}`, "in operator"},
		{`={{ $json. }}`, "not a JavaScript expression"},
		{`=Hello {{ $json.name`, "not closed"},
		{`=Hello {{ }}`, "empty"},
		{`={{ $binary.data }}`, "$binary"},
		{`={{ [].toUpperCase() }}`, "calls toUpperCase() on a list"},
		{`={{ (1).trim() }}`, "calls trim() on a number"},
	}
	for _, tt := range tests {
		t.Run(tt.n8n, func(t *testing.T) {
			t.Parallel()
			_, err := ToTemplate(tt.n8n, scope)
			var u *Untranslatable
			require.ErrorAs(t, err, &u)
			require.Contains(t, u.Reason, tt.reason)
			require.NotEmpty(t, u.Source)
		})
	}
}

// httpScope translates for a node right after an HTTP Request.
var httpScope = Scope{IDs: map[string]string{"Webhook": "webhook", "Fetch": "fetch"}, Trigger: "Webhook", Input: "Fetch",
	Paths: map[string]string{"Fetch": ".body"}}

func TestScope(t *testing.T) {
	t.Parallel()
	tests := []struct {
		scope     Scope
		n8n, want string
	}{
		{Scope{Trigger: "Webhook", Input: "Webhook"}, `={{ $json.body.x }}`, `trigger.body.x`},
		{Scope{Trigger: "Webhook", Input: "Set", InLoop: true}, `={{ $json.x }}`, `item.x`},
		{Scope{InLoop: true}, `={{ $itemIndex }}`, `index`},
		// An HTTP Request's json is the answer's body.
		{httpScope, `={{ $json.id }}`, `input.body.id`},
		{httpScope, `={{ $('Fetch').item.json.items[0] }}`, `steps.fetch.body.items[0]`},
		{httpScope, `={{ $node["Fetch"].json["a b"] }}`, `steps.fetch.body["a b"]`},
		{httpScope, `={{ $('Webhook').item.json.body.id }}`, `trigger.body.id`},
	}
	for _, tt := range tests {
		got, err := ToExpression(tt.n8n, tt.scope)
		require.NoError(t, err)
		require.Equal(t, tt.want, got)
	}
	_, err := ToExpression(`={{ $json.x }}`, Scope{})
	var u *Untranslatable
	require.ErrorAs(t, err, &u)
	require.Contains(t, u.Reason, "no input")
}

func TestToTemplate(t *testing.T) {
	t.Parallel()
	tests := []struct{ n8n, want string }{
		{`=Hello {{ $json.name }}`, `Hello {{ input.name }}`},
		{`=https://api.test/{{ $json.list[0].id }}/x?q={{ $node["Webhook"].json.query.q }}`, `https://api.test/{{ input.list[0].id }}/x?q={{ trigger.query.q }}`},
		{`={{ $json.a }}`, `{{ input.a }}`},
		{`=a {{ '}}' }} b`, `a {{ "}}" }} b`},
		{`plain {{ not an expression`, `plain {{ "{{" }} not an expression`},
		{`=no placeholder`, `no placeholder`},
	}
	for _, tt := range tests {
		got, err := ToTemplate(tt.n8n, scope)
		require.NoError(t, err)
		require.Equal(t, tt.want, got)
		_, err = expression.CompileTemplate(got)
		require.NoError(t, err)
	}
	require.True(t, IsExpression("={{ 1 }}"))
	require.False(t, IsExpression("{{ 1 }}"))
}

// expressions collects every expression parameter value with a placeholder.
func expressions(v any, out *[]string) {
	switch v := v.(type) {
	case string:
		if IsExpression(v) && strings.Contains(v, "{{") {
			*out = append(*out, v)
		}
	case []any:
		for _, e := range v {
			expressions(e, out)
		}
	case map[string]any:
		for _, e := range v {
			expressions(e, out)
		}
	}
}

// TestCorpus translates every expression of real n8n workflows: none may
// panic, each success must compile, and the split between translated and
// refused is pinned so a change in coverage is seen.
func TestCorpus(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("../testdata/n8n/*.json")
	require.NoError(t, err)
	require.Len(t, files, 35)
	translated, refused := 0, 0
	reasons := map[string]int{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		require.NoError(t, err)
		var wf struct {
			Nodes []struct {
				Name       string `json:"name"`
				Parameters any    `json:"parameters"`
			} `json:"nodes"`
		}
		require.NoError(t, json.Unmarshal(data, &wf), f)
		s := Scope{IDs: map[string]string{}, Input: "upstream"}
		for i, n := range wf.Nodes {
			s.IDs[n.Name] = "node_" + string(rune('a'+i%26))
		}
		for _, n := range wf.Nodes {
			var vals []string
			expressions(n.Parameters, &vals)
			for _, v := range vals {
				got, err := ToTemplate(v, s)
				if err != nil {
					var u *Untranslatable
					require.ErrorAs(t, err, &u, v)
					refused++
					reasons[u.Reason]++
					continue
				}
				_, err = expression.CompileTemplate(got)
				require.NoError(t, err, "%s → %s", v, got)
				translated++
				if testing.Verbose() && translated%9 == 0 {
					t.Logf("%s → %s", v, got)
				}
			}
		}
	}
	for r, n := range reasons {
		t.Logf("%d × %s", n, r)
	}
	require.Equal(t, [2]int{127, 6}, [2]int{translated, refused})
}

// sameAsN8n compares a translation's value on the sample with the
// original's, where both give one: a translation may fail where n8n gives
// a value (expr refuses "a" - 1 where JavaScript gives NaN), but it must
// not give a different value.
func sameAsN8n(t *testing.T, original string, p *expression.Program) {
	if !utf8.ValidString(original) {
		return // n8n's values come from JSON, which is UTF-8
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	got, err := p.Eval(ctx, sample(t))
	if err != nil {
		return
	}
	want, err := n8njs.Eval(original, n8nData(t))
	if err != nil {
		return
	}
	if !agrees(want, plain(t, got)) {
		t.Fatalf("%q → %q gives %#v; n8n gives %#v", original, p.Source(), got, want)
	}
}

func FuzzTranslate(f *testing.F) {
	for _, s := range []string{`={{ $json.a.b }}`, `=Hi {{ $json["x"].toUpperCase() }}!`, `={{ $('HTTP Request').item.json.list[0] }}`,
		"={{ `a${$json.b}` }}", `={{ $json.a || 'x' }}`, `={{ {a: [1, 2]} }}`, `plain {{`, `={{ Math.round($json.n / 3) }}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		if e, err := ToExpression(v, scope); err == nil {
			p, err := expression.Compile(e)
			if err != nil && len(e) <= expression.MaxSourceLength {
				t.Fatalf("%q → %q does not compile: %v", v, e, err)
			}
			if err == nil {
				sameAsN8n(t, v, p)
			}
		} else {
			var u *Untranslatable
			if !errors.As(err, &u) {
				t.Fatalf("%q: error is not Untranslatable: %v", v, err)
			}
		}
		if tpl, err := ToTemplate(v, scope); err == nil {
			if _, err := expression.CompileTemplate(tpl); err != nil && len(tpl) <= expression.MaxSourceLength {
				t.Fatalf("%q → %q does not compile: %v", v, tpl, err)
			}
		}
	})
}
