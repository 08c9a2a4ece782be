package webhook

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
)

// parseXML turns an XML document into nested maps the way n8n (xml2js with
// explicitArray off) does, so expressions read it naturally:
//
//   - the root element is the only key of the result;
//   - an element with only text is that text;
//   - an element with children or attributes is a map: attributes under
//     "$", text under "_", children by name;
//   - a child name that repeats holds a list.
//
// Names are local names: namespace prefixes are dropped, and so are
// xmlns declarations. Go's decoder expands no entities beyond XML's own,
// so entity bombs cannot grow a body.
func parseXML(body []byte) (any, error) {
	dec := xml.NewDecoder(bytes.NewReader(body))
	dec.Strict = true
	type frame struct {
		name     string
		value    map[string]any
		text     strings.Builder
		children bool
	}
	var stack []*frame
	var root map[string]any
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, &MalformedBodyError{Kind: "XML", Err: err}
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if len(stack) == maxXMLDepth {
				return nil, &MalformedBodyError{Kind: "XML", Err: fmt.Errorf("nested deeper than %d elements", maxXMLDepth)}
			}
			if len(stack) == 0 && root != nil {
				return nil, &MalformedBodyError{Kind: "XML", Err: errors.New("more than one root element")}
			}
			f := &frame{name: t.Name.Local, value: map[string]any{}}
			for _, a := range t.Attr {
				if a.Name.Space == "xmlns" || a.Name.Local == "xmlns" {
					continue
				}
				attrs, _ := f.value["$"].(map[string]any)
				if attrs == nil {
					attrs = map[string]any{}
					f.value["$"] = attrs
				}
				attrs[a.Name.Local] = a.Value
			}
			if len(stack) > 0 {
				stack[len(stack)-1].children = true
			}
			stack = append(stack, f)
		case xml.CharData:
			if len(stack) > 0 {
				stack[len(stack)-1].text.Write(t)
			}
		case xml.EndElement:
			f := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			text := strings.TrimSpace(f.text.String())
			var v any
			switch {
			case !f.children && len(f.value) == 0:
				v = text
			default:
				if text != "" {
					f.value["_"] = text
				}
				v = f.value
			}
			if len(stack) == 0 {
				root = map[string]any{f.name: v}
				continue
			}
			parent := stack[len(stack)-1].value
			switch prev := parent[f.name].(type) {
			case nil:
				parent[f.name] = v
			case []any:
				parent[f.name] = append(prev, v)
			default:
				parent[f.name] = []any{prev, v}
			}
		}
	}
	if root == nil {
		return nil, &MalformedBodyError{Kind: "XML", Err: errors.New("no root element")}
	}
	return root, nil
}
