import { describe, expect, it } from "vitest";
import { nextFirings } from "./cron";

describe("nextFirings", () => {
  const from = new Date("2026-11-25T00:00:00Z");
  it("previews five-field schedules in their time zone", () => {
    expect(nextFirings("0 3 * * *", "Europe/Berlin", 2, from)?.map((d) => d.toISOString())).toEqual([
      "2026-11-25T02:00:00.000Z",
      "2026-11-26T02:00:00.000Z",
    ]);
  });
  it("reads six fields with seconds, and descriptors", () => {
    expect(nextFirings("*/10 * * * * *", "UTC", 2, from)?.map((d) => d.toISOString())).toEqual([
      "2026-11-25T00:00:10.000Z",
      "2026-11-25T00:00:20.000Z",
    ]);
    expect(nextFirings("@hourly", undefined, 1, from)?.[0].toISOString()).toBe("2026-11-25T01:00:00.000Z");
  });
  it("gives nothing for what it cannot read", () => {
    expect(nextFirings("not a schedule", "UTC")).toBeNull();
    expect(nextFirings("", "UTC")).toBeNull();
    expect(nextFirings("@every 10m", "UTC")).toBeNull();
  });
});
