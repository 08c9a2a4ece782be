package accounts

import (
	"context"

	"github.com/hookflow/hookflow/store"
)

// Target is what an audited action acted on.
type Target struct {
	// Kind is "flow", "credential", "user", "invitation", "token" or
	// "session".
	Kind, ID, Name string
}

// Record adds an event to the audit log. The action it records has
// happened already, so a failure to record it is logged rather than
// undoing it or failing the request. detail must hold no secret.
func (s *Service) Record(ctx context.Context, a Actor, action string, target Target, detail map[string]any) {
	e := &store.AuditEvent{
		At: s.now(), IP: a.IP, Action: action,
		TargetKind: target.Kind, TargetID: target.ID, TargetName: target.Name, Detail: detail,
	}
	switch p := a.Principal; {
	case p == nil:
		e.ActorKind, e.ActorName = "anonymous", a.Name
		if a.IP == "" {
			e.ActorKind = "system"
		}
	case p.UserID == "":
		e.ActorKind, e.ActorName = "admin", p.Name
	case p.Kind == "token":
		e.ActorKind, e.ActorID, e.ActorName = "token", p.UserID, p.Name
		if e.Detail == nil {
			e.Detail = map[string]any{}
		}
		e.Detail["token"] = p.TokenName
	default:
		e.ActorKind, e.ActorID, e.ActorName = "user", p.UserID, p.Name
	}
	if err := s.store.AppendAudit(ctx, e); err != nil {
		s.log.ErrorContext(ctx, "audit log: event not recorded", "action", action, "target", target.ID, "error", err)
	}
}
