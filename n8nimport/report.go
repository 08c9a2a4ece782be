package n8nimport

import (
	"fmt"
	"io"
	"strings"

	"github.com/hookflow/hookflow/engine"
	"github.com/hookflow/hookflow/n8nimport/n8nexpr"
)

// Status says how far one n8n node made it into the flow.
type Status string

// The statuses of a node.
const (
	// Converted nodes do in Hookflow what they did in n8n.
	Converted Status = "converted"
	// Caveats are nodes converted with differences the user should check;
	// the reasons name them.
	Caveats Status = "caveats"
	// NotConverted nodes are left out of the flow; the reasons say why.
	NotConverted Status = "not_converted"
)

// Report is what an import did, node by node and expression by expression,
// so nothing is lost without the user being told.
type Report struct {
	Nodes       []NodeReport       `json:"nodes"`
	Expressions []ExpressionReport `json:"expressions"`
	// Credentials are the credentials the flow names, to be created in
	// Hookflow before it is activated; their secrets never travel in n8n
	// exports, so none are filled in.
	Credentials []CredentialNeed `json:"credentials"`
	// Notes are remarks about the flow as a whole: edges left out, a
	// second trigger, the time zone.
	Notes []string `json:"notes,omitempty"`
	// Valid tells whether the flow passes Hookflow's validation, as when
	// it is saved; Problems lists what does not.
	Valid    bool             `json:"valid"`
	Problems []engine.Problem `json:"problems,omitempty"`
}

// NodeReport is what became of one n8n node.
type NodeReport struct {
	Name    string   `json:"name"`
	Type    string   `json:"type"`
	ID      string   `json:"id,omitempty"`
	Kind    string   `json:"kind,omitempty"`
	Status  Status   `json:"status"`
	Reasons []string `json:"reasons,omitempty"`
}

// ExpressionReport is one n8n expression and its translation, or the reason
// there is none.
type ExpressionReport struct {
	Node       string `json:"node"`
	Field      string `json:"field"`
	Original   string `json:"original"`
	Translated bool   `json:"translated"`
	Result     string `json:"result,omitempty"`
	Reason     string `json:"reason,omitempty"`
	// scope and template say how Result was made, for tests that run it
	// against the original.
	scope    n8nexpr.Scope
	template bool
}

// CredentialNeed is a credential to create in Hookflow.
type CredentialNeed struct {
	// Name is the Hookflow name the flow uses, made from N8nName.
	Name    string `json:"name"`
	Type    string `json:"type"`
	N8nName string `json:"n8n_name"`
	N8nType string `json:"n8n_type"`
	Node    string `json:"node"`
}

// Counts sums up a report.
type Counts struct {
	Converted, Caveats, NotConverted int
	Translated, Untranslated         int
}

// Counts counts nodes by status and expressions by outcome.
func (r *Report) Counts() Counts {
	var c Counts
	for _, n := range r.Nodes {
		switch n.Status {
		case Converted:
			c.Converted++
		case Caveats:
			c.Caveats++
		case NotConverted:
			c.NotConverted++
		}
	}
	for _, e := range r.Expressions {
		if e.Translated {
			c.Translated++
		} else {
			c.Untranslated++
		}
	}
	return c
}

// Complete tells whether every node was converted and every expression
// translated: only then does the flow do all the workflow did.
func (r *Report) Complete() bool {
	c := r.Counts()
	return c.NotConverted == 0 && c.Untranslated == 0
}

// Write prints the report for a person.
func (r *Report) Write(w io.Writer) error {
	var b strings.Builder
	c := r.Counts()
	fmt.Fprintf(&b, "nodes: %d converted, %d with caveats, %d not converted\n", c.Converted, c.Caveats, c.NotConverted)
	fmt.Fprintf(&b, "expressions: %d translated, %d not translated\n", c.Translated, c.Untranslated)
	for _, n := range r.Nodes {
		target := ""
		if n.ID != "" {
			target = fmt.Sprintf(" → %s (%s)", n.ID, n.Kind)
		}
		fmt.Fprintf(&b, "\n[%s] %q %s%s\n", statusLabel(n.Status), n.Name, n.Type, target)
		for _, reason := range n.Reasons {
			fmt.Fprintf(&b, "    - %s\n", reason)
		}
	}
	if len(r.Expressions) > 0 {
		b.WriteString("\nexpressions:\n")
		for _, e := range r.Expressions {
			if e.Translated {
				fmt.Fprintf(&b, "  ok   %s %s: %s  →  %s\n", e.Node, e.Field, oneLine(e.Original), oneLine(e.Result))
			} else {
				fmt.Fprintf(&b, "  FAIL %s %s: %s\n       %s\n", e.Node, e.Field, oneLine(e.Original), e.Reason)
			}
		}
	}
	if len(r.Credentials) > 0 {
		b.WriteString("\ncredentials to create:\n")
		for _, cr := range r.Credentials {
			from := fmt.Sprintf("n8n %s %q", cr.N8nType, cr.N8nName)
			if cr.N8nName == "" {
				from = "the n8n node names none"
			}
			fmt.Fprintf(&b, "  create credential %s of type %s (%s; used by %q)\n", cr.Name, cr.Type, from, cr.Node)
		}
	}
	for _, n := range r.Notes {
		fmt.Fprintf(&b, "\nnote: %s\n", n)
	}
	if r.Valid {
		b.WriteString("\nthe flow is valid\n")
	} else {
		b.WriteString("\nthe flow is not valid:\n")
		for _, p := range r.Problems {
			where := p.Field
			if p.Node != "" {
				where = "node " + p.Node + ", " + p.Field
			}
			fmt.Fprintf(&b, "  %s: %s\n", where, p.Message)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func statusLabel(s Status) string {
	switch s {
	case Converted:
		return "converted"
	case Caveats:
		return "caveats"
	default:
		return "NOT CONVERTED"
	}
}

// oneLine shortens a value for a one-line listing.
func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > 120 {
		return string(r[:117]) + "…"
	}
	return s
}
