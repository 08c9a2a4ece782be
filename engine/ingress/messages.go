package ingress

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hookflow/hookflow/engine"
	"github.com/hookflow/hookflow/engine/expression"
	"github.com/hookflow/hookflow/engine/webhook"
	"github.com/hookflow/hookflow/nodes"
	"github.com/hookflow/hookflow/store"
)

// How long TakeMessage waits between tries to store a message while the
// database does not answer.
const (
	storeRetryFirst = 100 * time.Millisecond
	storeRetryMax   = 5 * time.Second
)

// BrokerTarget is an active flow whose broker trigger consumes messages.
type BrokerTarget struct {
	FlowID      string
	FlowVersion int
	Plan        *engine.Plan
	Trigger     nodes.BrokerTrigger
	// MaxBodyBytes bounds a message's body; a larger one is refused.
	MaxBodyBytes int
}

// TakeMessage records a broker message as a delivery of the target's flow,
// with its run, as Receive does a webhook request: checked, deduped,
// recorded, and handed to the engine. It returns once the delivery is
// durable (see nodes.MessageHandler); while the database does not answer it
// tries again, until ctx ends.
func (in *Ingress) TakeMessage(ctx context.Context, t *BrokerTarget, m *nodes.Message, receivedAt time.Time) (nodes.MessageOutcome, error) {
	broker := t.Trigger.Broker()
	headers := make(map[string]string, len(m.Headers))
	for name, value := range m.Headers {
		name = strings.ToLower(name)
		if secretHeader(name) {
			value = "[redacted]"
		}
		headers[name] = value
	}
	encoded, _ := json.Marshal(headers)
	d := &store.NewDelivery{
		Delivery: store.Delivery{
			FlowID: t.FlowID, Status: store.DeliveryAccepted, Method: strings.ToUpper(broker), Path: m.Topic,
			Headers: encoded, ContentType: m.ContentType, Body: m.Body, BodySize: len(m.Body),
			ReceivedAt: receivedAt.UTC().Truncate(time.Microsecond),
		},
		FlowVersion: t.FlowVersion,
		TriggerType: broker,
	}
	if reason := in.checkMessage(ctx, t, m, d); reason != "" {
		d.Status, d.Reason = store.DeliveryRejected, reason
		if len(d.Body) > MaxRejectedBody {
			d.Body = d.Body[:MaxRejectedBody]
		}
		if _, err := in.storeMessage(ctx, t, d, nil); err != nil {
			return 0, err
		}
		return nodes.MessageRefused, nil
	}
	res, err := in.storeMessage(ctx, t, d, t.Plan)
	if err != nil {
		return 0, err
	}
	if res.Duplicate {
		return nodes.MessageDuplicate, nil
	}
	return nodes.MessageAccepted, nil
}

// checkMessage checks a message as Receive checks a request's body, and
// sets its dedupe key; it returns why the message is refused, or "".
func (in *Ingress) checkMessage(ctx context.Context, t *BrokerTarget, m *nodes.Message, d *store.NewDelivery) string {
	if t.MaxBodyBytes > 0 && len(m.Body) > t.MaxBodyBytes {
		return fmt.Sprintf("the message is larger than %d bytes", t.MaxBodyBytes)
	}
	kind, err := webhook.KindOf(m.ContentType, m.Body)
	if err != nil {
		if m.ContentType == "" {
			return "the message is neither JSON nor UTF-8 text, and names no content type Hookflow reads"
		}
		return fmt.Sprintf("content type %q is not one Hookflow reads: send JSON, form data, XML or text", m.ContentType)
	}
	if err := checkBody(kind, &Request{ContentType: m.ContentType, Body: m.Body}); err != nil {
		return err.Error()
	}
	settings := t.Trigger.Deliveries()
	if settings.DedupeWindowMS == 0 {
		return ""
	}
	key := ""
	if settings.Dedupe == nil {
		if m.ID != "" {
			key = "message:" + m.ID
		}
	} else {
		trigger, err := engine.DeliveryTrigger(&d.Delivery)
		if err != nil {
			return err.Error()
		}
		v, err := settings.Dedupe.Eval(ctx, &expression.Scope{Trigger: trigger})
		if err != nil {
			return "the message id expression failed: " + err.Error()
		}
		if v != nil && v != "" {
			key = "expression:" + expression.Stringify(v)
		}
	}
	if key != "" {
		d.DedupeKey = key
		d.DedupeUntil = d.ReceivedAt.Add(time.Duration(settings.DedupeWindowMS) * time.Millisecond)
	}
	return ""
}

// storeMessage records a delivery, trying again while the database does
// not answer, and with plan (an accepted message) hands its run to the
// engine: taken on at once where the engine has room, else queued.
func (in *Ingress) storeMessage(ctx context.Context, t *BrokerTarget, d *store.NewDelivery, plan *engine.Plan) (*store.DeliveryResult, error) {
	wait := storeRetryFirst
	for {
		var reservation *engine.Reservation
		if plan != nil {
			reservation = in.engine.Reserve(plan, len(d.Body))
			d.Owner = reservation.Owner()
		}
		res, err := in.store.RecordDelivery(ctx, d)
		if err == nil {
			in.notify(t.FlowID, res.DeliveryID)
			switch {
			case res.Duplicate || res.Run == nil:
				reservation.Cancel()
			case reservation != nil:
				// The run outlives the consumer's buffers: it gets its
				// own copy of the body.
				d.ID, d.Body = res.DeliveryID, bytes.Clone(d.Body)
				in.engine.Adopt(reservation, res.Run, &d.Delivery)
			default:
				in.engine.Nudge()
			}
			return res, nil
		}
		reservation.Cancel()
		if ctx.Err() != nil {
			return nil, errors.Join(ctx.Err(), err)
		}
		in.log.ErrorContext(ctx, "record a broker message; trying again", "flow_id", t.FlowID, "error", err, "wait", wait)
		select {
		case <-ctx.Done():
			return nil, errors.Join(ctx.Err(), err)
		case <-time.After(wait):
		}
		wait = min(2*wait, storeRetryMax)
	}
}
