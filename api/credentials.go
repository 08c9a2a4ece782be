package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/hookflow/hookflow/accounts"
	"github.com/hookflow/hookflow/engine"
	"github.com/hookflow/hookflow/nodes"
	"github.com/hookflow/hookflow/store"
)

// credentialJSON is a credential as the API shows it: never its data.
type credentialJSON struct {
	Name      string    `json:"name"`
	Type      string    `json:"type"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	// UsedBy lists the flows whose current version names the credential.
	UsedBy []engine.FlowRef `json:"used_by"`
}

// renderCredential shows a credential with the flows that use it (an
// empty list, not null, when none does).
func renderCredential(c *store.Credential, used map[string][]engine.FlowRef) credentialJSON {
	out := credentialJSON{Name: c.Name, Type: c.Type, CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt, UsedBy: used[c.Name]}
	if out.UsedBy == nil {
		out.UsedBy = []engine.FlowRef{}
	}
	return out
}

// sendCredential answers with one credential.
func (s *server) sendCredential(c *fiber.Ctx, status int, cred *store.Credential) error {
	used, err := s.credentials.UsedBy(c.UserContext())
	if err != nil {
		return err
	}
	return c.Status(status).JSON(renderCredential(cred, used))
}

type credentialRequest struct {
	Name string          `json:"name"`
	Type string          `json:"type"`
	Data json.RawMessage `json:"data"`
}

func credentialNotFound(name string, err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return errorf(fiber.StatusNotFound, "credential %q not found", name)
	}
	return err
}

func (s *server) createCredential(c *fiber.Ctx) error {
	var req credentialRequest
	if err := decodeBody(c, &req); err != nil {
		return err
	}
	created, err := s.credentials.Create(c.UserContext(), req.Name, req.Type, req.Data)
	if errors.Is(err, store.ErrExists) {
		return errorf(fiber.StatusConflict, "a credential named %q already exists", req.Name)
	}
	if err != nil {
		return err
	}
	s.auditCredential(c, "credential.created", created.Name, created.Type)
	c.Location("/api/v1/credentials/" + created.Name)
	return s.sendCredential(c, fiber.StatusCreated, created)
}

func (s *server) listCredentials(c *fiber.Ctx) error {
	list, err := s.store.ListCredentials(c.UserContext())
	if err != nil {
		return err
	}
	used, err := s.credentials.UsedBy(c.UserContext())
	if err != nil {
		return err
	}
	out := make([]credentialJSON, len(list))
	for i, cred := range list {
		out[i] = renderCredential(cred, used)
	}
	return c.JSON(fiber.Map{"credentials": out})
}

func (s *server) getCredential(c *fiber.Ctx) error {
	name := c.Params("name")
	cred, err := s.store.GetCredential(c.UserContext(), name)
	if err != nil {
		return credentialNotFound(name, err)
	}
	return s.sendCredential(c, fiber.StatusOK, cred)
}

func (s *server) updateCredential(c *fiber.Ctx) error {
	name := c.Params("name")
	var req credentialRequest
	if err := decodeBody(c, &req); err != nil {
		return err
	}
	if req.Name != "" && req.Name != name {
		return errorf(fiber.StatusBadRequest, "name %q in the body differs from %q in the path: a credential cannot be renamed", req.Name, name)
	}
	updated, err := s.credentials.Update(c.UserContext(), name, req.Type, req.Data)
	if err != nil {
		return credentialNotFound(name, err)
	}
	s.auditCredential(c, "credential.updated", updated.Name, updated.Type)
	return s.sendCredential(c, fiber.StatusOK, updated)
}

func (s *server) deleteCredential(c *fiber.Ctx) error {
	name := c.Params("name")
	if err := s.credentials.Delete(c.UserContext(), name); err != nil {
		return credentialNotFound(name, err)
	}
	s.auditCredential(c, "credential.deleted", name, "")
	return c.SendStatus(fiber.StatusNoContent)
}

// auditCredential records a change to a credential: its name and type,
// never its data.
func (s *server) auditCredential(c *fiber.Ctx, action, name, typ string) {
	var detail map[string]any
	if typ != "" {
		detail = map[string]any{"type": typ}
	}
	s.accounts.Record(c.UserContext(), actor(c), action, accounts.Target{Kind: "credential", ID: name, Name: name}, detail)
}

type credentialTypeJSON struct {
	*nodes.CredentialType
	Schema map[string]any `json:"schema"`
}

func credentialTypesJSON(reg *nodes.Registry) ([]byte, error) {
	types := reg.CredentialTypes()
	out := make([]credentialTypeJSON, len(types))
	for i, t := range types {
		out[i] = credentialTypeJSON{CredentialType: t, Schema: t.JSONSchema()}
	}
	data, err := json.Marshal(map[string]any{"credential_types": out})
	if err != nil {
		return nil, fmt.Errorf("encode credential types: %w", err)
	}
	return data, nil
}

func (s *server) listCredentialTypes(c *fiber.Ctx) error {
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	return c.Send(s.credentialTypes)
}
