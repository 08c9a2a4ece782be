// Package webhook holds what a webhook request means to a flow: its body
// parsed by content type, the senders' signature schemes, and the delivery
// id senders put on each request.
package webhook

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/hookflow/hookflow/engine/expression"
)

// ErrUnsupportedMediaType is a body whose content type Hookflow does not
// parse: the ingress answers 415.
var ErrUnsupportedMediaType = errors.New("unsupported media type")

// MalformedBodyError is a body that does not parse as its content type
// says: the ingress answers 400.
type MalformedBodyError struct {
	Kind string
	Err  error
}

func (e *MalformedBodyError) Error() string {
	return fmt.Sprintf("body is not valid %s: %v", e.Kind, e.Err)
}
func (e *MalformedBodyError) Unwrap() error { return e.Err }

// Limits on what a parsed body may hold.
const (
	// MaxMultipartParts bounds the parts of a multipart body.
	MaxMultipartParts = 1000
	// maxXMLDepth bounds the nesting of an XML body.
	maxXMLDepth = 256
)

// Kind is how a body is parsed.
type Kind string

// The body kinds.
const (
	KindNone      Kind = "none"
	KindJSON      Kind = "json"
	KindForm      Kind = "form"
	KindMultipart Kind = "multipart"
	KindXML       Kind = "xml"
	KindText      Kind = "text"
)

// KindOf tells how a body of the content type is parsed. An empty content
// type is sniffed: JSON if it is JSON, text if it is UTF-8.
func KindOf(contentType string, body []byte) (Kind, error) {
	if len(bytes.TrimSpace(body)) == 0 && contentType == "" {
		return KindNone, nil
	}
	if contentType == "" {
		switch {
		case json.Valid(body):
			return KindJSON, nil
		case utf8.Valid(body):
			return KindText, nil
		}
		return "", ErrUnsupportedMediaType
	}
	media, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return "", ErrUnsupportedMediaType
	}
	switch {
	case media == "application/json" || media == "text/json" || strings.HasSuffix(media, "+json"):
		return KindJSON, nil
	case media == "application/x-www-form-urlencoded":
		return KindForm, nil
	case media == "multipart/form-data":
		return KindMultipart, nil
	case media == "application/xml" || media == "text/xml" || strings.HasSuffix(media, "+xml"):
		return KindXML, nil
	case strings.HasPrefix(media, "text/"):
		return KindText, nil
	}
	return "", ErrUnsupportedMediaType
}

// ParseBody parses a request body by its content type, into what
// expressions see as trigger.body: JSON as values, form and multipart
// fields as name → text (a list when repeated, nested by bracketed names
// such as a[b]; files as their name, type and size), XML as nested maps,
// text as a string. An empty body is nil.
func ParseBody(contentType string, body []byte) (any, error) {
	kind, err := KindOf(contentType, body)
	if err != nil {
		return nil, err
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, nil
	}
	switch kind {
	case KindJSON:
		v, err := expression.DecodeJSON(body)
		if err != nil {
			return nil, &MalformedBodyError{Kind: "JSON", Err: err}
		}
		return v, nil
	case KindForm:
		fields, err := parseFormFields(string(body))
		if err != nil {
			return nil, &MalformedBodyError{Kind: "form data", Err: err}
		}
		return nestFields(fields), nil
	case KindMultipart:
		return parseMultipart(contentType, body)
	case KindXML:
		return parseXML(body)
	}
	return string(body), nil
}

// Values turns form or query values into name → text, with a list for a
// name given more than once.
func Values(values url.Values) map[string]any {
	out := make(map[string]any, len(values))
	for name, vs := range values {
		if len(vs) == 1 {
			out[name] = vs[0]
			continue
		}
		list := make([]any, len(vs))
		for i, v := range vs {
			list[i] = v
		}
		out[name] = list
	}
	return out
}

func parseMultipart(contentType string, body []byte) (any, error) {
	_, params, _ := mime.ParseMediaType(contentType)
	boundary := params["boundary"]
	if boundary == "" {
		return nil, &MalformedBodyError{Kind: "multipart data", Err: errors.New("no boundary in the content type")}
	}
	reader := multipart.NewReader(bytes.NewReader(body), boundary)
	var fields []field
	for parts := 0; ; parts++ {
		part, err := reader.NextRawPart()
		if errors.Is(err, io.EOF) {
			if parts == 0 {
				return nil, &MalformedBodyError{Kind: "multipart data", Err: errors.New("no part found")}
			}
			return nestFields(fields), nil
		}
		if err != nil {
			return nil, &MalformedBodyError{Kind: "multipart data", Err: err}
		}
		if parts == MaxMultipartParts {
			return nil, &MalformedBodyError{Kind: "multipart data", Err: fmt.Errorf("more than %d parts", MaxMultipartParts)}
		}
		data, err := io.ReadAll(part)
		if err != nil {
			return nil, &MalformedBodyError{Kind: "multipart data", Err: err}
		}
		name := part.FormName()
		if filename := part.FileName(); filename != "" {
			// Files are described, not kept: their content is in raw.
			fields = append(fields, field{name, map[string]any{
				"filename":     filename,
				"content_type": part.Header.Get("Content-Type"),
				"size":         len(data),
			}})
			continue
		}
		fields = append(fields, field{name, string(data)})
	}
}
