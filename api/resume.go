package api

import (
	"errors"
	"net/url"

	"github.com/gofiber/fiber/v2"

	"github.com/hookflow/hookflow/engine"
	"github.com/hookflow/hookflow/engine/webhook"
)

// resumeAnswer is the answer to a request to a resume URL that ended a
// wait.
type resumeAnswer struct {
	RunID  string `json:"run_id"`
	Status string `json:"status"`
}

// resume takes a request to a wait.callback step's resume URL: its body,
// or with none its query, becomes the step's output and the run goes on.
// The URL is its own credential, like a trigger URL.
func (s *server) resume(c *fiber.Ctx) error {
	body := c.Body()
	if len(body) > s.maxBody {
		return errorf(fiber.StatusRequestEntityTooLarge, "the body is %d bytes; the limit is %d", len(body), s.maxBody)
	}
	var data any
	if len(body) > 0 {
		var err error
		if data, err = webhook.ParseBody(c.Get(fiber.HeaderContentType), body); err != nil {
			return errorf(fiber.StatusBadRequest, "body: %v", err)
		}
	}
	if data == nil {
		query, err := url.ParseQuery(string(c.Request().URI().QueryString()))
		if err != nil {
			return errorf(fiber.StatusBadRequest, "query: %v", err)
		}
		data = webhook.Values(query)
	}
	run, err := s.engine.Resume(c.UserContext(), c.Params("token"), data)
	if errors.Is(err, engine.ErrResumeGone) {
		return errorf(fiber.StatusNotFound, "%v", err)
	}
	if err != nil {
		return err
	}
	return c.JSON(resumeAnswer{RunID: run.ID, Status: "resumed"})
}
