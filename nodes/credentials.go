package nodes

import (
	"fmt"

	"github.com/hookflow/hookflow/engine/schema"
)

// CredentialType describes a kind of credential as data: the form the
// editor draws and the JSON Schema its data is checked against. Every field
// of a credential is write-only: the API never returns it.
type CredentialType struct {
	Name    string  `json:"name"`
	Title   string  `json:"title"`
	Summary string  `json:"summary"`
	Fields  []Field `json:"fields"`

	schema *schema.Schema
}

// Credential type names.
const (
	CredentialSecret    = "secret"
	CredentialHTTPBasic = "http_basic"
)

var builtinCredentialTypes = []CredentialType{
	{
		Name: CredentialSecret, Title: "Secret", Summary: "A signing secret, token or key, such as a webhook's signing secret.",
		Fields: []Field{{Name: "secret", Type: TypeString, Label: "Secret", Required: true, Secret: true, Min: Bound(1)}},
	},
	{
		Name: CredentialHTTPBasic, Title: "Basic auth", Summary: "A username and password.",
		Fields: []Field{
			{Name: "username", Type: TypeString, Label: "Username", Required: true, Min: Bound(1)},
			{Name: "password", Type: TypeString, Label: "Password", Required: true, Secret: true},
		},
	},
}

// JSONSchema is the schema of the credential type's data.
func (c *CredentialType) JSONSchema() map[string]any {
	s := objectSchema(c.Fields)
	s["$schema"] = "https://json-schema.org/draft/2020-12/schema"
	s["title"] = c.Title
	return s
}

// Check validates credential data against the type's schema.
func (c *CredentialType) Check(data any) FieldErrors {
	var errs FieldErrors
	for _, v := range c.schema.Check(data) {
		errs = append(errs, FieldError{Field: v.Field, Message: v.Message})
	}
	return errs
}

// RegisterCredentialType adds a credential type.
func (r *Registry) RegisterCredentialType(c CredentialType) error {
	if _, dup := r.credentials[c.Name]; dup {
		return fmt.Errorf("register credential type %q: already registered", c.Name)
	}
	if err := checkFields(c.Fields); err != nil {
		return fmt.Errorf("register credential type %q: %w", c.Name, err)
	}
	compiled, err := schema.Compile(c.JSONSchema())
	if err != nil {
		return fmt.Errorf("register credential type %q: %w", c.Name, err)
	}
	c.schema = compiled
	r.credentials[c.Name] = &c
	r.credentialOrder = append(r.credentialOrder, c.Name)
	return nil
}

// CredentialType finds a credential type by name.
func (r *Registry) CredentialType(name string) (*CredentialType, bool) {
	c, ok := r.credentials[name]
	return c, ok
}

// CredentialTypes lists the credential types in registration order.
func (r *Registry) CredentialTypes() []*CredentialType {
	out := make([]*CredentialType, len(r.credentialOrder))
	for i, name := range r.credentialOrder {
		out[i] = r.credentials[name]
	}
	return out
}
