// Package ingress takes webhook requests: it finds the trigger a request is
// for, checks the method and the sender's signature, records the delivery
// and its run durably (or finds it a duplicate), and answers, at once or
// with the run's own answer.
package ingress

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hookflow/hookflow/engine"
	"github.com/hookflow/hookflow/engine/expression"
	"github.com/hookflow/hookflow/engine/webhook"
	"github.com/hookflow/hookflow/nodes"
	"github.com/hookflow/hookflow/store"
)

// Limits of the ingress.
const (
	// MaxRejectedBody is how much of a refused request's body is kept.
	MaxRejectedBody = 64 << 10
	// triggerTTL bounds how long a flow changed on another instance keeps
	// its old trigger settings here.
	triggerTTL = time.Second
)

// Options configure the ingress.
type Options struct {
	Store       store.Store
	Engine      *engine.Engine
	Credentials *engine.Credentials
	Logger      *slog.Logger
	// PublicURL is the base URL senders call; Twilio signs the URL it called.
	PublicURL string
}

// Ingress takes webhook requests.
type Ingress struct {
	store       store.Store
	engine      *engine.Engine
	credentials *engine.Credentials
	log         *slog.Logger
	publicURL   string
	draining    atomic.Bool

	mu       sync.Mutex
	triggers map[string]*trigger // by hook key
	keys     map[string]string   // flow id → hook key
	// forgotten counts Forget calls: a lookup overtaken by one does not
	// cache what it read, which may predate the change.
	forgotten uint64
	// waiting holds the listeners of each flow; they are sent the id of
	// the delivery that ends their wait.
	waiting map[string][]chan string
}

// New returns the ingress.
func New(opts Options) *Ingress {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Ingress{
		store: opts.Store, engine: opts.Engine, credentials: opts.Credentials, log: opts.Logger,
		publicURL: strings.TrimRight(opts.PublicURL, "/"),
		triggers:  map[string]*trigger{}, keys: map[string]string{}, waiting: map[string][]chan string{},
	}
}

// SetPublicURL sets the base URL senders call, once the listener is known.
func (in *Ingress) SetPublicURL(u string) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.publicURL = strings.TrimRight(u, "/")
}

// Request is a request to a trigger URL.
type Request struct {
	Key string
	// Path is what followed /hooks/<key>: "" or "/more/path".
	Path   string
	Method string
	// Query is the raw query string.
	Query string
	// Headers maps lower-case names to values.
	Headers     map[string]string
	ContentType string
	Body        []byte
	// BodySize is the size the sender sent; Body is empty when it was too
	// large to read.
	BodySize   int
	ReceivedAt time.Time
}

// Get reads a header case-insensitively.
func (r *Request) Get(name string) string { return r.Headers[strings.ToLower(name)] }

// Reply is the answer to a request.
type Reply struct {
	Status  int
	Headers map[string]string
	Body    []byte
	// outcome is set on the answers to requests that were taken; any
	// other answer is a refusal (see Outcome).
	outcome Outcome
}

func jsonReply(status int, v any) *Reply {
	body, _ := json.Marshal(v)
	return &Reply{Status: status, Headers: map[string]string{"Content-Type": "application/json"}, Body: body}
}

func errorReply(status int, message string) *Reply {
	return jsonReply(status, map[string]string{"error": message})
}

// trigger is a flow's webhook trigger as the ingress needs it.
type trigger struct {
	flow     *store.Flow
	plan     *engine.Plan
	webhook  *nodes.WebhookTrigger // nil when the flow's trigger is not a webhook
	loadedAt time.Time
}

// listening reports whether someone waits for a test event.
func (t *trigger) listening(now time.Time) bool {
	return t.flow.ListenUntil != nil && now.Before(*t.flow.ListenUntil)
}

// lookup finds the trigger of a hook key; nil when no flow has it.
func (in *Ingress) lookup(ctx context.Context, key string) (*trigger, error) {
	in.mu.Lock()
	t, ok := in.triggers[key]
	generation := in.forgotten
	in.mu.Unlock()
	if ok && time.Since(t.loadedAt) < triggerTTL {
		return t, nil
	}
	flow, err := in.store.FlowByHookKey(ctx, key)
	if errors.Is(err, store.ErrNotFound) {
		t = nil
	} else if err != nil {
		return nil, err
	} else {
		plan, err := in.engine.Plan(ctx, flow.ID, flow.Version)
		if err != nil {
			return nil, err
		}
		t = &trigger{flow: flow, plan: plan}
		t.webhook, _ = plan.Trigger.Node.(*nodes.WebhookTrigger)
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	if generation != in.forgotten {
		return t, nil // use it for this request, but do not cache it
	}
	if t == nil {
		// Unknown keys are remembered too, so guessing costs no query.
		in.triggers[key] = &trigger{loadedAt: time.Now()}
		return nil, nil
	}
	t.loadedAt = time.Now()
	in.triggers[key] = t
	in.keys[t.flow.ID] = key
	return t, nil
}

// Forget drops what the ingress knows of a flow's trigger: it was saved,
// activated, deactivated, deleted, or someone started listening.
func (in *Ingress) Forget(flowID string) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.forgotten++
	if key, ok := in.keys[flowID]; ok {
		delete(in.triggers, key)
		delete(in.keys, flowID)
	}
}

// Drain makes the ingress refuse new requests with 503, so senders retry
// them elsewhere or later: the server is shutting down. Requests already
// taken are answered as usual.
func (in *Ingress) Drain() { in.draining.Store(true) }

// Draining reports whether Drain was called.
func (in *Ingress) Draining() bool { return in.draining.Load() }

// shuttingDown is the answer to a request that arrives after Drain.
func shuttingDown() *Reply {
	reply := errorReply(http.StatusServiceUnavailable, "the server is shutting down; try again")
	reply.Headers["Retry-After"] = "5"
	return reply
}

// Receive takes one request to a trigger URL and answers it.
func (in *Ingress) Receive(ctx context.Context, req *Request) *Reply {
	if in.Draining() {
		return shuttingDown()
	}
	t, err := in.lookup(ctx, req.Key)
	if err != nil {
		in.log.ErrorContext(ctx, "look up trigger", "error", err)
		return errorReply(http.StatusServiceUnavailable, "the trigger cannot be read just now; try again")
	}
	if t == nil || t.flow == nil {
		return errorReply(http.StatusNotFound, "no trigger at this URL")
	}
	if t.webhook == nil {
		return errorReply(http.StatusNotFound, "this flow's trigger is not a webhook")
	}
	now := req.ReceivedAt
	listening := t.listening(now)
	if !t.flow.Active && !listening {
		return in.reject(ctx, t, req, http.StatusNotFound, "the flow is not active", "no trigger at this URL")
	}
	if !slices.Contains(t.webhook.Methods, req.Method) {
		reply := in.reject(ctx, t, req, http.StatusMethodNotAllowed, "method "+req.Method+" is not accepted",
			"method "+req.Method+" is not accepted here")
		reply.Headers["Allow"] = strings.Join(t.webhook.Methods, ", ")
		return reply
	}
	if v := t.webhook.Verify; v != nil {
		if reason := in.verify(ctx, v, req, now); reason != "" {
			return in.reject(ctx, t, req, http.StatusUnauthorized, reason, "the request is not authenticated")
		}
	}
	kind, err := webhook.KindOf(req.ContentType, req.Body)
	if err != nil {
		return in.reject(ctx, t, req, http.StatusUnsupportedMediaType, fmt.Sprintf("content type %q is not one Hookflow reads", req.ContentType),
			"content type "+req.ContentType+" is not supported: send JSON, form data, multipart, XML or text")
	}
	if err := checkBody(kind, req); err != nil {
		return in.reject(ctx, t, req, http.StatusBadRequest, err.Error(), err.Error())
	}
	key, err := in.dedupeKey(ctx, t, kind, req)
	if err != nil {
		return in.reject(ctx, t, req, http.StatusBadRequest, "the delivery id expression failed: "+err.Error(),
			"the request has no delivery id this trigger can read")
	}
	d := in.delivery(t, req, store.DeliveryAccepted)
	if !t.flow.Active {
		d.Status, d.HTTPStatus = store.DeliveryCaptured, http.StatusOK
		res, err := in.store.RecordDelivery(ctx, d)
		if err != nil {
			return in.unstored(ctx, err)
		}
		in.notify(t.flow.ID, res.DeliveryID)
		return taken(jsonReply(http.StatusOK, map[string]any{"captured": true, "delivery_id": res.DeliveryID}), Captured)
	}
	if key != "" && t.webhook.DedupeWindowMS > 0 {
		d.DedupeKey = key
		d.DedupeUntil = now.Add(time.Duration(t.webhook.DedupeWindowMS) * time.Millisecond)
	}
	d.HTTPStatus = http.StatusAccepted
	// The run is stored as this process's own when its engine has room,
	// and starts as soon as it is durable: no claim to commit first.
	reservation := in.engine.Reserve(t.plan, len(req.Body))
	d.Owner = reservation.Owner()
	res, err := in.store.RecordDelivery(ctx, d)
	if err != nil {
		reservation.Cancel()
		return in.unstored(ctx, err)
	}
	if listening {
		in.notify(t.flow.ID, res.DeliveryID)
	}
	if res.Duplicate {
		reservation.Cancel()
		return taken(jsonReply(http.StatusOK, map[string]any{"duplicate": true, "run_id": res.RunID}), Duplicate)
	}
	var answer *engine.Subscription
	if t.webhook.Respond == nodes.RespondWhenDone {
		answer = in.engine.Subscribe(res.RunID)
		defer answer.Close()
	}
	if reservation != nil {
		// The run outlives this request, whose body buffer the server
		// reuses: it gets its own copy.
		d.ID, d.Body = res.DeliveryID, bytes.Clone(d.Body)
		in.engine.Adopt(reservation, res.Run, &d.Delivery)
	} else {
		in.engine.Nudge()
	}
	if answer != nil {
		return taken(in.answerWhenDone(ctx, t, answer, res.RunID), Accepted)
	}
	return taken(jsonReply(http.StatusAccepted, map[string]any{"run_id": res.RunID}), Accepted)
}

// verify checks the sender's signature; it returns why it failed, or "".
func (in *Ingress) verify(ctx context.Context, v *nodes.VerifyParams, req *Request, now time.Time) string {
	cred, err := in.credentials.Open(ctx, v.Credential)
	if err != nil {
		in.log.WarnContext(ctx, "verification credential unusable", "credential", v.Credential, "error", err)
		return fmt.Sprintf("the credential %q cannot be used: %v", v.Credential, err)
	}
	secret := webhook.Secret{Secret: cred.String("secret"), Username: cred.String("username"), Password: cred.String("password")}
	err = webhook.Verify(v, secret, &webhook.Request{URL: in.url(req), Header: req, Body: req.Body}, now)
	if err != nil {
		var ve *webhook.VerifyError
		if errors.As(err, &ve) {
			return "bad signature: " + ve.Reason
		}
		return err.Error()
	}
	return ""
}

// url is the URL the sender called, as it knows it.
func (in *Ingress) url(req *Request) string {
	in.mu.Lock()
	base := in.publicURL
	in.mu.Unlock()
	u := base + "/hooks/" + req.Key + req.Path
	if req.Query != "" {
		u += "?" + req.Query
	}
	return u
}

// checkBody refuses a body that does not parse as its content type says.
// JSON is only validated: parsing it is the run's work, not the sender's
// wait.
func checkBody(kind webhook.Kind, req *Request) error {
	if len(req.Body) == 0 {
		return nil
	}
	if kind == webhook.KindJSON {
		if !json.Valid(req.Body) {
			return errors.New("body is not valid JSON")
		}
		return nil
	}
	_, err := webhook.ParseBody(req.ContentType, req.Body)
	return err
}

// dedupeKey names the delivery: by the trigger's expression, or the
// sender's own delivery id.
func (in *Ingress) dedupeKey(ctx context.Context, t *trigger, kind webhook.Kind, req *Request) (string, error) {
	if t.webhook.DedupeWindowMS == 0 {
		return "", nil
	}
	if t.webhook.Dedupe == nil {
		return webhook.DeliveryID(req, kind, req.Body), nil
	}
	d := in.delivery(t, req, store.DeliveryAccepted)
	trigger, err := engine.DeliveryTrigger(&d.Delivery)
	if err != nil {
		return "", err
	}
	v, err := t.webhook.Dedupe.Eval(ctx, &expression.Scope{Trigger: trigger})
	if err != nil {
		return "", err
	}
	if v == nil || v == "" {
		return "", nil
	}
	return "expression:" + expression.Stringify(v), nil
}

// delivery is the record of a request, with credentials redacted from its
// headers.
func (in *Ingress) delivery(t *trigger, req *Request, status string) *store.NewDelivery {
	var redact string
	if v := t.webhook.Verify; v != nil && v.Scheme == nodes.SchemeHeader {
		redact = strings.ToLower(v.Header)
	}
	headers := make(map[string]string, len(req.Headers))
	for name, value := range req.Headers {
		if name == redact || secretHeader(name) {
			value = "[redacted]"
		}
		headers[name] = value
	}
	encoded, _ := json.Marshal(headers)
	return &store.NewDelivery{
		Delivery: store.Delivery{
			FlowID: t.flow.ID, Status: status, Method: req.Method, Path: req.Path, Query: req.Query,
			Headers: encoded, ContentType: req.ContentType, Body: req.Body, BodySize: req.BodySize,
			// At the precision the databases keep: a run taken on at once
			// sees the time its resumed self will read back.
			ReceivedAt: req.ReceivedAt.UTC().Truncate(time.Microsecond),
		},
		FlowVersion: t.flow.Version,
	}
}

// secretHeader reports headers that carry credentials.
func secretHeader(name string) bool {
	switch name {
	case "authorization", "proxy-authorization", "cookie", "x-gitlab-token":
		return true
	}
	for _, word := range []string{"token", "secret", "password", "api-key", "apikey"} {
		if strings.Contains(name, word) {
			return true
		}
	}
	return false
}

// reject records a refused request and answers it; the sender is told the
// public message, the record keeps the reason.
func (in *Ingress) reject(ctx context.Context, t *trigger, req *Request, status int, reason, message string) *Reply {
	d := in.delivery(t, req, store.DeliveryRejected)
	d.Reason, d.HTTPStatus = reason, status
	if len(d.Body) > MaxRejectedBody {
		d.Body = d.Body[:MaxRejectedBody]
	}
	res, err := in.store.RecordDelivery(ctx, d)
	if err != nil {
		in.log.ErrorContext(ctx, "record rejected delivery", "flow_id", t.flow.ID, "error", err)
	} else if t.listening(req.ReceivedAt) {
		in.notify(t.flow.ID, res.DeliveryID)
	}
	return errorReply(status, message)
}

// TooLarge records a request refused for its size before its body was
// read.
func (in *Ingress) TooLarge(ctx context.Context, req *Request, limit int) *Reply {
	if in.Draining() {
		return shuttingDown()
	}
	message := fmt.Sprintf("the body is larger than %d bytes", limit)
	t, err := in.lookup(ctx, req.Key)
	if err != nil || t == nil || t.flow == nil || t.webhook == nil {
		return errorReply(http.StatusRequestEntityTooLarge, message)
	}
	return in.reject(ctx, t, req, http.StatusRequestEntityTooLarge, message, message)
}

// unstored answers a request whose delivery could not be written: the
// sender should retry, and nothing was promised.
func (in *Ingress) unstored(ctx context.Context, err error) *Reply {
	in.log.ErrorContext(ctx, "record delivery", "error", err)
	return errorReply(http.StatusServiceUnavailable, "the delivery could not be stored; try again")
}

// answerWhenDone waits for the run's answer: its respond node's output as
// soon as that node has run, or once the run has ended its last output;
// after the trigger's timeout, 202 with the run id.
func (in *Ingress) answerWhenDone(ctx context.Context, t *trigger, answer *engine.Subscription, runID string) *Reply {
	wait, cancel := context.WithTimeout(ctx, time.Duration(t.webhook.RespondTimeoutMS)*time.Millisecond)
	defer cancel()
	a, err := answer.Await(wait)
	switch {
	case err != nil:
		if wait.Err() == nil {
			in.log.ErrorContext(ctx, "read the run's answer", "run_id", runID, "error", err)
		}
		return jsonReply(http.StatusAccepted, map[string]any{"run_id": runID})
	case a.Respond != nil:
		return respondReply(a.Respond)
	case a.Status != store.RunSucceeded:
		return jsonReply(http.StatusInternalServerError, map[string]any{"error": "the run " + a.Status, "run_id": runID})
	case a.Last == nil:
		return &Reply{Status: http.StatusNoContent, Headers: map[string]string{}}
	}
	return &Reply{Status: http.StatusOK, Headers: map[string]string{"Content-Type": "application/json"}, Body: a.Last}
}

// respondReply turns a respond step's output into the answer: a text body
// is sent as it is, anything else as JSON.
func respondReply(output []byte) *Reply {
	var r struct {
		Status  int               `json:"status"`
		Headers map[string]string `json:"headers"`
		Body    json.RawMessage   `json:"body"`
	}
	if err := json.Unmarshal(output, &r); err != nil || r.Status == 0 {
		return errorReply(http.StatusInternalServerError, "the respond step's output is not an answer")
	}
	reply := &Reply{Status: r.Status, Headers: map[string]string{}}
	for k, v := range r.Headers {
		reply.Headers[k] = v
	}
	has := func(name string) bool {
		for k := range reply.Headers {
			if strings.EqualFold(k, name) {
				return true
			}
		}
		return false
	}
	var text string
	switch {
	case len(r.Body) == 0 || string(r.Body) == "null":
	case json.Unmarshal(r.Body, &text) == nil:
		reply.Body = []byte(text)
		if !has("Content-Type") {
			reply.Headers["Content-Type"] = "text/plain; charset=utf-8"
		}
	default:
		reply.Body = r.Body
		if !has("Content-Type") {
			reply.Headers["Content-Type"] = "application/json"
		}
	}
	return reply
}

// Listen waits up to wait for the next request to a flow's trigger, active
// or not, and returns its delivery; nil if none came.
func (in *Ingress) Listen(ctx context.Context, flowID string, wait time.Duration) (*store.Delivery, error) {
	arrived := make(chan string, 1)
	in.mu.Lock()
	in.waiting[flowID] = append(in.waiting[flowID], arrived)
	in.mu.Unlock()
	defer in.unwait(flowID, arrived)

	start := time.Now()
	until := start.Add(wait)
	if err := in.store.SetFlowListening(ctx, flowID, &until); err != nil {
		return nil, err
	}
	in.Forget(flowID)
	ctx, cancel := context.WithDeadline(ctx, until)
	defer cancel()

	// This instance hands its listeners the delivery itself; requests that
	// reach another instance are found by polling. A request is stamped
	// when it arrives, a little before its trigger is read, hence the
	// margin; one refused as inactive (404) did not see the listening.
	ticker := time.NewTicker(500 * time.Millisecond)
	defer ticker.Stop()
	since := start.Add(-time.Second)
	for {
		select {
		case <-ctx.Done():
			return nil, nil
		case id := <-arrived:
			return in.store.GetDelivery(ctx, id)
		case <-ticker.C:
		}
		list, err := in.store.ListDeliveries(ctx, store.DeliveryFilter{FlowID: flowID, Since: since, Limit: 1000})
		if err != nil {
			if ctx.Err() != nil {
				return nil, nil
			}
			return nil, err
		}
		for i := len(list) - 1; i >= 0; i-- { // oldest first
			if list[i].HTTPStatus != http.StatusNotFound {
				return in.store.GetDelivery(ctx, list[i].ID)
			}
		}
	}
}

func (in *Ingress) unwait(flowID string, ch chan string) {
	in.mu.Lock()
	defer in.mu.Unlock()
	list := slices.DeleteFunc(in.waiting[flowID], func(c chan string) bool { return c == ch })
	if len(list) == 0 {
		delete(in.waiting, flowID)
	} else {
		in.waiting[flowID] = list
	}
}

// notify hands a delivery to those listening on its flow.
func (in *Ingress) notify(flowID, deliveryID string) {
	in.mu.Lock()
	defer in.mu.Unlock()
	for _, ch := range in.waiting[flowID] {
		select {
		case ch <- deliveryID:
		default:
		}
	}
}
