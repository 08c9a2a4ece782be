package n8nimport

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/hookflow/hookflow/n8nimport/n8nexpr"
	"github.com/hookflow/hookflow/nodes"
)

// nodeBuilder builds one Hookflow node's params from an n8n node, and
// records in the report each expression it translates and each credential
// it names.
type nodeBuilder struct {
	c      *converter
	n      *n8nNode
	cv     *converted
	p      params
	params map[string]any
}

// mapper converts one n8n node type: it fills the builder's params and
// returns the Hookflow kind, or an error saying why the node cannot be
// converted.
type mapper func(b *nodeBuilder) (string, error)

func (b *nodeBuilder) caveat(format string, args ...any) { b.cv.caveat(format, args...) }

// set sets a param, leaving out empty values so kinds apply their defaults.
func (b *nodeBuilder) set(name string, v any) {
	switch x := v.(type) {
	case nil:
		return
	case string:
		if x == "" {
			return
		}
	case map[string]string:
		if len(x) == 0 {
			return
		}
	}
	b.params[name] = v
}

func (b *nodeBuilder) scope() n8nexpr.Scope {
	return n8nexpr.Scope{
		IDs:     b.c.ids,
		Trigger: b.c.trigger,
		Input:   b.c.inputName(b.n.Name),
		InLoop:  b.c.inLoop[b.n.Name],
		Paths:   b.c.paths,
	}
}

// json is the expression for what n8n's $json is at this node (input,
// input.body after an HTTP Request, trigger, item in a loop), for the
// params n8n fills from $json without an expression; input when there is
// none to read.
func (b *nodeBuilder) json() string {
	out, err := n8nexpr.ToExpression("={{ $json }}", b.scope())
	if err != nil {
		return "input"
	}
	return out
}

// jsonField is the expression for a field of n8n's $json.
func (b *nodeBuilder) jsonField(field string) string {
	if plainPath.MatchString(field) {
		return b.json() + "." + field
	}
	return b.json() + "[" + strconv.Quote(field) + "]"
}

// untranslatedCall is how an expression that could not be translated is
// kept: its n8n source inside a call of n8n(), a name Hookflow does not
// know, so saving the flow fails on that very field until it is rewritten,
// and the original stays at hand to rewrite it from.
const untranslatedCall = "n8n"

func untranslated(original string) string {
	return untranslatedCall + "(" + strconv.Quote(original) + ")"
}

// expr gives the Hookflow expression for an n8n value in a field of type
// expression: expressions are translated, other values become literals.
func (b *nodeBuilder) expr(field string, v any) string {
	if s, ok := v.(string); ok && n8nexpr.IsExpression(s) {
		out, err := n8nexpr.ToExpression(s, b.scope())
		if b.record(field, s, out, err, false) {
			return out
		}
		return untranslated(s)
	}
	return literal(v)
}

// tmpl gives the Hookflow template for an n8n value in a text field.
func (b *nodeBuilder) tmpl(field string, v any) string {
	switch s := v.(type) {
	case nil:
		return ""
	case string:
		if !n8nexpr.IsExpression(s) {
			return s
		}
		out, err := n8nexpr.ToTemplate(s, b.scope())
		if b.record(field, s, out, err, true) {
			return out
		}
		return "{{ " + untranslated(s) + " }}"
	case float64:
		return strconv.FormatFloat(s, 'f', -1, 64)
	default:
		data, _ := json.Marshal(s)
		return string(data)
	}
}

// record reports one translation, a template's or an expression's, and
// tells whether it succeeded.
func (b *nodeBuilder) record(field, original, result string, err error, template bool) bool {
	e := ExpressionReport{Node: b.n.Name, Field: field, Original: original, scope: b.scope(), template: template}
	if err == nil {
		e.Translated, e.Result = true, result
	} else {
		var u *n8nexpr.Untranslatable
		if errors.As(err, &u) {
			e.Reason = u.Reason
		} else {
			e.Reason = err.Error()
		}
	}
	b.c.report.Expressions = append(b.c.report.Expressions, e)
	if err != nil {
		b.caveat("%s: the expression could not be translated (%s); it is kept as n8n(…) so saving fails there until it is rewritten", field, e.Reason)
	}
	return err == nil
}

// literal writes a JSON value as an expr literal.
func literal(v any) string {
	switch x := v.(type) {
	case nil:
		return "nil"
	case string:
		return strconv.Quote(x)
	case bool:
		return strconv.FormatBool(x)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = literal(e)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = strconv.Quote(k) + ": " + literal(x[k])
		}
		return "{" + strings.Join(parts, ", ") + "}"
	default:
		data, _ := json.Marshal(x)
		return string(data)
	}
}

var notCredentialChar = regexp.MustCompile(`[^A-Za-z0-9_.-]+`)

// credential names the credential a field uses, made from the n8n
// credential's name (Hookflow's names are [A-Za-z0-9][A-Za-z0-9_.-]*), and
// lists it in the report. n8nTypes are the n8n credential types that fit,
// in order of preference; "" when the node names none.
func (b *nodeBuilder) credential(hfType string, n8nTypes ...string) string {
	creds := b.n.credentials()
	var n8nType, n8nName string
	for _, t := range n8nTypes {
		if name, ok := creds[t]; ok {
			n8nType, n8nName = t, name
			break
		}
	}
	if n8nType == "" {
		// A node may name a credential type this import does not know.
		for _, t := range sortedKeys(creds) {
			n8nType, n8nName = t, creds[t]
			break
		}
	}
	if n8nName == "" && n8nType == "" {
		if !required(hfType) {
			return ""
		}
		// The kind cannot go without one: name it after the node, for the
		// user to create.
		n8nType = ""
	}
	name := credentialName(n8nName, b.n.Name)
	need := CredentialNeed{Name: name, Type: hfType, N8nName: n8nName, N8nType: n8nType, Node: b.n.Name}
	key := name + "\x00" + hfType
	if !b.c.creds[key] {
		b.c.creds[key] = true
		b.c.report.Credentials = append(b.c.report.Credentials, need)
	}
	return name
}

func credentialName(n8nName, nodeName string) string {
	name := strings.Trim(notCredentialChar.ReplaceAllString(strings.TrimSpace(n8nName), "-"), "-_.")
	if name == "" {
		name = strings.Trim(notCredentialChar.ReplaceAllString(nodeName, "-"), "-_.")
	}
	if name == "" {
		name = "n8n-credential"
	}
	if len(name) > 100 {
		name = name[:100]
	}
	return name
}

// pairs reads n8n's list of {name, value} pairs (headers, query and body
// parameters, response headers) as name → template.
func (b *nodeBuilder) pairs(field string, list []params) map[string]string {
	out := map[string]string{}
	for _, p := range list {
		name := p.str("", "name")
		if name == "" {
			continue
		}
		out[name] = b.tmpl(fmt.Sprintf("%s.%s", field, name), p.get("value"))
	}
	return out
}

// required tells whether the kinds taking this credential type cannot do
// without one (the messaging, mail and database kinds), unlike an HTTP
// request or a webhook.
func required(hfType string) bool {
	switch hfType {
	case nodes.CredentialSlack, nodes.CredentialDiscord, nodes.CredentialTelegram, nodes.CredentialSMTP, nodes.CredentialDatabase:
		return true
	}
	return false
}
