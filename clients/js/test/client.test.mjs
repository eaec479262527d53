import { test } from "node:test";
import assert from "node:assert/strict";
import { createAuthClient, AuthError } from "../dist/index.js";
import { BASE, createFakeServer, memoryStorage, fakeLocks } from "./fake-server.mjs";

const REFRESH = "/api/auth/token/refresh/";
const COOKIE_REFRESH = "/api/auth/cookie/refresh/";

function bearerClient(server, extra = {}) {
  const logouts = [];
  const client = createAuthClient({
    baseUrl: BASE, mode: "bearer", fetch: server.fetch, storage: memoryStorage(), locks: null,
    onLogout: (r) => logouts.push(r), ...extra,
  });
  return { client, logouts };
}

test("bearer login stores tokens, user() loads the user, Authorization header is sent", async () => {
  const server = createFakeServer();
  const { client } = bearerClient(server);
  assert.equal(client.isAuthenticated(), false);
  const u = await client.login("alice", "pw");
  assert.equal(u.username, "alice");
  assert.equal(u.access, undefined, "tokens are not part of the user");
  assert.equal(client.isAuthenticated(), true);
  assert.equal(client.getState().status, "authenticated");
  const me = await client.user();
  assert.equal(me.first_name, "Alice");
  const call = server.calls.at(-1);
  assert.match(call.headers.get("Authorization"), /^Bearer acc-/);
  const login = server.calls[0];
  assert.equal(login.headers.get("Content-Type"), "application/json");
});

test("bad credentials reject with a typed AuthError", async () => {
  const server = createFakeServer();
  const { client } = bearerClient(server);
  await assert.rejects(client.login("alice", "nope"), (e) => {
    assert.ok(e instanceof AuthError);
    assert.equal(e.status, 401);
    assert.equal(e.code, "authentication_failed");
    return true;
  });
  await assert.rejects(client.register({ username: "bob", email: "", password: "pw" }), (e) => {
    assert.equal(e.status, 400);
    assert.deepEqual(e.errors, [{ field: "email", message: "required" }]);
    return true;
  });
  assert.equal(client.getState().status, "loading");
});

test("register logs in (bearer)", async () => {
  const server = createFakeServer();
  const { client } = bearerClient(server);
  const u = await client.register({ username: "bob", email: "bob@example.com", password: "pw", first_name: "Bob" });
  assert.equal(u.username, "bob");
  assert.equal(u.detail, undefined);
  assert.equal(client.isAuthenticated(), true);
  assert.deepEqual(server.calls[0].body, { username: "bob", email: "bob@example.com", password: "pw", first_name: "Bob" });
});

test("single flight: 5 concurrent 401s make exactly 1 refresh, all 5 retried and succeed", async () => {
  const server = createFakeServer();
  const { client } = bearerClient(server);
  await client.login("alice", "pw");
  server.expireAccess();
  const results = await Promise.all(Array.from({ length: 5 }, () => client.fetch("/api/user/")));
  assert.deepEqual(results.map((r) => r.status), [200, 200, 200, 200, 200]);
  assert.equal(server.count(REFRESH), 1);
  assert.equal(server.count("/api/user/"), 10, "5 first tries + 5 retries");
  assert.equal(server.sessionEnded, false);
});

test("a request that 401s after another already refreshed just retries (no second refresh)", async () => {
  const server = createFakeServer({ delayMs: 1 });
  const { client } = bearerClient(server);
  await client.login("alice", "pw");
  server.expireAccess();
  const slow = client.fetch("/api/user/");          // sent with the old access token
  assert.equal(await client.refresh(), true);        // meanwhile a refresh happens
  assert.equal((await slow).status, 200);
  assert.equal(server.count(REFRESH), 1);
});

test("retry once only: a 401 after the retry is returned, no loop", async () => {
  const server = createFakeServer();
  const logouts = [];
  // An endpoint that answers 401 even to a freshly refreshed token:
  const always401 = async (input, init) => {
    if (String(input).endsWith("/api/locked/")) {
      server.calls.push({ method: "GET", path: "/api/locked/", headers: new Headers(init.headers) });
      return new Response(JSON.stringify({ detail: "no", code: "not_authenticated" }), { status: 401 });
    }
    return server.fetch(input, init);
  };
  const c2 = createAuthClient({ baseUrl: BASE, mode: "bearer", fetch: always401, storage: memoryStorage(), locks: null, onLogout: (r) => logouts.push(r) });
  await c2.login("alice", "pw");
  const before = server.count(REFRESH);
  const r = await c2.fetch("/api/locked/");
  assert.equal(r.status, 401);
  assert.equal(server.count("/api/locked/"), 2, "first try + exactly one retry");
  assert.equal(server.count(REFRESH) - before, 1, "exactly one refresh");
  assert.equal(c2.isAuthenticated(), true, "a 401 on the retry does not log out");
  assert.deepEqual(logouts, []);
});

test("failed refresh: storage cleared, onLogout called, the original 401 returned", async () => {
  const server = createFakeServer();
  const storage = memoryStorage();
  const { client, logouts } = bearerClient(server, { storage });
  await client.login("alice", "pw");
  assert.ok(storage.map.size > 0);
  server.expireAccess();
  server.currentRefresh = null; // the session was revoked server-side
  const res = await client.fetch("/api/user/");
  assert.equal(res.status, 401);
  assert.deepEqual(logouts, ["refresh_failed"]);
  assert.equal(storage.map.size, 0, "everything the client stored is gone");
  assert.equal(client.isAuthenticated(), false);
  assert.deepEqual(client.getState(), { status: "anonymous", user: null });
  assert.equal(server.count(REFRESH), 1);
  // no further refresh attempts once logged out
  assert.equal((await client.fetch("/api/user/")).status, 401);
  assert.equal(server.count(REFRESH), 1);
});

test("credentials are never sent to another origin", async () => {
  const server = createFakeServer();
  const { client } = bearerClient(server);
  await client.login("alice", "pw");
  await client.fetch("https://elsewhere.example/api/");
  assert.equal(server.calls.at(-1).headers.get("Authorization"), null);
  await client.fetch(`${BASE}/api/user/`);
  assert.match(server.calls.at(-1).headers.get("Authorization"), /^Bearer /);
});

for (const [label, withLocks] of [["Web Locks", true], ["localStorage lease fallback", false]]) {
  test(`cross-tab (${label}): two clients sharing storage make exactly one refresh at expiry`, async () => {
    const server = createFakeServer();
    const storage = memoryStorage();
    const locks = withLocks ? fakeLocks() : null;
    const logouts = [];
    const mk = () => createAuthClient({ baseUrl: BASE, mode: "bearer", fetch: server.fetch, storage, locks, onLogout: (r) => logouts.push(r) });
    const tabA = mk();
    const tabB = mk();
    await tabA.login("alice", "pw");
    assert.equal(tabB.isAuthenticated(), true, "tab B sees tab A's login through shared storage");
    server.expireAccess();
    const results = await Promise.all([tabA.fetch("/api/user/"), tabB.fetch("/api/user/"), tabA.fetch("/api/user/"), tabB.fetch("/api/user/")]);
    assert.deepEqual(results.map((r) => r.status), [200, 200, 200, 200]);
    assert.equal(server.count(REFRESH), 1, "one rotation for both tabs");
    assert.equal(server.sessionEnded, false, "the rotated refresh token was never presented again");
    assert.deepEqual(logouts, []);
    if (locks) assert.ok(locks.requests >= 1);
  });
}

test("cross-tab: without any lock two tabs would both rotate (the test's server detects the reuse)", async () => {
  // Sanity check of the fake server: independent storages = independent sessions... so instead
  // present the same refresh token twice by hand and see the session end.
  const server = createFakeServer();
  const { refresh } = server.loginBearer();
  const post = (r) => server.fetch(`${BASE}${REFRESH}`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ refresh: r }) });
  assert.equal((await post(refresh)).status, 200);
  assert.equal((await post(refresh)).status, 401);
  assert.equal(server.sessionEnded, true);
});

test("cross-tab: a tab that waited for the lock while another tab's refresh failed logs out without refreshing", async () => {
  const server = createFakeServer();
  const storage = memoryStorage();
  const locks = fakeLocks();
  const logouts = [];
  const mk = (tag) => createAuthClient({ baseUrl: BASE, mode: "bearer", fetch: server.fetch, storage, locks, onLogout: (r) => logouts.push(`${tag}:${r}`) });
  const tabA = mk("A");
  const tabB = mk("B");
  await tabA.login("alice", "pw");
  server.expireAccess();
  server.currentRefresh = null;
  const [a, b] = await Promise.all([tabA.fetch("/api/user/"), tabB.fetch("/api/user/")]);
  assert.equal(a.status, 401);
  assert.equal(b.status, 401);
  assert.equal(server.count(REFRESH), 1);
  assert.deepEqual(logouts.sort(), ["A:refresh_failed", "B:other_tab"]);
});

test("cookie mode: credentials include, CSRF header on unsafe methods only", async () => {
  const server = createFakeServer();
  const client = createAuthClient({ baseUrl: BASE, mode: "cookie", fetch: server.fetch, storage: memoryStorage(), locks: null });
  const u = await client.login("alice", "pw");
  assert.equal(u.csrf_token, undefined);
  assert.equal(server.calls[0].credentials, "include");
  assert.equal((await client.fetch("/api/user/")).status, 200);
  const get = server.calls.at(-1);
  assert.equal(get.credentials, "include");
  assert.equal(get.headers.get("X-CSRFToken"), null, "no CSRF header on GET");
  assert.equal(get.headers.get("Authorization"), null);
  for (const method of ["POST", "PUT", "PATCH", "DELETE"]) {
    await client.fetch("/api/widgets/", { method, body: "{}" });
    assert.equal(server.calls.at(-1).headers.get("X-CSRFToken"), server.csrf, method);
  }
  for (const method of ["HEAD", "OPTIONS"]) {
    await client.fetch("/api/widgets/", { method });
    assert.equal(server.calls.at(-1).headers.get("X-CSRFToken"), null, method);
  }
  assert.equal((await client.fetch("/api/widgets/", { method: "POST", body: "{}" })).status, 201);
});

test("cookie mode: no CSRF token in storage (page reload) → GET /api/auth/cookie/csrf/ first", async () => {
  const server = createFakeServer();
  const storage = memoryStorage();
  const c1 = createAuthClient({ baseUrl: BASE, mode: "cookie", fetch: server.fetch, storage, locks: null });
  await c1.login("alice", "pw");
  for (const k of [...storage.map.keys()]) if (k.endsWith(":csrf")) storage.map.delete(k);
  const r = await c1.fetch("/api/widgets/", { method: "POST", body: "{}" });
  assert.equal(r.status, 201);
  assert.equal(server.count("/api/auth/cookie/csrf/"), 1);
});

test("cookie mode: 5 concurrent 401s → one refresh with X-CSRFToken, all retried; cross-tab generation check", async () => {
  const server = createFakeServer();
  const storage = memoryStorage();
  const locks = fakeLocks();
  const mk = () => createAuthClient({ baseUrl: BASE, mode: "cookie", fetch: server.fetch, storage, locks });
  const tabA = mk();
  const tabB = mk();
  await tabA.login("alice", "pw");
  server.expireAccess();
  const results = await Promise.all([
    ...Array.from({ length: 5 }, () => tabA.fetch("/api/user/")),
    tabB.fetch("/api/user/"),
    tabB.fetch("/api/widgets/", { method: "POST", body: "{}" }),
  ]);
  assert.deepEqual(results.map((r) => r.status), [200, 200, 200, 200, 200, 200, 201]);
  assert.equal(server.count(COOKIE_REFRESH), 1);
  const refreshCall = server.calls.find((c) => c.path === COOKIE_REFRESH);
  assert.ok(refreshCall.headers.get("X-CSRFToken"));
  assert.equal(refreshCall.credentials, "include");
  assert.equal(server.sessionEnded, false);
});

test("cookie mode: failed refresh clears storage and calls onLogout; user() on a fresh page is anonymous, silently", async () => {
  const server = createFakeServer();
  const storage = memoryStorage();
  const logouts = [];
  const client = createAuthClient({ baseUrl: BASE, mode: "cookie", fetch: server.fetch, storage, locks: null, onLogout: (r) => logouts.push(r) });
  await client.login("alice", "pw");
  server.expireAccess();
  server.currentRefresh = null;
  assert.equal(await client.user(), null);
  assert.deepEqual(logouts, ["refresh_failed"]);
  assert.equal(storage.map.size, 0);

  const fresh = createAuthClient({ baseUrl: BASE, mode: "cookie", fetch: server.fetch, storage: memoryStorage(), locks: null, onLogout: (r) => logouts.push(`fresh:${r}`) });
  assert.equal(await fresh.user(), null);
  assert.equal(fresh.getState().status, "anonymous");
  assert.deepEqual(logouts, ["refresh_failed"], "an anonymous visitor is not 'logged out'");
});

test("cookie mode: a page reload with live cookies but empty storage is recognised by user()", async () => {
  const server = createFakeServer();
  const c1 = createAuthClient({ baseUrl: BASE, mode: "cookie", fetch: server.fetch, storage: memoryStorage(), locks: null });
  await c1.login("alice", "pw");
  const c2 = createAuthClient({ baseUrl: BASE, mode: "cookie", fetch: server.fetch, storage: memoryStorage(), locks: null });
  assert.equal(c2.isAuthenticated(), false);
  const u = await c2.user();
  assert.equal(u.username, "alice");
  assert.equal(c2.isAuthenticated(), true);
  assert.equal(c2.getState().status, "authenticated");
});

test("cookie mode: logout posts with X-CSRFToken and clears storage", async () => {
  const server = createFakeServer();
  const storage = memoryStorage();
  const client = createAuthClient({ baseUrl: BASE, mode: "cookie", fetch: server.fetch, storage, locks: null });
  await client.login("alice", "pw");
  await client.logout();
  const call = server.calls.at(-1);
  assert.equal(call.path, "/api/auth/cookie/logout/");
  assert.equal(call.headers.get("X-CSRFToken"), server.csrf === undefined ? null : call.headers.get("X-CSRFToken"));
  assert.ok(call.headers.get("X-CSRFToken"));
  assert.deepEqual(server.cookies, {});
  assert.equal(storage.map.size, 0);
  assert.equal(client.getState().status, "anonymous");
});

test("token mode: Authorization: Token <key>, never refreshes, 401 → onLogout", async () => {
  const server = createFakeServer();
  server.apiTokens.add("tat_abc");
  const logouts = [];
  const client = createAuthClient({ baseUrl: BASE, mode: "token", fetch: server.fetch, storage: memoryStorage(), onLogout: (r) => logouts.push(r) });
  const u = await client.setApiToken("tat_abc");
  assert.equal(u.username, "alice");
  assert.equal(server.calls.at(-1).headers.get("Authorization"), "Token tat_abc");
  assert.equal(await client.refresh(), false);
  server.apiTokens.delete("tat_abc");
  const res = await client.fetch("/api/user/");
  assert.equal(res.status, 401);
  assert.equal(server.count(REFRESH) + server.count(COOKIE_REFRESH), 0, "never refreshes");
  assert.equal(server.count("/api/user/"), 2, "no retry");
  assert.deepEqual(logouts, ["token_invalid"]);
  assert.equal(client.isAuthenticated(), false);
});

test("token mode: login obtains a key from /api/auth/api-tokens/, logout deletes it", async () => {
  const server = createFakeServer();
  const client = createAuthClient({ baseUrl: BASE, mode: "token", fetch: server.fetch, storage: memoryStorage(), tokenName: "ci" });
  const u = await client.login("alice", "pw");
  assert.equal(u.username, "alice");
  const create = server.calls.find((c) => c.path === "/api/auth/api-tokens/");
  assert.deepEqual(create.body, { username: "alice", password: "pw", name: "ci" });
  assert.equal(create.headers.get("Authorization"), null);
  assert.equal(server.apiTokens.size, 1);
  await client.logout();
  const call = server.calls.at(-1);
  assert.equal(call.path, "/api/auth/token/blacklist/");
  assert.match(call.headers.get("Authorization"), /^Token tat_key-/);
  assert.deepEqual(call.body, {});
  assert.equal(server.apiTokens.size, 0);
  assert.equal(client.isAuthenticated(), false);
});

test("logout (bearer) blacklists the refresh token; logoutAll returns the server's answer", async () => {
  const server = createFakeServer();
  const storage = memoryStorage();
  const { client, logouts } = bearerClient(server, { storage });
  await client.login("alice", "pw");
  const refresh = server.currentRefresh;
  await client.logout();
  assert.deepEqual(server.calls.at(-1).body, { refresh });
  assert.equal(storage.map.size, 0);
  assert.deepEqual(logouts, [], "an asked-for logout is not reported through onLogout");

  await client.login("alice", "pw");
  const r = await client.logoutAll();
  assert.deepEqual(r, { detail: "Logged out everywhere", revoked: 2 });
  assert.equal(client.isAuthenticated(), false);
});

test("subscribe notifies on state changes", async () => {
  const server = createFakeServer();
  const { client } = bearerClient(server);
  const seen = [];
  const off = client.subscribe(() => seen.push(client.getState().status));
  await client.user();            // no credentials → anonymous without a request
  await client.login("alice", "pw");
  await client.logout();
  off();
  await client.login("alice", "pw");
  assert.deepEqual(seen, ["anonymous", "authenticated", "anonymous"]);
  assert.equal(server.count("/api/user/"), 0);
});

test("a JSON string body gets Content-Type: application/json", async () => {
  const server = createFakeServer();
  const { client } = bearerClient(server);
  await client.login("alice", "pw");
  const r = await client.fetch("/api/widgets/", { method: "POST", body: JSON.stringify({ a: 1 }) });
  assert.equal(r.status, 201);
  assert.equal(server.calls.at(-1).headers.get("Content-Type"), "application/json");
});

test("cookie mode: register logs in through /api/auth/cookie/register/", async () => {
  const server = createFakeServer();
  const client = createAuthClient({ baseUrl: BASE, mode: "cookie", fetch: server.fetch, storage: memoryStorage(), locks: null });
  const u = await client.register({ username: "bob", email: "bob@example.com", password: "pw" });
  assert.equal(u.username, "bob");
  assert.equal(u.detail, undefined);
  assert.equal(u.csrf_token, undefined);
  assert.equal(server.calls[0].path, "/api/auth/cookie/register/");
  assert.equal(server.calls[0].credentials, "include");
  assert.equal(client.isAuthenticated(), true);
  assert.equal((await client.fetch("/api/widgets/", { method: "POST", body: "{}" })).status, 201);
});

test("a refresh answered 429/5xx keeps the credentials and returns the original 401 (no onLogout)", async () => {
  const server = createFakeServer();
  const flaky = async (input, init) => {
    if (String(input).endsWith(REFRESH)) {
      server.calls.push({ method: "POST", path: REFRESH, headers: new Headers(init.headers) });
      return new Response(JSON.stringify({ detail: "Slow down", code: "throttled" }), { status: 429, headers: { "Retry-After": "3" } });
    }
    return server.fetch(input, init);
  };
  const storage = memoryStorage();
  const logouts = [];
  const client = createAuthClient({ baseUrl: BASE, mode: "bearer", fetch: flaky, storage, locks: null, onLogout: (r) => logouts.push(r) });
  await client.login("alice", "pw");
  server.expireAccess();
  const res = await client.fetch("/api/user/");
  assert.equal(res.status, 401);
  assert.equal(client.isAuthenticated(), true);
  assert.deepEqual(logouts, []);
});

test("token mode: register creates the account, ends the JWT session it opened, then obtains an API key", async () => {
  const server = createFakeServer();
  const client = createAuthClient({ baseUrl: BASE, mode: "token", fetch: server.fetch, storage: memoryStorage() });
  const u = await client.register({ username: "alice", email: "alice@example.com", password: "pw" });
  assert.equal(u.username, "alice");
  assert.deepEqual(server.calls.map((c) => c.path), ["/api/auth/register/", "/api/auth/token/blacklist/", "/api/auth/api-tokens/", "/api/user/"]);
  assert.equal(server.currentRefresh, null, "the register session was blacklisted");
  assert.match(server.calls.at(-1).headers.get("Authorization"), /^Token tat_key-/);
});
