package n8nexpr

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow/engine/expression"
	"github.com/hookflow/hookflow/n8nimport/n8njs"
)

// scope is the flow most tests translate in: a webhook trigger, an HTTP
// node, and the node being translated reading the HTTP node's output.
var scope = Scope{
	IDs:     map[string]string{"Webhook": "webhook", "HTTP Request": "http_request", "Odd": "odd-id"},
	Trigger: "Webhook",
	Input:   "HTTP Request",
}

// sampleJSON is the output of the node upstream of the one translated.
const sampleJSON = `{"a": {"b": 2}, "a b": 1, "x": "X", "name": "Ada", "list": [{"id": 7}, {"id": 8}],
		"tags": ["red", "blue"], "text": "  Hello World  ", "csv": "a,b,c", "n": "42", "f": "2.5", "neg": -2.5, "price": 10, "qty": 3,
		"empty": "", "zero": 0, "gone": null, "json": "{\"k\": 1}", "word": "héllo"}`

// sample is the data the translations are evaluated on, as Hookflow sees it.
func sample(t *testing.T) *expression.Scope {
	t.Helper()
	input, err := expression.DecodeJSON([]byte(sampleJSON))
	require.NoError(t, err)
	return &expression.Scope{
		Trigger: map[string]any{"body": map[string]any{"user": "u1", "amount": 25}, "query": map[string]any{"q": "go"}},
		Steps:   map[string]any{"http_request": input, "odd-id": map[string]any{"v": 5}},
		Input:   input,
		Run:     expression.RunInfo{ID: "run-1", FlowID: "flow-1"},
		Env:     map[string]any{"API_URL": "https://example.test"},
	}
}

// n8nData is the sample as n8n sees it, for running the original.
func n8nData(t *testing.T) n8njs.Data {
	t.Helper()
	s := sample(t)
	return n8njs.Data{
		JSON:        s.Input,
		Nodes:       map[string]any{"HTTP Request": s.Input, "Odd": s.Steps["odd-id"], "Webhook": s.Trigger},
		ExecutionID: s.Run.ID, WorkflowID: s.Run.FlowID, Env: s.Env,
	}
}

// requireN8nGives runs the original JavaScript as n8n would, on the same
// sample, and requires the value the translation gave. Originals that read
// the clock cannot be compared and are skipped.
func requireN8nGives(t *testing.T, original string, translated any) {
	t.Helper()
	want, err := n8njs.Eval(original, n8nData(t))
	if errors.Is(err, n8njs.ErrUnknown) {
		return
	}
	require.NoError(t, err, "n8n evaluates %s", original)
	require.True(t, agrees(want, plain(t, translated)), "n8n gives %#v for %s, the translation %#v", want, original, translated)
}

// agrees tells whether a translation's value is n8n's, allowing the
// documented differences of JavaScript's + on strings: it writes a missing
// or null value as "undefined" or "null" where the translation writes
// nothing, and a map or list in its own way where the translation writes
// JSON.
func agrees(n8n, translated any) bool {
	if reflect.DeepEqual(n8n, translated) {
		return true
	}
	a, ok1 := n8n.(string)
	b, ok2 := translated.(string)
	if !ok1 || !ok2 {
		return false
	}
	if strings.Contains(a, "[object Object]") || strings.ContainsAny(b, "[{") && !strings.ContainsAny(a, "[{") {
		return true
	}
	return strings.NewReplacer("undefined", "", "null", "").Replace(a) == b
}

// plain is n8njs.Plain for tests.
func plain(t *testing.T, v any) any {
	t.Helper()
	out, err := n8njs.Plain(v)
	require.NoError(t, err)
	return out
}

func TestToExpression(t *testing.T) {
	t.Parallel()
	tests := []struct {
		n8n, want string
		value     any // what n8n gives on the sample
	}{
		{`={{ $json.a.b }}`, `input.a.b`, 2},
		{`={{ $json["a b"] }}`, `input["a b"]`, 1},
		{`={{ $json['x'] }}`, `input.x`, "X"},
		{`={{ $json.list[0].id }}`, `input.list[0].id`, 7},
		{`={{ $json.a?.b }}`, `input.a?.b`, 2},
		{`={{ $node["HTTP Request"].json.x }}`, `steps.http_request.x`, "X"},
		{`={{ $node["Webhook"].json.body.user }}`, `trigger.body.user`, "u1"},
		{`={{ $('HTTP Request').item.json.x }}`, `steps.http_request.x`, "X"},
		{`={{ $('Odd').first().json.v }}`, `steps["odd-id"].v`, 5},
		{`={{ $('Webhook').last().json.query.q }}`, `trigger.query.q`, "go"},
		{`={{ $items("HTTP Request")[0].json.name }}`, `steps.http_request.name`, "Ada"},
		{`={{ $input.item.json.name }}`, `input.name`, "Ada"},
		{`={{ $input.first().json.name }}`, `input.name`, "Ada"},
		{`={{ $json.tags }}`, `input.tags`, []any{"red", "blue"}},
		{`={{ 'it''s' }}`, ``, nil},
		{`={{ "a" + 'b' }}`, `"a" + "b"`, "ab"},
		{"={{ `${$json.name} has ${$json.qty}` }}", `text(input.name) + " has " + text(input.qty)`, "Ada has 3"},
		{`={{ [1, 2.5, true, null] }}`, `[1, 2.5, true, nil]`, []any{1, 2.5, true, nil}},
		{`={{ {a: 1, "b c": $json.x} }}`, `{"a": 1, "b c": input.x}`, map[string]any{"a": 1, "b c": "X"}},
		{`={{ $json.price * $json.qty - 1 }}`, `input.price * input.qty - 1`, 29},
		{`={{ ($json.price + 2) * 3 }}`, `(input.price + 2) * 3`, 36},
		{`={{ $json.price / 4 }}`, `input.price / 4`, 2.5},
		{`={{ $json.price % 3 }}`, `input.price % 3`, 1},
		{`={{ "n=" + $json.price }}`, `"n=" + text(input.price)`, "n=10"},
		{`={{ $json.price === 10 && $json.x !== 'Y' }}`, `input.price == 10 && input.x != "Y"`, true},
		{`={{ $json.price == 10 || $json.qty > 5 }}`, `input.price == 10 || input.qty > 5`, true},
		{`={{ !($json.price >= 11) }}`, `!(input.price >= 11)`, true},
		{`={{ !$json.empty }}`, `input.empty in [nil, false, 0, ""]`, true},
		{`={{ !!($json.gone ?? false) }}`, `!((input.gone ?? false) in [nil, false, 0, ""])`, false},
		{`={{ $json.empty || 'default' }}`, `input.empty not in [nil, false, 0, ""] ? input.empty : "default"`, "default"},
		{`={{ $json.x && $json.name }}`, `input.x not in [nil, false, 0, ""] ? input.name : input.x`, "Ada"},
		{`={{ $json.qty > 2 ? 'many' : 'few' }}`, `input.qty > 2 ? "many" : "few"`, "many"},
		{`={{ $json.gone ?? 'none' }}`, `input.gone ?? "none"`, "none"},
		{`={{ $json.name.toUpperCase() }}`, `upper(input.name)`, "ADA"},
		{`={{ $json.name.toLowerCase() }}`, `lower(input.name)`, "ada"},
		{`={{ $json.text.trim() }}`, `trim(input.text)`, "Hello World"},
		{`={{ $json.text.includes('World') }}`, `type(input.text) == "string" ? input.text contains "World" : "World" in input.text`, true},
		{`={{ $json.tags.includes('blue') }}`, `type(input.tags) == "string" ? input.tags contains "blue" : "blue" in input.tags`, true},
		{`={{ "abc".includes("b") }}`, `"abc" contains "b"`, true},
		{`={{ $json.name.startsWith('A') }}`, `hasPrefix(input.name, "A")`, true},
		{`={{ $json.name.endsWith('a') }}`, `hasSuffix(input.name, "a")`, true},
		{`={{ $json.csv.split(',') }}`, `split(input.csv, ",")`, []string{"a", "b", "c"}},
		{`={{ $json.tags.join('-') }}`, `join(input.tags, "-")`, "red-blue"},
		{`={{ $json.tags.join() }}`, `join(input.tags, ",")`, "red,blue"},
		{`={{ $json.csv.replace(',', ';') }}`, `replace(input.csv, ",", ";", 1)`, "a;b,c"},
		{`={{ $json.csv.replaceAll(',', ';') }}`, `replace(input.csv, ",", ";")`, "a;b;c"},
		{`={{ $json.tags.length }}`, `len(input.tags)`, 2},
		{`={{ $json.word.slice(1, 3) }}`, `type(input.word) == "string" ? join(split(input.word, "")[1:3], "") : input.word[1:3]`, "él"},
		{`={{ $json.tags.slice(1) }}`, `type(input.tags) == "string" ? join(split(input.tags, "")[1:], "") : input.tags[1:]`, []any{"blue"}},
		{`={{ "héllo".substring(0, 2) }}`, `join(split("héllo", "")[0:2], "")`, "hé"},
		{`={{ $json.price.toString() }}`, `string(input.price)`, "10"},
		{`={{ String($json.qty) }}`, `string(input.qty)`, "3"},
		{`={{ Number($json.n) + 1 }}`, `float(input.n) + 1`, 43.0},
		{`={{ parseInt($json.n, 10) }}`, `int(input.n)`, 42},
		{`={{ parseFloat($json.f) }}`, `float(input.f)`, 2.5},
		{`={{ Math.round($json.neg) }}`, `floor(input.neg + 0.5)`, -2.0},
		{`={{ Math.floor(2.7) + Math.ceil(2.1) + Math.abs(-1) }}`, `floor(2.7) + ceil(2.1) + abs(-1)`, 6.0},
		{`={{ Math.max($json.price, $json.qty, 4) }}`, `max(input.price, input.qty, 4)`, 10},
		{`={{ Math.min(1, 2) }}`, `min(1, 2)`, 1},
		{`={{ JSON.parse($json.json).k }}`, `fromJSON(input.json).k`, 1.0},
		{`={{ JSON.stringify($json.a, null, 2) }}`, `toJSON(input.a)`, "{\n  \"b\": 2\n}"},
		{`={{ Object.keys($json.a) }}`, `keys(input.a)`, []any{"b"}},
		{`={{ Object.values($json.a) }}`, `values(input.a)`, []any{2}},
		{`={{ $execution.id }}`, `run.id`, "run-1"},
		{`={{ $workflow.id }}`, `run.flow_id`, "flow-1"},
		{`={{ $env.API_URL }}`, `env.API_URL`, "https://example.test"},
		{`={{ $json[$node["Odd"].json.v > 1 ? "x" : "name"] }}`, `input[steps["odd-id"].v > 1 ? "x" : "name"]`, "X"},
		{`={{ -$json.price }}`, `-input.price`, -10},
		{`={{ $json.gone === null }}`, `input.gone == nil`, true},
		{`={{ $json.missing === undefined }}`, `input.missing == nil`, true},
		{`={{ Date.now() > 0 }}`, `now().UnixMilli() > 0`, true},
		{`={{ $json.in }}`, `input["in"]`, nil},
		{`=Hello {{ $json.name }}!`, `"Hello " + text(input.name) + "!"`, "Hello Ada!"},
		{`=Total: {{ $json.price * 2 }} ({{ $json.gone }})`, `"Total: " + string(input.price * 2) + " (" + text(input.gone) + ")"`, "Total: 20 ()"},
		{`=plain`, `"plain"`, "plain"},
		{`42`, `"42"`, "42"},
		{`={{ $json.x }};`, ``, nil},
	}
	for _, tt := range tests {
		t.Run(tt.n8n, func(t *testing.T) {
			t.Parallel()
			got, err := ToExpression(tt.n8n, scope)
			if tt.want == "" {
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
			p, err := expression.Compile(got)
			require.NoError(t, err)
			v, err := p.Eval(context.Background(), sample(t))
			require.NoError(t, err)
			require.Equal(t, tt.value, v)
			requireN8nGives(t, tt.n8n, v)
		})
	}
}
