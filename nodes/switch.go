package nodes

import (
	"context"
	"fmt"
	"regexp"

	"github.com/hookflow/hookflow/engine/expression"
)

// DefaultPort is the switch port taken when no case matches.
const DefaultPort = "default"

var switchSpec = Spec{
	Kind:      "switch",
	Icon:      "split",
	Category:  CategoryFlow,
	Title:     "Switch",
	Summary:   "Sends its input on through the port of the first case whose condition holds, or the default port.",
	Pure:      true,
	Ports:     []string{DefaultPort},
	PortsFrom: "cases",
	Fields: []Field{
		{
			Name: "cases", Type: TypeList, Label: "Cases", Required: true, Min: Bound(1), Max: Bound(50),
			Help: "Tried in order; the first whose condition holds picks the port.",
			Items: &Field{Name: "case", Type: TypeObject, Label: "Case", Fields: []Field{
				{Name: "port", Type: TypeString, Label: "Port", Required: true, Placeholder: "paid",
					Help: "The port's name: a lower-case letter, then letters, digits or _."},
				conditionField("An expression giving true or false."),
			}},
		},
	},
}

type switchParams struct {
	Cases []switchCase `json:"cases"`
}

type switchCase struct {
	Port      string `json:"port"`
	Condition string `json:"condition"`
}

type switchNode struct {
	ports      []string
	conditions []*expression.Program
}

var (
	_ Node       = (*switchNode)(nil)
	_ PortLister = (*switchNode)(nil)
)

var portPattern = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

func buildSwitch(b *Builder, p *switchParams) Node {
	n := &switchNode{}
	seen := map[string]bool{}
	for i, c := range p.Cases {
		field := fmt.Sprintf("cases[%d]", i)
		switch {
		case !portPattern.MatchString(c.Port):
			b.Fail(field+".port", "%q is not a port name: use a lower-case letter, then letters, digits or _", c.Port)
		case c.Port == DefaultPort || c.Port == "error":
			b.Fail(field+".port", "%q is reserved", c.Port)
		case seen[c.Port]:
			b.Fail(field+".port", "port %q is used by an earlier case", c.Port)
		}
		seen[c.Port] = true
		n.ports = append(n.ports, c.Port)
		n.conditions = append(n.conditions, b.Expression(field+".condition", c.Condition))
	}
	return n
}

// Ports are the cases' ports, then the default.
func (n *switchNode) Ports() []string { return append(append([]string{}, n.ports...), DefaultPort) }

func (n *switchNode) Run(ctx context.Context, in *Input) (Result, error) {
	for i, c := range n.conditions {
		ok, err := evalCondition(ctx, c, in.Scope)
		if err != nil {
			return Result{}, fmt.Errorf("case %s: %w", n.ports[i], err)
		}
		if ok {
			return Result{Output: in.Scope.Input, Port: n.ports[i]}, nil
		}
	}
	return Result{Output: in.Scope.Input, Port: DefaultPort}, nil
}
