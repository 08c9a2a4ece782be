package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"sort"
	"sync"
	"time"
	"unicode/utf8"
)

// Limits on what a step record holds.
const (
	// MaxOutputBytes is the largest output a step may produce, as JSON. A
	// larger one fails the step: outputs are kept whole, since a resumed run
	// reads them back.
	MaxOutputBytes = 4 << 20
	// MaxInputBytes is how much of a step's input its record keeps.
	MaxInputBytes = 256 << 10
	// MaxLogLines and MaxLogLineBytes bound a step's own log.
	MaxLogLines     = 100
	MaxLogLineBytes = 2 << 10
)

// encode renders a value as JSON for a record.
func encode(v any) ([]byte, error) {
	data, err := json.Marshal(v)
	if err != nil {
		if path, f, ok := nonFinite(v, "output"); ok {
			// An expression's 1/0 or 0.0/0: say where, in the user's terms.
			return nil, fmt.Errorf("%s is %v, which JSON cannot hold: a division by zero?", path, f)
		}
		return nil, fmt.Errorf("output is not JSON: %w", err)
	}
	return data, nil
}

// nonFinite finds the first NaN or infinite number in a value made of JSON
// types, and its path.
func nonFinite(v any, path string) (string, float64, bool) {
	switch v := v.(type) {
	case float64:
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return path, v, true
		}
	case float32:
		return nonFinite(float64(v), path)
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if p, f, ok := nonFinite(v[k], path+"."+k); ok {
				return p, f, true
			}
		}
	case []any:
		for i, item := range v {
			if p, f, ok := nonFinite(item, fmt.Sprintf("%s[%d]", path, i)); ok {
				return p, f, true
			}
		}
	}
	return "", 0, false
}

// Truncated is what a record holds in place of a value over its cap.
type Truncated struct {
	Truncated bool   `json:"$truncated"`
	Bytes     int    `json:"bytes"`
	Preview   string `json:"preview"`
}

// CapJSON keeps data when it fits in limit, and otherwise a Truncated marker
// holding a preview of it. Nil stays nil.
func CapJSON(data []byte, limit int) []byte {
	if len(data) <= limit {
		return data
	}
	preview := data[:limit]
	for len(preview) > 0 && !utf8.Valid(preview) {
		preview = preview[:len(preview)-1]
	}
	marker, _ := json.Marshal(Truncated{Truncated: true, Bytes: len(data), Preview: string(preview)})
	return marker
}

// stepLog collects a step's own log lines, up to a limit.
type stepLog struct {
	mu      sync.Mutex
	lines   []logLine
	dropped int
}

type logLine struct {
	Time    time.Time      `json:"time"`
	Level   string         `json:"level"`
	Message string         `json:"msg"`
	Attrs   map[string]any `json:"attrs,omitempty"`
}

// logger returns a slog.Logger writing into the step's log.
func (l *stepLog) logger() *slog.Logger { return slog.New(&stepLogHandler{log: l}) }

// encode renders the log as JSON, or nil when it is empty.
func (l *stepLog) encode() []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.lines) == 0 {
		return nil
	}
	lines := l.lines
	if l.dropped > 0 {
		lines = append(lines, logLine{Time: time.Now().UTC(), Level: "WARN",
			Message: fmt.Sprintf("%d more lines were dropped: a step keeps %d", l.dropped, MaxLogLines)})
	}
	data, _ := json.Marshal(lines)
	return data
}

type stepLogHandler struct {
	log   *stepLog
	attrs []slog.Attr
	group string
}

func (h *stepLogHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h *stepLogHandler) Handle(_ context.Context, r slog.Record) error {
	line := logLine{Time: r.Time.UTC(), Level: r.Level.String(), Message: truncateText(r.Message, MaxLogLineBytes)}
	add := func(a slog.Attr) bool {
		if line.Attrs == nil {
			line.Attrs = map[string]any{}
		}
		key := a.Key
		if h.group != "" {
			key = h.group + "." + key
		}
		v := a.Value.Resolve().Any()
		if s, ok := v.(string); ok {
			v = truncateText(s, MaxLogLineBytes)
		} else if err, ok := v.(error); ok {
			v = truncateText(err.Error(), MaxLogLineBytes)
		}
		line.Attrs[key] = v
		return true
	}
	for _, a := range h.attrs {
		add(a)
	}
	r.Attrs(add)
	h.log.mu.Lock()
	defer h.log.mu.Unlock()
	if len(h.log.lines) >= MaxLogLines {
		h.log.dropped++
		return nil
	}
	h.log.lines = append(h.log.lines, line)
	return nil
}

func (h *stepLogHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &stepLogHandler{log: h.log, attrs: append(append([]slog.Attr{}, h.attrs...), attrs...), group: h.group}
}

func (h *stepLogHandler) WithGroup(name string) slog.Handler {
	group := name
	if h.group != "" {
		group = h.group + "." + name
	}
	return &stepLogHandler{log: h.log, attrs: h.attrs, group: group}
}

func truncateText(s string, limit int) string {
	if len(s) <= limit {
		return s
	}
	s = s[:limit]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s + "…"
}
