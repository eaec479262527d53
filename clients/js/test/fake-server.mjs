// A fake tenantauth API behind a `fetch` function, enough of SPEC §3/§8 for the client tests:
// bearer tokens with rotation + reuse detection, cookie sessions with CSRF, API tokens.
export const BASE = "http://demo.localhost:8000";

const json = (status, body, headers = {}) =>
  new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json", ...headers } });

export function createFakeServer({ delayMs = 5 } = {}) {
  let n = 0;
  const next = (p) => `${p}-${++n}`;
  const user = {
    user_id: 1, username: "alice", email: "alice@example.com", first_name: "Alice", last_name: "A",
    role: "member", client_id: 7, client_name: "Demo", is_active: true,
    date_joined: "2024-01-01T00:00:00Z", last_login: null,
  };
  const server = {
    calls: [],            // every request: {method, path, headers, body}
    validAccess: new Set(),
    currentRefresh: null, // the one live refresh token (rotation)
    rotated: new Set(),   // refresh tokens already used
    sessionEnded: false,
    cookies: {},          // the browser's cookie jar for the API host
    csrf: "csrf-0",
    apiTokens: new Set(),
    count(path) { return this.calls.filter((c) => c.path === path).length; },
    /** Make every access credential expire (bearer + cookie). */
    expireAccess() { this.validAccess.clear(); },
    loginBearer() {
      const access = next("acc"); const refresh = next("ref");
      this.validAccess.add(access); this.currentRefresh = refresh; this.sessionEnded = false;
      return { access, refresh };
    },
  };

  async function fetch(input, init = {}) {
    const url = new URL(String(input));
    const path = url.pathname;
    const method = (init.method ?? "GET").toUpperCase();
    const headers = new Headers(init.headers);
    const body = typeof init.body === "string" ? JSON.parse(init.body) : null;
    server.calls.push({ method, path, headers, body, credentials: init.credentials });
    await new Promise((r) => setTimeout(r, delayMs));
    if (url.origin !== BASE) return json(200, { foreign: true });
    if (init.body !== undefined && headers.get("Content-Type") !== "application/json") {
      return json(415, { detail: "Unsupported media type", code: "unsupported_media_type" });
    }
    const includes = init.credentials === "include";
    const auth = headers.get("Authorization") ?? "";
    const cookieAccess = includes ? server.cookies.access_token : undefined;
    const unsafe = ["POST", "PUT", "PATCH", "DELETE"].includes(method);
    const authed = () => {
      if (auth.startsWith("Bearer ")) return server.validAccess.has(auth.slice(7));
      if (auth.startsWith("Token ")) return server.apiTokens.has(auth.slice(6));
      if (cookieAccess) {
        if (unsafe && headers.get("X-CSRFToken") !== server.csrf) return "csrf";
        return server.validAccess.has(cookieAccess);
      }
      return false;
    };
    const requireAuth = () => {
      const a = authed();
      if (a === "csrf") return json(403, { detail: "CSRF Failed", code: "csrf_failed" });
      if (!a) return json(401, { detail: "Token is invalid or expired", code: "token_not_valid" });
      return null;
    };
    const rotate = (token) => {
      if (server.sessionEnded || token !== server.currentRefresh) {
        if (server.rotated.has(token)) { server.sessionEnded = true; server.currentRefresh = null; }
        return null;
      }
      server.rotated.add(token);
      const access = next("acc"); const refresh = next("ref");
      server.validAccess.add(access); server.currentRefresh = refresh;
      return { access, refresh };
    };

    switch (`${method} ${path}`) {
      case "POST /api/auth/token/": {
        if (body.password !== "pw") return json(401, { detail: "No active account", code: "authentication_failed" });
        return json(200, { ...server.loginBearer(), user_id: 1, username: body.username, email: user.email, role: user.role, client_id: 7, client_name: "Demo" });
      }
      case "POST /api/auth/register/": {
        if (!body.email) return json(400, { detail: "Invalid input", code: "validation_error", errors: [{ field: "email", message: "required" }] });
        return json(201, { ...server.loginBearer(), user_id: 1, username: body.username, email: body.email, role: "member", client_id: 7, client_name: "Demo", detail: "Registered" });
      }
      case "POST /api/auth/token/refresh/": {
        const t = rotate(body.refresh);
        return t ? json(200, t) : json(401, { detail: "Token is blacklisted", code: "token_not_valid" });
      }
      case "POST /api/auth/token/blacklist/": {
        if (auth.startsWith("Token ")) { server.apiTokens.delete(auth.slice(6)); return json(200, { detail: "Logged out" }); }
        if (body.refresh === server.currentRefresh) server.currentRefresh = null;
        return json(200, { detail: "Logged out" });
      }
      case "POST /api/auth/logout-all/": {
        const e = requireAuth(); if (e) return e;
        server.currentRefresh = null; server.validAccess.clear();
        return json(200, { detail: "Logged out everywhere", revoked: 2 });
      }
      case "GET /api/user/": {
        const e = requireAuth(); if (e) return e;
        return json(200, user);
      }
      case "POST /api/widgets/": {
        const e = requireAuth(); if (e) return e;
        return json(201, { ok: true });
      }
      case "GET /api/auth/cookie/csrf/":
        return json(200, { csrf_token: server.csrf });
      case "POST /api/auth/cookie/login/": {
        if (body.password !== "pw") return json(401, { detail: "No active account", code: "authentication_failed" });
        const t = server.loginBearer();
        server.cookies = { access_token: t.access, refresh_token: t.refresh };
        server.csrf = next("csrf");
        return json(200, { user_id: 1, username: body.username, email: user.email, role: "member", client_id: 7, client_name: "Demo", access_expires_at: "2030-01-01T00:00:00Z", csrf_token: server.csrf });
      }
      case "POST /api/auth/cookie/register/": {
        if (!body.email) return json(400, { detail: "Invalid input", code: "validation_error", errors: [{ field: "email", message: "required" }] });
        const t = server.loginBearer();
        server.cookies = { access_token: t.access, refresh_token: t.refresh };
        server.csrf = next("csrf");
        return json(201, { user_id: 1, username: body.username, email: body.email, role: "member", client_id: 7, client_name: "Demo", access_expires_at: "2030-01-01T00:00:00Z", csrf_token: server.csrf, detail: "Registered" });
      }
      case "POST /api/auth/cookie/refresh/": {
        if (headers.get("X-CSRFToken") !== server.csrf) return json(403, { detail: "CSRF Failed", code: "csrf_failed" });
        const t = includes && server.cookies.refresh_token ? rotate(server.cookies.refresh_token) : null;
        if (!t) { server.cookies = {}; return json(401, { detail: "No valid refresh token", code: "token_not_valid" }); }
        server.cookies = { access_token: t.access, refresh_token: t.refresh };
        server.csrf = next("csrf");
        return json(200, { access_expires_at: "2030-01-01T00:00:00Z", csrf_token: server.csrf });
      }
      case "POST /api/auth/cookie/logout/": {
        if (headers.get("X-CSRFToken") !== server.csrf) return json(403, { detail: "CSRF Failed", code: "csrf_failed" });
        server.cookies = {}; server.currentRefresh = null;
        return json(200, { detail: "Logged out" });
      }
      case "POST /api/auth/api-tokens/": {
        if (body.password !== "pw") return json(401, { detail: "No active account", code: "authentication_failed" });
        const token = next("tat_key");
        server.apiTokens.add(token);
        return json(201, { id: 1, name: body.name, token, prefix: token.slice(0, 8), created_at: "2024-01-01T00:00:00Z", expires_at: null });
      }
      default:
        return json(404, { detail: "Not found", code: "not_found" });
    }
  }
  server.fetch = fetch;
  return server;
}

export function memoryStorage() {
  const m = new Map();
  return {
    map: m,
    getItem: (k) => (m.has(k) ? m.get(k) : null),
    setItem: (k, v) => void m.set(k, String(v)),
    removeItem: (k) => void m.delete(k),
  };
}

/** A fake `navigator.locks`: one exclusive FIFO lock per name, shared by every client given it. */
export function fakeLocks() {
  const tails = new Map();
  const locks = {
    requests: 0,
    request(name, cb) {
      locks.requests++;
      const prev = tails.get(name) ?? Promise.resolve();
      const run = prev.then(() => cb({ name }));
      tails.set(name, run.catch(() => {}));
      return run;
    },
  };
  return locks;
}
