package engine

import (
	"errors"
	"testing"
)

// FuzzCompile feeds arbitrary documents to the flow compiler. Whatever the
// input, it must answer with a plan or one of its three documented errors,
// never panic, and a plan it accepts must survive a save and reload.
func FuzzCompile(f *testing.F) {
	for _, seed := range []string{
		`{"name":"f","nodes":[{"id":"hook","type":"trigger.webhook"},{"id":"a","type":"transform","params":{"fields":{"x":"1"}}}],"edges":[{"from":"hook","to":"a"}]}`,
		`{"name":"f","nodes":[{"id":"hook","type":"trigger.manual"},{"id":"b","type":"test.branch"},{"id":"a","type":"transform"}],"edges":[{"from":"hook","to":"b"},{"from":"b","port":"true","to":"a"}]}`,
		`{"name":"f","nodes":[{"id":"a","type":"transform"},{"id":"a","type":"x"}],"edges":[{"from":"a","to":"a"}]}`,
		`{"nodes":[{"id":1}],"edges":"x"}`,
		`[]`, `null`, `{`, `"x"`,
	} {
		f.Add([]byte(seed))
	}
	reg := testRegistry(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		plan, err := Compile(reg, data)
		var invalid *InvalidFlowError
		var malformed *MalformedFlowError
		switch {
		case err == nil:
		case errors.As(err, &invalid):
			if len(invalid.Problems) == 0 {
				t.Fatal("an invalid flow must name at least one problem")
			}
			return
		case errors.As(err, &malformed), errors.Is(err, ErrFlowTooLarge):
			return
		default:
			t.Fatalf("unexpected error type %T: %v", err, err)
		}
		encoded, err := plan.Flow.Encode()
		if err != nil {
			t.Fatalf("encode accepted flow: %v", err)
		}
		if _, err := Compile(reg, encoded); err != nil {
			t.Fatalf("accepted flow does not compile after a round trip: %v\n%s", err, encoded)
		}
	})
}
