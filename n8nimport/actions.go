package n8nimport

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

	"github.com/hookflow/hookflow/nodes"
)

// codePrelude gives n8n's Code node names a Hookflow code node lacks, built
// from input and steps: items as n8n's list of {json}, $input, $json,
// $('Name') and $node["Name"] by the ids the nodes became. __n8nOut turns
// what n8n code returns (items) back into one value.
const codePrelude = `const __ids = %s;
const __item = (v) => ({json: v});
const items = Array.isArray(input) ? input.map(__item) : [__item(input)];
const item = items[0];
const $json = items[0].json;
const $input = {all: () => items, first: () => items[0], last: () => items[items.length - 1], item: items[0]};
const $ = (name) => { const v = steps[__ids[name]]; const its = Array.isArray(v) ? v.map(__item) : [__item(v)]; return {item: its[0], first: () => its[0], last: () => its[its.length - 1], all: () => its}; };
const $node = new Proxy({}, {get: (_, name) => ({json: steps[__ids[name]]})});
const $env = env;
const __n8nOut = (out) => {
  const one = (v) => (v && typeof v === 'object' && 'json' in v) ? v.json : v;
  if (Array.isArray(out)) { const vs = out.map(one); return vs.length === 1 ? vs[0] : vs; }
  return one(out);
};
`

// code maps the Code node (and the Function nodes before it) to a code
// node whose prelude emulates n8n's item model for one item.
func code(b *nodeBuilder) (string, error) {
	p := b.p
	var src string
	switch b.n.shortType() {
	case "function", "functionItem":
		src = p.str("", "functionCode")
	default:
		if lang := p.str("javaScript", "language"); lang != "javaScript" {
			return "", fmt.Errorf("%s code has no Hookflow equivalent: the code node runs JavaScript", lang)
		}
		src = p.str("", "jsCode")
	}
	if strings.TrimSpace(src) == "" {
		return "", fmt.Errorf("the node has no code")
	}
	for _, bad := range []struct{ use, why string }{
		{"require(", "require() loads no modules in Hookflow"},
		{"getWorkflowStaticData", "workflow static data has no Hookflow equivalent"},
		{"this.helpers", "n8n's helpers (HTTP requests, binary data) have no Hookflow equivalent"},
		{"$items(", "$items() has no Hookflow equivalent"},
		{"binary", "binary data has no Hookflow equivalent"},
	} {
		if strings.Contains(src, bad.use) {
			b.caveat("the code uses %s: %s; it fails when it gets there", bad.use, bad.why)
		}
	}
	ids, _ := json.Marshal(b.c.ids)
	body := "return __n8nOut((() => {\n" + src + "\n})());"
	if strings.Contains(src, "await ") {
		body = "return (async () => __n8nOut(await (async () => {\n" + src + "\n})()))();"
	}
	b.set("code", fmt.Sprintf(codePrelude, ids)+body)
	b.caveat("n8n's items are emulated for one item (items, $input, $json, $('Name'), $node): check the output, which is the returned item's json")
	return "code", nil
}

// httpRequest maps HTTP Request 1–2 (…Ui parameters, jsonParameters) and
// 3–4 (send… switches, contentType, specifyBody).
func httpRequest(b *nodeBuilder) (string, error) {
	p := b.p
	v1 := b.n.TypeVersion < 3
	if v1 {
		b.set("method", strings.ToUpper(p.str("GET", "requestMethod")))
	} else {
		b.set("method", strings.ToUpper(p.str("GET", "method")))
	}
	b.set("url", b.tmpl("url", p.get("url")))
	// Expressions reading this node's json read its output's body; with
	// the full response they read the output itself, named differently.
	if fullResponse(p) {
		b.caveat("n8n's full response has statusCode and statusMessage where Hookflow's output has status: expressions reading them need rewriting")
	}
	var query, headers map[string]string
	bodyType := "json"
	var body any
	if v1 {
		json1 := p.boolean(false, "jsonParameters")
		if json1 {
			query = b.jsonPairs("query", p.get("queryParametersJson"))
			headers = b.jsonPairs("headers", p.get("headerParametersJson"))
			if p.has("bodyParametersJson") {
				body = b.jsonValue("body", p.get("bodyParametersJson"))
			}
		} else {
			query = b.pairs("query", p.objects("queryParametersUi", "parameter"))
			headers = b.pairs("headers", p.objects("headerParametersUi", "parameter"))
			if ps := p.objects("bodyParametersUi", "parameter"); len(ps) > 0 {
				body = toAny(b.pairs("body", ps))
			}
		}
		switch ct := p.str("json", "options", "bodyContentType"); ct {
		case "form-urlencoded":
			bodyType = "form"
		case "multipart-form-data":
			bodyType = "form"
			b.caveat("multipart bodies are sent urlencoded")
		case "raw":
			bodyType = "raw"
		}
		if p.str("json", "responseFormat") == "file" {
			b.caveat("the answer is not kept as a file: a binary answer is {base64, content_type}")
		}
		b.httpAuth(p.str("none", "authentication"), "")
	} else {
		if p.boolean(false, "sendQuery") {
			if p.str("keypair", "specifyQuery") == "json" {
				query = b.jsonPairs("query", p.get("jsonQuery"))
			} else {
				query = b.pairs("query", p.objects("queryParameters", "parameters"))
			}
		}
		if p.boolean(false, "sendHeaders") {
			if p.str("keypair", "specifyHeaders") == "json" {
				headers = b.jsonPairs("headers", p.get("jsonHeaders"))
			} else {
				headers = b.pairs("headers", p.objects("headerParameters", "parameters"))
			}
		}
		if p.boolean(false, "sendBody") {
			switch ct := p.str("json", "contentType"); ct {
			case "json", "form-urlencoded", "multipart-form-data":
				if ct != "json" {
					bodyType = "form"
				}
				if ct == "multipart-form-data" {
					b.caveat("multipart bodies are sent urlencoded; files are not sent")
				}
				if p.str("keypair", "specifyBody") == "json" {
					body = b.jsonValue("body", p.get("jsonBody"))
				} else if p.str("keypair", "specifyBody") == "string" {
					bodyType = "raw"
					body = b.tmpl("body", p.get("body"))
				} else {
					body = toAny(b.pairs("body", p.objects("bodyParameters", "parameters")))
				}
			case "raw":
				bodyType = "raw"
				body = b.tmpl("body", p.get("body"))
				if rct := p.str("", "rawContentType"); rct != "" {
					if headers == nil {
						headers = map[string]string{}
					}
					headers["Content-Type"] = b.tmpl("headers.Content-Type", rct)
				}
			default:
				b.caveat("the %s body is not sent: Hookflow sends JSON, form or text bodies", ct)
			}
		}
		if p.str("", "options", "response", "response", "responseFormat") == "file" {
			b.caveat("the answer is not kept as a file: a binary answer is {base64, content_type}")
		}
		if p.boolean(false, "options", "response", "response", "neverError") {
			b.set("accept_any_status", true)
		}
		auth := p.str("none", "authentication")
		switch auth {
		case "genericCredentialType":
			b.httpAuth(p.str("", "genericAuthType"), "")
		case "predefinedCredentialType":
			b.httpAuth("predefined", p.str("", "nodeCredentialType"))
		}
	}
	if t := p.num(0, "options", "timeout"); t > 0 {
		b.set("request_timeout_ms", int(min(t, 24*3600*1000)))
	}
	b.set("query", query)
	b.set("headers", headers)
	if body != nil {
		b.set("body", body)
		if bodyType != "json" {
			b.set("body_type", bodyType)
		}
	}
	if p.has("options", "batching") || p.has("options", "pagination") {
		b.caveat("batching and pagination are not taken over: one request is sent")
	}
	return nodes.KindHTTPRequest, nil
}

// httpAuth maps the request's authentication to a credential.
func (b *nodeBuilder) httpAuth(auth, predefined string) {
	switch auth {
	case "none", "":
	case "basicAuth", "httpBasicAuth":
		b.set("credential", b.credential(nodes.CredentialHTTPBasic, "httpBasicAuth"))
	case "headerAuth", "httpHeaderAuth":
		b.set("credential", b.credential(nodes.CredentialHTTPHeader, "httpHeaderAuth"))
	case "httpBearerAuth":
		b.set("credential", b.credential(nodes.CredentialHTTPBearer, "httpBearerAuth"))
	case "predefined":
		if name := b.credential(nodes.CredentialHTTPHeader, predefined); name != "" {
			b.set("credential", name)
			b.caveat("the n8n %s credential becomes an http_header credential: give it the header the API takes (an API key, or Authorization: Bearer …)", predefined)
		}
	default:
		if name := b.credential(nodes.CredentialHTTPBearer); name != "" {
			b.set("credential", name)
		}
		b.caveat("%s authentication has no Hookflow equivalent: the credential is an http_bearer one; put a token in it, and renew it yourself", auth)
	}
}

// jsonPairs reads JSON text of name → value (query or headers) as
// templates.
func (b *nodeBuilder) jsonPairs(field string, v any) map[string]string {
	parsed := b.jsonValue(field, v)
	m, ok := parsed.(map[string]any)
	if !ok {
		b.caveat("%s is not a JSON object: left out", field)
		return nil
	}
	out := map[string]string{}
	for k, v := range m {
		if s, ok := v.(string); ok {
			out[k] = s
		} else {
			data, _ := json.Marshal(v)
			out[k] = string(data)
		}
	}
	return out
}

func toAny(m map[string]string) any {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// slack maps Slack's message post (version 1's channel, 2's channelId or
// user locator).
func slack(b *nodeBuilder) (string, error) {
	p := b.p
	if r, op := p.str("message", "resource"), p.str("post", "operation"); r != "message" || op != "post" {
		return "", fmt.Errorf("Slack %s %s has no Hookflow equivalent: slack.message posts messages", r, op)
	}
	b.set("credential", b.credential(nodes.CredentialSlack, "slackApi", "slackOAuth2Api"))
	channel := p.get("channel")
	if b.n.TypeVersion >= 2 {
		channel = p.get("channelId")
		if p.str("channel", "select") == "user" {
			channel = p.get("user")
		}
	}
	b.set("channel", b.tmpl("channel", channel))
	b.set("text", b.tmpl("text", p.get("text")))
	if blocks := p.get("blocksUi"); blocks != nil {
		if s, ok := blocks.(string); ok {
			v := b.jsonValue("blocks", s)
			if m, ok := v.(map[string]any); ok && m["blocks"] != nil {
				v = m["blocks"]
			}
			b.set("blocks", v)
		} else {
			b.caveat("the blocks built in n8n's UI are not taken over")
		}
	}
	if p.has("attachments") || p.has("otherOptions", "attachments") {
		b.caveat("attachments are not taken over")
	}
	if ts := p.get("otherOptions", "thread_ts", "replyValues", "thread_ts"); ts != nil {
		b.set("thread_ts", b.tmpl("thread_ts", ts))
	}
	return nodes.KindSlackMessage, nil
}

func discord(b *nodeBuilder) (string, error) {
	p := b.p
	if b.n.TypeVersion < 2 {
		b.set("content", b.tmpl("content", p.get("text")))
		b.caveat("the webhook URL is in the node in n8n: create a discord credential %q with webhook_url %s", credentialName(b.n.Name, b.n.Name), p.str("", "webhookUri"))
		b.set("credential", credentialName(b.n.Name, b.n.Name))
	} else {
		if r, op := p.str("message", "resource"), p.str("send", "operation"); r != "message" || op != "send" {
			return "", fmt.Errorf("Discord %s %s has no Hookflow equivalent: discord.message sends messages", r, op)
		}
		if auth := p.str("botToken", "authentication"); auth != "webhook" {
			return "", fmt.Errorf("Discord with %s authentication has no Hookflow equivalent: discord.message posts through a channel webhook", auth)
		}
		b.set("credential", b.credential(nodes.CredentialDiscord, "discordWebhookApi"))
		b.set("content", b.tmpl("content", p.get("content")))
	}
	if u := p.get("options", "username"); u != nil {
		b.set("username", b.tmpl("username", u))
	}
	if u := p.get("options", "avatar_url"); u != nil {
		b.set("avatar_url", b.tmpl("avatar_url", u))
	}
	if p.has("embeds") || p.has("options", "embeds") {
		b.caveat("embeds are not taken over")
	}
	return nodes.KindDiscordMessage, nil
}

func telegram(b *nodeBuilder) (string, error) {
	p := b.p
	if r, op := p.str("message", "resource"), p.str("sendMessage", "operation"); r != "message" || op != "sendMessage" {
		return "", fmt.Errorf("Telegram %s %s has no Hookflow equivalent: telegram.message sends text messages", r, op)
	}
	b.set("credential", b.credential(nodes.CredentialTelegram, "telegramApi"))
	b.set("chat_id", b.tmpl("chat_id", p.get("chatId")))
	b.set("text", b.tmpl("text", p.get("text")))
	switch mode := p.str("", "additionalFields", "parse_mode"); mode {
	case "":
	case "HTML", "MarkdownV2":
		b.set("parse_mode", mode)
	case "Markdown":
		b.set("parse_mode", "MarkdownV2")
		b.caveat("Telegram's legacy Markdown becomes MarkdownV2, which needs more characters escaped")
	}
	if p.boolean(false, "additionalFields", "disable_notification") {
		b.set("disable_notification", true)
	}
	return nodes.KindTelegramMessage, nil
}

// emailSend maps Send Email 1 (text and html) and 2 (emailFormat).
func emailSend(b *nodeBuilder) (string, error) {
	p := b.p
	b.set("credential", b.credential(nodes.CredentialSMTP, "smtp"))
	b.set("from", b.tmpl("from", p.get("fromEmail")))
	b.set("to", b.tmpl("to", p.get("toEmail")))
	b.set("subject", b.tmpl("subject", p.get("subject")))
	if b.n.TypeVersion < 2 {
		b.set("cc", b.tmpl("cc", p.get("ccEmail")))
		b.set("bcc", b.tmpl("bcc", p.get("bccEmail")))
		b.set("text", b.tmpl("text", p.get("text")))
		b.set("html", b.tmpl("html", p.get("html")))
	} else {
		b.set("cc", b.tmpl("cc", p.get("options", "ccEmail")))
		b.set("bcc", b.tmpl("bcc", p.get("options", "bccEmail")))
		b.set("reply_to", b.tmpl("reply_to", p.get("options", "replyTo")))
		def := "text"
		if b.n.TypeVersion >= 2.1 {
			def = "html"
		}
		format := p.str(def, "emailFormat")
		if format == "text" || format == "both" {
			b.set("text", b.tmpl("text", p.get("text")))
		}
		if format == "html" || format == "both" {
			b.set("html", b.tmpl("html", p.get("html")))
		}
		if p.boolean(true, "options", "appendAttribution") && b.n.TypeVersion >= 2.1 {
			b.caveat("n8n's attribution line is not added")
		}
	}
	if p.has("attachments") || p.has("options", "attachments") {
		b.caveat("attachments are n8n binary data: set attachments to an expression giving {filename, content}")
	}
	return nodes.KindEmailSend, nil
}

var sqlName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$`)

// database maps Postgres, MySQL and TimescaleDB: writes to db.write,
// selects and read-only queries to db.query.
func database(b *nodeBuilder) (string, error) {
	p := b.p
	cred := b.credential(nodes.CredentialDatabase, "postgres", "mySql", "timescaleDb")
	table := p.str("", "table")
	if schema := p.str("", "schema"); schema != "" && schema != "public" && table != "" {
		table = schema + "." + table
	}
	op := p.str("insert", "operation")
	if op == "executeQuery" {
		return b.executeQuery(cred)
	}
	if table == "" || strings.HasPrefix(table, "=") || !sqlName.MatchString(table) {
		return "", fmt.Errorf("the table %q is not a plain name: Hookflow's table is fixed when the flow is saved", table)
	}
	values := map[string]string{}
	var keys []string
	if p.has("columns", "mappingMode") {
		if p.str("defineBelow", "columns", "mappingMode") == "autoMapInputData" {
			return "", fmt.Errorf("the columns are mapped from the input's fields automatically: Hookflow needs them named (db.write values)")
		}
		for col, v := range p.object("columns", "value") {
			values[col] = b.expr("values."+col, v)
		}
		for _, k := range p.list("columns", "matchingColumns") {
			keys = append(keys, fmt.Sprint(k))
		}
	} else {
		for _, col := range splitNames(p.str("", "columns")) {
			values[col] = b.jsonField(col)
		}
		keys = splitNames(p.str("id", "updateKey"))
	}
	switch op {
	case "select":
		query := "SELECT * FROM " + table
		paramsOut := map[string]string{}
		var where []string
		for i, w := range p.objects("where", "values") {
			col := w.str("", "column")
			if !sqlName.MatchString(col) {
				return "", fmt.Errorf("where column %q is not a plain name", col)
			}
			cmp, ok := map[string]string{"equal": "=", "!=": "!=", "LIKE": "LIKE", ">": ">", "<": "<", ">=": ">=", "<=": "<="}[w.str("equal", "condition")]
			if !ok {
				return "", fmt.Errorf("where condition %q has no Hookflow equivalent", w.str("", "condition"))
			}
			name := fmt.Sprintf("p%d", i+1)
			where = append(where, fmt.Sprintf("%s %s :%s", col, cmp, name))
			paramsOut[name] = b.expr("params."+name, w.get("value"))
		}
		if len(where) > 0 {
			query += " WHERE " + strings.Join(where, " "+b.combine()+" ")
		}
		b.set("credential", cred)
		b.set("query", query)
		b.set("params", paramsOut)
		if p.boolean(false, "returnAll") {
			b.set("limit", nodes.MaxQueryLimit)
			b.caveat("return all: at most %d rows", nodes.MaxQueryLimit)
		} else {
			b.set("limit", int(max(1, min(p.num(50, "limit"), nodes.MaxQueryLimit))))
		}
		return nodes.KindDBQuery, nil
	case "insert", "update", "upsert":
	case "deleteTable":
		return b.deleteRows(cred, table)
	default:
		return "", fmt.Errorf("the %s operation has no Hookflow equivalent", op)
	}
	if len(values) == 0 {
		return "", fmt.Errorf("no columns to write")
	}
	b.set("credential", cred)
	b.set("table", table)
	b.set("operation", op)
	switch op {
	case "update":
		where := map[string]string{}
		for _, k := range keys {
			if v, ok := values[k]; ok {
				where[k] = v
				delete(values, k)
			}
		}
		b.set("where", where)
	case "upsert":
		b.set("conflict", keys)
	}
	b.set("values", values)
	b.caveat("n8n writes every item of its input; db.write writes one row")
	return nodes.KindDBWrite, nil
}

// combine is how the database node joins its where conditions.
func (b *nodeBuilder) combine() string {
	if strings.EqualFold(b.p.str("AND", "combineConditions"), "OR") {
		return "OR"
	}
	return "AND"
}

// deleteRows maps Delete with the "delete" command: rows matching
// equality conditions, ANDed, as db.write's delete takes them. Truncating
// or dropping a table, and other conditions, have no equivalent.
func (b *nodeBuilder) deleteRows(cred, table string) (string, error) {
	p := b.p
	if cmd := p.str("truncate", "deleteCommand"); cmd != "delete" {
		return "", fmt.Errorf("the %s command of the delete operation has no Hookflow equivalent: db.write deletes rows that match where", cmd)
	}
	conditions := p.objects("where", "values")
	if len(conditions) == 0 {
		return "", fmt.Errorf("deleting every row has no Hookflow equivalent: db.write's delete needs where")
	}
	if len(conditions) > 1 && b.combine() == "OR" {
		return "", fmt.Errorf("conditions joined with OR have no Hookflow equivalent: db.write's where ANDs them")
	}
	where := map[string]string{}
	for _, w := range conditions {
		col := w.str("", "column")
		if !sqlName.MatchString(col) {
			return "", fmt.Errorf("where column %q is not a plain name", col)
		}
		switch cond := w.str("equal", "condition"); cond {
		case "equal":
			where[col] = b.expr("where."+col, w.get("value"))
		case "IS NULL":
			where[col] = "nil"
		default:
			return "", fmt.Errorf("where condition %q has no Hookflow equivalent: db.write's where matches equal values", cond)
		}
	}
	b.set("credential", cred)
	b.set("table", table)
	b.set("operation", "delete")
	b.set("where", where)
	b.caveat("n8n deletes for every item of its input; db.write deletes once")
	return nodes.KindDBWrite, nil
}

// executeQuery maps Execute Query: a read-only query becomes db.query
// with each {{ }} placeholder a bound parameter.
func (b *nodeBuilder) executeQuery(cred string) (string, error) {
	raw := b.p.str("", "query")
	first := strings.ToUpper(strings.Fields(strings.TrimPrefix(raw, "=") + " x")[0])
	if first != "SELECT" && first != "WITH" {
		return "", fmt.Errorf("the query is not a SELECT: db.query only reads, and db.write takes a table and values, not SQL")
	}
	query := raw
	paramsOut := map[string]string{}
	if strings.HasPrefix(raw, "=") {
		t := b.tmpl("query", raw)
		n := 0
		var failed bool
		query = placeholder.ReplaceAllStringFunc(t, func(ph string) string {
			expr := strings.TrimSpace(strings.TrimSuffix(strings.TrimPrefix(ph, "{{"), "}}"))
			if strings.HasPrefix(expr, untranslatedCall+"(") {
				failed = true
			}
			n++
			name := fmt.Sprintf("p%d", n)
			paramsOut[name] = expr
			return ":" + name
		})
		// A value n8n spliced into quotes is a bound parameter now.
		query = regexp.MustCompile(`'(:p[0-9]+)'`).ReplaceAllString(query, "$1")
		if failed {
			b.caveat("the query holds an expression that could not be translated")
		}
		b.caveat("values n8n wrote into the SQL text are bound parameters now: check the query")
	}
	if b.p.has("options", "queryReplacement") {
		b.caveat("query parameters ($1, $2) are not taken over: write :name and give params")
	}
	b.set("credential", cred)
	b.set("query", query)
	b.set("params", paramsOut)
	return nodes.KindDBQuery, nil
}

// wait maps Wait: a time interval or a date to delay, "on webhook call" to
// wait.callback, whose both ports lead on as n8n's one output does.
func wait(b *nodeBuilder) (string, error) {
	p := b.p
	units := map[string]float64{"seconds": 1e3, "minutes": 6e4, "hours": 36e5, "days": 864e5}
	switch resume := p.str("timeInterval", "resume"); resume {
	case "timeInterval":
		// Version 1.1 changed the defaults from 1 hour to 5 seconds.
		amount, unit := p.num(1, "amount"), p.str("hours", "unit")
		if b.n.TypeVersion >= 1.1 {
			amount, unit = p.num(5, "amount"), p.str("seconds", "unit")
		}
		ms := amount * units[unit]
		b.params["duration_ms"] = int64(ms)
		return "delay", nil
	case "specificTime":
		b.set("until", b.expr("until", p.get("dateTime")))
		return "delay", nil
	case "webhook":
		if p.boolean(false, "limitWaitTime") {
			if p.str("afterTimeInterval", "limitType") == "afterTimeInterval" {
				b.params["timeout_ms"] = int64(p.num(1, "resumeAmount") * units[p.str("hours", "resumeUnit")])
			} else {
				b.caveat("a wait limited to a date becomes the default limit of 7 days")
			}
		}
		b.caveat("the resume URL is run.resume_urls.%s, not n8n's $execution.resumeUrl; it takes GET, POST and PUT", b.c.ids[b.n.Name])
		b.cv.ports = map[int][]string{0: {nodes.ResumedPort, nodes.TimeoutPort}}
		return nodes.KindWaitCallback, nil
	default:
		return "", fmt.Errorf("resuming on %s has no Hookflow equivalent", resume)
	}
}

// executeWorkflow maps Execute Workflow to flow.call, which names the
// called flow by its Hookflow id.
func executeWorkflow(b *nodeBuilder) (string, error) {
	p := b.p
	if src := p.str("database", "source"); src != "database" {
		return "", fmt.Errorf("calling a workflow from %s has no Hookflow equivalent: import it and call it by id", src)
	}
	id := p.str("", "workflowId")
	if id == "" {
		return "", fmt.Errorf("no workflow to call")
	}
	b.set("flow", id)
	b.set("input", map[string]string{"data": "input"})
	if !p.boolean(true, "options", "waitForSubWorkflow") {
		b.set("mode", "fire")
	}
	b.caveat("the called n8n workflow %s must be imported too, and flow set to its Hookflow id; it receives this node's input as trigger.input.data", id)
	return nodes.KindCall, nil
}
