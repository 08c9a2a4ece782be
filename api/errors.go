package api

import (
	"errors"
	"fmt"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/hookflow/hookflow/engine"
	"github.com/hookflow/hookflow/store"
)

// Error is an error with the HTTP status it answers and a message safe to
// show the client.
type Error struct {
	Status  int
	Message string
}

func (e *Error) Error() string { return e.Message }

// errorf builds an Error with a formatted message.
func errorf(status int, format string, args ...any) *Error {
	return &Error{Status: status, Message: fmt.Sprintf(format, args...)}
}

// errorBody is every error answer: {"error": "..."}, with the problems of an
// invalid flow, or the request id of a server fault.
type errorBody struct {
	Error     string           `json:"error"`
	Problems  []engine.Problem `json:"problems,omitempty"`
	RequestID string           `json:"request_id,omitempty"`
}

// handleError is the one place errors become HTTP answers. Client mistakes
// get their 4xx and a message; anything unexpected is logged and answers 500
// with the request id, never the internal message.
func (s *server) handleError(c *fiber.Ctx, err error) error {
	var fiberErr *fiber.Error
	if errors.As(err, &fiberErr) && fiberErr.Code == fiber.StatusRequestEntityTooLarge && strings.HasPrefix(c.Path(), "/hooks/") {
		// Refused while reading, before routing: still a delivery to record.
		return s.hookTooLarge(c)
	}
	status, body := describeError(c, err)
	if status >= fiber.StatusInternalServerError {
		body.RequestID = requestID(c)
		s.log.ErrorContext(c.UserContext(), "request failed",
			"request_id", body.RequestID, "method", c.Method(), "path", c.Path(), "error", err)
	}
	return c.Status(status).JSON(body)
}

func describeError(c *fiber.Ctx, err error) (int, errorBody) {
	var (
		apiErr            *Error
		fiberErr          *fiber.Error
		invalid           *engine.InvalidFlowError
		invalidTest       *engine.InvalidTestError
		invalidCredential *engine.InvalidCredentialError
		malformed         *engine.MalformedFlowError
		preview           *engine.PreviewError
		inUse             *engine.CredentialInUseError
	)
	if status, body, ok := describeAccountsError(c, err); ok {
		return status, body
	}
	switch {
	case errors.As(err, &apiErr):
		return apiErr.Status, errorBody{Error: apiErr.Message}
	case errors.As(err, &invalid):
		return fiber.StatusUnprocessableEntity, errorBody{Error: invalid.Error(), Problems: invalid.Problems}
	case errors.As(err, &invalidTest):
		return fiber.StatusUnprocessableEntity, errorBody{Error: invalidTest.Error(), Problems: invalidTest.Problems}
	case errors.As(err, &invalidCredential):
		return fiber.StatusUnprocessableEntity, errorBody{Error: invalidCredential.Error(), Problems: invalidCredential.Problems}
	case errors.As(err, &inUse):
		return fiber.StatusConflict, errorBody{Error: inUse.Error()}
	case errors.As(err, &preview):
		return fiber.StatusUnprocessableEntity, errorBody{Error: preview.Error(), Problems: []engine.Problem{preview.Problem}}
	case errors.As(err, &malformed):
		return fiber.StatusBadRequest, errorBody{Error: malformed.Error()}
	case errors.Is(err, engine.ErrFlowTooLarge):
		return fiber.StatusRequestEntityTooLarge, errorBody{Error: err.Error()}
	case errors.Is(err, store.ErrNotFound):
		return fiber.StatusNotFound, errorBody{Error: "not found"}
	case errors.As(err, &fiberErr):
		switch fiberErr.Code {
		case fiber.StatusNotFound:
			return fiberErr.Code, errorBody{Error: fmt.Sprintf("no such route: %s %s", c.Method(), c.Path())}
		case fiber.StatusRequestEntityTooLarge:
			return fiberErr.Code, errorBody{Error: "request body is too large"}
		case fiber.StatusInternalServerError:
			return fiberErr.Code, errorBody{Error: "internal error"}
		}
		return fiberErr.Code, errorBody{Error: fiberErr.Message}
	}
	return fiber.StatusInternalServerError, errorBody{Error: "internal error"}
}
