// Package n8nexpr translates n8n parameter values, whose {{ }} placeholders
// hold JavaScript, into Hookflow expressions and templates (expr-lang).
//
// Only a subset of JavaScript has a faithful equivalent in expr. Anything
// outside it is refused with an *Untranslatable error that says why, so an
// imported flow never runs an expression that means something else than it
// did in n8n.
package n8nexpr

import "strings"

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
// expression, for fields of type expression.
func ToExpression(v string, s Scope) (string, error) {
	return "", &Untranslatable{Source: v, Reason: "not implemented yet"}
}

// ToTemplate translates an n8n parameter value into a Hookflow template, for
// text fields.
func ToTemplate(v string, s Scope) (string, error) {
	return "", &Untranslatable{Source: v, Reason: "not implemented yet"}
}
