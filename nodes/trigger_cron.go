package nodes

import (
	"context"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// KindCron is the kind of the schedule trigger.
const KindCron = "trigger.cron"

var cronSpec = Spec{
	Kind:     KindCron,
	Icon:     "clock",
	Category: CategoryTrigger,
	Title:    "Schedule",
	Summary:  "Starts the flow on a cron schedule while the flow is active.",
	Pure:     true,
	Fields: []Field{
		{
			Name: "schedule", Type: TypeCron, Label: "Schedule", Required: true, Placeholder: "0 9 * * 1-5",
			Help: "Five fields (minute hour day month weekday), six with seconds first, or @hourly, @daily, @every 10m and the like. Firings missed while the server was stopped are not made up.",
		},
		{
			Name: "timezone", Type: TypeString, Label: "Time zone", Default: "UTC", Placeholder: "Europe/Berlin",
			Help: "The IANA time zone the schedule is read in.",
		},
	},
}

type cronParams struct {
	Schedule string `json:"schedule"`
	Timezone string `json:"timezone"`
}

// CronTrigger is a compiled trigger.cron node: the scheduler reads its
// schedule; as a step it outputs the trigger data, with scheduled_at.
type CronTrigger struct {
	Schedule cron.Schedule
	Location *time.Location
}

var _ Node = (*CronTrigger)(nil)

// cronParser reads five fields, six with seconds first, and descriptors.
var cronParser = cron.NewParser(cron.SecondOptional | cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

func buildCron(b *Builder, p *cronParams) Node {
	location, err := time.LoadLocation(p.Timezone)
	if err != nil || p.Timezone == "" || strings.EqualFold(p.Timezone, "local") {
		b.Fail("timezone", "%q is not an IANA time zone such as Europe/Berlin", p.Timezone)
		return nil
	}
	if strings.HasPrefix(p.Schedule, "TZ=") || strings.HasPrefix(p.Schedule, "CRON_TZ=") {
		b.Fail("schedule", "give the time zone in the timezone field, not in the schedule")
		return nil
	}
	schedule, err := cronParser.Parse(p.Schedule)
	if err != nil {
		b.Fail("schedule", "%v", err)
		return nil
	}
	if spec, ok := schedule.(*cron.SpecSchedule); ok {
		spec.Location = location
	}
	if next := schedule.Next(time.Now()); next.IsZero() {
		b.Fail("schedule", "never fires")
		return nil
	}
	return &CronTrigger{Schedule: schedule, Location: location}
}

// Run outputs the trigger data: when the firing was due.
func (c *CronTrigger) Run(_ context.Context, in *Input) (Result, error) {
	return Result{Output: in.Scope.Trigger}, nil
}

// Next returns the schedule's next firings after t, for previews.
func (c *CronTrigger) Next(t time.Time, n int) []time.Time {
	out := make([]time.Time, 0, n)
	for range n {
		t = c.Schedule.Next(t)
		if t.IsZero() {
			break
		}
		out = append(out, t)
	}
	return out
}
