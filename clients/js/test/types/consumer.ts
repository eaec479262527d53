// Compiled with `tsc -p test/types` in `npm test`: the package's exports map and .d.ts files
// resolve by package name (self-reference) and type-check a typical consumer in strict mode.
import { createAuthClient, AuthError, type AuthClient, type AuthUser, type LogoutReason } from "@tenantauth/client";
import { AuthProvider, useAuth, type UseAuth } from "@tenantauth/client/react";

const client: AuthClient = createAuthClient({
  baseUrl: "http://demo.localhost:8000",
  mode: "bearer",
  onLogout: (reason: LogoutReason) => void reason,
});

export async function demo(): Promise<string> {
  try {
    const user: AuthUser = await client.login("alice", "pw");
    const res: Response = await client.fetch("/api/user/", { method: "GET" });
    const ok: boolean = await client.refresh();
    return `${user.username} ${res.status} ${ok} ${client.getState().status}`;
  } catch (e) {
    if (e instanceof AuthError) return `${e.status} ${e.code} ${e.errors.length} ${e.retryAfter ?? ""}`;
    throw e;
  }
}

export const provider: typeof AuthProvider = AuthProvider;
export const hook: () => UseAuth = useAuth;
