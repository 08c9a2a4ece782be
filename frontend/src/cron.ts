import { CronExpressionParser } from "cron-parser";

/** nextFirings previews a cron schedule: the next n times it fires after
 * from, in the time zone; null when the schedule cannot be read here (the
 * server has the last word, when the flow is saved). */
export function nextFirings(schedule: string, timezone: string | undefined, n = 5, from = new Date()): Date[] | null {
  if (schedule.trim() === "" || schedule.trim().startsWith("@every")) return null;
  try {
    const it = CronExpressionParser.parse(schedule.trim(), { tz: timezone || "UTC", currentDate: from });
    return Array.from({ length: n }, () => it.next().toDate());
  } catch {
    return null;
  }
}
