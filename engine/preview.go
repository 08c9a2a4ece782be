package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/hookflow/hookflow/engine/expression"
)

// PreviewValueLimit is the most of a previewed value's JSON an answer holds;
// a larger value is cut to this many bytes of its JSON text.
const PreviewValueLimit = 64 << 10

// Sample is the data an editor previews an expression with: typically the
// last test run's trigger data and step outputs.
type Sample struct {
	Trigger map[string]any
	Steps   map[string]any
	Input   any
	Item    any
	Index   int
}

// PreviewSource is what to preview: expr source, or a text with {{ }}
// placeholders when Template is set.
type PreviewSource struct {
	Source   string
	Template bool
}

// field names the request field the source came in, for problems.
func (s PreviewSource) field() string {
	if s.Template {
		return "template"
	}
	return "expression"
}

// PreviewError is a previewed source that does not compile, or fails on the
// sample data. Its problem names the request field that holds the source.
type PreviewError struct {
	Problem Problem
}

func (e *PreviewError) Error() string { return e.Problem.Message }

// Preview is a previewed value: the value itself, or its JSON text cut to
// PreviewValueLimit when Truncated.
type Preview struct {
	Value     any  `json:"value"`
	Truncated bool `json:"truncated,omitempty"`
}

// Preview evaluates an expression, or renders a template, against sample
// data as a node would: with the allow-listed env and within the same limits
// on size, memory and time. It runs nothing else and touches nothing.
func (e *Engine) Preview(ctx context.Context, src PreviewSource, sample Sample) (*Preview, error) {
	fail := func(err error) error {
		return &PreviewError{Problem: Problem{Field: src.field(), Message: err.Error()}}
	}
	var eval func(context.Context, *expression.Scope) (any, error)
	if src.Template {
		t, err := expression.CompileTemplate(src.Source)
		if err != nil {
			return nil, fail(err)
		}
		eval = t.Eval
	} else {
		p, err := expression.Compile(src.Source)
		if err != nil {
			return nil, fail(err)
		}
		eval = p.Eval
	}
	value, err := eval(ctx, &expression.Scope{
		Trigger: sample.Trigger,
		Steps:   sample.Steps,
		Input:   sample.Input,
		Run:     expression.RunInfo{ID: "preview", FlowID: "preview", Attempt: 1},
		Env:     e.env,
		Item:    sample.Item,
		Index:   sample.Index,
	})
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("preview: %w", err)
		}
		return nil, fail(err)
	}
	data, err := json.Marshal(value)
	if err != nil {
		var unsupported *json.UnsupportedValueError
		if errors.As(err, &unsupported) {
			return nil, fail(fmt.Errorf("the value cannot be written as JSON: %v", unsupported.Str))
		}
		return nil, fail(fmt.Errorf("the value cannot be written as JSON: %w", err))
	}
	if len(data) > PreviewValueLimit {
		cut := PreviewValueLimit
		for cut > 0 && !utf8.Valid(data[:cut]) {
			cut-- // not inside a character
		}
		return &Preview{Value: string(data[:cut]), Truncated: true}, nil
	}
	return &Preview{Value: value}, nil
}
