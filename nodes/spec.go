package nodes

// Category groups node kinds in the editor's palette. Exactly one node of the
// trigger category starts each flow.
type Category string

// The categories of node kinds.
const (
	CategoryTrigger Category = "trigger"
	CategoryFlow    Category = "flow"
	CategoryData    Category = "data"
	CategoryAction  Category = "action"
)

// FieldType is the kind of value a parameter holds; the editor picks its
// widget from it and the JSON Schema is derived from it.
type FieldType string

// The field types.
const (
	// TypeString is plain text, used as written: names, headers, zones.
	TypeString FieldType = "string"
	// TypeTemplate is text whose {{ expression }} placeholders are rendered
	// when the node runs; a text that is exactly one placeholder keeps the
	// value's type.
	TypeTemplate FieldType = "template"
	// TypeExpression is expr source, compiled when the flow is saved.
	TypeExpression FieldType = "expression"
	// TypeCode is JavaScript source, compiled when the flow is saved; the
	// editor shows a multi-line JavaScript editor.
	TypeCode FieldType = "code"
	// TypeSelect is one of the field's Options.
	TypeSelect FieldType = "select"
	// TypeNumber is any JSON number.
	TypeNumber FieldType = "number"
	// TypeInteger is a whole JSON number.
	TypeInteger FieldType = "integer"
	// TypeBoolean is true or false.
	TypeBoolean FieldType = "boolean"
	// TypeDuration is a whole number of milliseconds.
	TypeDuration FieldType = "duration"
	// TypeCron is a cron schedule in five or six fields.
	TypeCron FieldType = "cron"
	// TypeFlow is the id of another flow; the editor offers the flows.
	TypeFlow FieldType = "flow"
	// TypeCredential is the name of a stored credential of one of CredentialTypes.
	TypeCredential FieldType = "credential"
	// TypeJSON is any JSON value whose strings may embed templates.
	TypeJSON FieldType = "json"
	// TypeMap is an object whose values are each described by Items.
	TypeMap FieldType = "map"
	// TypeList is an array whose elements are each described by Items.
	TypeList FieldType = "list"
	// TypeObject is an object with the named Fields.
	TypeObject FieldType = "object"
)

// Spec describes a node kind as data: what the palette shows, the parameter
// form the editor draws, and the JSON Schema its params are checked against.
type Spec struct {
	// Kind is the `type` of a flow node, such as "transform".
	Kind string `json:"kind"`
	// Category places the kind in the palette.
	Category Category `json:"category"`
	// Title is the short human name.
	Title string `json:"title"`
	// Summary is a one-line description.
	Summary string `json:"summary"`
	// Icon is the name of a Lucide icon in kebab case ("git-branch"); the
	// editor draws it on the palette entry and on each node of the kind.
	Icon string `json:"icon"`
	// Fields are the kind's parameters, in form order.
	Fields []Field `json:"fields"`
	// Ports names the kind's output ports. Empty means one unnamed output, to
	// which edges connect without a port.
	Ports []string `json:"ports"`
	// PortsFrom names the parameter whose entries add further ports (switch
	// cases); the kind's compiled node reports them through PortLister.
	PortsFrom string `json:"ports_from,omitempty"`
	// Pure kinds only compute: running one again gives the same result and
	// touches nothing outside the run. The executor records them with the
	// run's next checkpoint; any other kind's success is made durable before
	// anything downstream runs, so a recorded success is never repeated.
	Pure bool `json:"pure"`
	// Attempts is how many times a node of this kind is tried when its
	// retry policy is left out: 1 (no retry) when zero. Actions retry the
	// failures worth retrying (429, 5xx, network errors) by default.
	Attempts int `json:"attempts,omitempty"`
}

// Field describes one parameter.
type Field struct {
	Name     string    `json:"name"`
	Type     FieldType `json:"type"`
	Label    string    `json:"label"`
	Help     string    `json:"help,omitempty"`
	Required bool      `json:"required,omitempty"`
	// Default is the value used when the field is absent.
	Default any `json:"default,omitempty"`
	// Options are the choices of a select field.
	Options []Option `json:"options,omitempty"`
	// Secret marks a value the editor masks and the logs redact.
	Secret bool `json:"secret,omitempty"`
	// Advanced fields are folded away in the editor.
	Advanced bool `json:"advanced,omitempty"`
	// CredentialTypes are the credential types a credential field accepts.
	CredentialTypes []string `json:"credential_types,omitempty"`
	// Fields are an object field's members.
	Fields []Field `json:"fields,omitempty"`
	// Items describes each element of a list or each value of a map.
	Items *Field `json:"items,omitempty"`
	// Min and Max bound numbers, durations, and the length of text and lists.
	Min *float64 `json:"min,omitempty"`
	Max *float64 `json:"max,omitempty"`
	// Placeholder is an example value shown in an empty input.
	Placeholder string `json:"placeholder,omitempty"`
	// Multiline text fields (a message's text) take line breaks; in any
	// other text field Enter inserts none, as in a one-line input.
	Multiline bool `json:"multiline,omitempty"`
}

// Option is one choice of a select field.
type Option struct {
	Value string `json:"value"`
	Label string `json:"label"`
	Help  string `json:"help,omitempty"`
}

// Bound returns a pointer to n, for Field.Min and Field.Max.
func Bound(n float64) *float64 { return &n }

// IsTrigger reports whether the kind starts flows.
func (s *Spec) IsTrigger() bool { return s.Category == CategoryTrigger }
