package nodes

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow/engine/expression"
)

func builtins(t testing.TB) *Registry {
	t.Helper()
	reg := NewRegistry()
	RegisterBuiltins(reg)
	return reg
}

// TestSpecFieldsMatchParamsStructs holds each builtin's spec and its params
// struct to the same field names, at every level, so the form the editor
// draws is exactly what the builder decodes.
func TestSpecFieldsMatchParamsStructs(t *testing.T) {
	t.Parallel()
	for _, k := range builtins(t).Kinds() {
		t.Run(k.Spec.Kind, func(t *testing.T) {
			compareFields(t, k.Spec.Kind, k.Spec.Fields, k.params)
		})
	}
}

func compareFields(t *testing.T, path string, fields []Field, typ reflect.Type) {
	t.Helper()
	for typ.Kind() == reflect.Pointer {
		typ = typ.Elem()
	}
	require.Equal(t, reflect.Struct, typ.Kind(), "%s: params type must be a struct", path)
	tags := map[string]reflect.Type{}
	for _, field := range reflect.VisibleFields(typ) {
		if field.Anonymous && field.Type.Kind() == reflect.Struct {
			continue // its fields are promoted, as encoding/json reads them
		}
		name, _, _ := strings.Cut(field.Tag.Get("json"), ",")
		require.NotEmpty(t, name, "%s.%s has no json tag", path, field.Name)
		tags[name] = field.Type
	}
	var specNames, tagNames []string
	for _, f := range fields {
		specNames = append(specNames, f.Name)
	}
	for name := range tags {
		tagNames = append(tagNames, name)
	}
	sort.Strings(specNames)
	sort.Strings(tagNames)
	assert.Equal(t, specNames, tagNames, "%s: spec fields and struct tags differ", path)
	for _, f := range fields {
		goType, ok := tags[f.Name]
		if !ok {
			continue
		}
		switch {
		case f.Type == TypeObject:
			compareFields(t, path+"."+f.Name, f.Fields, goType)
		case (f.Type == TypeList || f.Type == TypeMap) && f.Items.Type == TypeObject:
			compareFields(t, path+"."+f.Name+"[]", f.Items.Fields, goType.Elem())
		}
	}
}

func TestBuiltinSpecsAreComplete(t *testing.T) {
	t.Parallel()
	kinds := builtins(t).Kinds()
	require.NotEmpty(t, kinds)
	triggers := 0
	for _, k := range kinds {
		assert.NotEmpty(t, k.Spec.Title, k.Spec.Kind)
		assert.NotEmpty(t, k.Spec.Summary, k.Spec.Kind)
		assert.NotContains(t, k.Spec.Summary, "\n", "%s: the summary is one line", k.Spec.Kind)
		assert.Equal(t, builtinIcons[k.Spec.Kind], k.Spec.Icon, "%s: icon", k.Spec.Kind)
		if k.Spec.IsTrigger() {
			triggers++
		}
		// The served schema is valid JSON and says what it validates.
		data, err := json.Marshal(k.Spec.JSONSchema())
		require.NoError(t, err)
		assert.Contains(t, string(data), `"additionalProperties":false`)
	}
	assert.Equal(t, 8, triggers)
	assert.Len(t, kinds, len(builtinIcons), "every builtin has its icon in builtinIcons")
	for _, kind := range []string{"trigger.webhook", "trigger.manual", "trigger.cron", "trigger.call", "transform", "filter", "if", "switch",
		"merge", "foreach", "delay", "respond", "flow.call", "flow.return", "wait.callback"} {
		_, ok := builtins(t).Lookup(kind)
		assert.True(t, ok, "%s is registered", kind)
	}
}

// builtinIcons is the icon each builtin kind shows in the editor, as agreed
// with the editor's icon set; a kind missing here fails the test above.
var builtinIcons = map[string]string{
	"trigger.webhook": "webhook", "trigger.cron": "clock", "trigger.manual": "play", "trigger.call": "phone-incoming",
	"trigger.rabbitmq": "rabbit", "trigger.nats": "radio", "trigger.mqtt": "antenna", "trigger.redis": "layers",
	"transform": "shuffle", "filter": "filter", "if": "git-branch", "switch": "split", "foreach": "repeat",
	"merge": "merge", "code": "code", "delay": "timer", "wait.callback": "hourglass", "flow.call": "workflow",
	"flow.return": "corner-down-left", "respond": "reply", "http.request": "globe", "webhook.send": "send",
	"slack.message": "hash", "discord.message": "message-circle", "teams.message": "message-square",
	"telegram.message": "send-horizontal", "email.send": "mail", "db.write": "database", "db.query": "table",
	"llm.chat": "bot", "rabbitmq.publish": "rabbit", "nats.publish": "radio", "mqtt.publish": "antenna",
	"redis.command": "layers",
}

func TestRegisterRefusesBadSpecs(t *testing.T) {
	t.Parallel()
	type empty struct{}
	build := func(*Builder, *empty) Node { return manualTrigger{} }
	tests := []struct {
		name string
		spec Spec
		want string
	}{
		{"bad kind name", Spec{Kind: "Bad Kind"}, "kind must match"},
		{"duplicate", Spec{Kind: "transform", Icon: "box"}, "already registered"},
		{"no icon", Spec{Kind: "x.i"}, "icon must be a Lucide icon name"},
		{"icon not kebab case", Spec{Kind: "x.j", Icon: "GitBranch"}, "icon must be a Lucide icon name"},
		{"unnamed field", Spec{Kind: "x.a", Icon: "box", Fields: []Field{{Type: TypeString, Label: "L"}}}, "has no name"},
		{"unlabelled field", Spec{Kind: "x.b", Icon: "box", Fields: []Field{{Name: "a", Type: TypeString}}}, "has no label"},
		{"twice", Spec{Kind: "x.c", Icon: "box", Fields: []Field{{Name: "a", Type: TypeString, Label: "A"}, {Name: "a", Type: TypeString, Label: "A"}}}, "appears twice"},
		{"select without options", Spec{Kind: "x.d", Icon: "box", Fields: []Field{{Name: "a", Type: TypeSelect, Label: "A"}}}, "no options"},
		{"list without items", Spec{Kind: "x.e", Icon: "box", Fields: []Field{{Name: "a", Type: TypeList, Label: "A"}}}, "has no items"},
		{"credential without type", Spec{Kind: "x.f", Icon: "box", Fields: []Field{{Name: "a", Type: TypeCredential, Label: "A"}}}, "no credential type"},
		{"unknown type", Spec{Kind: "x.g", Icon: "box", Fields: []Field{{Name: "a", Type: "colour", Label: "A"}}}, `unknown type "colour"`},
	}
	reg := builtins(t)
	for _, tt := range tests {
		err := reg.Register(Define(tt.spec, build))
		assert.ErrorContains(t, err, tt.want, tt.name)
	}
	assert.ErrorContains(t, reg.Register(Kind{Spec: Spec{Kind: "x.h", Icon: "box"}}), "no builder")
}

func TestBuildAppliesDefaultsAndDecodesStrictly(t *testing.T) {
	t.Parallel()
	k, ok := builtins(t).Lookup("trigger.webhook")
	require.True(t, ok)
	node, err := k.Build(json.RawMessage(`{"verify": {"scheme": "hmac", "credential": "c", "header": "X-Sig"}}`))
	require.NoError(t, err)
	w := node.(*WebhookTrigger)
	assert.Equal(t, []string{"POST"}, w.Methods)
	assert.Equal(t, "sha256", w.Verify.Algorithm)
	assert.Equal(t, "hex", w.Verify.Encoding)
	assert.Equal(t, "{body}", w.Verify.SignedString)
	assert.Equal(t, 10000, w.RespondTimeoutMS)
	assert.Equal(t, 86400000, w.DedupeWindowMS)
	assert.Nil(t, w.Dedupe)

	_, err = k.Build(json.RawMessage(`{"verify": {"scheme": "github"}}`))
	var fieldErrs FieldErrors
	require.ErrorAs(t, err, &fieldErrs)
	assert.Equal(t, FieldErrors{{Field: "verify.credential", Message: "is required"}}, fieldErrs)

	_, err = k.Build(nil)
	assert.NoError(t, err, "absent params mean all defaults")
}

func TestTransformRun(t *testing.T) {
	t.Parallel()
	input := map[string]any{
		"id": 7, "name": "Ada", "secret": "x",
		"address": map[string]any{"city": "London", "zip": "N1"},
	}
	tests := []struct {
		name   string
		params string
		want   map[string]any
	}{
		{
			name:   "set fields only",
			params: `{"fields": {"usd": "trigger.body.amount / 100", "who": "input.name"}}`,
			want:   map[string]any{"usd": 12.5, "who": "Ada"},
		},
		{
			name:   "nested set",
			params: `{"fields": {"customer.email": "'ada@example.com'", "customer.tier": "'gold'"}}`,
			want:   map[string]any{"customer": map[string]any{"email": "ada@example.com", "tier": "gold"}},
		},
		{
			name:   "include input, remove and rename",
			params: `{"include_input": true, "remove": ["secret", "address.zip"], "rename": {"name": "full_name"}, "fields": {"address.country": "'UK'"}}`,
			want: map[string]any{
				"id": 7, "full_name": "Ada",
				"address": map[string]any{"city": "London", "country": "UK"},
			},
		},
		{
			name:   "keep only",
			params: `{"include_input": true, "keep": ["id", "address.city", "missing"]}`,
			want:   map[string]any{"id": 7, "address": map[string]any{"city": "London"}},
		},
	}
	reg := builtins(t)
	k, _ := reg.Lookup("transform")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			node, err := k.Build(json.RawMessage(tt.params))
			require.NoError(t, err)
			scope := newScope(input)
			res, err := node.Run(context.Background(), &Input{Scope: scope})
			require.NoError(t, err)
			assert.Equal(t, tt.want, res.Output)
			assert.Equal(t, map[string]any{"city": "London", "zip": "N1"}, input["address"], "the input is not changed")
			assert.Equal(t, "x", input["secret"])
		})
	}
}

func TestTransformReportsTheFailingField(t *testing.T) {
	t.Parallel()
	k, _ := builtins(t).Lookup("transform")
	node, err := k.Build(json.RawMessage(`{"fields": {"bad": "input.name / 2"}}`))
	require.NoError(t, err)
	_, err = node.Run(context.Background(), &Input{Scope: newScope(map[string]any{"name": "Ada"})})
	assert.ErrorContains(t, err, "field bad")
}

func newScope(input any) *expression.Scope {
	return &expression.Scope{
		Trigger: map[string]any{"body": map[string]any{"amount": 1250}},
		Steps:   map[string]any{},
		Input:   input,
	}
}

// TestTemplateFieldsAreRendered holds the field types to what the builders
// do: a field of type template is compiled as a template (a broken one is a
// problem on that field), and a plain string field is not. The editor draws
// a template editor with a preview exactly for the template fields.
func TestTemplateFieldsAreRendered(t *testing.T) {
	t.Parallel()
	// Params each kind builds with, before the field under test is set.
	base := map[string]string{
		"http.request":     `{"url": "https://api.example"}`,
		"slack.message":    `{"credential": "c", "text": "hi"}`,
		"discord.message":  `{"credential": "c", "content": "hi"}`,
		"telegram.message": `{"credential": "c", "chat_id": "1", "text": "hi"}`,
		"teams.message":    `{"credential": "c", "text": "hi"}`,
		"email.send":       `{"credential": "c", "to": "a@example.com", "subject": "hi", "text": "hi"}`,
		"llm.chat":         `{"credential": "c", "model": "gpt-4o-mini", "user": "hi"}`,
		"db.write":         `{"credential": "c", "table": "orders", "values": {"id": "1"}}`,
		"db.query":         `{"credential": "c", "query": "SELECT 1"}`,
		"trigger.cron":     `{"schedule": "* * * * *"}`,
		"switch":           `{"cases": [{"port": "a", "condition": "true"}]}`,
		"if":               `{"condition": "true"}`,
		"filter":           `{"condition": "true"}`,
		"foreach":          `{"items": "[]"}`,
		"delay":            `{"duration_ms": 1}`,
		"flow.call":        `{"flow": "0190a000-0000-7000-8000-000000000000"}`,
		"code":             `{"code": "return input"}`,
		"webhook.send":     `{"url": "https://x.example", "body": {}, "signing": "none"}`,
		"redis.command":    `{"credential": "c", "command": "SET", "key": "k", "value": "v"}`,
		"trigger.redis":    `{"credential": "c", "stream": "s"}`,
		"rabbitmq.publish": `{"credential": "c", "routing_key": "q", "body": "hi"}`,
		"trigger.rabbitmq": `{"credential": "c", "queue": "q"}`,
		"nats.publish":     `{"credential": "c", "subject": "s"}`,
		"trigger.nats":     `{"credential": "c", "subject": "s"}`,
		"mqtt.publish":     `{"credential": "c", "topic": "t"}`,
		"trigger.mqtt":     `{"credential": "c", "topics": ["t/#"]}`,
	}
	const broken = "{{ len( }}"
	_, err := expression.CompileTemplate(broken)
	require.Error(t, err)
	templateError := err.Error()

	for _, k := range builtins(t).Kinds() {
		params := map[string]any{}
		if b, ok := base[k.Spec.Kind]; ok {
			require.NoError(t, json.Unmarshal([]byte(b), &params))
		}
		_, err := k.Build(mustJSON(t, params))
		require.NoError(t, err, "%s builds with its base params", k.Spec.Kind)

		for _, f := range k.Spec.Fields {
			var value any
			var path string
			switch {
			case f.Type == TypeString || f.Type == TypeTemplate:
				value, path = broken, f.Name
			case f.Type == TypeMap && (f.Items.Type == TypeString || f.Items.Type == TypeTemplate):
				value, path = map[string]any{"x": broken}, f.Name+".x"
				f = *f.Items
			default:
				continue
			}
			t.Run(k.Spec.Kind+"."+path, func(t *testing.T) {
				with := map[string]any{}
				for name, v := range params {
					with[name] = v
				}
				with[strings.SplitN(path, ".", 2)[0]] = value
				_, err := k.Build(mustJSON(t, with))
				var errs FieldErrors
				rendered := errors.As(err, &errs) && slices.ContainsFunc(errs, func(e FieldError) bool {
					return e.Field == path && e.Message == templateError
				})
				assert.Equal(t, f.Type == TypeTemplate, rendered, "field type %s, build error: %v", f.Type, err)
			})
		}
	}
}

func mustJSON(t *testing.T, v any) json.RawMessage {
	t.Helper()
	data, err := json.Marshal(v)
	require.NoError(t, err)
	return data
}
