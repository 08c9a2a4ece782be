package api_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow/store"
	"github.com/hookflow/hookflow/store/storetest"
)

func TestEvaluate(t *testing.T) {
	t.Parallel()
	f := setup(t, storetest.Open(t, store.DialectSQLite))
	const scope = `"scope": {"trigger": {"body": {"amount": 1250, "id": 9007199254740993, "email": "a@example.com"}},
		"steps": {"amount": {"usd": 12.5}}, "input": {"n": 2}, "item": "x", "index": 3}`
	tests := []struct {
		name       string
		body       string
		wantStatus int
		wantValue  any
		wantError  string // in the error message
		wantField  string // the problem's field, for 422
	}{
		{"expression", `{"expression": "trigger.body.amount / 100", ` + scope + `}`, 200, 12.5, "", ""},
		{"whole numbers stay exact", `{"expression": "string(trigger.body.id)", ` + scope + `}`, 200, "9007199254740993", "", ""},
		{"steps, input, item and index", `{"expression": "[steps.amount.usd, input.n, item, index]", ` + scope + `}`, 200, []any{12.5, 2.0, "x", 3.0}, "", ""},
		{"template renders text", `{"template": "Paid {{ steps.amount.usd }} by {{ trigger.body.email }}", ` + scope + `}`, 200, "Paid 12.5 by a@example.com", "", ""},
		{"a lone placeholder keeps its type", `{"template": "{{ input }}", ` + scope + `}`, 200, map[string]any{"n": 2.0}, "", ""},
		{"without a scope names read as null", `{"expression": "trigger == nil && len(steps) == 0"}`, 200, true, "", ""},
		{"does not compile", `{"expression": "steps.amount.usd *", ` + scope + `}`, 422, nil, "unexpected token", "expression"},
		{"unknown name", `{"expression": "trigger2.body", ` + scope + `}`, 422, nil, "unknown name trigger2", "expression"},
		{"fails on the data", `{"expression": "trigger.body.missing.deeper", ` + scope + `}`, 422, nil,
			"trigger.body.missing is missing (trigger.body has amount, email, id) (line 1, column 22)", "expression"},
		{"says which key was meant", `{"expression": "trigger.body.amout * 100", ` + scope + `}`, 422, nil,
			"trigger.body.amout is missing (did you mean amount?): cannot apply * to null and a number", "expression"},
		{"says which types met", `{"template": "{{ trigger.body.email * 2 }}", ` + scope + `}`, 422, nil,
			"cannot apply * to a string and a number", "template"},
		{"broken template", `{"template": "Paid {{ steps.amount.usd", ` + scope + `}`, 422, nil, "}}", "template"},
		{"neither", `{` + scope + `}`, 400, nil, "give expression", ""},
		{"both", `{"expression": "1", "template": "2"}`, 400, nil, "not both", ""},
		{"unknown scope name", `{"expression": "1", "scope": {"trigers": {}}}`, 400, nil, `scope: "trigers" is not known`, ""},
		{"trigger not an object", `{"expression": "1", "scope": {"trigger": [1]}}`, 400, nil, "trigger is an object", ""},
		{"index not a whole number", `{"expression": "1", "scope": {"index": 1.5}}`, 400, nil, "index is a whole number", ""},
		{"unknown field", `{"expr": "1"}`, 400, nil, "unknown field", ""},
		{"not JSON", `{"expression": `, 400, nil, "request body", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			status, got := f.do("POST", "/api/v1/expressions/evaluate", tt.body)
			require.Equal(t, tt.wantStatus, status, "answer: %v", got)
			if tt.wantStatus == http.StatusOK {
				assert.Equal(t, tt.wantValue, got["value"])
				assert.NotContains(t, got, "truncated")
				return
			}
			assert.Contains(t, got["error"], tt.wantError)
			if tt.wantField != "" {
				problems, _ := got["problems"].([]any)
				require.Len(t, problems, 1)
				assert.Equal(t, tt.wantField, problems[0].(map[string]any)["field"])
			}
		})
	}
}

func TestEvaluateNeedsLogin(t *testing.T) {
	t.Parallel()
	f := setup(t, storetest.Open(t, store.DialectSQLite))
	status, _ := f.doAs("", "POST", "/api/v1/expressions/evaluate", `{"expression": "1"}`)
	assert.Equal(t, http.StatusUnauthorized, status)
}
