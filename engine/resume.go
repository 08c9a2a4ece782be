package engine

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/hookflow/hookflow/store"
)

// resumeMACBytes is the length of a resume token's MAC: 160 bits, so a
// token cannot be guessed.
const resumeMACBytes = 20

// ResumeLinks makes and reads the resume URLs of wait.callback steps. A
// URL names its run, node and loop iteration, signed with a key derived
// from the server's secret key: every instance sharing the database (and
// so the secret key) reads the URLs the others made, and none need be
// stored before the wait starts, so an earlier step can send it.
type ResumeLinks struct {
	key []byte

	mu   sync.RWMutex
	base string
}

// NewResumeLinks derives the links' key from secret (the credentials key).
// A nil secret takes a random key: links then work only in this process.
func NewResumeLinks(secret []byte) *ResumeLinks {
	if secret == nil {
		secret = make([]byte, 32)
		_, _ = rand.Read(secret)
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte("hookflow resume links v1"))
	return &ResumeLinks{key: mac.Sum(nil), base: "http://localhost"}
}

// SetBase sets the public base URL the links start with.
func (l *ResumeLinks) SetBase(publicURL string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.base = strings.TrimRight(publicURL, "/")
}

// ResumeTarget is the waiting step a resume URL names.
type ResumeTarget struct {
	RunID, NodeID, Iteration string
}

// URL returns the resume URL of a wait.callback step.
func (l *ResumeLinks) URL(t ResumeTarget) string {
	l.mu.RLock()
	base := l.base
	l.mu.RUnlock()
	return base + "/resume/" + l.Token(t)
}

// Token is the last part of a resume URL: the target, then its MAC.
func (l *ResumeLinks) Token(t ResumeTarget) string {
	payload := t.RunID + "/" + t.NodeID + "/" + t.Iteration
	enc := base64.RawURLEncoding
	return enc.EncodeToString([]byte(payload)) + "." + enc.EncodeToString(l.mac(payload))
}

func (l *ResumeLinks) mac(payload string) []byte {
	m := hmac.New(sha256.New, l.key)
	m.Write([]byte(payload))
	return m.Sum(nil)[:resumeMACBytes]
}

// Parse reads a token; false for one this server did not make.
func (l *ResumeLinks) Parse(token string) (ResumeTarget, bool) {
	encPayload, encMAC, ok := strings.Cut(token, ".")
	if !ok {
		return ResumeTarget{}, false
	}
	enc := base64.RawURLEncoding
	payload, err1 := enc.DecodeString(encPayload)
	mac, err2 := enc.DecodeString(encMAC)
	if err1 != nil || err2 != nil || !hmac.Equal(mac, l.mac(string(payload))) {
		return ResumeTarget{}, false
	}
	parts := strings.SplitN(string(payload), "/", 3)
	if len(parts) != 3 {
		return ResumeTarget{}, false
	}
	return ResumeTarget{RunID: parts[0], NodeID: parts[1], Iteration: parts[2]}, true
}

// ErrResumeGone answers a resume URL that is unknown, used already, or
// whose wait has ended (timed out, or the run finished).
var ErrResumeGone = errors.New("this resume URL is unknown, was used already, or its wait has ended")

// Resume ends the wait of the wait.callback step a resume URL names, with
// the request's data as the step's output, and wakes its run.
func (e *Engine) Resume(ctx context.Context, token string, data any) (*store.Run, error) {
	target, ok := e.links.Parse(token)
	if !ok {
		return nil, ErrResumeGone
	}
	payload, err := json.Marshal(data)
	if err != nil {
		return nil, fmt.Errorf("encode the callback's data: %w", err)
	}
	// A wait that ended (or a node that was skipped) takes no callback.
	steps, err := e.store.ListSteps(ctx, target.RunID)
	if err != nil {
		return nil, err
	}
	for _, s := range steps {
		if s.NodeID == target.NodeID && s.Iteration == target.Iteration && s.Status != store.StepRunning {
			return nil, ErrResumeGone
		}
	}
	_, added, err := e.store.AddSignal(ctx, store.Signal{RunID: target.RunID, NodeID: target.NodeID, Iteration: target.Iteration,
		Kind: store.SignalCallback, Payload: payload})
	switch {
	case errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrRunFinished):
		return nil, ErrResumeGone
	case err != nil:
		return nil, err
	case !added:
		return nil, ErrResumeGone
	}
	e.Nudge()
	return e.store.GetRun(ctx, target.RunID)
}
