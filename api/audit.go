package api

import (
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/hookflow/hookflow/store"
)

type auditPartyJSON struct {
	Kind string `json:"kind"`
	ID   string `json:"id"`
	Name string `json:"name"`
}

type auditEventJSON struct {
	ID     string         `json:"id"`
	At     time.Time      `json:"at"`
	Actor  auditPartyJSON `json:"actor"`
	IP     string         `json:"ip"`
	Action string         `json:"action"`
	Target auditPartyJSON `json:"target"`
	Detail map[string]any `json:"detail"`
}

func renderAuditEvent(e *store.AuditEvent) auditEventJSON {
	out := auditEventJSON{
		ID: strconv.FormatInt(e.ID, 10), At: e.At.UTC(), IP: e.IP, Action: e.Action, Detail: e.Detail,
		Actor:  auditPartyJSON{Kind: e.ActorKind, ID: e.ActorID, Name: e.ActorName},
		Target: auditPartyJSON{Kind: e.TargetKind, ID: e.TargetID, Name: e.TargetName},
	}
	if out.Detail == nil {
		out.Detail = map[string]any{}
	}
	return out
}

// listAudit pages through the audit log, newest first: filters by action
// (or a prefix such as "flow."), actor, target, address and time.
func (s *server) listAudit(c *fiber.Ctx) error {
	f := store.AuditFilter{Action: c.Query("action"), Actor: c.Query("actor"), TargetID: c.Query("target"), TargetKind: c.Query("target_kind"),
		IP: c.Query("ip"), Limit: defaultRunPage}
	if err := timeRange(c, &f.Since, &f.Until); err != nil {
		return err
	}
	if err := pageLimit(c, &f.Limit); err != nil {
		return err
	}
	if v := c.Query("cursor"); v != "" {
		before, err := strconv.ParseInt(v, 10, 64)
		if err != nil || before < 1 {
			return errorf(fiber.StatusBadRequest, "cursor must be the next_cursor of an earlier page, not %q", v)
		}
		f.Before = before
	}
	events, err := s.store.ListAudit(c.UserContext(), f)
	if err != nil {
		return err
	}
	out := make([]auditEventJSON, len(events))
	for i, e := range events {
		out[i] = renderAuditEvent(e)
	}
	var next *string
	if len(events) == f.Limit {
		cursor := out[len(out)-1].ID
		next = &cursor
	}
	return c.JSON(fiber.Map{"events": out, "next_cursor": next})
}
