import type { ComponentProps } from "react";

/** PageLink is a link to another page of the editor: a real address, which
 * opens in a new tab as well, followed here without reloading. */
export function PageLink({ to, onGo, ...rest }: { to: string; onGo: () => void } & Omit<ComponentProps<"a">, "href" | "onClick">) {
  return (
    <a
      {...rest}
      href={to}
      onClick={(e) => {
        if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
        e.preventDefault();
        onGo();
      }}
    />
  );
}
