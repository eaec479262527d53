// Example app for @tenantauth/client: plain ES module, no bundler. It imports the built package
// from ../dist/, so run `npm ci && npm run build` in clients/js first.
import { createAuthClient, AuthError } from "../dist/index.js";

const $ = (id) => document.getElementById(id);
const SETTINGS = "tenantauth-example:settings";

function loadSettings() {
  const q = new URLSearchParams(location.search);
  let saved = {};
  try { saved = JSON.parse(localStorage.getItem(SETTINGS) || "{}"); } catch { saved = {}; }
  return {
    baseUrl: q.get("base") || saved.baseUrl || $("base-url").value,
    mode: q.get("mode") || saved.mode || "bearer",
  };
}

function log(message) {
  const line = `${new Date().toLocaleTimeString()}  ${message}`;
  $("log").textContent = `${line}\n${$("log").textContent}`.slice(0, 20000);
}

function showError(err) {
  if (err instanceof AuthError) {
    const fields = err.errors.map((e) => `\n  ${e.field}: ${e.message}`).join("");
    $("error").textContent = `${err.status} ${err.code}: ${err.detail}${fields}` +
      (err.retryAfter !== null ? `\n  retry after ${err.retryAfter}s` : "");
  } else {
    $("error").textContent = String(err && err.message ? err.message : err);
  }
  log(`error: ${$("error").textContent}`);
}

let client = null;
let unsubscribe = null;

function render() {
  const { status, user } = client.getState();
  $("status").textContent = status;
  $("status").dataset.status = status;
  document.body.dataset.status = status;
  $("user").textContent = user ? JSON.stringify(user, null, 2) : "(nobody)";
}

function setup() {
  const baseUrl = $("base-url").value.trim();
  const mode = $("mode").value;
  localStorage.setItem(SETTINGS, JSON.stringify({ baseUrl, mode }));
  if (unsubscribe) unsubscribe();
  if (client) client.destroy();
  try {
    client = createAuthClient({
      baseUrl,
      mode,
      onLogout: (reason) => log(`onLogout(${reason}) — the session is gone`),
    });
  } catch (err) {
    showError(err);
    return;
  }
  window.authClient = client; // for poking from the console or a browser test
  unsubscribe = client.subscribe(render);
  render();
  log(`client: mode=${mode} baseUrl=${client.baseUrl}`);
  loadUser();
}

async function run(label, fn) {
  $("error").textContent = "";
  try {
    const result = await fn();
    if (result !== undefined) log(`${label}: ${typeof result === "string" ? result : JSON.stringify(result)}`);
  } catch (err) {
    showError(err);
  }
}

const credentials = () => ({ username: $("username").value.trim(), password: $("password").value });

function loadUser() {
  return run("user", async () => {
    const u = await client.user();
    return u ? `${u.username} <${u.email}> (${u.role ?? "?"})` : "anonymous";
  });
}

$("register").addEventListener("click", () => run("register", async () => {
  const { username, password } = credentials();
  const u = await client.register({ username, password, email: $("email").value.trim() });
  return `registered and logged in as ${u.username}`;
}));

$("login").addEventListener("click", () => run("login", async () => {
  const { username, password } = credentials();
  const u = await client.login(username, password);
  return `logged in as ${u.username}`;
}));

$("load-user").addEventListener("click", loadUser);
// Enter in a field logs in (the form itself is never submitted).
$("account").addEventListener("submit", (e) => { e.preventDefault(); $("login").click(); });

$("refresh").addEventListener("click", () => run("refresh", async () => {
  const ok = await client.refresh();
  const res = await client.fetch("/api/user/");
  if (res.ok) await loadUser();
  return `refreshed=${ok}, then GET /api/user/ → ${res.status}`;
}));

$("logout").addEventListener("click", () => run("logout", async () => {
  await client.logout();
  return "logged out";
}));

$("logout-all").addEventListener("click", () => run("logout-all", async () => {
  const r = await client.logoutAll();
  return `${r.detail} (revoked ${r.revoked})`;
}));

$("mode").addEventListener("change", setup);
$("base-url").addEventListener("change", setup);

const initial = loadSettings();
$("base-url").value = initial.baseUrl;
$("mode").value = initial.mode;
setup();
