// Package script runs JavaScript steps in goja, bounded in time, memory and
// the size of what one builtin call may make.
//
// A script is the body of a function: Compile checks it once, when a flow is
// saved, and Run calls it with the expression Scope as plain data, returning
// what it returned as JSON-like Go values (maps, slices, strings, int and
// float64 numbers, booleans and nil). goja bounds neither time nor memory,
// and its builtins run to completion once called; so a run is watched from
// outside (time, live heap, context) and interrupted, and the builtins that
// can make a huge value in one call check the size first.
package script

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/dlclark/regexp2/v2"
	"github.com/dop251/goja"
	"github.com/dop251/goja/ast"
	"github.com/dop251/goja/file"
	"github.com/dop251/goja/parser"

	"github.com/hookflow/hookflow/engine/expression"
)

// The bounds of a script and of its runs; Limits can shorten those of a run.
const (
	// MaxLength is the longest script, in characters.
	MaxLength = 64 << 10
	// MaxTime is the longest one run of a script may take. A shorter
	// deadline of the run's context wins.
	MaxTime = 5 * time.Second
	// MaxMemory is how much a run may grow the server's live heap.
	MaxMemory = 256 << 20
	// MaxCallDepth bounds the script's call stack.
	MaxCallDepth = 2000
	// MaxText is the longest text (in UTF-16 units) one call of a
	// builtin may make, such as repeat or join.
	MaxText = 32 << 20
	// MaxElements is the most elements one call of a builtin may make
	// or walk: spreading, filling or joining an array, apply's arguments.
	MaxElements = 4 << 20
	// MaxOutputBytes is the largest value a script may return, as
	// JSON: the engine's cap on a step's output (engine.MaxOutputBytes),
	// checked while the value is exported so a huge one stops early.
	MaxOutputBytes = 4 << 20
	// maxDepth bounds how deeply an output nests; encoding/json refuses
	// to read back what nests deeper than 10000.
	maxDepth = 1000
	// logBudget bounds the JSON of one value console.log shows.
	logBudget = 64 << 10
	// showBytes is about how much of a value an error or a log line shows.
	showBytes = 2 << 10
	// heapSample is how often a run reads the live heap.
	heapSample = 10 * time.Millisecond
)

// Limits bound one run of a script. A field zero or less takes its default
// (MaxTime, MaxMemory, …), so a caller shortens one bound without restating
// the others.
type Limits struct {
	// Time is the longest the run may take. Past MaxTime a backtracking
	// regular expression may give up its match (see boundRegexps) before
	// the run is stopped.
	Time time.Duration
	// Memory is how much the run may grow the server's live heap, in bytes.
	Memory int64
	// CallDepth bounds the script's call stack.
	CallDepth int
	// Text is the longest text, in UTF-16 units, one call of a builtin may
	// make.
	Text int64
	// Elements is the most elements one call of a builtin may make or walk.
	Elements int64
	// OutputBytes is the largest value, as JSON, the run may return.
	OutputBytes int
	// Sample is how often the live heap is read.
	Sample time.Duration
}

// withDefaults fills in the fields left zero (or less).
func (l Limits) withDefaults() Limits {
	l.Time = orDefault(l.Time, MaxTime)
	l.Memory = orDefault(l.Memory, MaxMemory)
	l.CallDepth = orDefault(l.CallDepth, MaxCallDepth)
	l.Text = orDefault(l.Text, MaxText)
	l.Elements = orDefault(l.Elements, MaxElements)
	l.OutputBytes = orDefault(l.OutputBytes, MaxOutputBytes)
	l.Sample = orDefault(l.Sample, heapSample)
	return l
}

func orDefault[T int | int64 | time.Duration](v, fallback T) T {
	if v <= 0 {
		return fallback
	}
	return v
}

// Error is a run that failed by the script's own doing: what it threw, a
// limit it reached, a value it returned that is not data. The same script
// on the same data fails the same way, so retrying it is no use. A run
// stopped because its context ended returns the context's cause instead.
type Error struct{ err error }

func (e *Error) Error() string { return e.err.Error() }

// Unwrap returns what went wrong under the message.
func (e *Error) Unwrap() error { return e.err }

// Program is one compiled script. It is shared by every run; each run gets
// a runtime of its own (a goja runtime serves one goroutine).
type Program struct {
	program *goja.Program
	// lines is the script's source split in lines, to place errors at the
	// end of the code.
	lines  []string
	limits Limits
}

// boundRegexps gives goja's backtracking regular expressions (those with
// lookarounds or backreferences, run by regexp2) a match timeout: a
// catastrophic one would otherwise hold a core for ever, since a builtin
// cannot be interrupted. The timeout is past MaxTime, so the run has been
// interrupted by then and fails as too slow rather than seeing a missed
// match. regexp2/v2 is goja's alone.
var boundRegexps = sync.OnceFunc(func() {
	regexp2.DefaultMatchTimeout = MaxTime + time.Second
})

// The script is the body of a function, so that `return` gives the output,
// as in n8n: line n of the script is line n+1 of what is compiled, with the
// same columns.
const (
	fileName = "code"
	prefix   = "(function () {\n"
	suffix   = "\n})"
)

// Compile parses the script as a function body and compiles it, with the
// default Limits. A syntax error says where it is in the script: "SyntaxError:
// … (line 3, column 7)".
func Compile(source string) (*Program, error) {
	boundRegexps()
	if n := utf8.RuneCountInString(source); n > MaxLength {
		return nil, fmt.Errorf("the code is %d characters long; the limit is %d", n, MaxLength)
	}
	lines := strings.Split(source, "\n")
	wrapped := prefix + source + suffix
	parsed, err := parser.ParseFile(nil, fileName, wrapped, 0)
	if err != nil {
		var list parser.ErrorList
		if errors.As(err, &list) && len(list) > 0 {
			return nil, syntaxError(list[0].Message, list[0].Position, lines)
		}
		return nil, fmt.Errorf("SyntaxError: %v", err)
	}
	// A script such as `}); (function () {` would step out of the function
	// it is the body of; then the program is not that one function.
	if !isFunctionBody(parsed, len(wrapped)) {
		return nil, errors.New("SyntaxError: the code closes a brace it did not open")
	}
	compiled, err := goja.CompileAST(parsed, false)
	if err != nil {
		var ce *goja.CompilerSyntaxError
		if errors.As(err, &ce) && ce.File != nil {
			return nil, syntaxError(ce.Message, ce.File.Position(ce.Offset), lines)
		}
		return nil, fmt.Errorf("SyntaxError: %v", err)
	}
	return &Program{program: compiled, lines: lines, limits: Limits{}.withDefaults()}, nil
}

// WithLimits returns the program bounded by l instead; p is unchanged.
func (p *Program) WithLimits(l Limits) *Program {
	bounded := *p
	bounded.limits = l.withDefaults()
	return &bounded
}

// isFunctionBody reports whether program is exactly the wrapper's function,
// its body ending at the wrapper's closing brace.
func isFunctionBody(program *ast.Program, length int) bool {
	if len(program.Body) != 1 {
		return false
	}
	stmt, ok := program.Body[0].(*ast.ExpressionStatement)
	if !ok {
		return false
	}
	fn, ok := stmt.Expression.(*ast.FunctionLiteral)
	// Idx counts from 1; the closing brace is the second last character.
	return ok && fn.Body != nil && int(fn.Body.RightBrace) == length-1
}

var awaitWord = regexp.MustCompile(`\bawait\b`)

func syntaxError(message string, pos file.Position, lines []string) error {
	where := placeInSource(pos, lines)
	if awaitWord.MatchString(strings.Join(lines, "\n")) && !strings.Contains(message, "await") {
		message += "; await is not available: nothing the code can call is asynchronous"
	}
	return fmt.Errorf("SyntaxError: %s%s", message, where)
}

// placeInSource says where pos, a position in the wrapped script, is in the
// user's code: " (line 3, column 7)", or its end for a problem the wrapper's
// last line shows (an unclosed brace).
func placeInSource(pos file.Position, lines []string) string {
	line, column := pos.Line-1, pos.Column
	switch {
	case pos.Line == 0:
		return ""
	case line < 1:
		line, column = 1, 1
	case line > len(lines):
		line = len(lines)
		column = utf8.RuneCountInString(lines[line-1]) + 1
	}
	return fmt.Sprintf(" (line %d, column %d)", line, column)
}

// Run calls the script in a runtime of its own with scope as its
// environment (input, steps, trigger, item, index, run, env) and returns
// what it returned. console writes to logger, which may be nil. The error
// is an *Error when the script failed, or the cause of ctx when ctx ended
// first.
func (p *Program) Run(ctx context.Context, scope *expression.Scope, logger *slog.Logger) (any, error) {
	if ctx.Err() != nil {
		return nil, context.Cause(ctx)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	r := &run{program: p, vm: goja.New()}
	r.vm.SetMaxCallStackSize(p.limits.CallDepth)
	// Describing a failure may run the script's getters: still watched.
	defer p.limits.watch(ctx, r.vm)()
	out, err := r.call(ctx, logger, scope)
	if err != nil {
		return nil, r.failure(ctx, err)
	}
	return out, nil
}
