package nodes

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"sort"

	"github.com/hookflow/hookflow/engine/schema"
)

// Kind is a node kind: its spec and the builder that compiles its params.
type Kind struct {
	Spec Spec

	params reflect.Type
	build  func(b *Builder, params []byte) Node
	schema *schema.Schema
}

// Define ties a spec to a typed params struct P and the function that builds
// a Node from checked params. The struct's json tags must match the spec's
// field names; a test in this package holds every builtin to that.
func Define[P any](spec Spec, build func(b *Builder, p *P) Node) Kind {
	return Kind{
		Spec:   spec,
		params: reflect.TypeFor[P](),
		build: func(b *Builder, data []byte) Node {
			var p P
			dec := json.NewDecoder(bytes.NewReader(data))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&p); err != nil {
				// The schema check passed, so the spec and P disagree.
				b.Fail("", "params do not fit %s: %v", spec.Kind, err)
				return nil
			}
			return build(b, &p)
		},
	}
}

// Build checks params against the kind's JSON Schema, fills in defaults,
// decodes them strictly and compiles the node. The error, if any, is
// FieldErrors naming every problem.
func (k *Kind) Build(params json.RawMessage) (Node, error) {
	if len(bytes.TrimSpace(params)) == 0 || bytes.Equal(bytes.TrimSpace(params), []byte("null")) {
		params = json.RawMessage("{}")
	}
	value, err := schema.Decode(params)
	if err != nil {
		return nil, FieldErrors{{Message: "params are not valid JSON: " + err.Error()}}
	}
	if violations := k.schema.Check(value); len(violations) > 0 {
		errs := make(FieldErrors, len(violations))
		for i, v := range violations {
			errs[i] = FieldError{Field: v.Field, Message: v.Message}
		}
		return nil, errs
	}
	applyDefaults(value.(map[string]any), k.Spec.Fields)
	data, err := json.Marshal(value)
	if err != nil {
		return nil, FieldErrors{{Message: "encode params: " + err.Error()}}
	}
	b := &Builder{}
	node := k.build(b, data)
	if len(b.errs) > 0 {
		return nil, b.errs
	}
	return node, nil
}

// applyDefaults sets each absent field that has a default, and descends into
// object fields that are present.
func applyDefaults(obj map[string]any, fields []Field) {
	for _, f := range fields {
		v, ok := obj[f.Name]
		if !ok {
			if f.Default != nil {
				obj[f.Name] = f.Default
			}
			continue
		}
		if nested, isObject := v.(map[string]any); isObject && f.Type == TypeObject {
			applyDefaults(nested, f.Fields)
		}
	}
}

// Registry lists the node kinds and credential types a server knows.
type Registry struct {
	kinds           map[string]*Kind
	credentials     map[string]*CredentialType
	credentialOrder []string
}

// NewRegistry returns an empty registry; RegisterBuiltins fills it.
func NewRegistry() *Registry {
	return &Registry{kinds: make(map[string]*Kind), credentials: make(map[string]*CredentialType)}
}

var kindPattern = regexp.MustCompile(`^[a-z][a-z0-9]*(\.[a-z][a-z0-9_]*)*$`)

// iconPattern is the shape of a Lucide icon name; the editor draws nothing
// for a kind without one, so registration refuses it.
var iconPattern = regexp.MustCompile(`^[a-z][a-z0-9]*(-[a-z0-9]+)*$`)

// Register adds a kind after checking its spec.
func (r *Registry) Register(k Kind) error {
	if !kindPattern.MatchString(k.Spec.Kind) {
		return fmt.Errorf("register %q: kind must match %s", k.Spec.Kind, kindPattern)
	}
	if !iconPattern.MatchString(k.Spec.Icon) {
		return fmt.Errorf("register %q: icon must be a Lucide icon name matching %s", k.Spec.Kind, iconPattern)
	}
	if _, dup := r.kinds[k.Spec.Kind]; dup {
		return fmt.Errorf("register %q: already registered", k.Spec.Kind)
	}
	if k.build == nil {
		return fmt.Errorf("register %q: no builder; use nodes.Define", k.Spec.Kind)
	}
	if err := checkFields(k.Spec.Fields); err != nil {
		return fmt.Errorf("register %q: %w", k.Spec.Kind, err)
	}
	compiled, err := schema.Compile(k.Spec.JSONSchema())
	if err != nil {
		return fmt.Errorf("register %q: %w", k.Spec.Kind, err)
	}
	k.schema = compiled
	if k.Spec.Fields == nil {
		k.Spec.Fields = []Field{}
	}
	if k.Spec.Ports == nil {
		k.Spec.Ports = []string{}
	}
	r.kinds[k.Spec.Kind] = &k
	return nil
}

// MustRegister is Register for the fixed list of builtins, where a bad spec
// is a programming error.
func (r *Registry) MustRegister(k Kind) {
	if err := r.Register(k); err != nil {
		panic(err)
	}
}

// Lookup finds a kind by name.
func (r *Registry) Lookup(kind string) (*Kind, bool) {
	k, ok := r.kinds[kind]
	return k, ok
}

// Kinds lists every kind, ordered by category then kind.
func (r *Registry) Kinds() []*Kind {
	out := make([]*Kind, 0, len(r.kinds))
	for _, k := range r.kinds {
		out = append(out, k)
	}
	rank := map[Category]int{CategoryTrigger: 0, CategoryData: 1, CategoryFlow: 2, CategoryAction: 3}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i].Spec, out[j].Spec
		if rank[a.Category] != rank[b.Category] {
			return rank[a.Category] < rank[b.Category]
		}
		return a.Kind < b.Kind
	})
	return out
}

// checkFields catches spec mistakes that would otherwise surface only when
// a user fills the form.
func checkFields(fields []Field) error {
	seen := make(map[string]bool, len(fields))
	for _, f := range fields {
		if f.Name == "" {
			return errors.New("a field has no name")
		}
		if seen[f.Name] {
			return fmt.Errorf("field %q appears twice", f.Name)
		}
		seen[f.Name] = true
		if f.Label == "" {
			return fmt.Errorf("field %q has no label", f.Name)
		}
		switch f.Type {
		case TypeString, TypeTemplate, TypeExpression, TypeCode, TypeNumber, TypeInteger, TypeBoolean, TypeDuration, TypeCron, TypeJSON, TypeFlow:
		case TypeSelect:
			if len(f.Options) == 0 {
				return fmt.Errorf("select field %q has no options", f.Name)
			}
		case TypeCredential:
			if len(f.CredentialTypes) == 0 {
				return fmt.Errorf("credential field %q has no credential type", f.Name)
			}
		case TypeMap, TypeList:
			if f.Items == nil {
				return fmt.Errorf("field %q of type %s has no items", f.Name, f.Type)
			}
			if err := checkFields([]Field{*f.Items}); err != nil {
				return fmt.Errorf("field %q items: %w", f.Name, err)
			}
		case TypeObject:
			if err := checkFields(f.Fields); err != nil {
				return fmt.Errorf("field %q: %w", f.Name, err)
			}
		default:
			return fmt.Errorf("field %q has unknown type %q", f.Name, f.Type)
		}
	}
	return nil
}

// Builder compiles a node's expressions and templates and collects every
// problem on the way, so one save reports them all.
type Builder struct {
	errs FieldErrors
}

// Fail records a problem with a field.
func (b *Builder) Fail(field, format string, args ...any) {
	b.errs = append(b.errs, FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
}
