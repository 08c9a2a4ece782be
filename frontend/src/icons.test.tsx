import { describe, expect, it } from "vitest";
import { mounted } from "./testing";
import { KindIcon } from "./icons";

// That every kind's icon is known is checked in the browser tests, against
// the server's list (e2e/canvas.test.mjs).
describe("KindIcon", () => {
  const ctx = mounted();

  it("draws a known icon, a box for an unknown one, hidden from screen readers", async () => {
    await ctx.render(
      <>
        <KindIcon name="git-branch" />
        <KindIcon name="no-such-icon" />
      </>,
    );
    const [known, unknown] = ctx.container.querySelectorAll("svg");
    expect(known.getAttribute("class")).toContain("lucide-git-branch");
    expect(unknown.getAttribute("class")).toContain("lucide-box");
    for (const svg of [known, unknown]) expect(svg.getAttribute("aria-hidden")).toBe("true");
  });
});
