/**
 * @tenantauth/client — a small, dependency-free client for the tenantauth API.
 *
 * Three modes:
 *  - "bearer": JWT access + refresh tokens kept in `storage` (localStorage by default),
 *    `Authorization: Bearer <access>` on every call, refresh token rotation on 401.
 *  - "cookie": HttpOnly `access_token` / `refresh_token` cookies set by the API host,
 *    `credentials: "include"` on every call, `X-CSRFToken` on unsafe methods. JS never
 *    sees a token; only the CSRF token and a "refresh generation" are kept in storage.
 *  - "token": a static API token (`tat_…`), `Authorization: Token <key>`, never refreshed.
 *
 * On a 401 the client refreshes once and retries once. Concurrent 401s in one page share a
 * single refresh (single flight) and tabs of one origin share it too (Web Locks API, or a
 * localStorage lease where Web Locks are missing). See README.md.
 */

export type AuthMode = "bearer" | "cookie" | "token";
export type AuthStatus = "loading" | "authenticated" | "anonymous";
/** Why the client dropped its credentials without being asked to (see `onLogout`). */
export type LogoutReason = "refresh_failed" | "token_invalid" | "other_tab";

/** The user as the API describes it (login/register bodies carry a subset of `/api/user/`). */
export interface AuthUser {
  user_id: number | string;
  username: string;
  email: string;
  role?: string;
  client_id?: number | string;
  client_name?: string;
  first_name?: string;
  last_name?: string;
  is_active?: boolean;
  date_joined?: string;
  last_login?: string | null;
  [field: string]: unknown;
}

export interface AuthState {
  status: AuthStatus;
  user: AuthUser | null;
}

export interface RegisterData {
  username: string;
  email: string;
  password: string;
  first_name?: string;
  last_name?: string;
}

export interface LogoutAllResult {
  detail: string;
  revoked: number;
  [field: string]: unknown;
}

/** The subset of the Web Storage API the client uses. */
export interface StorageLike {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

/** The subset of the Web Locks API (`navigator.locks`) the client uses. */
export interface LockManagerLike {
  request<T>(name: string, callback: (lock: unknown) => Promise<T> | T): Promise<T>;
}

export type FetchLike = (input: string, init?: RequestInit) => Promise<Response>;

export interface AuthClientOptions {
  /** The tenant host, e.g. "http://demo.localhost:8000". Relative URLs in `fetch()` resolve against it. */
  baseUrl: string;
  mode: AuthMode;
  /** Where credentials / CSRF token / refresh generation live. Default: `localStorage`, else memory. */
  storage?: StorageLike;
  /** Called when the client drops credentials on its own (failed refresh, dead API key, other tab). */
  onLogout?: (reason: LogoutReason) => void;
  /** The fetch implementation. Default: `globalThis.fetch`. */
  fetch?: FetchLike;
  /** Name of the cross-tab Web Lock guarding refresh. Default derived from mode + baseUrl. */
  lockName?: string;
  /**
   * Cross-tab lock manager. Default: `navigator.locks` when present. `null` disables Web Locks:
   * the client then uses a best-effort localStorage lease when `storage` is shared (localStorage
   * or one you passed in), else only the in-page single flight.
   */
  locks?: LockManagerLike | null;
  /** Prefix of the storage keys. Default: `tenantauth:<mode>:<baseUrl>:`. */
  storagePrefix?: string;
  /** Name given to the API token that `login()` creates in token mode. Default "tenantauth-js". */
  tokenName?: string;
}

export interface AuthClient {
  readonly mode: AuthMode;
  readonly baseUrl: string;
  /** Log in; resolves with the user, rejects with `AuthError` (401 bad credentials, 429 throttled, ...). */
  login(username: string, password: string): Promise<AuthUser>;
  /** Register and log in; rejects with `AuthError` (400 with `errors` per field, ...). */
  register(data: RegisterData): Promise<AuthUser>;
  /** End this session on the server (best effort) and clear local credentials. Never rejects. */
  logout(): Promise<void>;
  /** End every session of the user (`POST /api/auth/logout-all/`), then clear local credentials. */
  logoutAll(): Promise<LogoutAllResult>;
  /** Load the current user (`GET /api/user/`); `null` when not logged in. Updates the state. */
  user(): Promise<AuthUser | null>;
  /**
   * `fetch` with credentials: relative URLs resolve against `baseUrl`; credentials are sent only to
   * baseUrl's origin. On a 401 it refreshes once (shared) and retries once. It resolves with the
   * final Response — after a failed refresh that is the original 401 — and rejects only when
   * the underlying fetch does (network error).
   */
  fetch(url: string | URL, init?: RequestInit): Promise<Response>;
  /** Force a refresh now (shared like the automatic one). Resolves true when credentials are fresh. */
  refresh(): Promise<boolean>;
  /** Token mode only: use this API key (or `null` to forget it); resolves with the user it belongs to. */
  setApiToken(key: string | null): Promise<AuthUser | null>;
  /** Whether credentials (refresh token, cookie session generation, API key) are stored. */
  isAuthenticated(): boolean;
  getState(): AuthState;
  /** Subscribe to state changes; returns the unsubscribe function. */
  subscribe(listener: () => void): () => void;
  /** Remove the `storage` event listener (cross-tab state sync). */
  destroy(): void;
}

/** A failed auth call (login, register, logout-all, user). Mirrors the API's error body. */
export class AuthError extends Error {
  readonly status: number;
  readonly code: string;
  readonly detail: string;
  readonly errors: Array<{ field: string; message: string }>;
  /** Seconds from the Retry-After header (429), when given. */
  readonly retryAfter: number | null;
  readonly body: unknown;

  constructor(
    status: number,
    detail: string,
    code: string,
    errors: Array<{ field: string; message: string }> = [],
    retryAfter: number | null = null,
    body: unknown = null,
  ) {
    super(detail);
    this.name = "AuthError";
    this.status = status;
    this.code = code;
    this.detail = detail;
    this.errors = errors;
    this.retryAfter = retryAfter;
    this.body = body;
  }

  static async fromResponse(res: Response): Promise<AuthError> {
    let body: unknown = null;
    try {
      body = await res.clone().json();
    } catch {
      body = null;
    }
    const obj = (body && typeof body === "object" ? body : {}) as Record<string, unknown>;
    const detail = typeof obj.detail === "string" ? obj.detail : `HTTP ${res.status}`;
    const code = typeof obj.code === "string" ? obj.code : `http_${res.status}`;
    const errors = Array.isArray(obj.errors) ? (obj.errors as Array<{ field: string; message: string }>) : [];
    const ra = res.headers.get("Retry-After");
    const retryAfter = ra !== null && ra.trim() !== "" && Number.isFinite(Number(ra)) ? Number(ra) : null;
    return new AuthError(res.status, detail, code, errors, retryAfter, body);
  }
}

// ---------------------------------------------------------------------------------------------

const PATHS = {
  login: "/api/auth/token/",
  register: "/api/auth/register/",
  refresh: "/api/auth/token/refresh/",
  blacklist: "/api/auth/token/blacklist/",
  logoutAll: "/api/auth/logout-all/",
  user: "/api/user/",
  cookieLogin: "/api/auth/cookie/login/",
  cookieRegister: "/api/auth/cookie/register/",
  cookieRefresh: "/api/auth/cookie/refresh/",
  cookieLogout: "/api/auth/cookie/logout/",
  cookieCsrf: "/api/auth/cookie/csrf/",
  apiTokens: "/api/auth/api-tokens/",
} as const;

const KEYS = ["access", "refresh", "user", "csrf", "gen", "expires", "token"] as const;
type Key = (typeof KEYS)[number] | "lease";

const UNSAFE = new Set(["POST", "PUT", "PATCH", "DELETE"]);
const USER_FIELDS_DROPPED = new Set(["access", "refresh", "csrf_token", "access_expires_at", "detail"]);

/** Best-effort lease (fallback when Web Locks are missing): lifetime, settle wait, poll, give-up. */
const LEASE_TTL_MS = 10_000;
const LEASE_SETTLE_MS = 40;
const LEASE_POLL_MS = 50;
const LEASE_MAX_WAIT_MS = 15_000;

type Outcome = "ok" | "failed" | "error";

function memoryStorage(): StorageLike {
  const m = new Map<string, string>();
  return {
    getItem: (k) => (m.has(k) ? (m.get(k) as string) : null),
    setItem: (k, v) => void m.set(k, String(v)),
    removeItem: (k) => void m.delete(k),
  };
}

function defaultStorage(): { storage: StorageLike; shared: boolean; isLocal: boolean } {
  try {
    const ls = (globalThis as { localStorage?: StorageLike }).localStorage;
    if (ls) {
      const probe = "tenantauth:probe";
      ls.setItem(probe, "1");
      ls.removeItem(probe);
      return { storage: ls, shared: true, isLocal: true };
    }
  } catch {
    /* storage disabled (privacy mode, sandboxed iframe): fall through */
  }
  return { storage: memoryStorage(), shared: false, isLocal: false };
}

function defaultLocks(): LockManagerLike | null {
  const nav = (globalThis as { navigator?: { locks?: LockManagerLike } }).navigator;
  return nav && nav.locks && typeof nav.locks.request === "function" ? nav.locks : null;
}

function randomId(): string {
  const c = (globalThis as { crypto?: { randomUUID?: () => string } }).crypto;
  if (c && typeof c.randomUUID === "function") return c.randomUUID();
  return `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function userFrom(body: Record<string, unknown>): AuthUser {
  const user: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(body)) if (!USER_FIELDS_DROPPED.has(k)) user[k] = v;
  return user as AuthUser;
}

async function readJson(res: Response): Promise<Record<string, unknown>> {
  try {
    const body: unknown = await res.json();
    return body && typeof body === "object" ? (body as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

export function createAuthClient(options: AuthClientOptions): AuthClient {
  const mode = options.mode;
  if (mode !== "bearer" && mode !== "cookie" && mode !== "token") {
    throw new TypeError(`tenantauth: mode must be "bearer", "cookie" or "token", not ${String(mode)}`);
  }
  if (typeof options.baseUrl !== "string") throw new TypeError("tenantauth: baseUrl is required");
  const loc = (globalThis as { location?: { href?: string } }).location;
  const baseUrl = new URL(options.baseUrl, loc && loc.href ? loc.href : undefined).href.replace(/\/+$/, "");
  const baseOrigin = new URL(baseUrl + "/").origin;

  const def = options.storage ? null : defaultStorage();
  const storage: StorageLike = options.storage ?? (def as { storage: StorageLike }).storage;
  const storageShared = options.storage ? true : (def as { shared: boolean }).shared;
  const listenStorageEvents = !options.storage && !!def && def.isLocal;
  const prefix = options.storagePrefix ?? `tenantauth:${mode}:${baseUrl}:`;
  const lockName = options.lockName ?? `tenantauth-refresh:${mode}:${baseUrl}`;
  const locks = options.locks === undefined ? defaultLocks() : options.locks;
  const tokenName = options.tokenName ?? "tenantauth-js";
  const fetchImpl: FetchLike = (input, init) =>
    options.fetch ? options.fetch(input, init) : globalThis.fetch(input, init);

  // --- storage -----------------------------------------------------------------------------
  const get = (k: Key): string | null => {
    try {
      return storage.getItem(prefix + k);
    } catch {
      return null;
    }
  };
  const set = (k: Key, v: string | null | undefined): void => {
    try {
      if (v === null || v === undefined) storage.removeItem(prefix + k);
      else storage.setItem(prefix + k, v);
    } catch {
      /* quota / disabled storage: the session then lives in this page only */
    }
  };
  const clearStored = (): void => {
    for (const k of KEYS) set(k, null);
  };
  const storedUser = (): AuthUser | null => {
    const raw = get("user");
    if (!raw) return null;
    try {
      return JSON.parse(raw) as AuthUser;
    } catch {
      return null;
    }
  };

  /**
   * The credential "version" a request was sent with. A refresh changes it, so comparing the
   * value taken when a request was sent with the current one tells whether someone (this page
   * or another tab) refreshed meanwhile. bearer: the refresh token itself; cookie: the
   * refresh generation; token: the API key. `null` means "not logged in".
   */
  const marker = (): string | null =>
    mode === "bearer" ? get("refresh") : mode === "cookie" ? get("gen") : get("token");

  // --- state -------------------------------------------------------------------------------
  let state: AuthState = { status: "loading", user: storedUser() };
  const listeners = new Set<() => void>();
  const setState = (next: AuthState): void => {
    if (next.status === state.status && next.user === state.user) return;
    state = next;
    for (const l of Array.from(listeners)) {
      try {
        l();
      } catch {
        /* a listener's error is not ours */
      }
    }
  };
  const notifyLogout = (reason: LogoutReason): void => {
    if (!options.onLogout) return;
    try {
      options.onLogout(reason);
    } catch {
      /* ignore */
    }
  };
  /** Drop credentials the client did not choose to drop; onLogout only if we were logged in. */
  const forceLogout = (reason: LogoutReason, hadCredentials = false): void => {
    const wasIn = hadCredentials || marker() !== null || state.status === "authenticated";
    clearStored();
    setState({ status: "anonymous", user: null });
    if (wasIn) notifyLogout(reason);
  };
  const setAuthenticated = (user: AuthUser): void => {
    set("user", JSON.stringify(user));
    setState({ status: "authenticated", user });
  };

  let onStorage: ((e: StorageEvent) => void) | null = null;
  const win = (globalThis as { window?: { addEventListener?: Function; removeEventListener?: Function } }).window;
  if (listenStorageEvents && win && typeof win.addEventListener === "function") {
    onStorage = (e: StorageEvent) => {
      if (e.key !== null && !e.key.startsWith(prefix)) return;
      if (marker() === null) {
        if (state.status !== "anonymous") {
          setState({ status: "anonymous", user: null });
          notifyLogout("other_tab");
        }
      } else if (e.key === prefix + "user" || e.key === null) {
        const u = storedUser();
        if (u) setState({ status: "authenticated", user: u });
      }
    };
    win.addEventListener("storage", onStorage);
  }

  // --- URLs --------------------------------------------------------------------------------
  const resolve = (url: string | URL): string => {
    const s = String(url);
    if (/^[a-z][a-z0-9+.-]*:/i.test(s)) return s;
    return `${baseUrl}/${s.replace(/^\/+/, "")}`;
  };
  const sameOrigin = (url: string): boolean => {
    try {
      return new URL(url).origin === baseOrigin;
    } catch {
      return false;
    }
  };

  // --- CSRF (cookie mode) --------------------------------------------------------------------
  let csrfInflight: Promise<string | null> | null = null;
  const fetchCsrf = (): Promise<string | null> => {
    if (!csrfInflight) {
      csrfInflight = (async () => {
        const res = await fetchImpl(resolve(PATHS.cookieCsrf), {
          method: "GET",
          credentials: "include",
          headers: { Accept: "application/json" },
        });
        if (!res.ok) return null;
        const body = await readJson(res);
        const token = typeof body.csrf_token === "string" ? body.csrf_token : null;
        if (token) set("csrf", token);
        return token;
      })().finally(() => {
        csrfInflight = null;
      });
    }
    return csrfInflight;
  };
  const ensureCsrf = async (): Promise<string | null> => get("csrf") ?? (await fetchCsrf());
  const isCsrfFailure = async (res: Response): Promise<boolean> => {
    if (res.status !== 403) return false;
    const body = await readJson(res.clone());
    return body.code === "csrf_failed";
  };

  // --- sending -----------------------------------------------------------------------------
  /** One request with the current credentials; returns it with the credential marker it used. */
  const send = async (url: string, init: RequestInit): Promise<{ res: Response; snap: string | null }> => {
    const headers = new Headers(init.headers);
    if (typeof init.body === "string" && !headers.has("Content-Type")) {
      headers.set("Content-Type", "application/json");
    }
    if (!headers.has("Accept")) headers.set("Accept", "application/json");
    const snap = marker();
    const next: RequestInit = { ...init, headers };
    if (mode === "bearer") {
      const access = get("access");
      if (access) headers.set("Authorization", `Bearer ${access}`);
    } else if (mode === "token") {
      const key = get("token");
      if (key) headers.set("Authorization", `Token ${key}`);
    } else {
      next.credentials = "include";
      if (UNSAFE.has((init.method ?? "GET").toUpperCase())) {
        const csrf = await ensureCsrf();
        if (csrf) headers.set("X-CSRFToken", csrf);
      }
    }
    return { res: await fetchImpl(url, next), snap };
  };

  /** The refresh itself; runs under the cross-tab lock. */
  const refreshLocked = async (snap: string | null): Promise<Outcome> => {
    // Another tab (or an earlier flight in this page) may have refreshed or logged out while we
    // waited for the lock: never present a refresh token that may already be rotated.
    const current = marker();
    if (current !== snap) {
      if (current === null) {
        forceLogout("other_tab", snap !== null);
        return "failed";
      }
      return "ok";
    }
    try {
      if (mode === "bearer") {
        if (snap === null) return "failed";
        const res = await fetchImpl(resolve(PATHS.refresh), {
          method: "POST",
          headers: { "Content-Type": "application/json", Accept: "application/json" },
          body: JSON.stringify({ refresh: snap }),
        });
        if (res.ok) {
          const body = await readJson(res);
          if (typeof body.access !== "string" || typeof body.refresh !== "string") return "error";
          set("access", body.access);
          set("refresh", body.refresh);
          return "ok";
        }
        if (res.status === 400 || res.status === 401 || res.status === 403) {
          forceLogout("refresh_failed");
          return "failed";
        }
        return "error"; // 429 / 5xx: keep the tokens, a later call may succeed
      }
      if (mode === "cookie") {
        const post = async (csrf: string | null) =>
          fetchImpl(resolve(PATHS.cookieRefresh), {
            method: "POST",
            credentials: "include",
            headers: {
              "Content-Type": "application/json",
              Accept: "application/json",
              ...(csrf ? { "X-CSRFToken": csrf } : {}),
            },
          });
        let res = await post(await ensureCsrf());
        if (await isCsrfFailure(res)) res = await post(await fetchCsrf());
        if (res.ok) {
          const body = await readJson(res);
          if (typeof body.csrf_token === "string") set("csrf", body.csrf_token);
          if (typeof body.access_expires_at === "string") set("expires", body.access_expires_at);
          set("gen", randomId());
          return "ok";
        }
        if (res.status === 401 || res.status === 403) {
          forceLogout("refresh_failed");
          return "failed";
        }
        return "error";
      }
      return "failed"; // token mode never refreshes
    } catch {
      return "error"; // network error: keep credentials, the caller gets the original 401
    }
  };

  /** Run `fn` holding the cross-tab refresh lock. */
  const withLock = async <T>(fn: () => Promise<T>): Promise<T> => {
    if (locks) return locks.request(lockName, () => fn());
    if (!storageShared) return fn();
    const id = randomId();
    const readLease = (): { id: string; expires: number } | null => {
      const raw = get("lease");
      if (!raw) return null;
      try {
        return JSON.parse(raw) as { id: string; expires: number };
      } catch {
        return null;
      }
    };
    const giveUp = Date.now() + LEASE_MAX_WAIT_MS;
    for (;;) {
      const lease = readLease();
      if (!lease || lease.expires < Date.now()) {
        set("lease", JSON.stringify({ id, expires: Date.now() + LEASE_TTL_MS }));
        await sleep(LEASE_SETTLE_MS); // let a concurrent writer's value land; last writer wins
        if (readLease()?.id === id) break;
      } else {
        await sleep(LEASE_POLL_MS);
      }
      if (Date.now() > giveUp) break;
    }
    try {
      return await fn();
    } finally {
      if (readLease()?.id === id) set("lease", null);
    }
  };

  let inflight: Promise<Outcome> | null = null;
  /** Refresh because a request sent with credentials `snap` got a 401 (single flight). */
  const refreshFrom = (snap: string | null): Promise<Outcome> => {
    const current = marker();
    if (current !== snap) {
      // Someone refreshed (retry with the new credentials) or logged out since the request left.
      if (current === null) {
        forceLogout("other_tab", snap !== null);
        return Promise.resolve("failed");
      }
      return Promise.resolve("ok");
    }
    if (!inflight) {
      inflight = withLock(() => refreshLocked(snap)).finally(() => {
        inflight = null;
      });
    }
    return inflight;
  };

  const mayRefresh = (snap: string | null): boolean => {
    if (mode === "token") return false;
    if (mode === "bearer") return snap !== null;
    // cookie: the session lives in HttpOnly cookies JS cannot see. Refresh when we know we are
    // logged in, or while the state is still unknown (first load of a page with no stored session).
    return snap !== null || state.status === "loading";
  };

  const authFetch = async (input: string | URL, init: RequestInit = {}): Promise<Response> => {
    const url = resolve(input);
    if (!sameOrigin(url)) return fetchImpl(url, init); // never send credentials to another origin
    let { res, snap } = await send(url, init);
    if (mode === "cookie" && UNSAFE.has((init.method ?? "GET").toUpperCase()) && (await isCsrfFailure(res))) {
      await fetchCsrf(); // stale CSRF token (e.g. rotated at login in another tab): get a new one, once
      ({ res, snap } = await send(url, init));
    }
    if (res.status !== 401) return res;
    if (mode === "token") {
      if (snap !== null && marker() === snap) forceLogout("token_invalid");
      return res;
    }
    if (!mayRefresh(snap)) return res;
    const outcome = await refreshFrom(snap);
    if (outcome !== "ok") return res;
    return (await send(url, init)).res; // retry once; whatever it answers is returned
  };

  // --- public API ----------------------------------------------------------------------------
  const postJson = (path: string, body: unknown, extra: RequestInit = {}): Promise<Response> =>
    fetchImpl(resolve(path), {
      ...extra,
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json", ...(extra.headers as Record<string, string> | undefined) },
      body: JSON.stringify(body),
    });

  const loadUser = async (): Promise<AuthUser | null> => {
    if (mode !== "cookie" && marker() === null) {
      setState({ status: "anonymous", user: null });
      return null;
    }
    const res = await authFetch(PATHS.user, { method: "GET" });
    if (res.ok) {
      const u = userFrom(await readJson(res));
      if (mode === "cookie" && get("gen") === null) set("gen", randomId());
      setAuthenticated(u);
      return u;
    }
    if (res.status === 401) {
      setState({ status: "anonymous", user: null });
      return null;
    }
    throw await AuthError.fromResponse(res);
  };

  const login = async (username: string, password: string): Promise<AuthUser> => {
    if (mode === "token") {
      const res = await postJson(PATHS.apiTokens, { username, password, name: tokenName });
      if (!res.ok) throw await AuthError.fromResponse(res);
      const body = await readJson(res);
      if (typeof body.token !== "string") throw new AuthError(res.status, "No token in the response", "bad_response");
      set("token", body.token);
      const u = await loadUser();
      if (!u) throw new AuthError(401, "The new API token was refused", "token_invalid");
      return u;
    }
    const res =
      mode === "bearer"
        ? await postJson(PATHS.login, { username, password })
        : await postJson(PATHS.cookieLogin, { username, password }, { credentials: "include" });
    if (!res.ok) throw await AuthError.fromResponse(res);
    return acceptSession(await readJson(res));
  };

  /** Store what a login/register body carries and switch to "authenticated". */
  const acceptSession = (body: Record<string, unknown>): AuthUser => {
    clearStored();
    if (mode === "bearer") {
      set("access", typeof body.access === "string" ? body.access : null);
      set("refresh", typeof body.refresh === "string" ? body.refresh : null);
    } else {
      set("csrf", typeof body.csrf_token === "string" ? body.csrf_token : null);
      set("expires", typeof body.access_expires_at === "string" ? body.access_expires_at : null);
      set("gen", randomId());
    }
    const u = userFrom(body);
    setAuthenticated(u);
    return u;
  };

  const register = async (data: RegisterData): Promise<AuthUser> => {
    const payload: Record<string, string> = { username: data.username, email: data.email, password: data.password };
    if (data.first_name !== undefined) payload.first_name = data.first_name;
    if (data.last_name !== undefined) payload.last_name = data.last_name;
    if (mode === "cookie") {
      const res = await postJson(PATHS.cookieRegister, payload, { credentials: "include" });
      if (!res.ok) throw await AuthError.fromResponse(res);
      return acceptSession(await readJson(res));
    }
    const res = await postJson(PATHS.register, payload);
    if (!res.ok) throw await AuthError.fromResponse(res);
    const body = await readJson(res);
    if (mode === "bearer") return acceptSession(body);
    // token mode: end the JWT session register opened, then obtain an API key.
    if (typeof body.refresh === "string") {
      try {
        await postJson(PATHS.blacklist, { refresh: body.refresh });
      } catch {
        /* best effort */
      }
    }
    return login(data.username, data.password);
  };

  const logout = async (): Promise<void> => {
    try {
      if (mode === "bearer") {
        await withLock(async () => {
          const refresh = get("refresh");
          if (refresh) await postJson(PATHS.blacklist, { refresh });
        });
      } else if (mode === "cookie") {
        const csrf = await ensureCsrf();
        await fetchImpl(resolve(PATHS.cookieLogout), {
          method: "POST",
          credentials: "include",
          headers: {
            "Content-Type": "application/json",
            Accept: "application/json",
            ...(csrf ? { "X-CSRFToken": csrf } : {}),
          },
        });
      } else {
        const key = get("token");
        if (key) await postJson(PATHS.blacklist, {}, { headers: { Authorization: `Token ${key}` } });
      }
    } catch {
      /* network error: the local credentials are cleared all the same */
    } finally {
      clearStored();
      setState({ status: "anonymous", user: null });
    }
  };

  const logoutAll = async (): Promise<LogoutAllResult> => {
    const res = await authFetch(PATHS.logoutAll, { method: "POST" });
    if (!res.ok) throw await AuthError.fromResponse(res);
    const body = (await readJson(res)) as LogoutAllResult;
    clearStored();
    setState({ status: "anonymous", user: null });
    return body;
  };

  const refresh = async (): Promise<boolean> => {
    if (mode === "token") return false;
    const snap = marker();
    if (mode === "bearer" && snap === null) return false;
    return (await refreshFrom(snap)) === "ok";
  };

  const setApiToken = (key: string | null): Promise<AuthUser | null> => {
    if (mode !== "token") return Promise.reject(new TypeError("tenantauth: setApiToken() is for token mode"));
    clearStored();
    if (key === null || key === "") {
      setState({ status: "anonymous", user: null });
      return Promise.resolve(null);
    }
    set("token", key);
    setState({ status: "loading", user: null });
    return loadUser();
  };

  const client: AuthClient = {
    mode,
    baseUrl,
    login,
    register,
    logout,
    logoutAll,
    user: loadUser,
    fetch: authFetch,
    refresh,
    setApiToken,
    isAuthenticated: () => marker() !== null,
    getState: () => state,
    subscribe: (listener: () => void) => {
      listeners.add(listener);
      return () => {
        listeners.delete(listener);
      };
    },
    destroy: () => {
      if (onStorage && win && typeof win.removeEventListener === "function") {
        win.removeEventListener("storage", onStorage);
      }
      onStorage = null;
      listeners.clear();
    },
  };
  return client;
}
