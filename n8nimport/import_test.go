package n8nimport

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow/engine"
)

// setup imports a workflow made of a webhook trigger named "Hook" and the
// given nodes, connected as given.
func setup(t *testing.T, nodes, connections string) *Result {
	t.Helper()
	doc := fmt.Sprintf(`{"name": "Test", "nodes": [
		{"name": "Hook", "type": "n8n-nodes-base.webhook", "typeVersion": 2, "position": [0, 0], "parameters": {"httpMethod": "POST", "path": "x"}}%s],
		"connections": {%s}}`, nodes, connections)
	res, err := Import([]byte(doc))
	require.NoError(t, err)
	return res
}

func node(t *testing.T, res *Result, id string) (engine.Node, map[string]any) {
	t.Helper()
	for _, n := range res.Flow.Nodes {
		if n.ID == id {
			var p map[string]any
			if len(n.Params) > 0 {
				require.NoError(t, json.Unmarshal(n.Params, &p))
			}
			return n, p
		}
	}
	require.Failf(t, "no node", "%s in %+v", id, res.Flow.Nodes)
	return engine.Node{}, nil
}

func nodeReport(res *Result, name string) NodeReport {
	for _, n := range res.Report.Nodes {
		if n.Name == name {
			return n
		}
	}
	return NodeReport{}
}

func TestNodeMappings(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		node   string
		kind   string
		params string
		status Status
	}{
		{"set v1 keeps only set", `{"name": "S", "type": "n8n-nodes-base.set", "typeVersion": 1, "parameters": {"keepOnlySet": true, "values": {"string": [{"name": "a", "value": "x"}], "number": [{"name": "n", "value": 2}]}}}`,
			"transform", `{"fields": {"a": "\"x\"", "n": "2"}}`, Converted},
		{"set v3.4 assignments", `{"name": "S", "type": "n8n-nodes-base.set", "typeVersion": 3.4, "parameters": {"includeOtherFields": true, "assignments": {"assignments": [{"name": "n", "type": "number", "value": "5"}, {"name": "tags", "type": "array", "value": "[\"a\"]"}, {"name": "e", "type": "string", "value": "={{ $json.body.email }}"}]}}}`,
			"transform", `{"fields": {"n": "5", "tags": "[\"a\"]", "e": "trigger.body.email"}, "include_input": true}`, Converted},
		{"if v1 number default smaller", `{"name": "S", "type": "n8n-nodes-base.if", "typeVersion": 1, "parameters": {"conditions": {"number": [{"value1": "={{ $json.body.n }}", "value2": 60}]}}}`,
			"if", `{"condition": "(trigger.body.n) < (60)"}`, Converted},
		{"if v2 exists and contains, or", `{"name": "S", "type": "n8n-nodes-base.if", "typeVersion": 2, "parameters": {"conditions": {"combinator": "or", "conditions": [{"operator": {"type": "string", "operation": "exists"}, "leftValue": "={{ $json.body.a }}"}, {"operator": {"type": "string", "operation": "contains"}, "leftValue": "={{ $json.body.b }}", "rightValue": "x"}]}}}`,
			"if", `{"condition": "((trigger.body.a) != nil) || ((trigger.body.b) contains (\"x\"))"}`, Converted},
		{"filter v2 lt", `{"name": "S", "type": "n8n-nodes-base.filter", "typeVersion": 2, "parameters": {"conditions": {"conditions": [{"operator": {"type": "number", "operation": "lt"}, "leftValue": "={{ $json.body.price }}", "rightValue": 600}]}}}`,
			"filter", `{"condition": "(trigger.body.price) < (600)"}`, Caveats},
		{"respond json", `{"name": "S", "type": "n8n-nodes-base.respondToWebhook", "typeVersion": 1.1, "parameters": {"respondWith": "json", "responseBody": "={\"id\": {{ $json.body.id }}, \"name\": \"{{ $json.body.name }}\"}", "options": {"responseCode": 201}}}`,
			"respond", `{"status": 201, "body": {"id": "{{ trigger.body.id }}", "name": "{{ trigger.body.name }}"}}`, Converted},
		{"http v4 body and header auth", `{"name": "S", "type": "n8n-nodes-base.httpRequest", "typeVersion": 4.2, "credentials": {"httpHeaderAuth": {"id": "1", "name": "My API"}}, "parameters": {"method": "POST", "url": "=https://x.example/{{ $json.body.id }}", "authentication": "genericCredentialType", "genericAuthType": "httpHeaderAuth", "sendQuery": true, "queryParameters": {"parameters": [{"name": "q", "value": "1"}]}, "sendBody": true, "bodyParameters": {"parameters": [{"name": "a", "value": "={{ $json.body.a }}"}]}}}`,
			"http.request", `{"method": "POST", "url": "https://x.example/{{ trigger.body.id }}", "query": {"q": "1"}, "body": {"a": "{{ trigger.body.a }}"}, "credential": "My-API"}`, Converted},
		{"http v1 form", `{"name": "S", "type": "n8n-nodes-base.httpRequest", "typeVersion": 1, "parameters": {"requestMethod": "POST", "url": "https://x.example", "bodyParametersUi": {"parameter": [{"name": "a", "value": "b"}]}, "options": {"bodyContentType": "form-urlencoded"}}}`,
			"http.request", `{"method": "POST", "url": "https://x.example", "body": {"a": "b"}, "body_type": "form"}`, Converted},
		{"slack v2", `{"name": "S", "type": "n8n-nodes-base.slack", "typeVersion": 2.1, "credentials": {"slackApi": {"name": "Slack bot"}}, "parameters": {"select": "channel", "channelId": {"__rl": true, "value": "C123", "mode": "id"}, "text": "=Hi {{ $json.body.name }}"}}`,
			"slack.message", `{"credential": "Slack-bot", "channel": "C123", "text": "Hi {{ trigger.body.name }}"}`, Converted},
		{"telegram", `{"name": "S", "type": "n8n-nodes-base.telegram", "typeVersion": 1, "credentials": {"telegramApi": {"name": "bot"}}, "parameters": {"chatId": "42", "text": "hi", "additionalFields": {"parse_mode": "HTML"}}}`,
			"telegram.message", `{"credential": "bot", "chat_id": "42", "text": "hi", "parse_mode": "HTML"}`, Converted},
		{"email v2.1", `{"name": "S", "type": "n8n-nodes-base.emailSend", "typeVersion": 2.1, "credentials": {"smtp": {"name": "mail"}}, "parameters": {"fromEmail": "a@x.example", "toEmail": "b@x.example", "subject": "s", "html": "<p>x</p>", "options": {"appendAttribution": false}}}`,
			"email.send", `{"credential": "mail", "from": "a@x.example", "to": "b@x.example", "subject": "s", "html": "<p>x</p>"}`, Converted},
		{"postgres upsert v2", `{"name": "S", "type": "n8n-nodes-base.postgres", "typeVersion": 2.5, "credentials": {"postgres": {"name": "db"}}, "parameters": {"operation": "upsert", "table": {"__rl": true, "value": "users"}, "columns": {"mappingMode": "defineBelow", "value": {"email": "={{ $json.body.email }}"}, "matchingColumns": ["email"]}}}`,
			"db.write", `{"credential": "db", "table": "users", "operation": "upsert", "values": {"email": "trigger.body.email"}, "conflict": ["email"]}`, Caveats},
		{"postgres delete rows v2", `{"name": "S", "type": "n8n-nodes-base.postgres", "typeVersion": 2.5, "credentials": {"postgres": {"name": "db"}}, "parameters": {"operation": "deleteTable", "deleteCommand": "delete", "table": {"__rl": true, "value": "users"}, "where": {"values": [{"column": "email", "value": "={{ $json.body.email }}"}, {"column": "gone", "condition": "IS NULL"}]}}}`,
			"db.write", `{"credential": "db", "table": "users", "operation": "delete", "where": {"email": "trigger.body.email", "gone": "nil"}}`, Caveats},
		{"postgres select with or", `{"name": "S", "type": "n8n-nodes-base.postgres", "typeVersion": 2.5, "credentials": {"postgres": {"name": "db"}}, "parameters": {"operation": "select", "table": {"__rl": true, "value": "t"}, "limit": 5, "combineConditions": "OR", "where": {"values": [{"column": "a", "value": "1"}, {"column": "b", "condition": ">", "value": "2"}]}}}`,
			"db.query", `{"credential": "db", "query": "SELECT * FROM t WHERE a = :p1 OR b > :p2", "params": {"p1": "\"1\"", "p2": "\"2\""}, "limit": 5}`, Converted},
		{"mysql select", `{"name": "S", "type": "n8n-nodes-base.mySql", "typeVersion": 2.2, "credentials": {"mySql": {"name": "db"}}, "parameters": {"operation": "select", "table": {"__rl": true, "value": "t"}, "returnAll": true}}`,
			"db.query", `{"credential": "db", "query": "SELECT * FROM t", "limit": 10000}`, Caveats},
		{"wait v1.1 amount", `{"name": "S", "type": "n8n-nodes-base.wait", "typeVersion": 1.1, "parameters": {"amount": 3}}`,
			"delay", `{"duration_ms": 3000}`, Converted},
		{"noOp passes through", `{"name": "S", "type": "n8n-nodes-base.noOp", "typeVersion": 1, "parameters": {}}`,
			"transform", `{"include_input": true}`, Converted},
		{"rename keys", `{"name": "S", "type": "n8n-nodes-base.renameKeys", "typeVersion": 1, "parameters": {"keys": {"key": [{"currentKey": "a", "newKey": "b"}]}}}`,
			"transform", `{"include_input": true, "rename": {"a": "b"}}`, Converted},
		{"split out", `{"name": "S", "type": "n8n-nodes-base.splitOut", "typeVersion": 1, "parameters": {"fieldToSplitOut": "body.places"}}`,
			"foreach", `{"items": "trigger.body.places"}`, Converted},
		{"execute workflow", `{"name": "S", "type": "n8n-nodes-base.executeWorkflow", "typeVersion": 1, "parameters": {"workflowId": "42"}}`,
			"flow.call", `{"flow": "42", "input": {"data": "input"}}`, Caveats},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res := setup(t, ","+strings.Replace(tt.node, `"parameters"`, `"position": [200, 0], "parameters"`, 1), `"Hook": {"main": [[{"node": "S", "type": "main", "index": 0}]]}`)
			n, p := node(t, res, "s")
			assert.Equal(t, tt.kind, n.Type)
			want := map[string]any{}
			require.NoError(t, json.Unmarshal([]byte(tt.params), &want))
			assert.Equal(t, want, p)
			r := nodeReport(res, "S")
			assert.Equal(t, tt.status, r.Status, r.Reasons)
			assert.JSONEq(t, `{"x": 200, "y": 0, "label": "S"}`, string(n.UI))
		})
	}
}

// An HTTP Request's json in n8n is the answer's body; Hookflow's
// http.request outputs status, headers and body, so what reads it reads
// body.
func TestHTTPOutputIsBody(t *testing.T) {
	t.Parallel()
	res := setup(t, `,
		{"name": "Fetch", "type": "n8n-nodes-base.httpRequest", "typeVersion": 4.2, "parameters": {"url": "https://x.example"}},
		{"name": "Full", "type": "n8n-nodes-base.httpRequest", "typeVersion": 4.2, "parameters": {"url": "https://x.example", "options": {"response": {"response": {"fullResponse": true}}}}},
		{"name": "Set", "type": "n8n-nodes-base.set", "typeVersion": 3.4, "parameters": {"assignments": {"assignments": [
			{"name": "id", "type": "string", "value": "={{ $json.id }}"}, {"name": "again", "type": "string", "value": "={{ $('Fetch').item.json.id }}"},
			{"name": "status", "type": "number", "value": "={{ $('Full').item.json.statusCode }}"}]}}},
		{"name": "Each", "type": "n8n-nodes-base.splitOut", "typeVersion": 1, "parameters": {"fieldToSplitOut": "results"}}`,
		`"Hook": {"main": [[{"node": "Full", "type": "main", "index": 0}]]},
		"Full": {"main": [[{"node": "Fetch", "type": "main", "index": 0}]]},
		"Fetch": {"main": [[{"node": "Set", "type": "main", "index": 0}, {"node": "Each", "type": "main", "index": 0}]]}`)
	_, set := node(t, res, "set")
	assert.Equal(t, map[string]any{"id": "input.body.id", "again": "steps.fetch.body.id", "status": "steps.full.statusCode"}, set["fields"])
	_, each := node(t, res, "each")
	assert.Equal(t, "input.body.results", each["items"])
	assert.Equal(t, Converted, nodeReport(res, "Fetch").Status)
	full := nodeReport(res, "Full")
	assert.Equal(t, Caveats, full.Status)
	assert.Contains(t, strings.Join(full.Reasons, "\n"), "statusCode")
}

func TestNotConverted(t *testing.T) {
	t.Parallel()
	res := setup(t, `,
		{"name": "Sheet", "type": "n8n-nodes-base.googleSheets", "typeVersion": 4, "position": [200, 0], "parameters": {}},
		{"name": "Py", "type": "n8n-nodes-base.code", "typeVersion": 2, "position": [400, 0], "parameters": {"language": "python", "pythonCode": "return []"}},
		{"name": "Off", "type": "n8n-nodes-base.set", "typeVersion": 1, "disabled": true, "position": [200, 200], "parameters": {}},
		{"name": "After", "type": "n8n-nodes-base.noOp", "typeVersion": 1, "position": [400, 200], "parameters": {}},
		{"name": "Truncate", "type": "n8n-nodes-base.postgres", "typeVersion": 2.5, "parameters": {"operation": "deleteTable", "table": {"__rl": true, "value": "t"}}},
		{"name": "All", "type": "n8n-nodes-base.postgres", "typeVersion": 2.5, "parameters": {"operation": "deleteTable", "deleteCommand": "delete", "table": {"__rl": true, "value": "t"}}},
		{"name": "Either", "type": "n8n-nodes-base.mySql", "typeVersion": 2.4, "parameters": {"operation": "deleteTable", "deleteCommand": "delete", "table": {"__rl": true, "value": "t"}, "combineConditions": "OR",
			"where": {"values": [{"column": "a", "value": "1"}, {"column": "b", "value": "2"}]}}},
		{"name": "Like", "type": "n8n-nodes-base.postgres", "typeVersion": 2.5, "parameters": {"operation": "deleteTable", "deleteCommand": "delete", "table": {"__rl": true, "value": "t"}, "where": {"values": [{"column": "a", "condition": "LIKE", "value": "x%"}]}}}`,
		`"Hook": {"main": [[{"node": "Sheet", "type": "main", "index": 0}, {"node": "Off", "type": "main", "index": 0}]]},
		 "Off": {"main": [[{"node": "After", "type": "main", "index": 0}]]}`)
	assert.Equal(t, NotConverted, nodeReport(res, "Sheet").Status)
	assert.Contains(t, nodeReport(res, "Sheet").Reasons, "no Hookflow equivalent for n8n-nodes-base.googleSheets")
	assert.Equal(t, NotConverted, nodeReport(res, "Py").Status)
	for name, reason := range map[string]string{
		"Truncate": "the truncate command of the delete operation has no Hookflow equivalent",
		"All":      "deleting every row has no Hookflow equivalent",
		"Either":   "conditions joined with OR have no Hookflow equivalent",
		"Like":     `where condition "LIKE" has no Hookflow equivalent`,
	} {
		assert.Equal(t, NotConverted, nodeReport(res, name).Status, name)
		assert.Contains(t, strings.Join(nodeReport(res, name).Reasons, "\n"), reason, name)
	}
	assert.Contains(t, nodeReport(res, "Off").Reasons[0], "disabled in n8n")
	// The disabled node is bridged: its input goes on to the node after it.
	assert.Equal(t, []engine.Edge{{From: "hook", To: "after"}}, res.Flow.Edges)
	assert.True(t, res.Report.Valid, res.Report.Problems)
	assert.False(t, res.Report.Complete())
}

func TestPorts(t *testing.T) {
	t.Parallel()
	res := setup(t, `,
		{"name": "If", "type": "n8n-nodes-base.if", "typeVersion": 1, "position": [0, 0], "parameters": {"conditions": {"boolean": [{"value1": "={{ $json.body.ok }}", "value2": true}]}}},
		{"name": "Sw", "type": "n8n-nodes-base.switch", "typeVersion": 3.2, "position": [0, 0], "parameters": {"rules": {"values": [
			{"outputKey": "Paid!", "renameOutput": true, "conditions": {"conditions": [{"operator": {"type": "string", "operation": "equals"}, "leftValue": "={{ $json.body.t }}", "rightValue": "paid"}]}},
			{"conditions": {"conditions": [{"operator": {"type": "string", "operation": "equals"}, "leftValue": "={{ $json.body.t }}", "rightValue": "refund"}]}}]},
			"options": {"fallbackOutput": "extra"}}},
		{"name": "A", "type": "n8n-nodes-base.noOp", "typeVersion": 1, "position": [0, 0], "parameters": {}},
		{"name": "B", "type": "n8n-nodes-base.noOp", "typeVersion": 1, "position": [0, 0], "parameters": {}},
		{"name": "C", "type": "n8n-nodes-base.noOp", "typeVersion": 1, "position": [0, 0], "parameters": {}},
		{"name": "Loop", "type": "n8n-nodes-base.splitInBatches", "typeVersion": 3, "position": [0, 0], "parameters": {}},
		{"name": "Each", "type": "n8n-nodes-base.noOp", "typeVersion": 1, "position": [0, 0], "parameters": {}},
		{"name": "Done", "type": "n8n-nodes-base.noOp", "typeVersion": 1, "position": [0, 0], "parameters": {}}`,
		`"Hook": {"main": [[{"node": "If", "type": "main", "index": 0}]]},
		 "If": {"main": [[{"node": "Sw", "type": "main", "index": 0}], [{"node": "Loop", "type": "main", "index": 0}]]},
		 "Sw": {"main": [[{"node": "A", "type": "main", "index": 0}], [{"node": "B", "type": "main", "index": 0}], [{"node": "C", "type": "main", "index": 0}]]},
		 "Loop": {"main": [[{"node": "Done", "type": "main", "index": 0}], [{"node": "Each", "type": "main", "index": 0}]]},
		 "Each": {"main": [[{"node": "Loop", "type": "main", "index": 0}]]}`)
	assert.ElementsMatch(t, []engine.Edge{
		{From: "hook", To: "if"},
		{From: "if", Port: "true", To: "sw"},
		{From: "if", Port: "false", To: "loop"},
		{From: "sw", Port: "paid", To: "a"},
		{From: "sw", Port: "output_1", To: "b"},
		{From: "sw", Port: "default", To: "c"},
		{From: "loop", Port: "done", To: "done"},
		{From: "loop", Port: "each", To: "each"},
	}, res.Flow.Edges)
	assert.Contains(t, strings.Join(res.Report.Notes, "\n"), `the connection from "Each" back to the loop "Loop" is left out`)
	assert.True(t, res.Report.Valid, res.Report.Problems)
}

func TestStickyNotes(t *testing.T) {
	t.Parallel()
	res := setup(t, `,
		{"name": "Note", "type": "n8n-nodes-base.stickyNote", "typeVersion": 1, "position": [10, -20], "parameters": {"content": "## Why\nBecause.", "width": 300, "height": 200, "color": 5}},
		{"name": "Note2", "type": "n8n-nodes-base.stickyNote", "typeVersion": 1, "position": [0, 0], "parameters": {"content": "x"}}`, ``)
	assert.JSONEq(t, `{"notes": [
		{"id": "note_1", "text": "## Why\nBecause.", "position": {"x": 10, "y": -20}, "width": 300, "height": 200, "color": "blue"},
		{"id": "note_2", "text": "x", "position": {"x": 0, "y": 0}, "width": 240, "height": 160, "color": "yellow"}]}`, string(res.Flow.UI))
	assert.Len(t, res.Report.Nodes, 1, "notes are not nodes")
	assert.True(t, res.Report.Valid, res.Report.Problems)
}

func TestWebhookAndCredentials(t *testing.T) {
	t.Parallel()
	doc := `{"name": "W", "nodes": [
		{"name": "My Hook!", "type": "n8n-nodes-base.webhook", "typeVersion": 1, "position": [0, 0], "credentials": {"httpBasicAuth": {"id": "7", "name": "Partner login"}},
		 "parameters": {"path": "p", "authentication": "basicAuth", "responseMode": "responseNode"}},
		{"name": "Reply", "type": "n8n-nodes-base.respondToWebhook", "typeVersion": 1, "position": [200, 0], "parameters": {"respondWith": "text", "responseBody": "ok"}}],
		"connections": {"My Hook!": {"main": [[{"node": "Reply", "type": "main", "index": 0}]]}}}`
	res, err := Import([]byte(doc))
	require.NoError(t, err)
	n, p := node(t, res, "my_hook")
	assert.Equal(t, "trigger.webhook", n.Type)
	assert.Equal(t, map[string]any{"methods": []any{"GET"}, "respond": "when_done",
		"verify": map[string]any{"scheme": "basic", "credential": "Partner-login"}}, p)
	assert.Equal(t, []CredentialNeed{{Name: "Partner-login", Type: "http_basic", N8nName: "Partner login", N8nType: "httpBasicAuth", Node: "My Hook!"}}, res.Report.Credentials)
	assert.True(t, res.Report.Valid, res.Report.Problems)
	var out strings.Builder
	require.NoError(t, res.Report.Write(&out))
	assert.Contains(t, out.String(), `create credential Partner-login of type http_basic (n8n httpBasicAuth "Partner login"; used by "My Hook!")`)
}

func TestSchedules(t *testing.T) {
	t.Parallel()
	tests := []struct{ typ, params, schedule string }{
		{"cron", `{"triggerTimes": {"item": [{"mode": "everyX", "unit": "minutes", "value": 10}]}}`, "@every 10m"},
		{"cron", `{"triggerTimes": {"item": [{"mode": "everyDay", "hour": 7}]}}`, "0 7 * * *"},
		{"cron", `{"triggerTimes": {"item": [{"mode": "custom", "cronExpression": "0 */5 * * * *"}]}}`, "0 */5 * * * *"},
		{"scheduleTrigger", `{"rule": {"interval": [{}]}}`, "0 0 * * *"},
		{"scheduleTrigger", `{"rule": {"interval": [{"triggerAtHour": 8}]}}`, "0 8 * * *"},
		{"scheduleTrigger", `{"rule": {"interval": [{"field": "minutes", "minutesInterval": 15}]}}`, "*/15 * * * *"},
		{"scheduleTrigger", `{"rule": {"interval": [{"field": "weeks", "triggerAtDay": [1, 3], "triggerAtHour": 9}]}}`, "0 9 * * 1,3"},
	}
	for _, tt := range tests {
		t.Run(tt.schedule, func(t *testing.T) {
			t.Parallel()
			doc := fmt.Sprintf(`{"name": "S", "settings": {"timezone": "Europe/Berlin"}, "nodes": [{"name": "T", "type": "n8n-nodes-base.%s", "typeVersion": 1.2, "parameters": %s}], "connections": {}}`, tt.typ, tt.params)
			res, err := Import([]byte(doc))
			require.NoError(t, err)
			_, p := node(t, res, "t")
			assert.Equal(t, map[string]any{"schedule": tt.schedule, "timezone": "Europe/Berlin"}, p)
			assert.True(t, res.Report.Valid, res.Report.Problems)
		})
	}
}

func TestUntranslatedExpressionIsKeptAndFailsValidation(t *testing.T) {
	t.Parallel()
	res := setup(t, `,
		{"name": "S", "type": "n8n-nodes-base.set", "typeVersion": 1, "position": [0, 0], "parameters": {"values": {"string": [{"name": "a", "value": "={{ $getWorkflowStaticData('global').x }}"}]}}}`,
		`"Hook": {"main": [[{"node": "S", "type": "main", "index": 0}]]}`)
	_, p := node(t, res, "s")
	fields := p["fields"].(map[string]any)
	assert.Equal(t, `n8n("={{ $getWorkflowStaticData('global').x }}")`, fields["a"])
	require.Len(t, res.Report.Expressions, 1)
	e := res.Report.Expressions[0]
	assert.False(t, e.Translated)
	assert.NotEmpty(t, e.Reason)
	assert.Equal(t, Caveats, nodeReport(res, "S").Status)
	assert.False(t, res.Report.Valid)
	require.NotEmpty(t, res.Report.Problems)
	assert.Equal(t, "s", res.Report.Problems[0].Node)
	assert.Equal(t, "params.fields.a", res.Report.Problems[0].Field)
}

func TestIDs(t *testing.T) {
	t.Parallel()
	assert.Equal(t, "send_email", slugID("Send Email"))
	assert.Equal(t, "n_1st_step", slugID("1st step"))
	assert.Equal(t, "prufen", slugID("Prüfen"))
	assert.Equal(t, "n", slugID("!!!"))
	assert.LessOrEqual(t, len(slugID(strings.Repeat("abc ", 40))), 64)
	res := setup(t, `,
		{"name": "Set", "type": "n8n-nodes-base.noOp", "typeVersion": 1, "position": [0, 0], "parameters": {}},
		{"name": "set", "type": "n8n-nodes-base.noOp", "typeVersion": 1, "position": [0, 0], "parameters": {}}`, ``)
	assert.Equal(t, "set", res.Report.Nodes[1].ID)
	assert.Equal(t, "set_2", res.Report.Nodes[2].ID)
}

func TestBadInput(t *testing.T) {
	t.Parallel()
	tests := []struct{ doc, err string }{
		{`not json`, "not JSON"},
		{`[1]`, "not a JSON object"},
		{`{"name": "x"}`, `it has no "nodes" array`},
		{`{"nodes": null}`, `"nodes" is null`},
		{`{"nodes": [{"type": "n8n-nodes-base.noOp"}]}`, "nodes[0] has no name"},
		{`{"nodes": [{"name": "A"}]}`, `node "A" (nodes[0]) has no type`},
		{`{"nodes": [{"name": "A", "type": "t"}, {"name": "A", "type": "t"}]}`, `two nodes are named "A"`},
		{`{"nodes": "x"}`, "not an n8n workflow"},
	}
	for _, tt := range tests {
		_, err := Import([]byte(tt.doc))
		require.Error(t, err, tt.doc)
		assert.Contains(t, err.Error(), tt.err)
	}
}

// corpusCounts are, per file: nodes converted, with caveats, not
// converted; expressions translated, not translated; whether the flow is
// valid.
const corpusCounts = `
0021_HTTP_Awssqs_Automation_Scheduled.json 2 1 1 5 0 true
0099_Webhook_Airtable_Automate_Webhook.json 4 4 3 2 2 false
0188_Rssfeedread_Telegram_Create_Scheduled.json 5 5 1 5 0 true
0227_Manual_N8Ntrainingcustomerdatastore_Automate_Triggered.json 4 0 1 4 0 true
0232_Respondtowebhook_Stickynote_Create_Webhook.json 2 1 0 2 0 true
0301_Mattermost_Noop_Automation_Webhook.json 2 1 1 8 0 true
0306_HTTP_Respondtowebhook_Import_Webhook.json 0 3 0 1 0 true
0343_Manual_Editimage_Create_Webhook.json 1 1 1 0 0 true
0365_Code_Manual_Send_Webhook.json 2 1 1 5 0 true
0367_Code_Manual_Send_Webhook.json 2 1 1 5 0 true
0375_Webhook_Code_Send_Webhook.json 3 4 0 11 1 false
0376_Webhook_Code_Create_Webhook.json 0 4 0 1 0 true
0450_HTTP_Stickynote_Create_Webhook.json 3 4 0 2 1 false
0469_Clickup_Respondtowebhook_Create_Webhook.json 2 1 1 5 0 true
0510_HTTP_Schedule_Automation_Webhook.json 2 1 0 1 0 true
0596_Wait_Code_Import_Webhook.json 2 8 1 4 0 true
0611_HTTP_Filter_Automation_Scheduled.json 4 2 0 4 0 true
0811_Respondtowebhook_Webhook_Automate_Webhook.json 0 2 1 0 0 true
0818_GoogleSheets_Respondtowebhook_Import_Webhook.json 1 1 1 1 0 true
0888_Wait_Code_Send_Webhook.json 5 4 0 12 0 true
0937_HTTP_Editimage_Update_Webhook.json 0 2 1 0 0 true
1045_Manual_Renamekeys_Automate_Triggered.json 3 0 0 0 0 true
1077_Mattermost_Webhook_Automate_Webhook.json 1 1 1 0 0 true
1118_Openweathermap_Webhook_Automate_Webhook.json 1 1 1 5 0 true
1192_HTTP_Timescaledb_Automation_Scheduled.json 2 2 0 4 0 true
1223_Asana_Webhook_Automate_Webhook.json 1 1 1 1 0 true
1304_Telegram_Code_Monitor_Webhook.json 3 4 0 6 0 true
1334_HTTP_Manual_Automation_Webhook.json 2 2 1 2 0 true
1449_Manual_Webhook_Automate_Webhook.json 1 0 2 0 0 true
1473_HTTP_Respondtowebhook_Create_Webhook.json 2 3 0 2 0 true
1474_Respondtowebhook_Stickynote_Create_Webhook.json 0 2 1 0 0 true
1541_Webhook_Code_Create_Webhook.json 6 3 1 6 0 true
1621_Manual_Stickynote_Automate_Webhook.json 3 1 0 2 1 false
1725_HTTP_Code_Process_Webhook.json 0 3 0 0 0 true
1774_Splitout_Manual_Automation_Webhook.json 3 0 1 1 0 true
`

// TestCorpus imports 35 community workflows. The counts were checked by
// reading the reports of several files against the workflows; a change
// here is a change in what the import does.
func TestCorpus(t *testing.T) {
	t.Parallel()
	want := map[string]struct {
		counts Counts
		valid  bool
	}{}
	for _, line := range strings.Split(strings.TrimSpace(corpusCounts), "\n") {
		var file string
		var c Counts
		var valid bool
		_, err := fmt.Sscanf(line, "%s %d %d %d %d %d %t", &file, &c.Converted, &c.Caveats, &c.NotConverted, &c.Translated, &c.Untranslated, &valid)
		require.NoError(t, err, line)
		want[file] = struct {
			counts Counts
			valid  bool
		}{c, valid}
	}
	files, err := filepath.Glob("testdata/n8n/*.json")
	require.NoError(t, err)
	require.Len(t, files, 35)
	for _, f := range files {
		name := filepath.Base(f)
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			data, err := os.ReadFile(f)
			require.NoError(t, err)
			res, err := Import(data)
			require.NoError(t, err)
			w, ok := want[name]
			require.True(t, ok, "no expected counts for %s", name)
			got := res.Report.Counts()
			assert.Equal(t, w.counts, got, "converted caveats not_converted translated untranslated")
			assert.Equal(t, w.valid, res.Report.Valid, res.Report.Problems)
			if !res.Report.Valid {
				// Every problem must be explained by the report: an
				// expression kept untranslated.
				for _, p := range res.Report.Problems {
					assert.Contains(t, p.Message, untranslatedCall, "%+v", p)
				}
			}
		})
	}
}

func FuzzImport(f *testing.F) {
	files, _ := filepath.Glob("testdata/n8n/*.json")
	for _, file := range files[:min(5, len(files))] {
		if data, err := os.ReadFile(file); err == nil {
			f.Add(data)
		}
	}
	f.Add([]byte(`{"nodes": [{"name": "A", "type": "n8n-nodes-base.if", "parameters": {"conditions": {"number": [{}]}}}], "connections": {"A": {"main": [[{"node": "A"}]]}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		res, err := Import(data)
		if err != nil {
			return
		}
		if _, err := res.Document(); err != nil {
			t.Fatal(err)
		}
	})
}

// n8n's pinned data becomes the nodes' pins, shaped as Hookflow outputs
// them; what cannot be a pin is left out with the reason.
func TestPinnedDataBecomesPins(t *testing.T) {
	t.Parallel()
	doc := `{"name": "Pins", "nodes": [
		{"name": "Hook", "type": "n8n-nodes-base.webhook", "typeVersion": 2, "position": [0, 0], "parameters": {"path": "x"}},
		{"name": "Fetch", "type": "n8n-nodes-base.httpRequest", "typeVersion": 4.2, "position": [200, 0], "parameters": {"url": "https://x.example"}},
		{"name": "Check", "type": "n8n-nodes-base.if", "typeVersion": 2, "position": [400, 0], "parameters": {"conditions": {"conditions": [{"operator": {"type": "boolean", "operation": "true"}, "leftValue": "={{ $json.ok }}"}]}}},
		{"name": "Set", "type": "n8n-nodes-base.set", "typeVersion": 3.4, "position": [600, 0], "parameters": {"assignments": {"assignments": [{"name": "id", "type": "string", "value": "={{ $('Fetch').item.json.id }}"}]}}},
		{"name": "Sheet", "type": "n8n-nodes-base.googleSheets", "typeVersion": 4, "position": [800, 0], "parameters": {}}],
		"connections": {"Hook": {"main": [[{"node": "Fetch", "type": "main", "index": 0}]]}, "Fetch": {"main": [[{"node": "Check", "type": "main", "index": 0}]]},
			"Check": {"main": [[{"node": "Set", "type": "main", "index": 0}]]}, "Set": {"main": [[{"node": "Sheet", "type": "main", "index": 0}]]}},
		"pinData": {"Hook": [{"json": {"body": {"a": 1}}}], "Fetch": [{"json": {"id": 7}}, {"json": {"id": 8}}], "Check": [{"json": {"ok": true}}],
			"Set": [{"id": "7"}], "Sheet": [{"json": {}}], "Odd": {"not": "a list"}}}`
	res, err := Import([]byte(doc))
	require.NoError(t, err)
	require.True(t, res.Report.Valid, res.Report.Problems)
	pin := func(id string) any {
		n, _ := node(t, res, id)
		var ui map[string]any
		require.NoError(t, json.Unmarshal(n.UI, &ui))
		return ui["pin"]
	}
	assert.Equal(t, map[string]any{"output": map[string]any{"status": 200.0, "headers": map[string]any{}, "body": map[string]any{"id": 7.0}}}, pin("fetch"),
		"an HTTP Request's json is the body of http.request's output")
	assert.Equal(t, map[string]any{"output": map[string]any{"id": "7"}}, pin("set"), "an item of an older export is the json itself")
	assert.Nil(t, pin("hook"))
	assert.Nil(t, pin("check"))
	notes := strings.Join(res.Report.Notes, "\n")
	for _, want := range []string{
		`n8n's pinned data of "Fetch" is its pin: test runs use it instead of running the node; n8n pinned 2 items, the pin holds the first`,
		`n8n's pinned data of "Set" is its pin`,
		`n8n's pinned data of the trigger "Hook" is left out`,
		`n8n's pinned data of "Check" is left out: `,
		`n8n's pinned data of "Sheet" is left out: the node was not converted`,
		`n8n's pinned data of "Odd" is left out: it is not a list of items`,
	} {
		assert.Contains(t, notes, want)
	}
}
