package webhook

import (
	"github.com/tidwall/gjson"
)

// senderIDs are the headers senders put their delivery id in, and the
// prefix that says whose id a key is, in the order they are tried.
var senderIDs = []struct{ header, prefix string }{
	{"X-GitHub-Delivery", "github"},
	{"webhook-id", "webhook-id"},
	{"svix-id", "webhook-id"},
	{"X-Shopify-Event-Id", "shopify"},
	{"X-Gitlab-Event-UUID", "gitlab"},
	{"I-Twilio-Idempotency-Token", "twilio"},
	{"Idempotency-Key", "idempotency-key"},
}

// DeliveryID returns the id the sender gave this delivery, as a dedupe key
// naming its source ("github:72d3…"), or "" when it gave none. Senders
// that put the id in the body are recognised by their signature header:
// Stripe's event id, Slack's event_id. Retries of a delivery carry the same
// id, so a repeated key is a repeated delivery.
func DeliveryID(header Header, kind Kind, body []byte) string {
	for _, s := range senderIDs {
		if v := header.Get(s.header); v != "" {
			return s.prefix + ":" + v
		}
	}
	if kind != KindJSON {
		return ""
	}
	if header.Get("Stripe-Signature") != "" {
		if id := gjson.GetBytes(body, "id"); id.Type == gjson.String && id.Str != "" {
			return "stripe:" + id.Str
		}
	}
	if header.Get("X-Slack-Signature") != "" {
		if id := gjson.GetBytes(body, "event_id"); id.Type == gjson.String && id.Str != "" {
			return "slack:" + id.Str
		}
	}
	return ""
}
