package api

import (
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/hookflow/hookflow/engine/ingress"
	"github.com/hookflow/hookflow/engine/metrics"
)

// hook takes a request to a trigger URL: ANY /hooks/{key} and
// /hooks/{key}/*. The ingress decides; this only translates.
func (s *server) hook(c *fiber.Ctx) error {
	s.metrics.WebhookReceived()
	path := c.Params("*")
	if path != "" {
		path = "/" + path
	}
	req := ingressRequest(c, c.Params("key"), path)
	var reply *ingress.Reply
	if len(req.Body) > s.maxBody {
		req.Body = nil
		reply = s.ingress.TooLarge(c.UserContext(), req, s.maxBody)
	} else {
		reply = s.ingress.Receive(c.UserContext(), req)
	}
	return s.answerHook(c, reply)
}

// answerHook counts what became of a request to a trigger URL and sends
// the ingress's answer. Every such request passes here once, whichever
// path of the ingress answered it.
func (s *server) answerHook(c *fiber.Ctx, reply *ingress.Reply) error {
	switch reply.Outcome() {
	case ingress.Accepted:
		s.metrics.WebhookAccepted()
	case ingress.Duplicate:
		s.metrics.WebhookDuplicate()
	case ingress.Captured:
		s.metrics.WebhookCaptured()
	default:
		s.metrics.WebhookRejected(metrics.RejectReason(reply.Status))
	}
	return sendReply(c, reply)
}

// ingressRequest copies what the ingress needs out of fasthttp's buffers,
// which are reused once the handler returns.
func ingressRequest(c *fiber.Ctx, key, path string) *ingress.Request {
	r := c.Request()
	headers := make(map[string]string, r.Header.Len())
	r.Header.VisitAll(func(k, v []byte) {
		name := strings.ToLower(string(k))
		if prev, ok := headers[name]; ok {
			headers[name] = prev + ", " + string(v)
		} else {
			headers[name] = string(v)
		}
	})
	body := c.Body()
	return &ingress.Request{
		Key:         key,
		Path:        path,
		Method:      c.Method(),
		Query:       string(r.URI().QueryString()),
		Headers:     headers,
		ContentType: string(r.Header.ContentType()),
		Body:        body,
		BodySize:    len(body),
		ReceivedAt:  time.Now(),
	}
}

func sendReply(c *fiber.Ctx, reply *ingress.Reply) error {
	for k, v := range reply.Headers {
		c.Set(k, v)
	}
	c.Status(reply.Status)
	if len(reply.Body) == 0 {
		return nil
	}
	return c.Send(reply.Body)
}

// hookTooLarge answers a request to a trigger URL that fasthttp refused
// for its announced size, recording it as the ingress does any refusal.
func (s *server) hookTooLarge(c *fiber.Ctx) error {
	s.metrics.WebhookReceived()
	// A request refused before routing has no route parameters: read the
	// key from the path.
	key, path, _ := strings.Cut(strings.TrimPrefix(c.Path(), "/hooks/"), "/")
	if path != "" {
		path = "/" + path
	}
	req := ingressRequest(c, key, path)
	req.Body = nil
	req.BodySize = c.Request().Header.ContentLength()
	return s.answerHook(c, s.ingress.TooLarge(c.UserContext(), req, s.maxBody))
}
