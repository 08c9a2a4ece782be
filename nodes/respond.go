package nodes

import (
	"context"
	"fmt"
	"net/http"

	"github.com/hookflow/hookflow/engine/expression"
)

// KindRespond is the kind whose output a webhook waiting for its run sends
// back as the answer.
const KindRespond = "respond"

var respondSpec = Spec{
	Kind:     KindRespond,
	Icon:     "reply",
	Category: CategoryFlow,
	Title:    "Respond to webhook",
	Summary:  "Sets the answer to the request that started the run, when its webhook trigger waits for the run.",
	Pure:     true,
	Fields: []Field{
		{Name: "status", Type: TypeInteger, Label: "Status", Default: 200, Min: Bound(100), Max: Bound(599)},
		{
			Name: "headers", Type: TypeMap, Label: "Headers",
			Help:  "Header name → value; values may hold {{ templates }}.",
			Items: &Field{Name: "value", Type: TypeTemplate, Label: "Value"},
		},
		{
			Name: "body", Type: TypeJSON, Label: "Body",
			Help: "Any JSON whose strings may hold {{ templates }}; a text (such as XML) is sent as it is. Objects and lists are sent as JSON.",
		},
	},
}

type respondParams struct {
	Status  int               `json:"status"`
	Headers map[string]string `json:"headers"`
	Body    any               `json:"body"`
}

type respondNode struct {
	status  int
	headers map[string]*expression.Template
	body    *expression.Value
}

var _ Node = (*respondNode)(nil)

func buildRespond(b *Builder, p *respondParams) Node {
	for name := range p.Headers {
		if name == "" || !validHeaderName(name) {
			b.Fail("headers", "%q is not a header name", name)
		}
	}
	return &respondNode{status: p.Status, headers: b.Templates("headers", p.Headers), body: b.Value("body", p.Body)}
}

func validHeaderName(name string) bool {
	for _, c := range name {
		if c <= ' ' || c >= 0x7f || c == ':' {
			return false
		}
	}
	return true
}

// Run renders the answer; the output is {status, headers, body}.
func (n *respondNode) Run(ctx context.Context, in *Input) (Result, error) {
	headers := make(map[string]any, len(n.headers))
	for name, t := range n.headers {
		v, err := t.Eval(ctx, in.Scope)
		if err != nil {
			return Result{}, fmt.Errorf("header %s: %w", name, err)
		}
		headers[http.CanonicalHeaderKey(name)] = expression.Stringify(v)
	}
	body, err := n.body.Eval(ctx, in.Scope)
	if err != nil {
		return Result{}, fmt.Errorf("body: %w", err)
	}
	return Result{Output: map[string]any{"status": n.status, "headers": headers, "body": body}}, nil
}
