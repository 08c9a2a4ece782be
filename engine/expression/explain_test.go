package expression

import (
	"context"
	"encoding/json"
	"os"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRuntimeErrorsSpeakOfTheData checks that an evaluation that fails on
// the data says which path broke, and which kinds of value met, in JSON's
// terms rather than Go's.
func TestRuntimeErrorsSpeakOfTheData(t *testing.T) {
	t.Parallel()
	scope := &Scope{
		Trigger: map[string]any{"body": map[string]any{"amount": 25, "name": "Ada", "customer": nil,
			"items": []any{map[string]any{"sku": "a"}}, "Email": "a@example.com"}},
		Steps: map[string]any{"shape": map[string]any{"usd": 0.25}},
	}
	tests := []struct{ source, want string }{
		{"trigger.body.amout * 100", "trigger.body.amout is missing (did you mean amount?): cannot apply * to null and a number (line 1, column 20)"},
		{"trigger['body']['amout'] * 2", "trigger.body.amout is missing (did you mean amount?): cannot apply * to null and a number (line 1, column 26)"},
		{"trigger.body.email + '!'", "trigger.body.email is missing (did you mean Email?): cannot apply + to null and a string (line 1, column 20)"},
		{"trigger.body.nope.deeper", "trigger.body.nope is missing (trigger.body has Email, amount, customer, items, name) (line 1, column 19)"},
		{"trigger.body.customer.email", "trigger.body.customer is null, so .email finds nothing (line 1, column 23)"},
		{"trigger.body.customer * 2", "trigger.body.customer is null: cannot apply * to null and a number (line 1, column 23)"},
		{"trigger.body.name.first", "trigger.body.name is a string, not an object, so .first finds nothing (line 1, column 19)"},
		{"trigger.body.items.sku", "trigger.body.items is a list, so .sku needs an element first, such as trigger.body.items[0].sku, " +
			"or map(trigger.body.items, .sku) for all (line 1, column 20)"},
		{"trigger.body.items[3].sku", "trigger.body.items has 1 element, so [3] is past its end (line 1, column 19)"},
		{"steps.shape.cents * 2", "steps.shape.cents is missing (steps.shape has usd): cannot apply * to null and a number (line 1, column 19)"},
		{"steps.ghost.x", "steps.ghost is missing (steps has shape) (line 1, column 13)"},
		{"input.a", "input is null, so .a finds nothing (line 1, column 7)"},
		{"trigger.body.amount + 'x'", "cannot apply + to a number and a string (line 1, column 21)"},
		{"trigger.body.items[0].sku * 2", "cannot apply * to a string and a number (line 1, column 27)"},
		{"-trigger.body.name", "cannot apply - to a string (line 1, column 1)"},
		{"not trigger.body.name", "needs a boolean here, not a string (line 1, column 1)"},
		{"upper(trigger.body.nme)", "trigger.body.nme is missing (did you mean name?): needs a string here, not null (line 1, column 1)"},
		{"len(trigger.body.tags)", "trigger.body.tags is missing (trigger.body has Email, amount, customer, items, name): len cannot take null (line 1, column 1)"},
		// A path read with ?? or ?. may be missing: the failure is elsewhere.
		{"(trigger.body.opt ?? 1) + trigger.body.name * 2", "cannot apply * to a string and a number (line 1, column 45)"},
		{"(trigger.body.opt ?? nil) * 2", "cannot apply * to null and a number (line 1, column 27)"},
		{"trigger.body?.opt?.x + trigger.body.amout * 2", "trigger.body.amout is missing (did you mean amount?): cannot apply * to null and a number (line 1, column 43)"},
	}
	for _, tt := range tests {
		p, err := Compile(tt.source)
		require.NoError(t, err, tt.source)
		_, err = p.Eval(context.Background(), scope)
		assert.EqualError(t, err, tt.want, tt.source)
	}
}

func TestEditDistance(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		a, b string
		want int
	}{{"", "", 0}, {"amount", "amout", 1}, {"kitten", "sitting", 3}, {"", "abc", 3}, {"größe", "grösse", 2}} {
		assert.Equal(t, tt.want, editDistance(tt.a, tt.b), "%s/%s", tt.a, tt.b)
	}
}

// TestDocumentedErrors evaluates the examples of errors in docs/flows.md,
// so the guide shows what users will read.
func TestDocumentedErrors(t *testing.T) {
	t.Parallel()
	guide, err := os.ReadFile("../../docs/flows.md")
	require.NoError(t, err)
	header := regexp.MustCompile("(?m)^\\| expression, on `(.*)` \\| error \\|\n\\|---\\|---\\|\n((?:\\|.*\\|\n)+)").FindStringSubmatch(string(guide))
	require.NotNil(t, header, "docs/flows.md has the table of errors")
	var body any
	require.NoError(t, json.Unmarshal([]byte(header[1]), &body))
	scope := &Scope{Trigger: map[string]any{"body": body}}
	rows := regexp.MustCompile("(?m)^\\| `(.*)` \\| `(.*)` \\|$").FindAllStringSubmatch(header[2], -1)
	require.NotEmpty(t, rows)
	for _, row := range rows {
		p, err := Compile(row[1])
		require.NoError(t, err, row[1])
		_, err = p.Eval(context.Background(), scope)
		assert.EqualError(t, err, row[2], row[1])
	}
}
