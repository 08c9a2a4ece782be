// Package schema checks JSON values against JSON Schemas and reports every
// violation with the dotted path of the field it concerns, in words a user of
// the editor can act on.
package schema

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

// Schema is a compiled JSON Schema (draft 2020-12).
type Schema struct {
	compiled *jsonschema.Schema
}

// Violation is one way a value breaks a schema.
type Violation struct {
	// Field is the dotted path of the offending value, such as
	// "cases[0].condition"; empty for the value itself.
	Field string
	// Message says what is wrong.
	Message string
}

// Compile compiles a schema document given as decoded JSON. The document
// stands alone: a $ref may point inside it, or at a JSON Schema
// meta-schema, but never at a file or URL, so a schema a user wrote (an
// llm.chat node's structured output) cannot make the server read files.
func Compile(doc map[string]any) (*Schema, error) {
	// Round-trip through JSON so numbers reach the compiler as json.Number,
	// whatever Go types the document was built from.
	data, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("encode schema: %w", err)
	}
	value, err := Decode(data)
	if err != nil {
		return nil, fmt.Errorf("decode schema: %w", err)
	}
	c := jsonschema.NewCompiler()
	c.UseLoader(noLoader{})
	const url = "mem://schema.json"
	if err := c.AddResource(url, value); err != nil {
		return nil, fmt.Errorf("add schema: %w", err)
	}
	compiled, err := c.Compile(url)
	if err != nil {
		return nil, fmt.Errorf("compile schema: %w", err)
	}
	return &Schema{compiled: compiled}, nil
}

// noLoader refuses every external resource a schema refers to.
type noLoader struct{}

func (noLoader) Load(url string) (any, error) {
	return nil, fmt.Errorf("%s: a schema may only refer to itself", url)
}

// Decode parses JSON into the generic form Check expects: objects as
// map[string]any, arrays as []any and numbers as json.Number.
func Decode(data []byte) (any, error) {
	return jsonschema.UnmarshalJSON(bytes.NewReader(data))
}

// Check validates a value produced by Decode and returns every violation,
// ordered by field.
func (s *Schema) Check(value any) []Violation {
	err := s.compiled.Validate(value)
	if err == nil {
		return nil
	}
	var verr *jsonschema.ValidationError
	if !errors.As(err, &verr) {
		return []Violation{{Message: err.Error()}}
	}
	var out []Violation
	collect(verr, value, &out)
	return out
}

var printer = message.NewPrinter(language.English)

// collect walks to the leaves of a validation error tree, where the concrete
// failures are; inner nodes only group them.
func collect(e *jsonschema.ValidationError, root any, out *[]Violation) {
	if len(e.Causes) > 0 {
		for _, c := range e.Causes {
			collect(c, root, out)
		}
		return
	}
	path := Path(root, e.InstanceLocation)
	switch k := e.ErrorKind.(type) {
	case *kind.Required:
		for _, name := range k.Missing {
			*out = append(*out, Violation{Field: Join(path, name), Message: "is required"})
		}
	case *kind.AdditionalProperties:
		for _, name := range k.Properties {
			*out = append(*out, Violation{Field: Join(path, name), Message: "is not a known field"})
		}
	default:
		*out = append(*out, Violation{Field: path, Message: describe(e.ErrorKind)})
	}
}

func describe(k jsonschema.ErrorKind) string {
	switch k := k.(type) {
	case *kind.Type:
		return fmt.Sprintf("must be %s, not %s", article(strings.Join(k.Want, " or ")), k.Got)
	case *kind.Enum:
		want := make([]string, len(k.Want))
		for i, w := range k.Want {
			want[i] = fmt.Sprint(w)
		}
		return "must be one of: " + strings.Join(want, ", ")
	case *kind.MinLength:
		if k.Want == 1 {
			return "must not be empty"
		}
		return fmt.Sprintf("must be at least %d characters long", k.Want)
	case *kind.MaxLength:
		return fmt.Sprintf("must be at most %d characters long (it is %d)", k.Want, k.Got)
	case *kind.Minimum:
		return "must be at least " + ratString(k.Want)
	case *kind.Maximum:
		return "must be at most " + ratString(k.Want)
	case *kind.MinItems:
		return fmt.Sprintf("must hold at least %d items", k.Want)
	case *kind.MaxItems:
		return fmt.Sprintf("must hold at most %d items (it holds %d)", k.Want, k.Got)
	case *kind.MaxProperties:
		return fmt.Sprintf("must hold at most %d entries (it holds %d)", k.Want, k.Got)
	case *kind.Pattern:
		return fmt.Sprintf("%q must match %s", k.Got, k.Want)
	}
	return k.LocalizedString(printer)
}

func article(noun string) string {
	if strings.IndexByte("aeiou", noun[0]) >= 0 {
		return "an " + noun
	}
	return "a " + noun
}

func ratString(r *big.Rat) string {
	if r.IsInt() {
		return r.Num().String()
	}
	return r.FloatString(3)
}

// Path renders an instance location as a dotted field path, writing array
// positions as [i] so "cases[0].condition" and a map key "0" stay distinct.
func Path(root any, location []string) string {
	var b strings.Builder
	value := root
	for _, segment := range location {
		switch v := value.(type) {
		case []any:
			b.WriteString("[" + segment + "]")
			if i, err := strconv.Atoi(segment); err == nil && i < len(v) {
				value = v[i]
			} else {
				value = nil
			}
		case map[string]any:
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(segment)
			value = v[segment]
		default:
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(segment)
			value = nil
		}
	}
	return b.String()
}

// Join appends a field name to a dotted path.
func Join(path, name string) string {
	if path == "" {
		return name
	}
	if name == "" {
		return path
	}
	if strings.HasPrefix(name, "[") {
		return path + name
	}
	return path + "." + name
}
