package engine

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/hookflow/hookflow/nodes"
	"github.com/hookflow/hookflow/store"
)

// planCache keeps compiled plans of flow versions: a version never changes,
// so it is compiled once, not per run.
type planCache struct {
	store    store.Store
	registry *nodes.Registry
	size     int

	mu      sync.Mutex
	entries map[planKey]*list.Element
	order   *list.List // most recently used first
}

type planKey struct {
	flowID  string
	version int
}

type planEntry struct {
	key  planKey
	plan *Plan
}

func newPlanCache(st store.Store, reg *nodes.Registry, size int) *planCache {
	return &planCache{store: st, registry: reg, size: size, entries: map[planKey]*list.Element{}, order: list.New()}
}

// errPlanCompile marks a stored flow version that no longer compiles (a
// node kind gone, say): its runs fail, where a store error only delays them.
var errPlanCompile = errors.New("compile flow")

// get returns the compiled plan of a flow version.
func (c *planCache) get(ctx context.Context, flowID string, version int) (*Plan, error) {
	key := planKey{flowID, version}
	c.mu.Lock()
	if e, ok := c.entries[key]; ok {
		c.order.MoveToFront(e)
		c.mu.Unlock()
		return e.Value.(*planEntry).plan, nil
	}
	c.mu.Unlock()

	v, err := c.store.GetFlowVersion(ctx, flowID, version)
	if err != nil {
		return nil, err
	}
	plan, err := Compile(c.registry, v.Definition)
	if err != nil {
		return nil, fmt.Errorf("%w %s version %d: %w", errPlanCompile, flowID, version, err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.entries[key]; ok {
		return e.Value.(*planEntry).plan, nil
	}
	c.entries[key] = c.order.PushFront(&planEntry{key: key, plan: plan})
	if c.order.Len() > c.size {
		oldest := c.order.Back()
		c.order.Remove(oldest)
		delete(c.entries, oldest.Value.(*planEntry).key)
	}
	return plan, nil
}
