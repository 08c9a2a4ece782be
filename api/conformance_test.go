package api_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/stretchr/testify/require"
)

// The editor's API types are generated from the OpenAPI document, so the
// document must say what the server really answers. Every answer the API
// tests get through fixture.doAs is checked against the schema the document
// gives for its operation and status, with each documented object closed:
// a field the server sends but the document leaves out fails as surely as
// a missing or mistyped one.

// contract is the compiled OpenAPI document of one server.
type contract struct {
	doc      map[string]any // as served
	compiler *jsonschema.Compiler
	routes   []contractRoute

	mu      sync.Mutex
	schemas map[string]*jsonschema.Schema
}

type contractRoute struct {
	pattern *regexp.Regexp
	path    string
	methods map[string]map[string]bool // method → documented statuses
}

const contractURL = "https://hookflow.test/openapi.json"

var (
	contractsMu sync.Mutex
	contracts   = map[string]*contract{} // by document text: servers of one registry share it
)

// contractOf compiles (once per distinct document) the OpenAPI document a
// server serves.
func contractOf(t testing.TB, served []byte) *contract {
	t.Helper()
	contractsMu.Lock()
	defer contractsMu.Unlock()
	if c, ok := contracts[string(served)]; ok {
		return c
	}
	var doc map[string]any
	require.NoError(t, json.Unmarshal(served, &doc))
	c := &contract{doc: doc, schemas: map[string]*jsonschema.Schema{}}
	for path, item := range doc["paths"].(map[string]any) {
		route := contractRoute{path: path, methods: map[string]map[string]bool{}}
		pattern := regexp.QuoteMeta(path)
		pattern = strings.ReplaceAll(pattern, `\{path\}`, `.+`)
		pattern = regexp.MustCompile(`\\\{[a-z]+\\\}`).ReplaceAllString(pattern, `[^/]+`)
		route.pattern = regexp.MustCompile("^" + pattern + "$")
		for method, op := range item.(map[string]any) {
			operation, ok := op.(map[string]any)
			if !ok {
				continue // parameters
			}
			responses, ok := operation["responses"].(map[string]any)
			if !ok {
				continue // summary, description
			}
			statuses := map[string]bool{}
			for status := range responses {
				statuses[status] = true
			}
			route.methods[strings.ToUpper(method)] = statuses
		}
		c.routes = append(c.routes, route)
	}
	var strict map[string]any
	require.NoError(t, json.Unmarshal(served, &strict))
	closeObjects(strict)
	closed, err := json.Marshal(strict)
	require.NoError(t, err)
	resource, err := jsonschema.UnmarshalJSON(bytes.NewReader(closed))
	require.NoError(t, err)
	c.compiler = jsonschema.NewCompiler()
	c.compiler.DefaultDraft(jsonschema.Draft2020)
	require.NoError(t, c.compiler.AddResource(contractURL, resource))
	contracts[string(served)] = c
	return c
}

// closeObjects makes every schema that lists properties refuse others,
// unless it says what others may be.
func closeObjects(v any) {
	switch v := v.(type) {
	case map[string]any:
		if _, ok := v["properties"].(map[string]any); ok {
			if _, open := v["additionalProperties"]; !open {
				v["additionalProperties"] = false
			}
		}
		for _, e := range v {
			closeObjects(e)
		}
	case []any:
		for _, e := range v {
			closeObjects(e)
		}
	}
}

// check validates one answer against its operation's documented answer.
func (c *contract) check(t testing.TB, method, path string, status int, body []byte) {
	t.Helper()
	path, _, _ = strings.Cut(path, "?")
	var route *contractRoute
	for i := range c.routes {
		// A literal path (/flows/{id}/versions) beats a pattern it also fits.
		if r := &c.routes[i]; r.pattern.MatchString(path) && (route == nil || strings.Count(r.path, "{") < strings.Count(route.path, "{")) {
			route = r
		}
	}
	if route == nil {
		return // Not an API route (the editor's pages); TestOpenAPIDescribesEveryRoute covers routing.
	}
	statuses, ok := route.methods[method]
	require.True(t, ok, "%s %s is not documented", method, route.path)
	code := strconv.Itoa(status)
	require.True(t, statuses[code], "%s %s answered %d, which the document does not list: %s", method, route.path, status, body)
	if len(body) == 0 {
		return
	}
	pointer := fmt.Sprintf("#/paths/%s/%s/responses/%s", escapePointer(route.path), strings.ToLower(method), code)
	schema := c.schema(t, pointer)
	if schema == nil {
		return // The answer's content is not described (metrics, a flow's own reply).
	}
	value, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	require.NoError(t, err, "%s %s: %s", method, path, body)
	if err := schema.Validate(value); err != nil {
		t.Errorf("%s %s %d answers what the OpenAPI document does not say:\n%v\nanswer: %.2000s", method, route.path, status, err, body)
	}
}

// schema compiles the JSON schema of a response, following a $ref to
// components/responses; nil when the response has no JSON content.
func (c *contract) schema(t testing.TB, pointer string) *jsonschema.Schema {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	if s, ok := c.schemas[pointer]; ok {
		return s
	}
	var s *jsonschema.Schema
	if content := c.jsonContent(pointer); content != "" {
		var err error
		s, err = c.compiler.Compile(contractURL + content)
		require.NoError(t, err, content)
	}
	c.schemas[pointer] = s
	return s
}

// jsonContent finds the pointer to the application/json schema of the
// response at pointer, if it has one.
func (c *contract) jsonContent(pointer string) string {
	node := resolve(c.doc, pointer)
	if ref, ok := node["$ref"].(string); ok {
		pointer = ref
		node = resolve(c.doc, ref)
	}
	content, _ := node["content"].(map[string]any)
	media, _ := content["application/json"].(map[string]any)
	if media["schema"] == nil {
		return ""
	}
	return pointer + "/content/application~1json/schema"
}

// resolve follows a local JSON pointer ("#/paths/~1api~1v1~1flows/get").
func resolve(doc map[string]any, pointer string) map[string]any {
	var node any = doc
	for _, part := range strings.Split(strings.TrimPrefix(pointer, "#/"), "/") {
		part = strings.NewReplacer("~1", "/", "~0", "~").Replace(part)
		node = node.(map[string]any)[part]
	}
	return node.(map[string]any)
}

func escapePointer(s string) string {
	return strings.NewReplacer("~", "~0", "/", "~1").Replace(s)
}
