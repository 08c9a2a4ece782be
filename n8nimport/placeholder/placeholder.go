// Package placeholder cuts n8n parameter values into literal text and the
// JavaScript of their {{ }} placeholders.
package placeholder

import (
	"errors"
	"strings"
)

// Part is literal text or the JavaScript inside one {{ }}.
type Part struct {
	Text string
	JS   bool
}

// Split cuts an n8n expression value (with its leading "=") into text and
// placeholders. A "}}" inside a JavaScript string or object literal does
// not close a placeholder. The error says, in a user's words, what is
// malformed.
func Split(v string) ([]Part, error) {
	rest := strings.TrimPrefix(v, "=")
	var parts []Part
	for rest != "" {
		open := strings.Index(rest, "{{")
		if open < 0 {
			parts = append(parts, Part{Text: rest})
			break
		}
		if open > 0 {
			parts = append(parts, Part{Text: rest[:open]})
		}
		body := rest[open+2:]
		end := closing(body)
		if end < 0 {
			return nil, errors.New(`has a "{{" that is not closed by "}}"`)
		}
		if strings.TrimSpace(body[:end]) == "" {
			return nil, errors.New("has an empty {{ }}")
		}
		parts = append(parts, Part{Text: body[:end], JS: true})
		rest = body[end+2:]
	}
	if len(parts) == 0 {
		parts = append(parts, Part{})
	}
	return parts, nil
}

// closing finds the "}}" that ends a placeholder whose body starts s. It is
// Hookflow's template scanner (engine/expression) but for JavaScript, whose
// backquoted strings take escapes where expr's are raw: `\`}}` does not end
// a JavaScript string.
func closing(s string) int {
	depth := 0
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == '\\' {
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
			return i
		}
	}
	return -1
}
