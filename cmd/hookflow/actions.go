package main

import (
	"errors"
	"strings"
	"time"

	"github.com/hookflow/hookflow/engine/netguard"
	"github.com/hookflow/hookflow/nodes"
)

// maxOutboundTime bounds any one outbound request, redirects included; a
// node's own timeout is usually shorter.
const maxOutboundTime = 5 * time.Minute

// actionServices builds what action nodes reach the world through: the
// credentials, an HTTP client behind the SSRF guard, and database pools.
// credentials may be nil where there are none (hookflow run).
func actionServices(allowPrivate bool, allowedHosts, slackAPIURL string, credentials nodes.CredentialOpener) (*nodes.Services, error) {
	guard, err := netguard.New(allowPrivate, splitList(allowedHosts))
	if err != nil {
		return nil, err
	}
	return &nodes.Services{
		Credentials: credentials,
		HTTP:        guard.Client(maxOutboundTime),
		CheckURL:    guard.CheckURL,
		Refused: func(err error) bool {
			var blocked *netguard.BlockedError
			return errors.As(err, &blocked)
		},
		Dial:        guard.DialContext,
		Databases:   nodes.NewDatabases(guard.DialContext),
		Brokers:     nodes.NewBrokerConnections(),
		SlackAPIURL: slackAPIURL,
	}, nil
}

// splitList reads a comma-separated setting.
func splitList(s string) []string {
	var out []string
	for _, item := range strings.Split(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}
