// Package n8nexpr translates n8n parameter values, whose {{ }} placeholders
// hold JavaScript, into Hookflow expressions and templates (expr-lang).
//
// Only a subset of JavaScript has a faithful equivalent in expr. Anything
// outside it is refused with an *Untranslatable error that says why, so an
// imported flow never runs an expression that means something else than it
// did in n8n.
package n8nexpr

import (
	"strings"

	"github.com/hookflow/hookflow/n8nimport/placeholder"
)

// Scope says what n8n's names mean in the flow being imported.
type Scope struct {
	// IDs maps each n8n node name to the Hookflow node id it became.
	IDs map[string]string
	// Trigger is the n8n name of the workflow's trigger node: its output is
	// Hookflow's trigger (for a webhook: headers, query, body — n8n's
	// $json.body.x is trigger.body.x; n8n's params has no equivalent).
	Trigger string
	// Input is the n8n name of the node directly upstream of the one being
	// translated ("" when none): $json, $input.item.json and
	// $input.first().json are its output — trigger when Input is the
	// trigger, else input.
	Input string
	// InLoop says the node runs inside a foreach: n8n's per-item semantics
	// then map to item, and $json means item.
	InLoop bool
	// Paths says, by n8n node name, where n8n's item json is inside the
	// output of the Hookflow node it became, as an expr path suffix: an
	// HTTP Request's json is the answer's body, so ".body". Nodes whose
	// output is n8n's json as it is are not listed.
	Paths map[string]string
}

// Untranslatable is the error for what cannot be translated.
type Untranslatable struct {
	// Source is the original JavaScript (or parameter value).
	Source string
	// Reason says why, in a user's words, such as
	// "calls $items(), which has no equivalent".
	Reason string
}

func (e *Untranslatable) Error() string {
	return "cannot translate n8n expression " + e.Source + ": " + e.Reason
}

// IsExpression reports whether an n8n parameter value is an expression: n8n
// marks those with a leading "=".
func IsExpression(v string) bool { return strings.HasPrefix(v, "=") }

// ToExpression translates an n8n parameter value into one Hookflow
// expression, for fields of type expression (transform values, conditions).
//
// "={{ $json.a }}" becomes input.a, keeping the value's type. Text around
// or between placeholders makes a string, as in n8n: "=Hello {{ $json.name }}!"
// becomes "Hello " + string(input.name ?? "") + "!", where a missing value
// adds nothing, as Hookflow's templates do. A plain value (no "=") is text
// in n8n, so it becomes a quoted string literal, even when it looks like a
// number.
func ToExpression(v string, s Scope) (string, error) {
	if !IsExpression(v) {
		return quote(v), nil
	}
	parts, err := placeholder.Split(v)
	if err != nil {
		return "", &Untranslatable{Source: v, Reason: err.Error()}
	}
	if len(parts) == 1 && parts[0].JS {
		c, err := translateJS(parts[0].Text, s)
		return c.src, err
	}
	var codes []code
	for _, p := range parts {
		if !p.JS {
			codes = append(codes, atom(quote(p.Text), kindString))
			continue
		}
		c, err := translateJS(p.Text, s)
		if err != nil {
			return "", err
		}
		codes = append(codes, asString(c))
	}
	return concat(codes).src, nil
}

// ToTemplate translates an n8n parameter value into a Hookflow template,
// for text fields (URLs, message text, headers): the text is kept and each
// {{ }} is translated. Hookflow's templates have no escape for a literal
// "{{", so one is written as the placeholder {{ "{{" }}.
func ToTemplate(v string, s Scope) (string, error) {
	if !IsExpression(v) {
		return escapeText(v), nil
	}
	parts, err := placeholder.Split(v)
	if err != nil {
		return "", &Untranslatable{Source: v, Reason: err.Error()}
	}
	var b strings.Builder
	for _, p := range parts {
		if !p.JS {
			b.WriteString(escapeText(p.Text))
			continue
		}
		c, err := translateJS(p.Text, s)
		if err != nil {
			return "", err
		}
		b.WriteString("{{ " + c.src + " }}")
	}
	return b.String(), nil
}

// escapeText makes text safe to place in a template.
func escapeText(s string) string {
	return strings.ReplaceAll(s, "{{", `{{ "{{" }}`)
}
