import { describe, expect, it } from "vitest";
import { completions, scopePaths } from "./paths";

describe("expression paths", () => {
  const trigger = { body: { data: { object: { amount: 2500, "receipt-email": "ada@example.com" } }, items: [{ sku: "A1" }] }, headers: {} };
  const steps = { amount: { usd: 25 } };
  const paths = scopePaths(trigger, steps);

  it("lists the trigger's and the steps' paths from real data", () => {
    expect(paths).toEqual(
      expect.arrayContaining([
        "trigger",
        "trigger.body.data.object.amount",
        'trigger.body.data.object["receipt-email"]',
        "trigger.body.items[0].sku",
        "steps.amount.usd",
      ]),
    );
    expect(paths.indexOf("trigger.body")).toBeLessThan(paths.indexOf("trigger.body.data"));
  });

  it("completes what was typed", () => {
    expect(completions(paths, "trigger.body.data.o")).toEqual([
      "trigger.body.data.object",
      "trigger.body.data.object.amount",
      'trigger.body.data.object["receipt-email"]',
    ]);
    expect(completions(paths, "steps.")).toEqual(["steps.amount", "steps.amount.usd"]);
    expect(completions(paths, "nothing")).toEqual([]);
  });

  it("stays bounded on large data", () => {
    const big = Object.fromEntries(Array.from({ length: 2000 }, (_, i) => [`k${i}`, i]));
    expect(scopePaths(big, {}).length).toBe(500);
  });
});
