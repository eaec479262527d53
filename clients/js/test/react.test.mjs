// The React hook in a jsdom document: <AuthProvider> loads the user, useAuth() goes loading → authenticated.
import { test } from "node:test";
import assert from "node:assert/strict";
import { JSDOM } from "jsdom";

const dom = new JSDOM("<!doctype html><html><body><div id=root></div></body></html>", { url: "http://localhost:5173/" });
globalThis.window = dom.window;
globalThis.document = dom.window.document;
if (!globalThis.navigator) globalThis.navigator = dom.window.navigator;
globalThis.IS_REACT_ACT_ENVIRONMENT = true;

const React = await import("react");
const { createRoot } = await import("react-dom/client");
const { createAuthClient } = await import("../dist/index.js");
const { AuthProvider, useAuth } = await import("../dist/react.js");
const { BASE, createFakeServer, memoryStorage } = await import("./fake-server.mjs");
const h = React.createElement;

function mount(client) {
  const seen = [];
  let api = null;
  function Probe() {
    const auth = useAuth();
    api = auth;
    seen.push(auth.status);
    return h("p", { id: "who" }, `${auth.status}:${auth.user ? auth.user.username : "-"}`);
  }
  const container = document.createElement("div");
  document.body.appendChild(container);
  const root = createRoot(container);
  return { root, container, seen, api: () => api, render: () => h(AuthProvider, { client }, h(Probe)) };
}

async function settle(ms = 60) {
  await React.act(async () => { await new Promise((r) => setTimeout(r, ms)); });
}

test("useAuth(): loading → authenticated for a stored session", async () => {
  const server = createFakeServer();
  const storage = memoryStorage();
  const seed = createAuthClient({ baseUrl: BASE, mode: "bearer", fetch: server.fetch, storage, locks: null });
  await seed.login("alice", "pw");
  // A new page load: a fresh client over the same storage.
  const client = createAuthClient({ baseUrl: BASE, mode: "bearer", fetch: server.fetch, storage, locks: null });
  const m = mount(client);
  await React.act(async () => { m.root.render(m.render()); });
  assert.equal(m.seen[0], "loading");
  await settle();
  assert.equal(m.container.textContent, "authenticated:alice");
  assert.equal(m.seen.at(-1), "authenticated");
  assert.equal(server.count("/api/user/"), 1);
  assert.equal(typeof m.api().authFetch, "function");

  // logout through the hook re-renders as anonymous
  await React.act(async () => { await m.api().logout(); });
  assert.equal(m.container.textContent, "anonymous:-");
  await React.act(async () => { m.root.unmount(); });
});

test("useAuth(): loading → anonymous without credentials, then login → authenticated", async () => {
  const server = createFakeServer();
  const client = createAuthClient({ baseUrl: BASE, mode: "bearer", fetch: server.fetch, storage: memoryStorage(), locks: null });
  const m = mount(client);
  await React.act(async () => { m.root.render(m.render()); });
  await settle(10);
  assert.equal(m.container.textContent, "anonymous:-");
  assert.equal(m.seen[0], "loading");
  await React.act(async () => { await m.api().login("alice", "pw"); });
  assert.equal(m.container.textContent, "authenticated:alice");
  const res = await m.api().authFetch("/api/user/");
  assert.equal(res.status, 200);
  await React.act(async () => { m.root.unmount(); });
});

test("useAuth() outside <AuthProvider> throws a clear error", async () => {
  function Bare() { useAuth(); return null; }
  const container = document.createElement("div");
  const root = createRoot(container);
  const errors = [];
  const origError = console.error;
  console.error = () => {};
  try {
    await React.act(async () => {
      root.render(h(class Boundary extends React.Component {
        constructor(p) { super(p); this.state = { err: null }; }
        static getDerivedStateFromError(err) { return { err }; }
        componentDidCatch(err) { errors.push(err); }
        render() { return this.state.err ? null : h(Bare); }
      }));
    });
  } finally {
    console.error = origError;
  }
  assert.match(String(errors[0]), /inside <AuthProvider/);
  await React.act(async () => { root.unmount(); });
});
