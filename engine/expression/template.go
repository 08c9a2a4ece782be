package expression

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Template is a string that may embed {{ expression }} placeholders.
type Template struct {
	source string
	parts  []templatePart
}

// templatePart is either literal text or a compiled placeholder.
type templatePart struct {
	text    string
	program *Program
}

// CompileTemplate parses text with {{ expression }} placeholders and compiles
// each placeholder.
func CompileTemplate(source string) (*Template, error) {
	if len(source) > MaxSourceLength {
		return nil, fmt.Errorf("template is %d bytes long; the limit is %d", len(source), MaxSourceLength)
	}
	t := &Template{source: source}
	rest := source
	for {
		open := strings.Index(rest, "{{")
		if open < 0 {
			if rest != "" {
				t.parts = append(t.parts, templatePart{text: rest})
			}
			return t, nil
		}
		if open > 0 {
			t.parts = append(t.parts, templatePart{text: rest[:open]})
		}
		inner, after, err := placeholder(rest[open+2:])
		if err != nil {
			return nil, fmt.Errorf("placeholder at byte %d: %w", len(source)-len(rest)+open, err)
		}
		program, err := Compile(strings.TrimSpace(inner))
		if err != nil {
			return nil, fmt.Errorf("placeholder {{ %s }}: %w", strings.TrimSpace(inner), err)
		}
		t.parts = append(t.parts, templatePart{program: program})
		rest = after
	}
}

// placeholder finds the "}}" that closes a placeholder whose body starts at s.
// Braces and quotes inside the expression are tracked, so map literals and
// strings holding "}}" do not end it early.
func placeholder(s string) (inner, after string, err error) {
	depth := 0
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == '\\' && quote != '`' {
				i++
			} else if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'' || c == '`':
			quote = c
		case c == '{':
			depth++
		case c == '}' && depth > 0:
			depth--
		case c == '}' && i+1 < len(s) && s[i+1] == '}':
			if strings.TrimSpace(s[:i]) == "" {
				return "", "", errors.New("empty {{ }}")
			}
			return s[:i], s[i+2:], nil
		}
	}
	return "", "", errors.New(`"{{" is not closed by "}}"`)
}

// Source returns the template as written.
func (t *Template) Source() string { return t.source }

// IsStatic reports whether the template has no placeholders.
func (t *Template) IsStatic() bool {
	for _, p := range t.parts {
		if p.program != nil {
			return false
		}
	}
	return true
}

// KeepsType reports a template that is exactly one placeholder: it gives
// the expression's value with its type, not text.
func (t *Template) KeepsType() bool { return len(t.parts) == 1 && t.parts[0].program != nil }

// Eval renders the template. A template that is exactly one placeholder keeps
// the value's type; otherwise the parts are joined as text.
func (t *Template) Eval(ctx context.Context, scope *Scope) (any, error) {
	if t.KeepsType() {
		return t.parts[0].program.Eval(ctx, scope)
	}
	var b strings.Builder
	for _, p := range t.parts {
		if p.program == nil {
			b.WriteString(p.text)
			continue
		}
		v, err := p.program.Eval(ctx, scope)
		if err != nil {
			return nil, err
		}
		b.WriteString(Stringify(v))
	}
	return b.String(), nil
}

// Stringify renders a value the way a template embeds it in text: strings as
// they are, nil as nothing, numbers without a needless fraction, and maps and
// lists as JSON.
func Stringify(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	case bool:
		return strconv.FormatBool(v)
	case int:
		return strconv.Itoa(v)
	case int64:
		return strconv.FormatInt(v, 10)
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case fmt.Stringer:
		return v.String()
	}
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(data)
}
