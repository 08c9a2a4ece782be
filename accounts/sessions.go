package accounts

import (
	"context"
	"fmt"
	"time"

	"github.com/hookflow/hookflow/access"
	"github.com/hookflow/hookflow/store"
)

// SessionTTL is how long an editor login lasts.
const SessionTTL = 7 * 24 * time.Hour

// maxUserAgent bounds the browser description kept with a session.
const maxUserAgent = 256

// OpenSession starts a session for a user ("" for the admin token) and
// returns its id, the cookie's value, which only the browser keeps.
func (s *Service) OpenSession(ctx context.Context, userID, ip, userAgent string) (id string, sess *store.Session, err error) {
	if len(userAgent) > maxUserAgent {
		userAgent = userAgent[:maxUserAgent]
	}
	id = access.NewSecret()
	sess = &store.Session{IDHash: access.HashSecret(id), UserID: userID, IP: ip, UserAgent: userAgent, CreatedAt: s.now(), ExpiresAt: s.now().Add(SessionTTL)}
	if err := s.store.CreateSession(ctx, sess); err != nil {
		return "", nil, err
	}
	return id, sess, nil
}

// Logout ends one session.
func (s *Service) Logout(ctx context.Context, a Actor, sess *store.Session) error {
	if err := s.store.DeleteSession(ctx, sess.IDHash); err != nil {
		return err
	}
	s.Record(ctx, a, "logout", Target{Kind: "session", ID: SessionID(sess)}, nil)
	return nil
}

// LogoutEverywhere ends every session of the actor's user, this one too.
func (s *Service) LogoutEverywhere(ctx context.Context, a Actor) (int, error) {
	u, err := s.self(ctx, a, "has no sessions to end")
	if err != nil {
		return 0, err
	}
	n, err := s.store.DeleteUserSessions(ctx, u.ID, nil)
	if err != nil {
		return 0, err
	}
	s.Record(ctx, a, "logout", userTarget(u), map[string]any{"everywhere": true, "sessions_ended": n})
	return n, nil
}

// RevokeSession ends one of the actor's own sessions, by its public id.
func (s *Service) RevokeSession(ctx context.Context, a Actor, id string) (*store.Session, error) {
	var mine []*store.Session
	if a.Principal != nil && a.Principal.UserID != "" {
		var err error
		if mine, err = s.store.ListSessions(ctx, a.Principal.UserID); err != nil {
			return nil, err
		}
	}
	for _, sess := range mine {
		if SessionID(sess) == id {
			if err := s.store.DeleteSession(ctx, sess.IDHash); err != nil {
				return nil, err
			}
			s.Record(ctx, a, "session.revoked", Target{Kind: "session", ID: id}, map[string]any{"ip": sess.IP, "user_agent": sess.UserAgent})
			return sess, nil
		}
	}
	return nil, refuse(NotFound, "you have no session %q", id)
}

// SessionID is how a session is named in lists: a hash of its stored hash,
// so no listing gives away what finds a session.
func SessionID(sess *store.Session) string {
	return fmt.Sprintf("%x", access.HashSecret(string(sess.IDHash))[:12])
}
