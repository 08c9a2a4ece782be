package n8nimport

import (
	"encoding/json"
	"fmt"

	"github.com/hookflow/hookflow/engine"
)

// pins carries n8n's pinned data over as the nodes' pins (ui.pin): tests
// of the imported flow then use the same data, without calling the
// outside world, as n8n's did. A pin holds one output, so it is n8n's
// first item, shaped as the Hookflow node outputs it.
func (c *converter) pins() {
	for _, name := range sortedKeys(c.w.PinData) {
		var items []any
		if err := json.Unmarshal(c.w.PinData[name], &items); err != nil {
			c.remark("n8n's pinned data of %q is left out: it is not a list of items", name)
			continue
		}
		cv := c.byName[name]
		switch {
		case len(items) == 0:
			continue
		case cv == nil || cv.node == nil:
			c.remark("n8n's pinned data of %q is left out: the node was not converted", name)
			continue
		case name == c.trigger:
			c.remark("n8n's pinned data of the trigger %q is left out: a test gives the trigger its payload, so paste it there in the editor", name)
			continue
		}
		output := itemJSON(items[0])
		if c.paths[name] == ".body" {
			output = map[string]any{"status": 200, "headers": map[string]any{}, "body": output}
		}
		if !c.setPin(cv.node.ID, map[string]any{"output": output}) {
			continue
		}
		c.pinned[cv.node.ID] = pinNote{name: name, at: len(c.report.Notes)}
		if len(items) > 1 {
			c.remark("n8n's pinned data of %q is its pin: test runs use it instead of running the node; n8n pinned %d items, the pin holds the first", name, len(items))
		} else {
			c.remark("n8n's pinned data of %q is its pin: test runs use it instead of running the node", name)
		}
	}
}

// pinNote is a pin carried over: the n8n node it came from, and the
// report's note that says so.
type pinNote struct {
	name string
	at   int
}

// unpin takes back the pins the flow's validation refused (a node in a
// loop, a kind whose pin needs a port), saying why in their notes, and
// tells whether it took any back.
func (c *converter) unpin(problems []engine.Problem) bool {
	took := false
	for _, p := range problems {
		pin, ok := c.pinned[p.Node]
		if !ok || p.Field != "ui.pin" {
			continue
		}
		c.setPin(p.Node, nil)
		delete(c.pinned, p.Node)
		c.report.Notes[pin.at] = fmt.Sprintf("n8n's pinned data of %q is left out: %s", pin.name, p.Message)
		took = true
	}
	return took
}

// setPin sets or, with nil, removes the pin of the flow's node id.
func (c *converter) setPin(id string, pin map[string]any) bool {
	for i := range c.flow.Nodes {
		n := &c.flow.Nodes[i]
		if n.ID != id {
			continue
		}
		ui := map[string]any{}
		if len(n.UI) > 0 {
			if err := json.Unmarshal(n.UI, &ui); err != nil {
				return false
			}
		}
		if pin == nil {
			delete(ui, "pin")
		} else {
			ui["pin"] = pin
		}
		data, err := json.Marshal(ui)
		if err != nil {
			return false
		}
		n.UI = data
		return true
	}
	return false
}

// itemJSON is an n8n item's json: items are {"json": …}, or in older
// exports the json itself.
func itemJSON(item any) any {
	if m, ok := item.(map[string]any); ok {
		if j, ok := m["json"]; ok {
			return j
		}
	}
	return item
}
