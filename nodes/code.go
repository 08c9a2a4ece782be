package nodes

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"math/big"
	"reflect"
	"regexp"
	"runtime/metrics"
	"slices"
	"strconv"
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

// Limits on a code step. goja bounds neither time nor memory, and its
// builtins run to completion once called; so a run is watched from outside
// (time, live heap, context) and interrupted, and the builtins that can make
// a huge value in one call check the size first.
const (
	// MaxCodeLength is the longest script, in characters.
	MaxCodeLength = 64 << 10
	// MaxCodeTime is the longest one run of a script may take. A shorter
	// step timeout wins.
	MaxCodeTime = 5 * time.Second
	// MaxCodeMemory is how much a run may grow the server's live heap.
	MaxCodeMemory = 256 << 20
	// MaxCodeCallDepth bounds the script's call stack.
	MaxCodeCallDepth = 2000
	// MaxCodeText is the longest text (in UTF-16 units) one call of a
	// builtin may make, such as repeat or join.
	MaxCodeText = 32 << 20
	// MaxCodeElements is the most elements one call of a builtin may make
	// or walk: spreading, filling or joining an array, apply's arguments.
	MaxCodeElements = 4 << 20
	// MaxCodeOutputBytes is the largest value a script may return, as
	// JSON: the engine's cap on a step's output (engine.MaxOutputBytes),
	// checked while the value is exported so a huge one stops early.
	MaxCodeOutputBytes = 4 << 20
	// maxCodeDepth bounds how deeply an output nests; encoding/json refuses
	// to read back what nests deeper than 10000.
	maxCodeDepth = 1000
	// codeLogBudget bounds the JSON of one value console.log shows.
	codeLogBudget = 64 << 10
)

var codeSpec = Spec{
	Kind:     "code",
	Category: CategoryData,
	Title:    "Code",
	Summary:  "Runs JavaScript for what expressions cannot say; the value it returns is the output.",
	Pure:     true,
	Fields: []Field{{
		Name: "code", Type: TypeCode, Label: "JavaScript", Required: true, Multiline: true,
		Help: "The body of a function ending with return. It sees input, steps, trigger, item, index, run and env " +
			"as plain data; console.log writes to the step's log. No require, network, files or timers; " +
			"a run stops after 5 s or 256 MiB.",
		Placeholder: "return { total: input.items.reduce((sum, i) => sum + i.price, 0) };",
	}},
}

type codeParams struct {
	Code string `json:"code"`
}

// codeNode runs one compiled script. The program is shared by every run;
// each run gets a runtime of its own (a goja runtime serves one goroutine).
type codeNode struct {
	program *goja.Program
	// lines is the script's source split in lines, to place errors at the
	// end of the code.
	lines  []string
	limits codeLimits
}

var _ Node = (*codeNode)(nil)

// codeLimits are one node's bounds: the Max* constants, shortened in tests.
type codeLimits struct {
	time     time.Duration
	memory   int64
	depth    int
	text     int64
	elements int64
	output   int
	// sample is how often the live heap is read.
	sample time.Duration
}

var defaultCodeLimits = codeLimits{
	time: MaxCodeTime, memory: MaxCodeMemory, depth: MaxCodeCallDepth,
	text: MaxCodeText, elements: MaxCodeElements, output: MaxCodeOutputBytes,
	sample: 10 * time.Millisecond,
}

// boundRegexps gives goja's backtracking regular expressions (those with
// lookarounds or backreferences, run by regexp2) a match timeout: a
// catastrophic one would otherwise hold a core for ever, since a builtin
// cannot be interrupted. The timeout is past MaxCodeTime, so the run has
// been interrupted by then and fails as too slow rather than seeing a
// missed match. regexp2/v2 is goja's alone.
var boundRegexps = sync.OnceFunc(func() {
	regexp2.DefaultMatchTimeout = MaxCodeTime + time.Second
})

func buildCode(b *Builder, p *codeParams) Node {
	boundRegexps()
	program, err := compileCode(p.Code)
	if err != nil {
		b.Fail("code", "%v", err)
		return nil
	}
	return &codeNode{program: program, lines: strings.Split(p.Code, "\n"), limits: defaultCodeLimits}
}

// The script is the body of a function, so that `return` gives the output,
// as in n8n: line n of the script is line n+1 of what is compiled, with the
// same columns.
const (
	codeFile   = "code"
	codePrefix = "(function () {\n"
	codeSuffix = "\n})"
)

// compileCode parses the script as a function body and compiles it.
func compileCode(source string) (*goja.Program, error) {
	lines := strings.Split(source, "\n")
	wrapped := codePrefix + source + codeSuffix
	program, err := parser.ParseFile(nil, codeFile, wrapped, 0)
	if err != nil {
		var list parser.ErrorList
		if errors.As(err, &list) && len(list) > 0 {
			return nil, syntaxError(list[0].Message, list[0].Position, lines)
		}
		return nil, fmt.Errorf("SyntaxError: %v", err)
	}
	// A script such as `}); (function () {` would step out of the function
	// it is the body of; then the program is not that one function.
	if !isFunctionBody(program, len(wrapped)) {
		return nil, errors.New("SyntaxError: the code closes a brace it did not open")
	}
	compiled, err := goja.CompileAST(program, false)
	if err != nil {
		var ce *goja.CompilerSyntaxError
		if errors.As(err, &ce) && ce.File != nil {
			return nil, syntaxError(ce.Message, ce.File.Position(ce.Offset), lines)
		}
		return nil, fmt.Errorf("SyntaxError: %v", err)
	}
	return compiled, nil
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
	where := placeInCode(pos, lines)
	if awaitWord.MatchString(strings.Join(lines, "\n")) && !strings.Contains(message, "await") {
		message += "; await is not available: nothing the code can call is asynchronous"
	}
	return fmt.Errorf("SyntaxError: %s%s", message, where)
}

// placeInCode says where pos, a position in the wrapped script, is in the
// user's code: " (line 3, column 7)", or its end for a problem the wrapper's
// last line shows (an unclosed brace).
func placeInCode(pos file.Position, lines []string) string {
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

// Run runs the script in a runtime of its own and returns what it returned.
func (n *codeNode) Run(ctx context.Context, in *Input) (Result, error) {
	if ctx.Err() != nil {
		return Result{}, context.Cause(ctx)
	}
	logger := in.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	r := &codeRun{node: n, vm: goja.New()}
	r.vm.SetMaxCallStackSize(n.limits.depth)
	// Describing a failure may run the script's getters: still watched.
	defer n.limits.watch(ctx, r.vm)()
	out, err := r.run(ctx, logger, in.Scope)
	if err != nil {
		return Result{}, r.failure(ctx, err)
	}
	return Result{Output: out}, nil
}

// codeRun is one run of a script.
type codeRun struct {
	node *codeNode
	vm   *goja.Runtime
}

// run sets the environment up, calls the script and exports its value. Go
// code calling into the runtime (a getter, a guard) may panic with a JS
// exception, a thrown value or an interruption; those come back as the
// error.
func (r *codeRun) run(ctx context.Context, logger *slog.Logger, scope *expression.Scope) (out any, err error) {
	defer func() {
		switch x := recover().(type) {
		case nil:
		case goja.Value:
			out, err = nil, &valueError{value: x}
		case error:
			if !isScriptError(x) {
				panic(x)
			}
			out, err = nil, x
		default:
			panic(x)
		}
	}()
	if err := r.setup(ctx, logger, scope); err != nil {
		return nil, err
	}
	fnValue, err := r.vm.RunProgram(r.node.program)
	if err != nil {
		return nil, err
	}
	fn, ok := goja.AssertFunction(fnValue)
	if !ok {
		return nil, errors.New("the code did not compile to a function")
	}
	value, err := fn(goja.Undefined())
	if err != nil {
		return nil, err
	}
	if value == nil || goja.IsUndefined(value) {
		logger.WarnContext(ctx, "the code returned nothing (undefined), so the output is null")
		return nil, nil
	}
	if value, err = r.settle(value); err != nil {
		return nil, err
	}
	return r.exporter("output", false, r.node.limits.output).export(value)
}

// isScriptError reports whether a panic out of goja is the script's doing
// rather than a bug.
func isScriptError(err error) bool {
	var (
		ex       *goja.Exception
		stopped  *goja.InterruptedError
		overflow *goja.StackOverflowError
	)
	return errors.As(err, &ex) || errors.As(err, &stopped) || errors.As(err, &overflow)
}

// settle replaces a returned promise by its value. Nothing a script can
// call is asynchronous, so its promises have settled once it returns,
// unless one never will.
func (r *codeRun) settle(value goja.Value) (goja.Value, error) {
	obj, ok := value.(*goja.Object)
	if !ok {
		return value, nil
	}
	// ExportType, unlike Export, does not copy a large array.
	if obj.ExportType() != promiseType {
		return value, nil
	}
	promise := obj.Export().(*goja.Promise)
	switch promise.State() {
	case goja.PromiseStateFulfilled:
		return promise.Result(), nil
	case goja.PromiseStateRejected:
		return nil, &valueError{value: promise.Result(), rejected: true}
	}
	return nil, errors.New("the code returned a promise that never settles: nothing the code can call is asynchronous")
}

var promiseType = reflect.TypeFor[*goja.Promise]()

// valueError is a value thrown where no stack says where: the reason of a
// rejected promise, or what a builtin called from Go threw.
type valueError struct {
	value    goja.Value
	rejected bool
}

func (e *valueError) Error() string { return "the code threw a value" }

// failure turns what stopped a script into the step's error. Everything
// but the context ending is permanent: the same code on the same data fails
// the same way.
func (r *codeRun) failure(ctx context.Context, err error) error {
	var (
		stopped  *goja.InterruptedError
		overflow *goja.StackOverflowError
		ex       *goja.Exception
		thrown   *valueError
	)
	switch {
	case errors.As(err, &stopped):
		if limit, ok := stopped.Value().(codeLimitError); ok {
			return Permanent(limit)
		}
		return context.Cause(ctx)
	case errors.As(err, &overflow):
		return Permanent(fmt.Errorf("RangeError: calls nest more than %d deep%s",
			r.node.limits.depth, r.place(overflow.Stack())))
	case errors.As(err, &ex):
		return Permanent(errors.New(r.thrown(ex.Value()) + r.place(ex.Stack())))
	case errors.As(err, &thrown):
		text := r.thrown(thrown.value) + r.placeFromStack(thrown.value)
		if thrown.rejected {
			text = "the returned promise was rejected: " + text
		}
		return Permanent(errors.New(text))
	}
	return Permanent(err)
}

// thrown describes a thrown value: an error as "TypeError: message",
// anything else as JSON. It may run the script's getters, so it is called
// with the watch still on; a second failure is not worth reporting.
func (r *codeRun) thrown(v goja.Value) (text string) {
	defer func() {
		if recover() != nil {
			text = "the code threw a value that cannot be shown"
		}
	}()
	if obj, ok := v.(*goja.Object); ok && obj.ClassName() == "Error" {
		name, message := stringProp(obj, "name"), stringProp(obj, "message")
		switch {
		case name == "":
			return message
		case message == "":
			return name
		}
		return name + ": " + message
	}
	shown, err := r.exporter("value", true, codeShowBytes).export(v)
	if err != nil {
		return "the code threw " + v.String()
	}
	return "the code threw " + jsonText(shown)
}

// codeShowBytes is about how much of a value an error or a log line shows.
const codeShowBytes = 2 << 10

func stringProp(obj *goja.Object, name string) string {
	v := obj.Get(name)
	if v == nil || goja.IsUndefined(v) {
		return ""
	}
	return v.String()
}

// place says where in the user's code the innermost frame of the script
// itself was (frames of builtins and of eval have no place in it).
func (r *codeRun) place(stack []goja.StackFrame) string {
	for _, frame := range stack {
		if frame.SrcName() == codeFile {
			return placeInCode(frame.Position(), r.node.lines)
		}
	}
	return ""
}

// stackPlace finds "code:LINE:COLUMN" in an error's stack text.
var stackPlace = regexp.MustCompile(`\b` + codeFile + `:(\d+):(\d+)`)

// placeFromStack places an error that was not thrown out of the script (a
// rejection) by the stack it recorded when it was made.
func (r *codeRun) placeFromStack(v goja.Value) (where string) {
	defer func() {
		if recover() != nil {
			where = ""
		}
	}()
	obj, ok := v.(*goja.Object)
	if !ok || obj.ClassName() != "Error" {
		return ""
	}
	m := stackPlace.FindStringSubmatch(stringProp(obj, "stack"))
	if m == nil {
		return ""
	}
	line, _ := strconv.Atoi(m[1])
	column, _ := strconv.Atoi(m[2])
	return placeInCode(file.Position{Line: line, Column: column}, r.node.lines)
}

// codeLimitError is a run stopped at one of its limits.
type codeLimitError string

func (e codeLimitError) Error() string { return string(e) }

// contextEnded interrupts a run whose context ended; the error is the
// context's cause.
type contextEnded struct{}

// liveHeap reads the heap the last collection found live: cheap (no
// stop-the-world), and not swollen by garbage as the allocated heap is.
func liveHeap() int64 {
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(sample)
	if sample[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return int64(sample[0].Value.Uint64())
}

// watch interrupts vm when ctx ends, when the run has taken its time, or
// when the live heap has grown past the memory limit since it started. The
// heap is the whole server's, so the bound is practical, not exact: runs
// allocating at once share it. stop ends the watch and waits for it.
func (l codeLimits) watch(ctx context.Context, vm *goja.Runtime) (stop func()) {
	done, finished := make(chan struct{}), make(chan struct{})
	base := liveHeap()
	timer := time.NewTimer(l.time)
	ticker := time.NewTicker(l.sample)
	go func() {
		defer close(finished)
		defer timer.Stop()
		defer ticker.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				vm.Interrupt(contextEnded{})
				return
			case <-timer.C:
				vm.Interrupt(codeLimitError(fmt.Sprintf("the code ran longer than its limit of %s", l.time)))
				return
			case <-ticker.C:
				if grown := liveHeap() - base; grown > l.memory {
					vm.Interrupt(codeLimitError(fmt.Sprintf("the code used more memory than its limit of %s", byteSize(l.memory))))
					return
				}
			}
		}
	}()
	return func() {
		close(done)
		<-finished
	}
}

func byteSize(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// setup gives the script its environment: the scope as plain data (copies,
// so a script cannot change another step's output or reach Go), console,
// and guarded builtins.
func (r *codeRun) setup(ctx context.Context, logger *slog.Logger, scope *expression.Scope) error {
	if scope == nil {
		scope = &expression.Scope{}
	}
	r.guardBuiltins()
	global := r.vm.GlobalObject()
	if err := global.Set("steps", r.lazyObject(scope.Steps)); err != nil {
		return err
	}
	names := []struct {
		name  string
		value any
	}{
		{"input", scope.Input},
		{"trigger", scope.Trigger},
		{"item", scope.Item},
		{"index", scope.Index},
		{"run", map[string]any{"id": scope.Run.ID, "flow_id": scope.Run.FlowID, "attempt": scope.Run.Attempt}},
		{"env", scope.Env},
	}
	for _, n := range names {
		value, err := r.toJS(n.value, 0)
		if err != nil {
			return Permanent(fmt.Errorf("give the code %s: %w", n.name, err))
		}
		if err := global.Set(n.name, value); err != nil {
			return err
		}
	}
	return global.Set("console", r.console(ctx, logger))
}

// toJS copies plain data into the runtime. Object keys are set in sorted
// order, so a script enumerating them sees the same order on every run.
func (r *codeRun) toJS(v any, depth int) (goja.Value, error) {
	if depth > 10000 {
		return nil, errors.New("the data nests too deeply")
	}
	switch v := v.(type) {
	case nil:
		return goja.Null(), nil
	case string, bool, int, int64, float64:
		return r.vm.ToValue(v), nil
	case time.Time:
		return r.vm.ToValue(v.UTC().Format(time.RFC3339Nano)), nil
	case map[string]any:
		obj := r.vm.NewObject()
		for _, k := range slices.Sorted(maps.Keys(v)) {
			item, err := r.toJS(v[k], depth+1)
			if err != nil {
				return nil, err
			}
			// Defined, not set: a key named __proto__ is data, as in
			// JSON.parse, not the object's prototype.
			if err := obj.DefineDataProperty(k, item, goja.FLAG_TRUE, goja.FLAG_TRUE, goja.FLAG_TRUE); err != nil {
				return nil, err
			}
		}
		return obj, nil
	case []any:
		items := make([]any, len(v))
		for i, item := range v {
			value, err := r.toJS(item, depth+1)
			if err != nil {
				return nil, err
			}
			items[i] = value
		}
		return r.vm.NewArray(items...), nil
	}
	// Anything else (typed maps and slices, json.Number …) goes the way its
	// JSON would.
	data, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	plain, err := expression.DecodeJSON(data)
	if err != nil {
		return nil, err
	}
	return r.toJS(plain, depth)
}

// lazyObject is an object whose entries are copied into the runtime when
// first read: steps holds every earlier output, of which a script reads few.
func (r *codeRun) lazyObject(m map[string]any) *goja.Object {
	obj := r.vm.NewObject()
	for _, k := range slices.Sorted(maps.Keys(m)) {
		define := func(value goja.Value) {
			_ = obj.DefineDataProperty(k, value, goja.FLAG_TRUE, goja.FLAG_TRUE, goja.FLAG_TRUE)
		}
		get := func(goja.FunctionCall) goja.Value {
			value, err := r.toJS(m[k], 1)
			if err != nil {
				panic(r.vm.NewGoError(fmt.Errorf("give the code steps.%s: %w", k, err)))
			}
			define(value)
			return value
		}
		set := func(call goja.FunctionCall) goja.Value {
			define(call.Argument(0))
			return goja.Undefined()
		}
		_ = obj.DefineAccessorProperty(k, r.vm.ToValue(get), r.vm.ToValue(set), goja.FLAG_TRUE, goja.FLAG_TRUE)
	}
	return obj
}

// console writes console.log, info, warn, error and debug to the step's log.
func (r *codeRun) console(ctx context.Context, logger *slog.Logger) *goja.Object {
	console := r.vm.NewObject()
	levels := map[string]slog.Level{
		"log": slog.LevelInfo, "info": slog.LevelInfo, "warn": slog.LevelWarn,
		"error": slog.LevelError, "debug": slog.LevelDebug,
	}
	for name, level := range levels {
		_ = console.Set(name, func(call goja.FunctionCall) goja.Value {
			parts := make([]string, len(call.Arguments))
			for i, arg := range call.Arguments {
				parts[i] = r.logText(arg)
			}
			logger.Log(ctx, level, strings.Join(parts, " "))
			return goja.Undefined()
		})
	}
	return console
}

// logText is how console shows one value: text as it is (cut well past
// what a log line keeps), data as JSON.
func (r *codeRun) logText(v goja.Value) string {
	if s, ok := v.(goja.String); ok {
		if s.Length() > 2*codeShowBytes {
			s = s.Substring(0, 2*codeShowBytes)
		}
		return s.String()
	}
	obj, ok := v.(*goja.Object)
	if !ok {
		return v.String()
	}
	if _, isFunction := goja.AssertFunction(obj); isFunction {
		return "[Function]"
	}
	shown, err := r.exporter("value", true, codeLogBudget).export(obj)
	if err != nil {
		return "[" + obj.ClassName() + ": " + err.Error() + "]"
	}
	return jsonText(shown)
}

// jsonText writes plain data as JSON, leaving <, > and & as they are.
func jsonText(v any) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Sprint(v)
	}
	return strings.TrimSuffix(buf.String(), "\n")
}

// exporter turns a script's value into plain data: maps, slices, strings,
// int and float64 numbers, booleans and nil, as JSON would write it.
// Strictly (a step's output), what JSON would silently drop or garble is an
// error naming where it is; leniently (console, JSON.stringify's guard), it
// is left out as JSON.stringify does. Either way the JSON size is counted
// against a budget, so a huge value stops early.
type exporter struct {
	r *codeRun
	// root names the value in messages: output, or value.
	root    string
	lenient bool
	// measure only counts: the guard of JSON.stringify.
	measure bool
	budget  int
	limit   int
	onPath  map[*goja.Object]bool
}

func (r *codeRun) exporter(root string, lenient bool, budget int) *exporter {
	return &exporter{r: r, root: root, lenient: lenient, budget: budget, limit: budget, onPath: map[*goja.Object]bool{}}
}

// exportError is a value a step's output cannot hold.
type exportError struct {
	path, problem string
}

func (e *exportError) Error() string { return e.path + " " + e.problem }

// errTooLarge is a value past the exporter's budget.
var errTooLarge = errors.New("too large")

// export converts v, the root value.
func (e *exporter) export(v goja.Value) (any, error) {
	out, _, err := e.value(v, e.root, 0)
	if errors.Is(err, errTooLarge) {
		return nil, fmt.Errorf("%s is over the limit of %s as JSON", e.root, byteSize(int64(e.limit)))
	}
	return out, err
}

// spend counts n bytes of JSON.
func (e *exporter) spend(n int) error {
	e.budget -= n
	if e.budget < 0 {
		return errTooLarge
	}
	return nil
}

// value converts one value; keep is false for what JSON leaves out of an
// object (undefined, and leniently functions and symbols).
func (e *exporter) value(v goja.Value, path string, depth int) (out any, keep bool, err error) {
	if v == nil || goja.IsUndefined(v) {
		return nil, false, e.spend(4)
	}
	if goja.IsNull(v) {
		return nil, true, e.spend(4)
	}
	if s, ok := v.(goja.String); ok {
		if err := e.spend(s.Length() + 2); err != nil {
			return nil, false, err
		}
		if e.measure {
			return nil, true, nil
		}
		return s.String(), true, nil
	}
	obj, isObject := v.(*goja.Object)
	if !isObject {
		return e.primitive(v, path)
	}
	if _, isFunction := goja.AssertFunction(obj); isFunction {
		if e.lenient {
			return nil, false, nil
		}
		return nil, false, &exportError{path, "is a function: return data (objects, arrays, strings, numbers, booleans, null)"}
	}
	if depth >= maxCodeDepth {
		return nil, false, &exportError{path, fmt.Sprintf("nests more than %d levels deep", maxCodeDepth)}
	}
	if e.onPath[obj] {
		if e.measure {
			return nil, true, nil // JSON.stringify reports the cycle itself.
		}
		return nil, false, &exportError{path, "refers back to an object that holds it: JSON cannot hold a cycle"}
	}
	e.onPath[obj] = true
	defer delete(e.onPath, obj)
	return e.object(obj, path, depth)
}

// primitive converts a number, boolean, BigInt or symbol.
func (e *exporter) primitive(v goja.Value, path string) (any, bool, error) {
	switch x := v.Export().(type) {
	case bool:
		return x, true, e.spend(5)
	case int64:
		return plainNumber(float64(x), x), true, e.spend(20)
	case float64:
		return plainNumber(x, 0), true, e.spend(24)
	case *big.Int:
		if e.lenient {
			return x.String(), true, e.spend(len(x.String()))
		}
		return nil, false, &exportError{path, "is a BigInt, which JSON cannot hold: convert it with Number() or String()"}
	}
	if e.lenient {
		return nil, false, nil
	}
	return nil, false, &exportError{path, "is a symbol, which JSON cannot hold"}
}

// plainNumber is a JSON number as the engine holds it: whole numbers that
// are exact as int, others as float64, NaN and infinities as null (as
// JSON.stringify writes them).
func plainNumber(f float64, whole int64) any {
	switch {
	case whole != 0:
		return int(whole)
	case math.IsNaN(f) || math.IsInf(f, 0):
		return nil
	case f == math.Trunc(f) && math.Abs(f) <= 1<<53:
		return int(f)
	}
	return f
}

// object converts an object by its kind.
func (e *exporter) object(obj *goja.Object, path string, depth int) (any, bool, error) {
	switch obj.ClassName() {
	case "Array":
		return e.array(obj, path, depth)
	case "Date":
		if err := e.spend(26); err != nil {
			return nil, false, err
		}
		t, ok := obj.Export().(time.Time)
		if !ok {
			return nil, true, nil // An invalid date, null in JSON.
		}
		return t.UTC().Format("2006-01-02T15:04:05.000Z07:00"), true, nil
	case "String":
		// new String("x") and the like: JSON writes the primitive.
		return e.value(obj.ToString(), path, depth)
	case "Number", "Boolean":
		return e.value(e.r.vm.ToValue(obj.Export()), path, depth)
	case "Error":
		out, keep, err := e.fields(obj, path, depth)
		if m, ok := out.(map[string]any); ok {
			m["name"], m["message"] = stringProp(obj, "name"), stringProp(obj, "message")
		}
		return out, keep, err
	case "RegExp":
		return e.lossy(obj, "RegExp", path, depth)
	}
	// Maps, sets and promises are classed as plain objects; their tag
	// tells them apart.
	if tag := obj.GetSymbol(goja.SymToStringTag); tag != nil {
		if _, ok := convertHint[tag.String()]; ok {
			return e.lossy(obj, tag.String(), path, depth)
		}
	}
	return e.fields(obj, path, depth)
}

// lossy converts what JSON would write as {} although it holds data:
// leniently so, strictly as an error saying how to convert it.
func (e *exporter) lossy(obj *goja.Object, kind, path string, depth int) (any, bool, error) {
	if e.lenient {
		return e.fields(obj, path, depth)
	}
	return nil, false, &exportError{path, "is a " + kind + ", which JSON cannot hold: " + convertHint[kind]}
}

var convertHint = map[string]string{
	"Map":     "convert it with Object.fromEntries(map)",
	"Set":     "convert it with [...set]",
	"WeakMap": "return plain objects",
	"WeakSet": "return plain objects",
	"RegExp":  "return its text (re.source)",
	"Promise": "await is not available; return the value itself",
}

func (e *exporter) array(obj *goja.Object, path string, depth int) (any, bool, error) {
	length := obj.Get("length").ToInteger()
	// Each element takes at least two bytes ("0,"); a long sparse array
	// fails here, before a walk over its holes.
	if length > int64(e.budget)/2 {
		return nil, false, errTooLarge
	}
	if err := e.spend(2); err != nil {
		return nil, false, err
	}
	var out []any
	if !e.measure {
		out = make([]any, int(length))
	}
	for i := range int(length) {
		item, _, err := e.value(obj.Get(strconv.Itoa(i)), path+"["+strconv.Itoa(i)+"]", depth+1)
		if err != nil {
			return nil, false, err
		}
		if !e.measure {
			out[i] = item
		}
		if err := e.spend(1); err != nil {
			return nil, false, err
		}
	}
	return out, true, nil
}

// fields converts an object's own enumerable string-keyed properties.
func (e *exporter) fields(obj *goja.Object, path string, depth int) (any, bool, error) {
	if err := e.spend(2); err != nil {
		return nil, false, err
	}
	keys := obj.Keys()
	var out map[string]any
	if !e.measure {
		out = make(map[string]any, len(keys))
	}
	for _, k := range keys {
		if err := e.spend(len(k) + 4); err != nil {
			return nil, false, err
		}
		item, keep, err := e.value(obj.Get(k), fieldPath(path, k), depth+1)
		if err != nil {
			return nil, false, err
		}
		if keep && !e.measure {
			out[k] = item
		}
	}
	return out, true, nil
}

var plainKey = regexp.MustCompile(`^[A-Za-z_$][A-Za-z0-9_$]*$`)

func fieldPath(path, key string) string {
	if plainKey.MatchString(key) {
		return path + "." + key
	}
	return path + "[" + strconv.Quote(key) + "]"
}

// binaryTypes are removed from the global object: one call of their
// constructors allocates whatever size it is given, and scripts shaping
// JSON have no use for them.
var binaryTypes = []string{
	"ArrayBuffer", "SharedArrayBuffer", "DataView", "Int8Array", "Uint8Array", "Uint8ClampedArray",
	"Int16Array", "Uint16Array", "Int32Array", "Uint32Array", "Float32Array", "Float64Array",
	"BigInt64Array", "BigUint64Array",
}

// sizeCheck says what one call of a builtin would make or walk: text in
// UTF-16 units, and elements.
type sizeCheck func(call goja.FunctionCall) (text, elements int64)

// guardBuiltins puts a size check in front of each builtin that can make a
// huge value, or walk a huge array-like, in one call: an interrupt only
// takes effect once a builtin returns, so `'x'.repeat(1e10)` or
// `[...Array(1e9)]` would otherwise exhaust the server's memory or a core.
// This stops accidents and the obvious; the author of a script can already
// edit the flow.
func (r *codeRun) guardBuiltins() {
	global := r.vm.GlobalObject()
	for _, name := range binaryTypes {
		_ = global.Delete(name)
	}
	object := func(parent *goja.Object, name string) *goja.Object {
		return parent.Get(name).ToObject(r.vm)
	}
	arrays := object(object(global, "Array"), "prototype")
	for _, name := range arrays.GetOwnPropertyNames() {
		// push, pop and at take constant time: hot in loops, and safe.
		if name != "constructor" && name != "push" && name != "pop" && name != "at" {
			r.guard(arrays, name, r.arrayCall(name))
		}
	}
	// The iterator of arrays is values, which spreading and for … of call.
	_ = arrays.DefineDataPropertySymbol(goja.SymIterator, arrays.Get("values"), goja.FLAG_TRUE, goja.FLAG_TRUE, goja.FLAG_FALSE)
	r.guard(object(global, "Array"), "from", func(call goja.FunctionCall) (int64, int64) {
		return 0, r.lengthOf(call.Argument(0))
	})

	strs := object(object(global, "String"), "prototype")
	thisText := func(call goja.FunctionCall) int64 { return textLength(call.This) }
	r.guard(strs, "repeat", func(call goja.FunctionCall) (int64, int64) {
		return timesBounded(thisText(call), call.Argument(0).ToInteger()), 0
	})
	for _, name := range []string{"padStart", "padEnd"} {
		r.guard(strs, name, func(call goja.FunctionCall) (int64, int64) { return call.Argument(0).ToInteger(), 0 })
	}
	r.guard(strs, "concat", func(call goja.FunctionCall) (int64, int64) {
		n := thisText(call)
		for _, arg := range call.Arguments {
			n += textLength(arg)
		}
		return n, 0
	})
	r.guard(strs, "replace", func(call goja.FunctionCall) (int64, int64) { return replacedLength(call, false), 0 })
	r.guard(strs, "replaceAll", func(call goja.FunctionCall) (int64, int64) { return replacedLength(call, true), 0 })
	r.guard(strs, "split", func(call goja.FunctionCall) (int64, int64) { return 0, splitCount(call) })
	if iterator := r.wrap("String.prototype[Symbol.iterator]", strs.GetSymbol(goja.SymIterator), func(call goja.FunctionCall) (int64, int64) {
		return 0, thisText(call)
	}); iterator != nil {
		_ = strs.DefineDataPropertySymbol(goja.SymIterator, iterator, goja.FLAG_TRUE, goja.FLAG_TRUE, goja.FLAG_FALSE)
	}

	functions := object(object(global, "Function"), "prototype")
	r.guard(functions, "apply", func(call goja.FunctionCall) (int64, int64) { return 0, r.lengthOf(call.Argument(1)) })
	reflection := object(global, "Reflect")
	r.guard(reflection, "apply", func(call goja.FunctionCall) (int64, int64) { return 0, r.lengthOf(call.Argument(2)) })
	r.guard(reflection, "construct", func(call goja.FunctionCall) (int64, int64) { return 0, r.lengthOf(call.Argument(1)) })
	objects := object(global, "Object")
	for _, name := range []string{"keys", "values", "entries", "getOwnPropertyNames"} {
		r.guard(objects, name, func(call goja.FunctionCall) (int64, int64) {
			if s, ok := call.Argument(0).(goja.String); ok {
				return 0, int64(s.Length())
			}
			return 0, 0
		})
	}
	r.guard(object(global, "JSON"), "stringify", func(call goja.FunctionCall) (int64, int64) {
		e := r.exporter("value", true, int(min(r.node.limits.text, math.MaxInt32)))
		e.measure = true
		if _, _, err := e.value(call.Argument(0), "value", 0); errors.Is(err, errTooLarge) {
			return r.node.limits.text + 1, 0
		}
		return 0, 0
	})
}

// arrayCall is the check of an Array.prototype method: the array-like it
// walks, and for concat and join what they add.
func (r *codeRun) arrayCall(name string) sizeCheck {
	return func(call goja.FunctionCall) (int64, int64) {
		length := r.lengthOf(call.This)
		switch name {
		case "concat":
			for _, arg := range call.Arguments {
				if obj, ok := arg.(*goja.Object); ok && obj.ClassName() == "Array" {
					length += r.lengthOf(obj)
				}
			}
		case "join", "toString":
			if length > r.node.limits.elements {
				return 0, length
			}
			sep := int64(1)
			if s, ok := call.Argument(0).(goja.String); ok && name == "join" {
				sep = int64(s.Length())
			}
			text := timesBounded(length, sep)
			obj := call.This.ToObject(r.vm)
			for i := int64(0); i < length && text <= r.node.limits.text; i++ {
				text += textLength(obj.Get(strconv.FormatInt(i, 10)))
			}
			return text, length
		}
		return 0, length
	}
}

// guard replaces holder[name] by a checked call of itself.
func (r *codeRun) guard(holder *goja.Object, name string, check sizeCheck) {
	if wrapped := r.wrap(name, holder.Get(name), check); wrapped != nil {
		_ = holder.DefineDataProperty(name, wrapped, goja.FLAG_TRUE, goja.FLAG_TRUE, goja.FLAG_FALSE)
	}
}

// wrap returns a function that checks a call's size and then calls the
// builtin original, or nil when original is no builtin.
func (r *codeRun) wrap(name string, original goja.Value, check sizeCheck) goja.Value {
	obj, ok := original.(*goja.Object)
	if !ok {
		return nil
	}
	call, ok := obj.Export().(func(goja.FunctionCall) goja.Value)
	if !ok {
		return nil
	}
	limits := r.node.limits
	return r.vm.ToValue(func(c goja.FunctionCall) goja.Value {
		text, elements := check(c)
		switch {
		case text > limits.text:
			panic(r.rangeError(fmt.Sprintf("%s would make a text longer than the limit of %d characters", name, limits.text)))
		case elements > limits.elements:
			panic(r.rangeError(fmt.Sprintf("%s would go through %d elements, over the limit of %d", name, elements, limits.elements)))
		}
		return call(c)
	})
}

func (r *codeRun) rangeError(message string) goja.Value {
	obj, err := r.vm.New(r.vm.Get("RangeError"), r.vm.ToValue(message))
	if err != nil {
		return r.vm.ToValue(message)
	}
	return obj
}

// lengthOf is the length of an array-like, or of a text; 0 for anything
// else.
func (r *codeRun) lengthOf(v goja.Value) int64 {
	if v == nil || goja.IsUndefined(v) || goja.IsNull(v) {
		return 0
	}
	if s, ok := v.(goja.String); ok {
		return int64(s.Length())
	}
	obj, ok := v.(*goja.Object)
	if !ok {
		return 0
	}
	length := obj.Get("length")
	if length == nil {
		return 0
	}
	return max(length.ToInteger(), 0)
}

// textLength is the length of a text value, 0 for anything else.
func textLength(v goja.Value) int64 {
	if s, ok := v.(goja.String); ok {
		return int64(s.Length())
	}
	return 0
}

// timesBounded multiplies non-negative counts without overflowing.
func timesBounded(a, b int64) int64 {
	if a <= 0 || b <= 0 {
		return 0
	}
	if a > math.MaxInt64/b {
		return math.MaxInt64
	}
	return a * b
}

// replacedLength bounds the text replace or replaceAll makes: exact for a
// text pattern, as if every position matched for a global regular
// expression. A function replacement is the script's own code, interrupted
// as any.
func replacedLength(call goja.FunctionCall, all bool) int64 {
	text := textLength(call.This)
	with, ok := call.Argument(1).(goja.String)
	if !ok || with.Length() <= 1 {
		return text
	}
	var matches int64
	switch pattern := call.Argument(0).(type) {
	case goja.String:
		if pattern.Length() == 0 {
			matches = text + 1
		} else {
			matches = int64(strings.Count(call.This.String(), pattern.String()))
		}
	case *goja.Object:
		matches = 1
		if flags := pattern.Get("flags"); flags != nil && strings.Contains(flags.String(), "g") {
			matches = text + 1
		}
	default:
		matches = 1
	}
	if !all {
		if _, isText := call.Argument(0).(goja.String); isText {
			matches = min(matches, 1)
		}
	}
	return text + timesBounded(matches, int64(with.Length()))
}

// splitCount bounds the elements split makes: exact for a text separator,
// one per character otherwise.
func splitCount(call goja.FunctionCall) int64 {
	text := textLength(call.This)
	count := text + 1
	if sep, ok := call.Argument(0).(goja.String); ok && sep.Length() > 0 {
		count = int64(strings.Count(call.This.String(), sep.String())) + 1
	}
	if limit := call.Argument(1); !goja.IsUndefined(limit) {
		count = min(count, max(limit.ToInteger(), 0))
	}
	return count
}
