package webhook

import (
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// maxFieldDepth bounds the bracket segments of a field name; a deeper name
// stays flat, as it came.
const maxFieldDepth = 10

// maxListIndex is the highest index in a field name such as items[3] that
// makes a list; a higher one is an object key, so a name like ids[99999]
// cannot make a huge list. It is qs's, as Node servers parse forms.
const maxListIndex = 20

// field is one form or multipart field, in the order it came.
type field struct {
	name  string
	value any
}

// parseFormFields splits an application/x-www-form-urlencoded body into its
// fields, in order, as url.ParseQuery does but keeping the order, which
// decides the shape of names such as items[][sku].
func parseFormFields(body string) ([]field, error) {
	var fields []field
	for pair := range strings.SplitSeq(body, "&") {
		if pair == "" {
			continue
		}
		if strings.Contains(pair, ";") {
			return nil, fmt.Errorf("invalid semicolon separator in %q", pair)
		}
		rawName, rawValue, _ := strings.Cut(pair, "=")
		name, err := url.QueryUnescape(rawName)
		if err != nil {
			return nil, err
		}
		value, err := url.QueryUnescape(rawValue)
		if err != nil {
			return nil, err
		}
		fields = append(fields, field{name, value})
	}
	return fields, nil
}

// group is an object made by bracketed names; it becomes a list at the end
// when all its keys are small indexes.
type group map[string]any

// nestFields builds trigger.body from fields as PHP, Rails and Stripe senders
// mean them: a[b]=1 is {"a": {"b": "1"}}, a[]=1&a[]=2 is {"a": ["1", "2"]},
// items[0][sku]=x is {"items": [{"sku": "x"}]}, and items[][sku]=x&items[][qty]=1
// is one element with both (a new one starts when a key repeats, as in Rails).
// A plain name given more than once is a list of its values. A name that
// does not fit the shape already built (a=1 then a[b]=2) stays flat, so no
// field is ever lost.
func nestFields(fields []field) map[string]any {
	root := group{}
	for _, f := range fields {
		path := splitFieldName(f.name)
		if len(path) == 1 || !insert(root, path, f.value) {
			addRepeated(root, f.name, f.value)
		}
	}
	// The body itself stays an object even when its names are 0, 1 …
	out := make(map[string]any, len(root))
	for k, v := range root {
		out[k] = finish(v)
	}
	return out
}

// addRepeated sets a plain name, making a list when it repeats.
func addRepeated(g group, name string, value any) {
	switch prev := g[name].(type) {
	case nil:
		g[name] = value
	case []any:
		g[name] = append(prev, value)
	default:
		g[name] = []any{prev, value}
	}
}

// splitFieldName splits a[b][] into a, b and "". A name that is not a base
// followed only by bracketed segments is one segment, itself.
func splitFieldName(name string) []string {
	open := strings.IndexByte(name, '[')
	if open <= 0 || !strings.HasSuffix(name, "]") {
		return []string{name}
	}
	path := []string{name[:open]}
	rest := name[open:]
	for rest != "" {
		end := strings.IndexByte(rest, ']')
		if rest[0] != '[' || end < 0 || strings.ContainsAny(rest[1:end], "[") {
			return []string{name}
		}
		path = append(path, rest[1:end])
		rest = rest[end+1:]
	}
	if len(path)-1 > maxFieldDepth {
		return []string{name}
	}
	return path
}

// insert puts value at path under g; false when the path crosses a value of
// another shape.
func insert(g group, path []string, value any) bool {
	key, rest := path[0], path[1:]
	if len(rest) == 0 {
		if _, taken := g[key]; taken {
			return false
		}
		g[key] = value
		return true
	}
	if rest[0] == "" { // key[]: a list
		list, ok := g[key].([]any)
		if !ok && g[key] != nil {
			return false
		}
		if len(rest) == 1 {
			g[key] = append(list, value)
			return true
		}
		// key[][sub]: into the last element, unless it has sub already.
		if n := len(list); n > 0 {
			if last, ok := list[n-1].(group); ok && !hasPath(last, rest[1:]) {
				return insert(last, rest[1:], value)
			}
		}
		element := group{}
		if !insert(element, rest[1:], value) {
			return false
		}
		g[key] = append(list, element)
		return true
	}
	sub, ok := g[key].(group)
	if !ok {
		if g[key] != nil {
			return false
		}
		sub = group{}
		g[key] = sub
	}
	return insert(sub, rest, value)
}

// hasPath tells whether g holds something at path.
func hasPath(g group, path []string) bool {
	v, ok := g[path[0]]
	if !ok || len(path) == 1 || path[1] == "" {
		return ok
	}
	sub, ok := v.(group)
	return ok && hasPath(sub, path[1:])
}

// finish turns groups into objects, or into lists when their keys are all
// small indexes (items[0], items[1] …), in index order.
func finish(v any) any {
	switch v := v.(type) {
	case group:
		if list, ok := indexed(v); ok {
			return list
		}
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[k] = finish(e)
		}
		return out
	case []any:
		for i, e := range v {
			v[i] = finish(e)
		}
		return v
	}
	return v
}

func indexed(g group) ([]any, bool) {
	if len(g) == 0 {
		return nil, false
	}
	indexes := make([]int, 0, len(g))
	for k := range g {
		i, err := strconv.Atoi(k)
		if err != nil || i < 0 || i > maxListIndex || strconv.Itoa(i) != k {
			return nil, false
		}
		indexes = append(indexes, i)
	}
	sort.Ints(indexes)
	list := make([]any, len(indexes))
	for n, i := range indexes {
		list[n] = finish(g[strconv.Itoa(i)])
	}
	return list, true
}
