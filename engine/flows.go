package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/hookflow/hookflow/nodes"
	"github.com/hookflow/hookflow/store"
)

// Flows saves flow documents. It compiles each one first, so only valid flows
// are ever stored; the API and the CLI both save through it.
type Flows struct {
	store    store.Store
	registry *nodes.Registry

	mu        sync.Mutex
	listeners []func(flowID string)
}

// NewFlows returns the flow service over a store and a node registry.
func NewFlows(st store.Store, reg *nodes.Registry) *Flows {
	return &Flows{store: st, registry: reg}
}

// OnChange registers a function called after a flow is saved, activated,
// deactivated or deleted: the ingress and the scheduler follow flows so.
func (s *Flows) OnChange(fn func(flowID string)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.listeners = append(s.listeners, fn)
}

func (s *Flows) changed(flowID string) {
	s.mu.Lock()
	listeners := s.listeners
	s.mu.Unlock()
	for _, fn := range listeners {
		fn(flowID)
	}
}

// Create validates a flow document and saves it as a new, inactive flow.
func (s *Flows) Create(ctx context.Context, document []byte) (*store.Flow, error) {
	// A new flow is inactive: it may name credentials still to be made.
	stored, err := s.compile(ctx, document, "", false)
	if err != nil {
		return nil, err
	}
	return s.store.CreateFlow(ctx, stored)
}

// Update validates a flow document and saves it as the flow's next version.
// A flow activated while the document was checked as a draft is checked
// again, as an active one.
func (s *Flows) Update(ctx context.Context, id string, document []byte) (*store.Flow, error) {
	for attempt := 1; ; attempt++ {
		current, err := s.store.GetFlow(ctx, id)
		if err != nil {
			return nil, err
		}
		stored, err := s.compile(ctx, document, id, current.Active)
		if err != nil {
			return nil, err
		}
		f, err := s.store.UpdateFlow(ctx, id, stored, current.Active)
		if errors.Is(err, store.ErrFlowChanged) && attempt < maxFlowWriteAttempts {
			continue
		}
		if err == nil {
			s.changed(id)
		}
		return f, err
	}
}

// maxFlowWriteAttempts bounds how often a save or an activation that raced
// another is checked again.
const maxFlowWriteAttempts = 5

// Delete removes a flow; its runs and deliveries stay readable until
// retention prunes them.
func (s *Flows) Delete(ctx context.Context, id string) error {
	if err := s.store.DeleteFlow(ctx, id); err != nil {
		return err
	}
	s.changed(id)
	return nil
}

// SetActive turns a flow's triggers on or off. Activation compiles the
// current version again, so a flow the server can no longer run (a node kind
// it lacks, a credential deleted since) is refused rather than left failing
// every run.
// A version saved while the flow was checked is checked in its turn.
func (s *Flows) SetActive(ctx context.Context, id string, active bool) (*store.Flow, error) {
	for attempt := 1; ; attempt++ {
		version := 0
		if active {
			f, err := s.store.GetFlow(ctx, id)
			if err != nil {
				return nil, err
			}
			if _, err := s.compile(ctx, f.Definition, id, true); err != nil {
				return nil, fmt.Errorf("activate flow %s: %w", id, err)
			}
			version = f.Version
		}
		f, err := s.store.SetFlowActive(ctx, id, active, version)
		if errors.Is(err, store.ErrFlowChanged) && attempt < maxFlowWriteAttempts {
			continue
		}
		if err == nil {
			s.changed(id)
		}
		return f, err
	}
}

// Stored is what the store keeps of a compiled flow: its document in
// canonical form, with the name and settings the store indexes.
func (p *Plan) Stored() (store.FlowDocument, error) {
	definition, err := p.Flow.Encode()
	if err != nil {
		return store.FlowDocument{}, err
	}
	return store.FlowDocument{Name: p.Flow.Name, Definition: definition, Concurrency: p.Concurrency()}, nil
}

// compile checks a flow document, the credentials it names and the flows
// it calls, and returns what the store keeps of it. A credential of a type
// its field does not take is always refused. One that does not exist yet is
// refused only for a flow that is to run (active), as n8n and Zapier allow
// drafts, examples and imports to name credentials still to be made but
// not to be switched on. selfID is the flow's id, empty for a new one.
func (s *Flows) compile(ctx context.Context, document []byte, selfID string, active bool) (store.FlowDocument, error) {
	plan, err := Compile(s.registry, document)
	if err != nil {
		return store.FlowDocument{}, err
	}
	problems, err := checkCredentials(ctx, s.store, s.registry, plan.Flow, active)
	if err != nil {
		return store.FlowDocument{}, err
	}
	calls, err := checkCalls(ctx, s.store, s.registry, plan.Flow, selfID)
	if err != nil {
		return store.FlowDocument{}, err
	}
	problems = append(problems, calls...)
	if len(problems) > 0 {
		return store.FlowDocument{}, &InvalidFlowError{Problems: problems}
	}
	return plan.Stored()
}

// Trigger describes a flow's trigger node.
type Trigger struct {
	NodeID string
	Type   string
}

// FlowTrigger finds the trigger node of a stored flow definition: the node
// whose kind is in the trigger category.
func FlowTrigger(reg *nodes.Registry, definition []byte) (Trigger, bool) {
	var doc struct {
		Nodes []struct {
			ID   string `json:"id"`
			Type string `json:"type"`
		} `json:"nodes"`
	}
	if err := json.Unmarshal(definition, &doc); err != nil {
		return Trigger{}, false
	}
	for _, n := range doc.Nodes {
		if k, ok := reg.Lookup(n.Type); ok && k.Spec.IsTrigger() {
			return Trigger{NodeID: n.ID, Type: n.Type}, true
		}
	}
	return Trigger{}, false
}
