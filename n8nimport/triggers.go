package n8nimport

import (
	"fmt"
	"strings"

	"github.com/hookflow/hookflow/nodes"
)

// mapperFor gives the converter of an n8n node type (without the
// "n8n-nodes-base." prefix). A switch rather than a map, so there is no
// package state to change.
func mapperFor(typ string) (mapper, bool) {
	switch typ {
	case "webhook":
		return webhook, true
	case "manualTrigger":
		return manualTrigger, true
	case "executeWorkflowTrigger", "errorTrigger":
		return callTrigger, true
	case "cron":
		return cronTrigger, true
	case "scheduleTrigger":
		return scheduleTrigger, true
	case "respondToWebhook":
		return respondToWebhook, true
	case "set":
		return set, true
	case "renameKeys":
		return renameKeys, true
	case "noOp":
		return noOp, true
	case "if":
		return ifNode, true
	case "filter":
		return filterNode, true
	case "switch":
		return switchNode, true
	case "merge":
		return merge, true
	case "splitInBatches":
		return splitInBatches, true
	case "splitOut":
		return splitOut, true
	case "code", "function", "functionItem":
		return code, true
	case "httpRequest":
		return httpRequest, true
	case "slack":
		return slack, true
	case "discord":
		return discord, true
	case "telegram":
		return telegram, true
	case "emailSend":
		return emailSend, true
	case "postgres", "mySql", "timescaleDb":
		return database, true
	case "wait":
		return wait, true
	case "executeWorkflow":
		return executeWorkflow, true
	}
	return nil, false
}

// triggerKind is the Hookflow trigger an n8n node becomes, "" for others.
func triggerKind(n *n8nNode) string {
	switch n.shortType() {
	case "webhook":
		return nodes.KindWebhook
	case "manualTrigger":
		return "trigger.manual"
	case "cron", "scheduleTrigger":
		return nodes.KindCron
	case "executeWorkflowTrigger", "errorTrigger":
		return "trigger.call"
	}
	return ""
}

// secondTrigger refuses a trigger after the first: a Hookflow flow has
// exactly one, where an n8n workflow may have several.
func (b *nodeBuilder) secondTrigger() error {
	if b.c.trigger != b.n.Name {
		return fmt.Errorf("a Hookflow flow has one trigger, and %q is the one taken; import the part this trigger starts as a flow of its own", b.c.trigger)
	}
	return nil
}

func webhook(b *nodeBuilder) (string, error) {
	if err := b.secondTrigger(); err != nil {
		return "", err
	}
	p := b.p
	var methods []string
	if p.boolean(false, "multipleMethods") {
		for _, m := range p.list("httpMethod") {
			if s, ok := m.(string); ok {
				methods = append(methods, strings.ToUpper(s))
			}
		}
	} else {
		methods = []string{strings.ToUpper(p.str("GET", "httpMethod"))}
	}
	b.set("methods", methods)
	if path := p.str("", "path"); path != "" {
		b.caveat("Hookflow gives the flow its own trigger URL (/hooks/<key>); the n8n path %q is not kept: point the sender at the new URL", path)
	}
	switch mode := p.str("onReceived", "responseMode"); mode {
	case "lastNode", "responseNode":
		b.set("respond", nodes.RespondWhenDone)
		if mode == "lastNode" {
			if data := p.str("firstEntryJson", "responseData"); data != "firstEntryJson" && data != "allEntries" {
				b.caveat("the answer is the last step's output as JSON; n8n's response data %q is not taken over", data)
			}
		}
	default:
		if p.has("options", "responseCode") || p.has("options", "responseData") {
			b.caveat("Hookflow answers 202 with the run id at once; n8n's own response code and data are not taken over")
		}
	}
	switch auth := p.str("none", "authentication"); auth {
	case "basicAuth":
		b.set("verify", map[string]any{"scheme": "basic", "credential": b.credential(nodes.CredentialHTTPBasic, "httpBasicAuth")})
	case "headerAuth":
		b.set("verify", map[string]any{"scheme": "header", "header": "Authorization", "credential": b.credential(nodes.CredentialSecret, "httpHeaderAuth")})
		b.caveat("n8n keeps the header's name in its credential: verify.header is set to Authorization, change it if the sender uses another header; the credential holds the header's value")
	case "none":
	default:
		b.caveat("authentication %q has no Hookflow equivalent: the webhook accepts every request", auth)
	}
	if ip := p.str("", "options", "ipWhitelist"); ip != "" {
		b.caveat("the IP allow-list (%s) is not taken over: restrict the sender in front of Hookflow", ip)
	}
	if p.boolean(false, "options", "rawBody") || p.has("options", "binaryPropertyName") {
		b.caveat("the raw body is trigger.raw; binary uploads are not kept as files")
	}
	return nodes.KindWebhook, nil
}

func manualTrigger(b *nodeBuilder) (string, error) {
	if err := b.secondTrigger(); err != nil {
		return "", err
	}
	return "trigger.manual", nil
}

func callTrigger(b *nodeBuilder) (string, error) {
	if err := b.secondTrigger(); err != nil {
		return "", err
	}
	if b.n.shortType() == "errorTrigger" {
		b.caveat("name this flow in the failing flows' settings.error_flow; it receives the failed run as trigger.input (run_id, flow_id, node_id, error), not n8n's execution object")
	} else {
		b.caveat("the caller's items arrive as trigger.input, one value instead of a list of items")
	}
	return "trigger.call", nil
}

// cronTrigger maps the Cron node (n8n before 0.199): a list of trigger
// times, of which Hookflow takes the first.
func cronTrigger(b *nodeBuilder) (string, error) {
	if err := b.secondTrigger(); err != nil {
		return "", err
	}
	items := b.p.objects("triggerTimes", "item")
	if len(items) == 0 {
		return "", fmt.Errorf("the cron node has no trigger times")
	}
	if len(items) > 1 {
		b.caveat("%d trigger times: the flow takes the first; make a flow per further schedule", len(items))
	}
	t := items[0]
	hour, minute := int(t.num(14, "hour")), int(t.num(0, "minute"))
	var schedule string
	switch mode := t.str("everyDay", "mode"); mode {
	case "everyMinute":
		schedule = "* * * * *"
	case "everyHour":
		schedule = fmt.Sprintf("%d * * * *", minute)
	case "everyDay":
		schedule = fmt.Sprintf("%d %d * * *", minute, hour)
	case "everyWeek":
		schedule = fmt.Sprintf("%d %d * * %s", minute, hour, t.str("1", "weekday"))
	case "everyMonth":
		schedule = fmt.Sprintf("%d %d %d * *", minute, hour, int(t.num(1, "dayOfMonth")))
	case "everyX":
		unit := map[string]string{"minutes": "m", "hours": "h"}[t.str("hours", "unit")]
		if unit == "" {
			unit = "h"
		}
		schedule = fmt.Sprintf("@every %d%s", int(t.num(2, "value")), unit)
	case "custom":
		schedule = t.str("* * * * * *", "cronExpression")
	default:
		return "", fmt.Errorf("unknown cron mode %q", mode)
	}
	b.set("schedule", schedule)
	b.timezone()
	return nodes.KindCron, nil
}

// scheduleTrigger maps the Schedule Trigger's rules; Hookflow takes the
// first.
func scheduleTrigger(b *nodeBuilder) (string, error) {
	if err := b.secondTrigger(); err != nil {
		return "", err
	}
	rules := b.p.objects("rule", "interval")
	if len(rules) == 0 {
		rules = []params{{}}
	}
	if len(rules) > 1 {
		b.caveat("%d rules: the flow takes the first; make a flow per further schedule", len(rules))
	}
	r := rules[0]
	minute, hour := int(r.num(0, "triggerAtMinute")), int(r.num(0, "triggerAtHour"))
	every := func(name string, def float64) int { return max(1, int(r.num(def, name))) }
	var schedule string
	switch field := r.str("days", "field"); field {
	case "seconds":
		schedule = fmt.Sprintf("@every %ds", every("secondsInterval", 30))
	case "minutes":
		schedule = fmt.Sprintf("*/%d * * * *", every("minutesInterval", 5))
	case "hours":
		schedule = fmt.Sprintf("%d */%d * * *", minute, every("hoursInterval", 1))
	case "days":
		if n := every("daysInterval", 1); n > 1 {
			schedule = fmt.Sprintf("%d %d */%d * *", minute, hour, n)
		} else {
			schedule = fmt.Sprintf("%d %d * * *", minute, hour)
		}
	case "weeks":
		days := []string{}
		for _, d := range r.list("triggerAtDay") {
			days = append(days, fmt.Sprint(d))
		}
		if len(days) == 0 {
			days = []string{"0"}
		}
		if every("weeksInterval", 1) > 1 {
			b.caveat("every %d weeks is run every week: cron has no week interval", every("weeksInterval", 1))
		}
		schedule = fmt.Sprintf("%d %d * * %s", minute, hour, strings.Join(days, ","))
	case "months":
		schedule = fmt.Sprintf("%d %d %d */%d *", minute, hour, int(r.num(1, "triggerAtDayOfMonth")), every("monthsInterval", 1))
	case "cronExpression":
		schedule = r.str("", "expression")
	default:
		return "", fmt.Errorf("unknown schedule interval %q", field)
	}
	b.set("schedule", schedule)
	b.timezone()
	return nodes.KindCron, nil
}

// timezone takes the workflow's time zone; n8n's default is the server's,
// which the export does not hold.
func (b *nodeBuilder) timezone() {
	if tz, _ := b.c.w.Settings["timezone"].(string); tz != "" && tz != "DEFAULT" {
		b.set("timezone", tz)
		return
	}
	b.caveat("the workflow names no time zone (n8n uses the server's): the schedule runs in UTC")
}
