package n8nimport

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/hookflow/hookflow/nodes"
)

func respondToWebhook(b *nodeBuilder) (string, error) {
	p := b.p
	if code := p.num(0, "options", "responseCode"); code > 0 {
		b.set("status", int(code))
	}
	headers := b.pairs("headers", p.objects("options", "responseHeaders", "entries"))
	def := "firstIncomingItem"
	switch with := p.str(def, "respondWith"); with {
	case "firstIncomingItem":
		b.set("body", "{{ input }}")
	case "allIncomingItems":
		b.set("body", "{{ input }}")
		b.caveat("answers with the input, one value: Hookflow passes one value from node to node, not a list of items")
	case "json":
		b.set("body", b.jsonValue("body", p.get("responseBody")))
	case "text":
		b.set("body", b.tmpl("body", p.get("responseBody")))
	case "noData":
	case "redirect":
		if _, ok := b.params["status"]; !ok {
			b.set("status", 307)
		}
		headers["Location"] = b.tmpl("headers.Location", p.get("redirectURL"))
	case "binary":
		b.caveat("n8n answered with binary data; Hookflow answers JSON or text: set the body")
	default:
		return "", fmt.Errorf("respond with %q has no Hookflow equivalent", with)
	}
	b.set("headers", headers)
	return nodes.KindRespond, nil
}

// jsonValue reads a JSON parameter n8n holds as text (a JSON body, a
// response): plain text is parsed; an expression is translated into a
// template, then read as JSON with its placeholders kept as strings, so
// that a lone {{ x }} keeps x's type as it did in n8n.
func (b *nodeBuilder) jsonValue(field string, v any) any {
	s, ok := v.(string)
	if !ok {
		return v
	}
	if !strings.HasPrefix(s, "=") {
		var out any
		if err := json.Unmarshal([]byte(s), &out); err != nil {
			b.caveat("%s is not JSON (%v): it is sent as text", field, err)
			return s
		}
		return out
	}
	t := b.tmpl(field, s)
	if out, ok := templateJSON(t); ok {
		return out
	}
	b.caveat("%s builds JSON as text in n8n and does not read as JSON with its placeholders: it is sent as text", field)
	return t
}

var placeholder = regexp.MustCompile(`\{\{.*?\}\}`)

// templateJSON reads a template that writes JSON, such as
// {"name": "{{ input.name }}", "n": {{ input.n }}}: placeholders outside
// JSON strings become strings of their own ("{{ input.n }}", which keeps
// the value's type), those inside stay in their string.
func templateJSON(t string) (any, bool) {
	var holders []string
	var b strings.Builder
	inString, escaped := false, false
	for i := 0; i < len(t); {
		if loc := placeholder.FindStringIndex(t[i:]); loc != nil && loc[0] == 0 {
			marker := `\u0000` + strconv.Itoa(len(holders)) + `\u0000`
			holders = append(holders, t[i:i+loc[1]])
			if !inString {
				marker = `"` + marker + `"`
			}
			b.WriteString(marker)
			i += loc[1]
			continue
		}
		ch := t[i]
		switch {
		case escaped:
			escaped = false
		case ch == '\\' && inString:
			escaped = true
		case ch == '"':
			inString = !inString
		}
		b.WriteByte(ch)
		i++
	}
	var out any
	if err := json.Unmarshal([]byte(b.String()), &out); err != nil {
		return nil, false
	}
	return restore(out, holders), true
}

var markerPattern = regexp.MustCompile("\x00([0-9]+)\x00")

func restore(v any, holders []string) any {
	switch x := v.(type) {
	case string:
		return markerPattern.ReplaceAllStringFunc(x, func(m string) string {
			i, _ := strconv.Atoi(strings.Trim(m, "\x00"))
			return holders[i]
		})
	case []any:
		for i := range x {
			x[i] = restore(x[i], holders)
		}
	case map[string]any:
		for k, e := range x {
			x[k] = restore(e, holders)
		}
	}
	return v
}

// set maps the Edit Fields (Set) node: version 1 and 2's values per type,
// 3.0–3.2's fields.values and 3.3's assignments. Field names with dots
// nest, as with n8n's default "dot notation".
func set(b *nodeBuilder) (string, error) {
	p := b.p
	fields := map[string]string{}
	include := false
	switch {
	case b.n.TypeVersion < 3:
		for _, typ := range []string{"boolean", "number", "string"} {
			for _, v := range p.objects("values", typ) {
				name := v.str("", "name")
				if name == "" {
					continue
				}
				fields[name] = b.expr("fields."+name, v.get("value"))
			}
		}
		include = !p.boolean(false, "keepOnlySet")
	default:
		if p.str("manual", "mode") == "raw" {
			return "", fmt.Errorf("the JSON mode builds the item from JSON text: write it as fields")
		}
		for _, a := range p.objects("assignments", "assignments") {
			name := a.str("", "name")
			if name == "" {
				continue
			}
			fields[name] = b.typedValue("fields."+name, a.str("string", "type"), a.get("value"))
		}
		for _, v := range p.objects("fields", "values") {
			name := v.str("", "name")
			if name == "" {
				continue
			}
			typ := strings.TrimSuffix(v.str("stringValue", "type"), "Value")
			fields[name] = b.typedValue("fields."+name, typ, v.get(typ+"Value"))
		}
		if b.n.TypeVersion >= 3.3 {
			include = p.boolean(false, "includeOtherFields")
		} else {
			include = p.str("all", "include") != "none"
		}
		switch p.str("all", "include") {
		case "selected":
			b.set("keep", splitNames(p.str("", "includeFields")))
		case "except":
			b.set("remove", splitNames(p.str("", "excludeFields")))
		}
	}
	if p.boolean(true, "options", "dotNotation") == false {
		b.caveat("dot notation is off in n8n: Hookflow still nests dotted names")
	}
	b.set("fields", fields)
	if include {
		b.set("include_input", true)
	}
	return "transform", nil
}

// typedValue is the expression of a Set 3 field: plain values are typed
// by the field's type, as n8n converts them.
func (b *nodeBuilder) typedValue(field, typ string, v any) string {
	s, isString := v.(string)
	if !isString || strings.HasPrefix(s, "=") {
		return b.expr(field, v)
	}
	switch typ {
	case "number", "boolean", "array", "object":
		var parsed any
		if err := json.Unmarshal([]byte(s), &parsed); err == nil {
			return literal(parsed)
		}
		if typ == "boolean" {
			return literal(strings.EqualFold(strings.TrimSpace(s), "true"))
		}
		b.caveat("%s: %q is not a %s: kept as text", field, s, typ)
	}
	return literal(s)
}

func splitNames(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func renameKeys(b *nodeBuilder) (string, error) {
	rename := map[string]string{}
	for _, k := range b.p.objects("keys", "key") {
		if from, to := k.str("", "currentKey"), k.str("", "newKey"); from != "" && to != "" {
			rename[from] = to
		}
	}
	if b.p.has("additionalOptions", "regexReplacement") {
		b.caveat("regular-expression renames are not taken over")
	}
	b.set("include_input", true)
	b.set("rename", rename)
	return "transform", nil
}

// noOp becomes a transform that passes its input on: keeping the node,
// rather than joining its neighbours, keeps the expressions that name it
// working and the canvas as it was.
func noOp(b *nodeBuilder) (string, error) {
	b.set("include_input", true)
	return "transform", nil
}

func ifNode(b *nodeBuilder) (string, error) {
	cond, err := b.conditions("condition", b.p)
	if err != nil {
		return "", err
	}
	b.set("condition", cond)
	b.cv.ports = map[int][]string{0: {"true"}, 1: {"false"}}
	return "if", nil
}

func filterNode(b *nodeBuilder) (string, error) {
	cond, err := b.conditions("condition", b.p)
	if err != nil {
		return "", err
	}
	b.set("condition", cond)
	if b.p.boolean(false, "options", "allowDiscardedOutput") {
		b.caveat("the discarded items' output has no equivalent: a filter that does not hold stops the branch")
	}
	b.caveat("n8n filters items one by one; the filter passes or stops its whole input")
	return "filter", nil
}

var notPortChar = regexp.MustCompile(`[^a-z0-9]+`)

// switchNode maps Switch 1–2 (rules on one value) and 3 (a filter per
// rule), and the expression mode of each, to cases with their ports.
func switchNode(b *nodeBuilder) (string, error) {
	p := b.p
	type rule struct {
		output int
		port   string
		cond   string
	}
	var rules []rule
	outputs := 0
	fallback := -1
	if p.str("rules", "mode") == "expression" {
		n := int(p.num(4, "numberOutputs"))
		out := b.expr("output", p.get("output"))
		for i := range n {
			rules = append(rules, rule{output: i, cond: fmt.Sprintf("(%s) == %d", out, i)})
		}
		outputs = n
	} else if b.n.TypeVersion < 3 {
		value := "(" + b.expr("value1", p.get("value1")) + ")"
		typ := p.str("number", "dataType")
		for i, r := range p.objects("rules", "rules") {
			at := fmt.Sprintf("rules[%d]", i)
			right := "(" + b.expr(at+".value2", r.get("value2")) + ")"
			op := r.str("equal", "operation")
			var cond string
			var err error
			if cmp, ok := comparison(op); ok && typ != "string" {
				cond = value + " " + cmp + " " + right
				if typ == "dateTime" {
					cond = "date(" + value + ") " + cmp + " date(" + right + ")"
				}
			} else {
				cond, err = operation("string", strings.Replace(op, "equal", "equals", 1), value, right, true)
				if op == "equal" || op == "notEqual" {
					cond, err = map[string]string{"equal": value + " == " + right, "notEqual": value + " != " + right}[op], nil
				}
			}
			if err != nil {
				return "", fmt.Errorf("%s: %w", at, err)
			}
			o := int(r.num(0, "output"))
			rules = append(rules, rule{output: o, cond: cond})
			outputs = max(outputs, o+1)
		}
		fallback = int(p.num(-1, "fallbackOutput"))
	} else {
		for i, r := range p.objects("rules", "values") {
			at := fmt.Sprintf("rules[%d]", i)
			cond, err := b.filterConditions(at, r.object("conditions"))
			if err != nil {
				return "", err
			}
			port := ""
			if r.boolean(false, "renameOutput") {
				port = r.str("", "outputKey")
			}
			rules = append(rules, rule{output: i, port: port, cond: cond})
		}
		outputs = len(rules)
		switch fb := p.get("options", "fallbackOutput"); fb {
		case "extra":
			fallback = outputs
		case nil, "none":
		default:
			if f, ok := fb.(float64); ok {
				fallback = int(f)
			}
		}
		if p.boolean(false, "options", "allMatchingOutputs") {
			b.caveat("n8n sends to every matching output; Hookflow's switch takes the first case that holds")
		}
	}
	if len(rules) == 0 {
		return "", fmt.Errorf("the switch has no rules")
	}
	// Rules sharing an output become one case, since ports are unique.
	byOutput := map[int]int{}
	var cases []map[string]any
	used := map[string]bool{nodes.DefaultPort: true, "error": true}
	ports := map[int][]string{}
	for _, r := range rules {
		if i, ok := byOutput[r.output]; ok {
			cases[i]["condition"] = "(" + cases[i]["condition"].(string) + ") || (" + r.cond + ")"
			continue
		}
		port := strings.Trim(notPortChar.ReplaceAllString(strings.ToLower(r.port), "_"), "_")
		if port == "" || port[0] < 'a' || port[0] > 'z' {
			port = fmt.Sprintf("output_%d", r.output)
		}
		for base, i := port, 2; used[port]; i++ {
			port = fmt.Sprintf("%s_%d", base, i)
		}
		used[port] = true
		byOutput[r.output] = len(cases)
		cases = append(cases, map[string]any{"port": port, "condition": r.cond})
		ports[r.output] = []string{port}
	}
	if fallback >= 0 {
		ports[fallback] = append(ports[fallback], nodes.DefaultPort)
	}
	for i := range outputs {
		if _, ok := ports[i]; !ok {
			ports[i] = nil
		}
	}
	b.set("cases", cases)
	b.cv.ports = ports
	return "switch", nil
}

// merge maps every Merge mode to Hookflow's merge, which waits for the
// branches and outputs their outputs by node id; chooseBranch and
// passThrough keep one branch.
func merge(b *nodeBuilder) (string, error) {
	mode := b.p.str("append", "mode")
	switch mode {
	case "chooseBranch", "passThrough":
		b.caveat("Hookflow's merge outputs every branch's output by node id: read the chosen branch as input.<id>")
	case "wait":
	default:
		b.caveat("n8n's %q mode joins items; Hookflow's merge outputs each branch's output by node id (input.<id>): join them in a transform or code node after it", mode)
	}
	b.set("mode", nodes.MergeAll)
	return "merge", nil
}

// splitInBatches maps Loop Over Items (Split in Batches): its loop output
// becomes foreach's each port, and the connection n8n draws back into it
// is left out.
func splitInBatches(b *nodeBuilder) (string, error) {
	b.set("items", b.json())
	b.caveat("n8n loops over its input's items: check that items gives the list to loop over")
	if size := b.p.num(10, "batchSize"); size != 1 {
		b.caveat("n8n takes %v items per batch; foreach takes one element per iteration", size)
	}
	b.cv.loop = true
	if b.n.TypeVersion >= 3 {
		b.cv.ports = map[int][]string{0: {nodes.DonePort}, 1: {nodes.IteratePort}}
	} else {
		b.cv.ports = map[int][]string{0: {nodes.IteratePort}}
	}
	return "foreach", nil
}

var plainPath = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$`)

// splitOut maps Split Out: the nodes after it run once per element of the
// field, as they did once per item in n8n.
func splitOut(b *nodeBuilder) (string, error) {
	field := b.p.str("", "fieldToSplitOut")
	switch {
	case strings.HasPrefix(field, "="):
		b.set("items", b.expr("items", field))
	case strings.Contains(field, ","):
		return "", fmt.Errorf("splitting out several fields (%s) has no Hookflow equivalent", field)
	case field != "":
		b.set("items", b.jsonField(field))
	default:
		return "", fmt.Errorf("no field to split out")
	}
	if b.p.str("noOtherFields", "include") != "noOtherFields" {
		b.caveat("the other fields are not copied into each element: read them from steps")
	}
	b.cv.loop = true
	b.cv.ports = map[int][]string{0: {nodes.IteratePort}}
	return "foreach", nil
}
