import { createContext, useContext } from "react";
import type { Permission, Role, Session } from "./api";

// What the signed-in caller may do, as GET /session says, for every page to
// hide or disable the controls it may not use. The server refuses them
// anyway (403); this only spares the reader a button that cannot work.

/** Access answers what the caller may do, and why not. */
export type Access = {
  /** The session as the server answered it; null when not known (a page
   * drawn on its own, as in unit tests), which allows everything. */
  session: Session | null;
  can: (p: Permission) => boolean;
  /** Why the caller may not do what needs p, for a disabled control's
   * title; "" when they may. */
  why: (p: Permission) => string;
};

/** accessOf is the access a session gives. */
export function accessOf(session: Session | null): Access {
  const can = (p: Permission) => session === null || session.permissions.includes(p);
  const who = () => {
    if (!session) return "";
    if (!session.user) return "this token";
    return session.via === "token" ? `your role (${session.role}) or this token's scopes` : `your role (${session.role})`;
  };
  return { session, can, why: (p) => (can(p) ? "" : `This needs the permission ${p}, which ${who()} does not give.`) };
}

const AccessContext = createContext<Access>(accessOf(null));

/** AccessProvider gives the pages below it the caller's access. */
export const AccessProvider = AccessContext.Provider;

/** useAccess is the caller's access. */
export function useAccess(): Access {
  return useContext(AccessContext);
}

/** The roles a caller of the role may give, and change users of: owners
 * any; admins editors and viewers; others none. */
export function manageableRoles(role: Role | undefined): Role[] {
  if (role === "owner") return ["owner", "admin", "editor", "viewer"];
  if (role === "admin") return ["editor", "viewer"];
  return [];
}

/** The permissions, in the order they are listed. */
export const permissions: Permission[] = [
  "flows:read",
  "flows:write",
  "runs:read",
  "runs:write",
  "credentials:read",
  "credentials:write",
  "users:read",
  "users:write",
];
