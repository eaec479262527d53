/**
 * React binding: `<AuthProvider client={client}>` + `useAuth()`.
 * React (>= 18, for useSyncExternalStore) is a peer dependency; this file uses no JSX.
 */
import { createContext, createElement, useContext, useEffect, useSyncExternalStore } from "react";
import type { ReactElement, ReactNode } from "react";
import type { AuthClient, AuthStatus, AuthUser, RegisterData } from "./index.js";

export type { AuthClient, AuthStatus, AuthUser } from "./index.js";

const AuthContext = createContext<AuthClient | null>(null);

export interface AuthProviderProps {
  client: AuthClient;
  children?: ReactNode;
}

/** Provides `client` to `useAuth()` and loads the current user once on mount (status "loading" until then). */
export function AuthProvider({ client, children }: AuthProviderProps): ReactElement {
  useEffect(() => {
    client.user().catch(() => {
      /* network/server error: the status stays as it was; call client.user() again to retry */
    });
  }, [client]);
  return createElement(AuthContext.Provider, { value: client }, children);
}

export interface UseAuth {
  user: AuthUser | null;
  status: AuthStatus;
  login(username: string, password: string): Promise<AuthUser>;
  register(data: RegisterData): Promise<AuthUser>;
  logout(): Promise<void>;
  authFetch(url: string | URL, init?: RequestInit): Promise<Response>;
  client: AuthClient;
}

/** The auth state of the nearest `<AuthProvider>`; re-renders on login, logout, refresh failure, other tabs. */
export function useAuth(): UseAuth {
  const client = useContext(AuthContext);
  if (!client) throw new Error("useAuth() must be used inside <AuthProvider client={...}>");
  const state = useSyncExternalStore(client.subscribe, client.getState, client.getState);
  return {
    user: state.user,
    status: state.status,
    login: client.login,
    register: client.register,
    logout: client.logout,
    authFetch: client.fetch,
    client,
  };
}
