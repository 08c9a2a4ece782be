// Paths an expression can read, gathered from real data: the flow's latest
// sample (trigger) and the outputs of its last test run (steps), for the
// expression fields' autocompletion.

const maxPaths = 500;
const maxDepth = 6;

/** scopePaths lists dotted paths into trigger and steps.<id>, parents
 * before children, at most 500; list elements are reached through [0]. */
export function scopePaths(trigger: unknown, steps: Record<string, unknown>): string[] {
  const out: string[] = [];
  const walk = (value: unknown, path: string, depth: number) => {
    if (out.length >= maxPaths) return;
    out.push(path);
    if (depth >= maxDepth || value === null || typeof value !== "object") return;
    if (Array.isArray(value)) {
      if (value.length > 0) walk(value[0], `${path}[0]`, depth + 1);
      return;
    }
    for (const [key, child] of Object.entries(value)) {
      walk(child, /^[A-Za-z_][A-Za-z0-9_]*$/.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`, depth + 1);
    }
  };
  if (trigger !== undefined) walk(trigger, "trigger", 0);
  for (const [id, output] of Object.entries(steps)) walk(output, `steps.${id}`, 0);
  return out;
}

/** completions are the known paths that continue what was typed. */
export function completions(paths: string[], typed: string, limit = 20): string[] {
  const t = typed.trim();
  return paths.filter((p) => p.startsWith(t) && p !== t).slice(0, limit);
}
