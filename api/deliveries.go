package api

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"

	"github.com/hookflow/hookflow/engine"
	"github.com/hookflow/hookflow/store"
)

// maxShownBody is how much of a delivery's body an answer carries.
const maxShownBody = 64 << 10

type deliveryJSON struct {
	ID          string          `json:"id"`
	FlowID      string          `json:"flow_id"`
	FlowName    string          `json:"flow_name"`
	FlowDeleted bool            `json:"flow_deleted,omitempty"`
	Status      string          `json:"status"`
	Reason      string          `json:"reason,omitempty"`
	HTTPStatus  int             `json:"http_status"`
	Method      string          `json:"method"`
	Path        string          `json:"path"`
	Query       string          `json:"query"`
	Headers     json.RawMessage `json:"headers"`
	ContentType string          `json:"content_type"`
	// Body is text when it is UTF-8 and base64 otherwise (BodyEncoding
	// says which); only in single deliveries.
	Body          *string   `json:"body,omitempty"`
	BodyEncoding  string    `json:"body_encoding,omitempty"`
	BodyTruncated bool      `json:"body_truncated,omitempty"`
	BodySize      int       `json:"body_size"`
	DedupeKey     string    `json:"dedupe_key,omitempty"`
	RunID         string    `json:"run_id,omitempty"`
	ReceivedAt    time.Time `json:"received_at"`
	// Trigger is what expressions see as trigger, for a delivery that
	// was accepted or captured; only in single deliveries.
	Trigger      any    `json:"trigger,omitempty"`
	TriggerError string `json:"trigger_error,omitempty"`
}

func renderDelivery(d *store.Delivery, withBody bool) deliveryJSON {
	out := deliveryJSON{
		ID: d.ID, FlowID: d.FlowID, FlowName: d.FlowName, FlowDeleted: d.FlowDeleted, Status: d.Status, Reason: d.Reason, HTTPStatus: d.HTTPStatus, Method: d.Method,
		Path: d.Path, Query: d.Query, Headers: d.Headers, ContentType: d.ContentType, BodySize: d.BodySize,
		DedupeKey: d.DedupeKey, RunID: d.RunID, ReceivedAt: d.ReceivedAt,
	}
	if withBody {
		body := d.Body
		if len(body) > maxShownBody {
			body, out.BodyTruncated = body[:maxShownBody], true
		}
		out.BodyTruncated = out.BodyTruncated || len(d.Body) < d.BodySize
		text, encoding := string(body), "text"
		if !utf8.Valid(body) {
			text, encoding = base64.StdEncoding.EncodeToString(body), "base64"
		}
		out.Body, out.BodyEncoding = &text, encoding
	}
	return out
}

// withTrigger adds what expressions would see as trigger, for deliveries
// whose body was kept whole.
func withTrigger(out *deliveryJSON, d *store.Delivery) {
	if d.Status != store.DeliveryAccepted && d.Status != store.DeliveryCaptured {
		return
	}
	trigger, err := engine.DeliveryTrigger(d)
	if err != nil {
		out.TriggerError = err.Error()
		return
	}
	out.Trigger = trigger
}

var deliveryStatuses = map[string]bool{
	store.DeliveryAccepted: true, store.DeliveryRejected: true, store.DeliveryDuplicate: true, store.DeliveryCaptured: true,
}

func (s *server) listDeliveries(c *fiber.Ctx) error {
	f := store.DeliveryFilter{FlowID: c.Query("flow_id"), Status: c.Query("status"), Before: c.Query("cursor"), Limit: defaultRunPage}
	if f.Status != "" && !deliveryStatuses[f.Status] {
		return errorf(fiber.StatusBadRequest, "status must be accepted, rejected, duplicate or captured, not %q", f.Status)
	}
	if err := timeRange(c, &f.Since, &f.Until); err != nil {
		return err
	}
	if err := pageLimit(c, &f.Limit); err != nil {
		return err
	}
	list, err := s.store.ListDeliveries(c.UserContext(), f)
	if err != nil {
		return err
	}
	out := make([]deliveryJSON, len(list))
	for i, d := range list {
		out[i] = renderDelivery(d, false)
	}
	var next *string
	if len(list) == f.Limit {
		next = &list[len(list)-1].ID
	}
	return c.JSON(fiber.Map{"deliveries": out, "next_cursor": next})
}

func (s *server) getDelivery(c *fiber.Ctx) error {
	id := c.Params("id")
	d, err := s.store.GetDelivery(c.UserContext(), id)
	if errors.Is(err, store.ErrNotFound) {
		return errorf(fiber.StatusNotFound, "delivery %q not found", id)
	}
	if err != nil {
		return err
	}
	out := renderDelivery(d, true)
	withTrigger(&out, d)
	return c.JSON(out)
}

// listen waits for the next request to the flow's trigger, active or not,
// and answers it: 204 when none came in time.
func (s *server) listen(c *fiber.Ctx) error {
	id := c.Params("id")
	wait := maxTestWait
	if v := c.Query("wait_ms"); v != "" {
		ms, err := strconv.Atoi(v)
		if err != nil || ms < 1 || time.Duration(ms)*time.Millisecond > maxTestWait {
			return errorf(fiber.StatusBadRequest, "wait_ms must be a number from 1 to %d, not %q", maxTestWait.Milliseconds(), v)
		}
		wait = time.Duration(ms) * time.Millisecond
	}
	if _, err := s.store.GetFlow(c.UserContext(), id); err != nil {
		return flowNotFound(id, err)
	}
	d, err := s.ingress.Listen(c.UserContext(), id, wait)
	if err != nil {
		return flowNotFound(id, err)
	}
	if d == nil {
		return c.SendStatus(fiber.StatusNoContent)
	}
	out := renderDelivery(d, true)
	withTrigger(&out, d)
	return c.JSON(out)
}

// sample answers the latest request the flow's trigger took (accepted or
// captured), as the sample the editor completes expressions from; 204 when
// it has taken none yet, which is no error: every new flow starts so.
func (s *server) sample(c *fiber.Ctx) error {
	id := c.Params("id")
	if _, err := s.store.GetFlow(c.UserContext(), id); err != nil {
		return flowNotFound(id, err)
	}
	before := ""
	for range 10 {
		list, err := s.store.ListDeliveries(c.UserContext(), store.DeliveryFilter{FlowID: id, Before: before, Limit: 100})
		if err != nil {
			return err
		}
		for _, d := range list {
			if d.Status == store.DeliveryAccepted || d.Status == store.DeliveryCaptured {
				full, err := s.store.GetDelivery(c.UserContext(), d.ID)
				if err != nil {
					return err
				}
				out := renderDelivery(full, true)
				withTrigger(&out, full)
				return c.JSON(out)
			}
		}
		if len(list) < 100 {
			break
		}
		before = list[len(list)-1].ID
	}
	return c.SendStatus(fiber.StatusNoContent)
}
