package script

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"regexp"
	"strconv"

	"github.com/dop251/goja"
	"github.com/dop251/goja/file"

	"github.com/hookflow/hookflow/engine/expression"
)

// run is one run of a script.
type run struct {
	program *Program
	vm      *goja.Runtime
}

// call sets the environment up, calls the script and exports its value. Go
// code calling into the runtime (a getter, a guard) may panic with a JS
// exception, a thrown value or an interruption; those come back as the
// error.
func (r *run) call(ctx context.Context, logger *slog.Logger, scope *expression.Scope) (out any, err error) {
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
	fnValue, err := r.vm.RunProgram(r.program.program)
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
	return r.exporter("output", false, r.program.limits.OutputBytes).export(value)
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
func (r *run) settle(value goja.Value) (goja.Value, error) {
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

// failure turns what stopped a script into the run's error: the context's
// cause when the context ended, otherwise an *Error, since the same code
// on the same data fails the same way.
func (r *run) failure(ctx context.Context, err error) error {
	var (
		stopped  *goja.InterruptedError
		overflow *goja.StackOverflowError
		ex       *goja.Exception
		thrown   *valueError
	)
	switch {
	case errors.As(err, &stopped):
		if limit, ok := stopped.Value().(limitError); ok {
			return &Error{limit}
		}
		return context.Cause(ctx)
	case errors.As(err, &overflow):
		return &Error{fmt.Errorf("RangeError: calls nest more than %d deep%s",
			r.program.limits.CallDepth, r.place(overflow.Stack()))}
	case errors.As(err, &ex):
		return &Error{errors.New(r.thrown(ex.Value()) + r.place(ex.Stack()))}
	case errors.As(err, &thrown):
		text := r.thrown(thrown.value) + r.placeFromStack(thrown.value)
		if thrown.rejected {
			text = "the returned promise was rejected: " + text
		}
		return &Error{errors.New(text)}
	}
	return &Error{err}
}

// thrown describes a thrown value: an error as "TypeError: message",
// anything else as JSON. It may run the script's getters, so it is called
// with the watch still on; a second failure is not worth reporting.
func (r *run) thrown(v goja.Value) (text string) {
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
	shown, err := r.exporter("value", true, showBytes).export(v)
	if err != nil {
		return "the code threw " + v.String()
	}
	return "the code threw " + jsonText(shown)
}

func stringProp(obj *goja.Object, name string) string {
	v := obj.Get(name)
	if v == nil || goja.IsUndefined(v) {
		return ""
	}
	return v.String()
}

// place says where in the user's code the innermost frame of the script
// itself was (frames of builtins and of eval have no place in it).
func (r *run) place(stack []goja.StackFrame) string {
	for _, frame := range stack {
		if frame.SrcName() == fileName {
			return placeInSource(frame.Position(), r.program.lines)
		}
	}
	return ""
}

// stackPlace finds "code:LINE:COLUMN" in an error's stack text.
var stackPlace = regexp.MustCompile(`\b` + fileName + `:(\d+):(\d+)`)

// placeFromStack places an error that was not thrown out of the script (a
// rejection) by the stack it recorded when it was made.
func (r *run) placeFromStack(v goja.Value) (where string) {
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
	return placeInSource(file.Position{Line: line, Column: column}, r.program.lines)
}
