package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hookflow/hookflow/engine/schema"
	"github.com/hookflow/hookflow/engine/vault"
	"github.com/hookflow/hookflow/nodes"
	"github.com/hookflow/hookflow/store"
)

// credentialCacheTTL bounds how long a credential changed on another
// instance is used in its old form here.
const credentialCacheTTL = 5 * time.Second

// InvalidCredentialError lists what is wrong with a credential to save.
type InvalidCredentialError struct {
	Problems []Problem
}

func (e *InvalidCredentialError) Error() string {
	return "credential is invalid: " + countProblems(len(e.Problems))
}

// Credentials stores credentials sealed, checks their data against their
// type, and opens them for the parts of the server that use them. Their data
// never leaves the server through the API.
type Credentials struct {
	store    store.Store
	registry *nodes.Registry
	vault    *vault.Vault

	mu    sync.Mutex
	cache map[string]openCredential
}

type openCredential struct {
	cred     *nodes.Credential
	openedAt time.Time
}

// NewCredentials returns the credential service.
func NewCredentials(st store.Store, reg *nodes.Registry, v *vault.Vault) *Credentials {
	return &Credentials{store: st, registry: reg, vault: v, cache: map[string]openCredential{}}
}

var credentialName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$`)

// check validates a credential's name, type and data, and seals the data.
func (c *Credentials) seal(name, typ string, data json.RawMessage) ([]byte, error) {
	var problems []Problem
	if !credentialName.MatchString(name) {
		problems = append(problems, Problem{Field: "name", Message: "must be 1 to 100 letters, digits, '.', '_' or '-', starting with a letter or digit"})
	}
	ct, ok := c.registry.CredentialType(typ)
	if !ok {
		problems = append(problems, Problem{Field: "type", Message: fmt.Sprintf("unknown credential type %q", typ)})
	}
	if ok {
		value, err := schema.Decode(data)
		if err != nil || len(data) == 0 {
			problems = append(problems, Problem{Field: "data", Message: "must be a JSON object"})
		} else {
			for _, fe := range ct.Check(value) {
				problems = append(problems, Problem{Field: schema.Join("data", fe.Field), Message: fe.Message})
			}
		}
	}
	if len(problems) > 0 {
		return nil, &InvalidCredentialError{Problems: problems}
	}
	return c.vault.Seal(data, []byte(name)), nil
}

// Create stores a new credential; store.ErrExists if the name is taken.
func (c *Credentials) Create(ctx context.Context, name, typ string, data json.RawMessage) (*store.Credential, error) {
	sealed, err := c.seal(name, typ, data)
	if err != nil {
		return nil, err
	}
	return c.store.CreateCredential(ctx, &store.Credential{Name: name, Type: typ, Data: sealed})
}

// Update replaces a credential's type and data.
func (c *Credentials) Update(ctx context.Context, name, typ string, data json.RawMessage) (*store.Credential, error) {
	sealed, err := c.seal(name, typ, data)
	if err != nil {
		return nil, err
	}
	defer c.forget(name)
	return c.store.UpdateCredential(ctx, &store.Credential{Name: name, Type: typ, Data: sealed})
}

// Delete removes a credential.
func (c *Credentials) Delete(ctx context.Context, name string) error {
	flows, err := c.store.ListFlows(ctx)
	if err != nil {
		return fmt.Errorf("list flows: %w", err)
	}
	active := slices.DeleteFunc(flows, func(f *store.Flow) bool { return !f.Active })
	if using := c.usedBy(active)[name]; len(using) > 0 {
		return &CredentialInUseError{Name: name, Flows: using}
	}
	defer c.forget(name)
	return c.store.DeleteCredential(ctx, name)
}

// CredentialInUseError refuses to delete a credential that active flows
// name: their next runs would fail on it. Inactive flows are no obstacle;
// they are refused activation until they name another.
type CredentialInUseError struct {
	Name  string
	Flows []FlowRef
}

func (e *CredentialInUseError) Error() string {
	names := make([]string, len(e.Flows))
	for i, f := range e.Flows {
		names[i] = strconv.Quote(f.Name)
	}
	return fmt.Sprintf("credential %q is used by the active flows %s: deactivate them, or change their credential, first",
		e.Name, strings.Join(names, ", "))
}

func (c *Credentials) forget(name string) {
	c.mu.Lock()
	delete(c.cache, name)
	c.mu.Unlock()
}

// Open returns a credential's data in the clear, for use inside the server;
// nodes.ErrNoCredential when there is none of that name.
func (c *Credentials) Open(ctx context.Context, name string) (*nodes.Credential, error) {
	c.mu.Lock()
	cached, ok := c.cache[name]
	c.mu.Unlock()
	if ok && time.Since(cached.openedAt) < credentialCacheTTL {
		return cached.cred, nil
	}
	stored, err := c.store.GetCredential(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("open credential %s: %w", name, nodes.ErrNoCredential)
	}
	if err != nil {
		return nil, err
	}
	plain, err := c.vault.Open(stored.Data, []byte(name))
	if err != nil {
		return nil, fmt.Errorf("open credential %s (was it sealed with another HOOKFLOW_SECRET_KEY?): %w", name, err)
	}
	var data map[string]any
	if err := json.Unmarshal(plain, &data); err != nil {
		return nil, fmt.Errorf("open credential %s: %w", name, err)
	}
	cred := &nodes.Credential{Name: name, Type: stored.Type, Data: data}
	if ct, ok := c.registry.CredentialType(stored.Type); ok {
		cred.Secrets = ct.SecretValues(data)
	}
	c.mu.Lock()
	c.cache[name] = openCredential{cred: cred, openedAt: time.Now()}
	c.mu.Unlock()
	return cred, nil
}

// CheckKey opens one stored credential, if any, to tell at start whether
// the key is the one they were sealed with.
func (c *Credentials) CheckKey(ctx context.Context) error {
	list, err := c.store.ListCredentials(ctx)
	if err != nil || len(list) == 0 {
		return err
	}
	if _, err := c.Open(ctx, list[0].Name); err != nil {
		if errors.Is(err, vault.ErrOpen) {
			return fmt.Errorf("the secret key does not open the stored credentials: %w", err)
		}
		return err
	}
	return nil
}

// FlowRef names a flow that uses a credential.
type FlowRef struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// UsedBy maps each credential name to the flows whose current version names
// it in a credential field of one of their nodes.
func (c *Credentials) UsedBy(ctx context.Context) (map[string][]FlowRef, error) {
	flows, err := c.store.ListFlows(ctx)
	if err != nil {
		return nil, fmt.Errorf("list flows: %w", err)
	}
	return c.usedBy(flows), nil
}

// NamesIn lists, sorted, the credentials a flow version names in its
// nodes' credential fields.
func (c *Credentials) NamesIn(f *store.Flow) []string {
	var doc Flow
	if err := json.Unmarshal(f.Definition, &doc); err != nil {
		return nil // Saved flows always parse; an unreadable one uses nothing.
	}
	var names []string
	for _, ref := range flowCredentials(c.registry, &doc) {
		if !slices.Contains(names, ref.name) {
			names = append(names, ref.name)
		}
	}
	slices.Sort(names)
	return names
}

// usedBy maps each credential name to those of flows that name it.
func (c *Credentials) usedBy(flows []*store.Flow) map[string][]FlowRef {
	used := map[string][]FlowRef{}
	for _, f := range flows {
		for _, name := range c.NamesIn(f) {
			used[name] = append(used[name], FlowRef{ID: f.ID, Name: f.Name})
		}
	}
	return used
}

// credentialRef is a credential named in one node's params.
type credentialRef struct {
	node  string
	field string // its path, such as "params.verify.credential"
	name  string
	types []string
}

// flowCredentials lists the credentials a flow's nodes name in their
// credential fields, at any depth of object fields.
func flowCredentials(reg *nodes.Registry, doc *Flow) []credentialRef {
	var refs []credentialRef
	for _, n := range doc.Nodes {
		kind, ok := reg.Lookup(n.Type)
		if !ok || len(n.Params) == 0 {
			continue
		}
		var params map[string]any
		if json.Unmarshal(n.Params, &params) == nil {
			refs = credentialRefs(n.ID, "params", kind.Spec.Fields, params, refs)
		}
	}
	return refs
}

func credentialRefs(node, prefix string, fields []nodes.Field, params map[string]any, refs []credentialRef) []credentialRef {
	for _, f := range fields {
		switch f.Type {
		case nodes.TypeCredential:
			if name, ok := params[f.Name].(string); ok && name != "" {
				refs = append(refs, credentialRef{node: node, field: schema.Join(prefix, f.Name), name: name, types: f.CredentialTypes})
			}
		case nodes.TypeObject:
			if sub, ok := params[f.Name].(map[string]any); ok {
				refs = credentialRefs(node, schema.Join(prefix, f.Name), f.Fields, sub, refs)
			}
		}
	}
	return refs
}

// checkCredentials reports each credential field of a flow that names a
// stored credential of a type the field does not take, and, when the flow
// is to run, each that names none: such a flow would fail every run (a
// webhook would answer 401 to every sender), so it is refused, as a problem
// on that field.
func checkCredentials(ctx context.Context, st store.Store, reg *nodes.Registry, doc *Flow, toRun bool) ([]Problem, error) {
	var problems []Problem
	for _, ref := range flowCredentials(reg, doc) {
		stored, err := st.GetCredential(ctx, ref.name)
		if errors.Is(err, store.ErrNotFound) && !toRun {
			continue
		}
		if errors.Is(err, store.ErrNotFound) {
			problems = append(problems, Problem{Node: ref.node, Field: ref.field,
				Message: fmt.Sprintf("no credential is named %q; create it under Credentials first", ref.name)})
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("check credential %s: %w", ref.name, err)
		}
		if !slices.Contains(ref.types, stored.Type) {
			problems = append(problems, Problem{Node: ref.node, Field: ref.field,
				Message: fmt.Sprintf("credential %q is of type %s; this field takes %s", ref.name, stored.Type, strings.Join(ref.types, " or "))})
		}
	}
	return problems, nil
}
