package expression

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math"
)

// DecodeJSON decodes JSON into the values expressions work with: objects as
// map[string]any, arrays as []any, whole numbers that fit as int and other
// numbers as float64. Decoding every number as float64 would corrupt ids
// above 2^53 (Shopify's and Twitter's among them).
func DecodeJSON(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("invalid character after top-level value")
	}
	return numbers(v), nil
}

// numbers replaces json.Number values in place.
func numbers(v any) any {
	switch v := v.(type) {
	case json.Number:
		if i, err := v.Int64(); err == nil && i >= math.MinInt && i <= math.MaxInt {
			return int(i)
		}
		f, _ := v.Float64()
		return f
	case map[string]any:
		for k, item := range v {
			v[k] = numbers(item)
		}
	case []any:
		for i, item := range v {
			v[i] = numbers(item)
		}
	}
	return v
}
