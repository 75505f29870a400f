// Ronda's moderators' triage console.
//
// It checks its token at the hub's whoami endpoint, then opens the moderators'
// websocket (sidecar/hub/protocol.go): a snapshot of the open alerts, then
// every alert version and every moderator's action, each with a sequence
// number; after a cut it reconnects with ?since=<largest seq seen> and resumes
// exactly. Actions go back over the same socket.
//
// Everything that comes from the hub is shown with text nodes
// (createElement/textContent), never parsed as HTML. The token is kept in this
// tab's sessionStorage only; one given as #token=... is moved there and removed
// from the address bar.

const WHOAMI_PATH = "/v1/alerts/whoami";
const HISTORY_PATH = "/v1/alerts/history";
const ALERT_PATH = "/v1/alerts/"; // + the alert's id: its record
const CASES_PATH = "/v1/cases/"; // the cases API (sidecar/cases.Path)
const LEVERS_PATH = "/v1/levers"; // the enforcement levers' API (sidecar/enforce.Path)
const SETTINGS_PATH = "settings.json"; // beside this file: the SLA thresholds
const HISTORY_PAGE = 50;
const SVG_NS = "http://www.w3.org/2000/svg";
const SOCKET_PATH = "/v1/alerts/ws";
const TOKEN_KEY = "ronda.console.token";
const MAX_ACTIVITY = 300;
const MAX_NOTES = 20; // as the hub keeps per alert
const RANK = { viewer: 1, moderator: 2, lead: 3 };
const NEED = { claim: "moderator", ack: "moderator", dismiss: "moderator", note: "moderator", assign: "lead", escalate: "lead" };
const SEVERITY = { critical: 4, high: 3, medium: 2, low: 1 };
const KIND_LABEL = { host: "Hosts", account: "Accounts", location: "Locations", device: "Devices", network: "Networks", stream: "Streams" };

const $ = (id) => document.getElementById(id);

const st = {
  token: "",
  me: null, // {name, role}
  ws: null,
  seq: null, // the largest sequence number seen; null before the first message
  attempt: 0, // reconnect attempts since the last message
  shut: 0, // sockets in a row refused at the handshake after a good whoami
  retryTimer: 0,
  gen: 0, // connect attempts; a stale one stops at its next await
  renderTimer: 0,
  signedOut: false,
  hadSnapshot: false,
  caseOf: "", // the alert (and note count) whose case file is shown
  caseFile: null, // the case file shown, as the cases API gave it
  linkAlert: "", // the alert a #alert=<id> link asks for, until the queue has it
  alerts: new Map(), // id -> {alert, state, fresh: "new"|"updated"|"", seen: Date}
  selected: "",
  gone: null, // {entry, why}: the selected alert left the queue
  pending: new Map(), // request_id -> {action, alertId}
  nextRequest: 0,
  names: new Set(), // moderator names seen, for assign
  status: new Map(), // alert id -> {text, error}: the last result of my action on it
  newestAt: NaN, // the latest event time of any alert version seen: the feed's clock
  view: "queue", // or "history"
  filters: { q: "", severity: "", detector: "", region: "", status: "", mine: false },
  history: { items: [], next: "", loading: false, error: "", gen: 0, timer: 0 },
  historySel: null, // the history item open in the detail pane, when not in the queue
  ctx: { id: "", updates: -1, state: "", data: null, tries: 0, timer: 0, drawn: "" },
  // the shown case's levers (GET /v1/levers?case_id=); focus: the element
  // a lead's approve or lift wants focused once the levers are read again
  levers: { caseId: "", gen: 0, list: [], enabled: [], defaultFor: "", maxFor: "", focus: "" },
  sla: {}, // severity -> seconds an unclaimed alert may wait (settings.json)
};

// ---- small DOM helpers: text only ----

function el(tag, props, ...kids) {
  const n = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") n.className = v;
    else if (k === "dataset") Object.assign(n.dataset, v);
    else if (k === "text") n.textContent = v;
    else if (k.startsWith("on")) n.addEventListener(k.slice(2), v);
    else n.setAttribute(k, v === true ? "" : String(v));
  }
  for (const kid of kids.flat()) {
    if (kid === undefined || kid === null || kid === false) continue;
    n.append(kid instanceof Node ? kid : document.createTextNode(String(kid)));
  }
  return n;
}

function show(node, on) {
  node.hidden = !on;
}

// ---- formatting ----

const pad = (n) => String(n).padStart(2, "0");

function fmtTime(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

function fmtClock(d) {
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

function span(s) {
  if (s < 3600) return `${Math.floor(s / 60)} min`;
  if (s < 86400) return `${Math.floor(s / 3600)} h`;
  return `${Math.floor(s / 86400)} d`;
}

// An alert's `at` is event time: when, in the streams' own time, the evidence
// was raised. Ages are measured against the feed's clock, the latest event
// time this console has seen, not against this browser's clock: a replay (the
// demo plays a synthetic fortnight in minutes) raises alerts "now" whose event
// time is days back, and a moderator needs to know how an alert stands to the
// newest ones. Live, the two clocks agree to within the feed's delay; when
// they do not, feedLag says so above the queue.
function age(iso) {
  const s = Math.round((st.newestAt - new Date(iso).getTime()) / 1000);
  if (Number.isNaN(s)) return "";
  if (s < 60) return "newest";
  return `${span(s)} before newest`;
}

function seeAt(iso) {
  const t = new Date(iso).getTime();
  if (!Number.isNaN(t) && !(t <= st.newestAt)) st.newestAt = t;
}

// feedLag is how far the feed's clock is behind this browser's, when that is
// more than an hour (a replay, or a feed that stopped), else "".
function feedLag() {
  const s = Math.round((Date.now() - st.newestAt) / 1000);
  return Number.isNaN(s) || s < 3600 ? "" : span(s);
}

function fmtScore(x) {
  return typeof x === "number" ? x.toFixed(2) : "–";
}

function fmtValue(key, v) {
  if (typeof v === "number") {
    if (/share$/.test(key) && v >= 0 && v <= 1) return `${Math.round(v * 100)}%`;
    return Number.isInteger(v) ? v.toLocaleString("en") : String(Math.round(v * 1000) / 1000);
  }
  if (typeof v === "boolean") return v ? "yes" : "no";
  if (Array.isArray(v)) return v.map((x) => fmtValue("", x)).join(", ");
  if (v && typeof v === "object") return JSON.stringify(v);
  return v === undefined || v === null || v === "" ? "–" : String(v);
}

const humanKey = (k) => k.replaceAll("_", " ");

// ---- alerts ----

function holder(state) {
  if (!state || !state.claimed_by) return "";
  if (state.claim_expires && new Date(state.claim_expires).getTime() <= Date.now()) return "";
  return state.claimed_by;
}

// statusCell is the queue's status: what was done, then who holds it.
function statusCell(state) {
  const s = state || { status: "open" };
  let word = s.status || "open";
  if (word === "acked" && s.acked_by) word = `acked by ${s.acked_by}`;
  if (word === "escalated" && s.escalated_by) word = `escalated by ${s.escalated_by}`;
  const h = holder(s);
  return [el("span", { class: "status-word" }, word), h ? el("span", { class: "holder" }, `claimed by ${h}`) : null];
}

function hostsOf(alert) {
  const ids = new Set((alert.entities || []).filter((e) => e.kind === "host").map((e) => e.id));
  if (alert.subject && alert.subject.kind === "host") ids.add(alert.subject.id);
  return ids.size;
}

function subjectText(alert) {
  return alert.subject ? `${alert.subject.kind} ${alert.subject.id}` : alert.id;
}

function alertLabel(id) {
  const e = st.alerts.get(id) || (st.gone && st.gone.entry.alert.id === id ? st.gone.entry : null);
  return e ? `${subjectText(e.alert)} (${id})` : id;
}

function sortedAlerts() {
  return [...st.alerts.values()].sort((a, b) => {
    const s = (SEVERITY[b.alert.severity] || 0) - (SEVERITY[a.alert.severity] || 0);
    if (s) return s;
    const t = new Date(b.alert.at).getTime() - new Date(a.alert.at).getTime();
    if (t) return t;
    return a.alert.id < b.alert.id ? -1 : a.alert.id > b.alert.id ? 1 : 0;
  });
}

function noteNames(...names) {
  let added = false;
  for (const n of names) {
    if (n && !st.names.has(n)) {
      st.names.add(n);
      added = true;
    }
  }
  if (added) {
    $("known-moderators").replaceChildren(...[...st.names].sort().map((n) => el("option", { value: n })));
  }
}

// withNotes is a new state that keeps the notes of the old one: the hub
// sends an alert's kept notes in snapshots only, later ones as note actions.
function withNotes(next, old) {
  if (!next) return old;
  if (next.notes || !old || !old.notes) return next;
  return { ...next, notes: old.notes };
}

// upsert takes one alert version and its state; fresh marks a change the
// moderator has not looked at yet.
function upsert(alert, state, fresh) {
  seeAt(alert.at);
  const old = st.alerts.get(alert.id);
  if (old) state = withNotes(state, old.state);
  if (old && alert.updates < old.alert.updates) {
    old.state = state || old.state; // a late older version: keep the newer alert, take the state
    return;
  }
  let mark = old ? old.fresh : "";
  if (fresh && alert.id !== st.selected) {
    if (!old) mark = "new";
    else if (alert.updates > old.alert.updates && mark !== "new") mark = "updated";
  }
  st.alerts.set(alert.id, { alert, state: state || { status: "open" }, fresh: mark, seen: old ? old.seen : new Date() });
  if (st.gone && st.gone.entry.alert.id === alert.id) st.gone = null; // reopened
  noteNames(state && state.claimed_by, state && state.acked_by, state && state.escalated_by, state && state.assigned_to);
}

// leave removes an alert from the queue; if it is the one open in the detail
// pane, the pane keeps it with a banner saying why.
function leave(id, why) {
  const e = st.alerts.get(id);
  st.alerts.delete(id);
  if (e && st.selected === id) st.gone = { entry: e, why };
}

// ---- the socket ----

function setConn(state, text) {
  $("conn").dataset.state = state;
  $("conn-text").textContent = text;
}

function setSeq() {
  $("seq").textContent = st.seq === null ? "seq –" : `seq ${st.seq}`;
}

function clearRetry() {
  if (st.retryTimer) clearTimeout(st.retryTimer);
  st.retryTimer = 0;
}

function scheduleReconnect(why) {
  clearRetry();
  if (st.signedOut) return;
  const base = Math.min(30000, 500 * 2 ** st.attempt);
  const delay = Math.round(base * (0.75 + Math.random() * 0.5));
  st.attempt++;
  setConn("reconnecting", `reconnecting in ${Math.max(1, Math.round(delay / 1000))} s (${why})`);
  st.retryTimer = setTimeout(connect, delay);
}

// refuse stops trying: the hub does not take this token.
function refuse(message) {
  clearRetry();
  closeSocket();
  sessionStorage.removeItem(TOKEN_KEY);
  st.token = "";
  st.me = null;
  setConn("refused", "refused");
  show($("who"), false);
  show($("signout"), false);
  showLogin(message);
}

function closeSocket() {
  const ws = st.ws;
  st.ws = null;
  if (ws) {
    ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
    try {
      ws.close(1000, "console closed");
    } catch {
      // already closing
    }
  }
}

async function connect() {
  clearRetry();
  closeSocket();
  if (!st.token || st.signedOut) return;
  const gen = ++st.gen;
  setConn("connecting", "checking token…");
  let resp;
  try {
    resp = await fetch(WHOAMI_PATH, {
      headers: { Authorization: `Bearer ${st.token}` },
      cache: "no-store",
      credentials: "omit",
    });
  } catch {
    if (gen === st.gen) scheduleReconnect("hub unreachable");
    return;
  }
  if (gen !== st.gen || st.signedOut) return;
  if (resp.status === 401) {
    const text = (await resp.text()).trim();
    if (gen !== st.gen) return;
    refuse(text === "missing bearer token"
      ? "No token was sent. Paste your token and connect."
      : "Invalid token: the hub does not know this token. Check it (or ask your lead for a new one) and sign in again.");
    return;
  }
  if (resp.status === 429) {
    const wait = Math.max(1, parseInt(resp.headers.get("Retry-After") || "60", 10) || 60);
    setConn("refused", `refused: too many bad tokens from this address; retrying in ${wait} s`);
    if (!st.me) showLogin(`Too many bad tokens were tried from this address: the hub checks no other for ${wait} s. This console tries again then.`);
    clearRetry();
    st.retryTimer = setTimeout(connect, wait * 1000);
    return;
  }
  if (resp.status === 403) {
    refuse("The hub does not accept consoles from this address (origin). Open the console the hub serves, or ask to have this origin allowed.");
    return;
  }
  if (!resp.ok) {
    scheduleReconnect(`hub answered ${resp.status}`);
    return;
  }
  let me;
  try {
    me = await resp.json();
  } catch {
    if (gen === st.gen) scheduleReconnect("unreadable whoami answer");
    return;
  }
  if (gen !== st.gen || st.signedOut) return;
  st.me = { name: String(me.name || ""), role: String(me.role || "viewer") };
  noteNames(st.me.name);
  $("who-name").textContent = st.me.name;
  $("who-role").textContent = st.me.role;
  $("who-role").dataset.role = st.me.role;
  show($("who"), true);
  show($("signout"), true);
  showApp();
  openSocket();
}

function openSocket() {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const url = `${scheme}//${location.host}${SOCKET_PATH}${st.seq === null ? "" : `?since=${st.seq}`}`;
  let ws;
  try {
    ws = new WebSocket(url, ["ronda.v1", `ronda.token.${st.token}`]);
  } catch {
    refuse("This token has characters a browser cannot send to the hub. Check that it was pasted whole.");
    return;
  }
  st.ws = ws;
  setConn("connecting", st.seq === null ? "connecting…" : `resuming after seq ${st.seq}…`);
  let opened = false;
  ws.onopen = () => {
    opened = true;
    st.shut = 0;
    setConn("connected", "connected");
  };
  ws.onmessage = (ev) => {
    let m;
    try {
      m = JSON.parse(ev.data);
    } catch {
      return;
    }
    st.attempt = 0;
    handle(m);
  };
  ws.onclose = (ev) => {
    if (st.ws !== ws) return;
    st.ws = null;
    failPending("the connection was cut before the hub answered; check the activity after it reconnects");
    scheduleRender();
    st.shut = opened ? 0 : st.shut + 1;
    // A browser never says why a handshake was refused; the token was good a
    // moment ago, so the likely cause is the page's origin.
    // 4001 and 4002: the hub's tokens were reloaded. The next whoami tells
    // a removed token (and signs out) or the new name and role.
    const why = st.shut >= 2 ? "the hub refuses this page's socket: is its origin allowed?"
      : ev.code === 1008 ? "this console fell behind" : ev.code === 1001 ? "hub restarting"
        : ev.code === 4001 ? "this token was removed" : ev.code === 4002 ? "this token's role changed" : "connection lost";
    if (ev.code === 1001 || ev.code === 1008 || ev.code === 4001 || ev.code === 4002) st.attempt = 0;
    scheduleReconnect(why);
  };
}

function failPending(why) {
  for (const [rid, p] of st.pending) {
    activity("error", p.alertId, `${cap(p.action)} on ${alertLabel(p.alertId)}: not confirmed: ${why}.`);
    st.status.set(p.alertId, { text: `${cap(p.action)} not confirmed: ${why}.`, error: true });
    st.pending.delete(rid);
  }
}

function send(action, fields) {
  const id = st.selected;
  if (!st.ws || st.ws.readyState !== WebSocket.OPEN || !id) {
    st.status.set(id, { text: "Not connected: wait for the console to reconnect, then try again.", error: true });
    scheduleRender();
    return false;
  }
  const rid = `c${++st.nextRequest}`;
  st.pending.set(rid, { action, alertId: id });
  st.ws.send(JSON.stringify({ type: "action", request_id: rid, alert_id: id, action, ...fields }));
  st.status.set(id, { text: `${cap(action)}: sending…`, error: false });
  scheduleRender();
  return true;
}

// ---- messages ----

function handle(m) {
  if (typeof m.seq === "number") {
    if (m.type === "snapshot" || st.seq === null || m.seq > st.seq) st.seq = m.seq;
    setSeq();
  }
  switch (m.type) {
    case "snapshot":
      onSnapshot(m);
      break;
    case "alert":
      onAlert(m);
      break;
    case "action":
      onAction(m, false);
      break;
    case "ack":
      onAction(m, true);
      break;
    case "error":
      onError(m);
      break;
    case "case":
      onCase(m);
      break;
    default:
      return;
  }
  scheduleRender();
}

function onSnapshot(m) {
  const before = st.alerts;
  const resync = st.hadSnapshot;
  st.alerts = new Map();
  for (const { alert, state } of m.alerts || []) {
    const old = before.get(alert.id);
    if (old) st.alerts.set(alert.id, old);
    upsert(alert, state, resync);
  }
  if (st.selected && !st.alerts.has(st.selected) && before.has(st.selected)) {
    st.gone = { entry: before.get(st.selected), why: "It left the queue while this console was away (dismissed or merged)." };
  }
  activity("info", "", resync
    ? `Resynchronised with the hub: ${st.alerts.size} open alerts.`
    : `Connected: ${st.alerts.size} open alerts.`);
  st.hadSnapshot = true;
  openLinked();
}

// openLinked opens the alert a #alert=<id> link named, once it is known.
function openLinked() {
  const id = st.linkAlert;
  if (!id || !st.hadSnapshot) return;
  st.linkAlert = "";
  if (!st.alerts.has(id)) {
    activity("info", "", `The linked alert ${id} is not in the open queue; search the history for it.`);
    return;
  }
  select(id);
}

function onAlert(m) {
  const a = m.alert;
  if (!a || !a.id) return;
  if (a.merged_into) {
    const had = st.alerts.has(a.id);
    leave(a.id, `It was merged into ${alertLabel(a.merged_into)}; follow that alert.`);
    if (st.gone && st.gone.entry.alert.id === a.id) st.gone.mergedInto = a.merged_into;
    if (had) activity("info", a.merged_into, `${alertLabel(a.id)} was merged into ${alertLabel(a.merged_into)}.`);
    return;
  }
  upsert(a, m.state, true);
}

const VERB = { claim: "claimed", ack: "acked", assign: "assigned", escalate: "escalated", dismiss: "dismissed", note: "added a note to" };

function describe(act, own) {
  const who = own ? "You" : act.moderator;
  let s = `${who} ${VERB[act.action] || act.action} ${alertLabel(act.alert_id)}`;
  if (act.action === "assign") s += ` to ${act.target}`;
  if (act.reason) s += `: “${act.reason}”`;
  if (act.note) s += `: “${act.note}”`;
  return s;
}

function onAction(m, own) {
  const act = m.action;
  if (!act) return;
  noteNames(act.moderator, act.target);
  const text = describe(act, own);
  const e = st.alerts.get(act.alert_id);
  if (e && m.state) e.state = withNotes(m.state, e.state);
  if (e && act.action === "note" && act.note) {
    const notes = [...(e.state.notes || []), { at: act.at, by: act.moderator, text: act.note }];
    e.state = { ...e.state, notes: notes.slice(-MAX_NOTES) };
  }
  if (act.action === "dismiss") {
    leave(act.alert_id, `Dismissed by ${act.moderator}${act.reason ? `: “${act.reason}”` : ""}.`);
  }
  if (own) {
    st.pending.delete(m.request_id);
    st.status.set(act.alert_id, { text: `Done: ${text.replace(/^You /, "you ")}.`, error: false });
  } else if (e && act.action !== "note") {
    e.fresh = act.alert_id === st.selected ? "" : e.fresh || "updated";
  }
  activity(own ? "ack" : "action", act.alert_id, text);
}

function errorText(code, message) {
  switch (code) {
    case "forbidden": return `Not allowed for your role: ${message}.`;
    case "claimed": return `Another moderator holds it (${message}).`;
    case "unknown_alert": return "That alert is no longer open: it was dismissed or merged.";
    case "bad_state": return `Not possible now: ${message}.`;
    case "reason_required": return "Dismiss needs a reason.";
    case "note_required": return `${cap(message)}.`;
    case "bad_target": return "Assign needs the name of a moderator or lead.";
    case "no_destination": return "Escalation is not configured on this hub; tell your lead.";
    case "not_saved": return "The hub could not save it (its disk is full or failing); nothing changed. Try again, or tell your lead.";
    case "escalation_failed": return "The escalation destination did not take it; try again, or tell your lead.";
    case "escalating": return `Not now: ${message}.`;
    case "escalated": return `An escalated alert is the case team's now: ${message}.`;
    case "unexpected_field": return `The hub refused a field this action does not take: ${message}.`;
    case "bad_message":
    case "bad_action": return `The hub could not read the request: ${message}.`;
    default: return `${code || "error"}: ${message || "no message"}.`;
  }
}

function onError(m) {
  const p = st.pending.get(m.request_id);
  st.pending.delete(m.request_id);
  const why = errorText(m.code, m.message);
  if (p) {
    activity("error", p.alertId, `${cap(p.action)} on ${alertLabel(p.alertId)} refused. ${why}`);
    st.status.set(p.alertId, { text: `${cap(p.action)} refused. ${why}`, error: true });
  } else {
    activity("error", "", `The hub refused a request. ${why}`);
  }
}

const cap = (s) => (s ? s[0].toUpperCase() + s.slice(1) : s);

// ---- activity feed ----

function activity(kind, alertId, text) {
  const item = el("li", { class: `act act-${kind}`, dataset: { kind, alertId: alertId || "" } },
    el("time", { datetime: new Date().toISOString() }, fmtClock(new Date())),
    el("span", { class: "act-text" }, text));
  if (alertId) {
    item.tabIndex = 0;
    item.title = "Open this alert";
  }
  const list = $("activity");
  list.prepend(item);
  while (list.children.length > MAX_ACTIVITY) list.lastElementChild.remove();
}

// ---- rendering ----

function render() {
  if (st.renderTimer) clearTimeout(st.renderTimer);
  st.renderTimer = 0;
  renderQueue();
  renderHistory();
  renderDetail();
}

// scheduleRender draws once for a burst of messages (a resumed console may
// get thousands at once).
function scheduleRender() {
  if (!st.renderTimer) st.renderTimer = setTimeout(render, 30);
}

function renderQueue() {
  const focusedId = document.activeElement && document.activeElement.closest && document.activeElement.closest("#queue-body tr")
    ? document.activeElement.closest("tr").dataset.alertId : "";
  const shown = sortedAlerts().filter(matches);
  const rows = shown.map((e) => {
    const a = e.alert;
    const sev = a.severity || "low";
    const subject = el("td", { class: "subject", title: subjectText(a) },
      e.fresh ? el("span", { class: `pill pill-${e.fresh}` }, e.fresh) : null,
      el("span", { class: "kind" }, a.subject ? a.subject.kind : ""), " ",
      el("span", { class: "subject-id" }, a.subject ? a.subject.id : a.id));
    const row = el("tr", {
      class: `row sev-${sev}${e.fresh ? ` is-${e.fresh}` : ""}${a.id === st.selected ? " selected" : ""}`,
      tabindex: 0, "aria-selected": a.id === st.selected ? "true" : "false",
      dataset: { alertId: a.id, severity: sev },
    },
    el("td", {}, el("span", { class: `badge sev-${sev}` }, sev)),
    subject,
    el("td", { class: "num", dataset: { col: "hosts" } }, hostsOf(a)),
    el("td", { class: "num", dataset: { col: "score" } }, fmtScore(a.score)),
    el("td", { class: "status", dataset: { col: "status", status: (e.state && e.state.status) || "open" } }, statusCell(e.state)),
    slaCell(e),
    el("td", { class: "when", title: `event time ${fmtTime(a.at)}` }, age(a.at)));
    return row;
  });
  $("queue-body").replaceChildren(...rows);
  $("queue-count").textContent = shown.length === st.alerts.size ? String(rows.length) : `${rows.length} of ${st.alerts.size}`;
  const lag = feedLag();
  $("feed-lag").textContent = lag
    ? `Event times: the newest alert was raised ${lag} before this browser's clock (a replay, or a quiet feed); ages count from it.`
    : "";
  show($("feed-lag"), !!lag);
  show($("queue-empty"), rows.length === 0);
  $("queue-empty").textContent = st.alerts.size && !rows.length
    ? "No open alert matches the filters." : "No open alerts. New ones appear here as they are raised.";
  const fresh = [...st.alerts.values()].filter((e) => e.fresh === "new").length;
  document.title = `${fresh ? `(${fresh} new) ` : ""}${st.alerts.size} open · Ronda triage console`;
  if (focusedId) {
    const again = [...$("queue-body").children].find((r) => r.dataset.alertId === focusedId);
    if (again) again.focus();
  }
}

function entityChips(alert, kinds) {
  const groups = [];
  for (const kind of kinds) {
    const ids = [...new Set((alert.entities || []).filter((e) => e.kind === kind).map((e) => e.id))];
    if (alert.subject && alert.subject.kind === kind && !ids.includes(alert.subject.id)) ids.unshift(alert.subject.id);
    if (!ids.length) continue;
    groups.push(el("div", { class: "entity-group", dataset: { kind } },
      el("div", { class: "entity-kind" }, `${KIND_LABEL[kind] || kind} (${ids.length})`),
      el("ul", { class: "chips" }, ids.map((id) => {
        const subj = alert.subject && alert.subject.kind === kind && alert.subject.id === id;
        return el("li", { class: `chip${subj ? " chip-subject" : ""}`, title: subj ? "the alert's subject" : null }, id);
      }))));
  }
  return groups.length ? groups : [el("p", { class: "none" }, "none named")];
}

function kvRows(pairs) {
  return pairs.flatMap(([k, v, title]) => [el("dt", { title: title || null }, k), el("dd", {}, ...[v].flat())]);
}

const aside = (text) => el("span", { class: "aside" }, text);

function evidenceList(ev) {
  const keys = Object.keys(ev || {});
  if (!keys.length) return el("p", { class: "none" }, "no figures");
  return el("dl", { class: "kv evidence" }, kvRows(keys.sort().map((k) => [humanKey(k), fmtValue(k, ev[k]), k])));
}

function renderDetail() {
  const live = st.alerts.get(st.selected);
  const e = live || (st.gone ? st.gone.entry : null) || historyEntry(st.historySel);
  show($("detail-empty"), !e);
  show($("detail"), !!e);
  if (!e) return;
  const a = e.alert;
  const sev = a.severity || "low";
  const badge = $("d-severity");
  badge.className = `badge badge-lg sev-${sev}`;
  badge.textContent = sev;
  $("d-title").textContent = subjectText(a);
  $("d-score").textContent = `score ${fmtScore(a.score)}`;
  $("d-meta").replaceChildren(
    el("span", {}, `alert ${a.id}`), " · ",
    el("span", {}, `${hostsOf(a)} host${hostsOf(a) === 1 ? "" : "s"}`), " · ",
    el("span", { title: "the alert's updates count: 0 is the first version, as the terminal and the record number it" },
      `version ${a.updates || 0}`));

  const gone = $("d-gone");
  const fromRecord = !live && !st.gone;
  show(gone, !live);
  if (fromRecord) {
    gone.replaceChildren(el("strong", {}, "From the record. "),
      `This alert is not in the open queue (${e.state.status}); what moderators did to it is listed under Recorded actions.`);
  }
  if (!live && st.gone) {
    const kids = [el("strong", {}, "This alert left the queue. "), st.gone.why];
    const target = st.gone.mergedInto;
    if (target && st.alerts.has(target)) {
      kids.push(" ", el("button", { type: "button", class: "quiet", onclick: () => select(target) }, "Open the alert it joined"));
    }
    gone.replaceChildren(...kids);
  }

  const s = e.state || { status: "open" };
  const h = holder(s);
  const state = [["status", s.status || "open"]];
  if (h) {
    // Until when: the claim timer beside the state counts it down.
    state.push(["claimed by", h === (st.me && st.me.name) ? `${h} (you)` : h]);
  } else {
    state.push(["claimed by", "nobody"]);
  }
  if (s.assigned_to) state.push(["assigned to", s.assigned_to]);
  if (s.acked_by) state.push(["acked by", s.acked_by]);
  if (s.escalated_by) state.push(["escalated by", s.escalated_by]);
  if (s.notes && s.notes.length) {
    state.push(["notes", el("ul", { class: "notes" }, s.notes.map((n) => el("li", {},
      el("span", { class: "note-by" }, `${n.by}: `), n.text)))]);
  }
  $("d-state").replaceChildren(...state.map(([k, v]) => el("div", { class: "state-item" }, el("dt", {}, k), el("dd", {}, v))));
  $("d-state").dataset.status = s.status || "open";
  $("d-state").dataset.claimedBy = h;
  renderCase(a, s);
  tickClaim();

  $("d-who").replaceChildren(...entityChips(a, ["host", "account"]));
  $("d-where").replaceChildren(...entityChips(a, ["location", "device", "network"]),
    ...(a.entities || []).some((x) => x.kind === "stream") ? entityChips(a, ["stream"]) : []);
  $("d-when").replaceChildren(...kvRows([
    ["raised", [fmtTime(a.at), " ", aside(`event time, ${age(a.at)}`)],
      "event time of this version, in this browser's time zone; its age counts from the newest alert's event time"],
    ["version", String(a.updates || 0), "updates: 0 is the first version"],
    ["seen here", fmtTime(e.seen.toISOString())],
  ]));

  const money = (a.reasons || []).filter((r) => r.detector === "money");
  $("d-money").replaceChildren(...(money.length
    ? money.map((r) => el("div", { class: "money" }, el("p", { class: "summary" }, r.summary || ""), evidenceList(r.evidence)))
    : [el("p", { class: "none" }, "No payout or gift pattern in this alert.")]));

  const reasons = [...(a.reasons || [])].sort((x, y) => (y.score || 0) - (x.score || 0));
  $("d-reasons").replaceChildren(...(reasons.length ? reasons.map((r) => el("li", { class: "reason", dataset: { detector: r.detector || "" } },
    el("div", { class: "reason-head" },
      el("span", { class: "detector" }, humanKey(r.detector || "detector")),
      el("span", { class: "reason-score" }, fmtScore(r.score)),
      el("span", { class: "bar", "aria-hidden": "true" }, el("span", { class: "bar-fill", style: null }))),
    el("p", { class: "summary" }, r.summary || ""),
    evidenceList(r.evidence))) : [el("li", { class: "none" }, "No reasons given.")]));
  // Bar widths are set through the CSSOM: no inline style attribute is parsed.
  [...$("d-reasons").querySelectorAll(".bar-fill")].forEach((b, i) => {
    b.style.width = `${Math.round(Math.max(0, Math.min(1, reasons[i].score || 0)) * 100)}%`;
  });

  renderActions(e, !live);
  renderContext(a);
}

function renderActions(e, gone) {
  const role = st.me ? st.me.role : "viewer";
  const rank = RANK[role] || 0;
  const readOnly = rank < RANK.moderator;
  show($("actions-readonly"), readOnly);
  show($("act-forms"), !readOnly);
  const s = e.state || { status: "open" };
  const h = holder(s);
  const mine = h && st.me && h === st.me.name;
  const heldByOther = h && !mine;
  const lead = role === "lead";
  const busy = (action) => [...st.pending.values()].some((p) => p.alertId === e.alert.id && p.action === action);

  const why = {
    claim: heldByOther ? `claimed by ${h}` : "",
    ack: heldByOther && !lead ? `claimed by ${h}` : s.status !== "open" ? `the alert is ${s.status}` : "",
    dismiss: s.status === "escalated" ? "an escalated alert is not dismissed" : heldByOther && !lead ? `claimed by ${h}` : "",
    note: "",
    assign: "",
    escalate: s.status === "escalated" ? "already escalated" : "",
  };
  const controls = {
    claim: [$("act-claim")],
    ack: [$("act-ack")],
    dismiss: [$("form-dismiss"), $("act-dismiss"), $("in-dismiss")],
    note: [$("form-note"), $("act-note"), $("in-note")],
    assign: [$("form-assign"), $("act-assign"), $("in-assign")],
    escalate: [$("form-escalate"), $("act-escalate"), $("in-escalate")],
  };
  for (const [action, [first, ...rest]] of Object.entries(controls)) {
    const allowed = rank >= RANK[NEED[action]];
    show(first, allowed);
    const reason = gone ? "the alert is not in the open queue" : busy(action) ? "sending…" : why[action];
    for (const c of [first, ...rest]) {
      if (c.tagName === "BUTTON" || c.tagName === "INPUT" || c.tagName === "TEXTAREA") {
        c.disabled = !allowed || (!!reason && (c.tagName === "BUTTON" || gone));
        if (c.tagName === "BUTTON") c.title = reason ? `Not now: ${reason}` : "";
      }
    }
  }
  $("act-claim").textContent = mine ? "Renew claim" : "Claim";
  const status = st.status.get(e.alert.id);
  const line = $("actions-status");
  const held = !heldByOther || readOnly ? ""
    : lead ? `Claimed by ${h}: as lead you can still ack, dismiss, assign, escalate and add notes.`
      : `Claimed by ${h}: you can still add notes.`;
  line.textContent = status ? status.text : held;
  line.classList.toggle("error", !!(status && status.error));
  line.classList.toggle("held", !status && !!held);
}

// ---- selection and input ----

function select(id) {
  if (!id) return;
  if (id !== st.selected) {
    for (const f of ["in-dismiss", "in-note", "in-assign", "in-escalate"]) $(f).value = "";
  }
  st.selected = id;
  if (st.historySel && st.historySel.alert.id !== id) st.historySel = null;
  if (!st.alerts.has(id) && !(st.gone && st.gone.entry.alert.id === id)) st.gone = null;
  if (st.gone && st.gone.entry.alert.id !== id) st.gone = null;
  const e = st.alerts.get(id);
  if (e) e.fresh = "";
  render();
}

function moveSelection(delta) {
  const body = st.view === "history" ? $("history-body") : $("queue-body");
  const ids = [...body.children].map((r) => r.dataset.alertId).filter(Boolean);
  if (!ids.length) return;
  const i = ids.indexOf(st.selected);
  const next = ids[Math.max(0, Math.min(ids.length - 1, i < 0 ? 0 : i + delta))];
  selectIn(st.view, next);
}

// selectIn opens an alert of a view and keeps the keyboard on its row.
function selectIn(view, id) {
  if (view === "history") {
    const item = st.history.items.find((x) => x.alert.id === id);
    st.historySel = item || null;
  }
  select(id);
  const body = view === "history" ? $("history-body") : $("queue-body");
  const row = [...body.children].find((r) => r.dataset.alertId === id);
  if (row) {
    row.focus();
    row.scrollIntoView({ block: "nearest" });
  }
}

function showLogin(message) {
  show($("boot"), false);
  show($("app"), false);
  show($("login"), true);
  const err = $("login-error");
  err.textContent = message || "";
  show(err, !!message);
  $("login-token").focus();
}

function showApp() {
  show($("boot"), false);
  show($("login"), false);
  show($("app"), true);
}

function resetData() {
  st.alerts = new Map();
  st.selected = "";
  st.gone = null;
  st.pending.clear();
  st.status.clear();
  st.seq = null;
  st.newestAt = NaN;
  st.hadSnapshot = false;
  st.history.items = [];
  st.history.next = "";
  st.historySel = null;
  st.ctx = { id: "", updates: -1, state: "", data: null, tries: 0, timer: 0, drawn: "" };
  setSeq();
  $("activity").replaceChildren();
  render();
}

// keepFocusBelowHead keeps what gets the focus in the detail pane out from
// under its sticky head: the browser counts an element under the head as
// in view, so a focus() there (the lever a lead just lifted, say) would not
// scroll and the focus would be hidden (WCAG 2.4.11). The pane's
// scroll-padding-top follows the head's height, which changes with the
// alert, so that focus() and scrollIntoView bring the element below it.
function keepFocusBelowHead() {
  const pane = document.querySelector(".detail-pane");
  const head = document.querySelector(".detail-head");
  if (!pane || !head || typeof ResizeObserver !== "function") return;
  new ResizeObserver(() => { pane.style.scrollPaddingTop = `${head.offsetHeight + 8}px`; }).observe(head);
}

function wire() {
  $("queue-body").addEventListener("click", (ev) => {
    const row = ev.target.closest("tr[data-alert-id]");
    if (row) select(row.dataset.alertId);
  });
  $("queue-body").addEventListener("keydown", (ev) => {
    const row = ev.target.closest("tr[data-alert-id]");
    if (!row) return;
    if (ev.key === "Enter" || ev.key === " ") {
      ev.preventDefault();
      select(row.dataset.alertId);
    } else if (ev.key === "ArrowDown" || ev.key === "ArrowUp") {
      ev.preventDefault();
      moveSelection(ev.key === "ArrowDown" ? 1 : -1);
    }
  });
  $("history-body").addEventListener("click", (ev) => {
    const row = ev.target.closest("tr[data-alert-id]");
    if (row) selectIn("history", row.dataset.alertId);
  });
  $("history-body").addEventListener("keydown", (ev) => {
    const row = ev.target.closest("tr[data-alert-id]");
    if (!row) return;
    if (ev.key === "Enter" || ev.key === " ") {
      ev.preventDefault();
      selectIn("history", row.dataset.alertId);
    } else if (ev.key === "ArrowDown" || ev.key === "ArrowUp") {
      ev.preventDefault();
      moveSelection(ev.key === "ArrowDown" ? 1 : -1);
    }
  });
  document.addEventListener("keydown", onKey);
  wireFilters();
  $("activity").addEventListener("click", (ev) => {
    const item = ev.target.closest("li[data-alert-id]");
    if (item && item.dataset.alertId && st.alerts.has(item.dataset.alertId)) select(item.dataset.alertId);
  });
  $("act-claim").addEventListener("click", () => send("claim", {}));
  // Ctrl+Enter sends a text field's form.
  for (const f of ["form-dismiss", "form-note", "form-assign", "form-escalate"]) {
    $(f).addEventListener("keydown", (ev) => {
      if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey) && ev.target.matches("textarea, input")) {
        ev.preventDefault();
        $(f).requestSubmit();
      }
    });
  }
  $("act-ack").addEventListener("click", () => send("ack", {}));
  const form = (id, input, field, action) => {
    $(id).addEventListener("submit", (ev) => {
      ev.preventDefault();
      const v = $(input).value.trim();
      if (!v) {
        $(input).focus();
        return;
      }
      if (send(action, { [field]: v })) $(input).value = "";
    });
  };
  form("form-dismiss", "in-dismiss", "reason", "dismiss");
  form("form-note", "in-note", "note", "note");
  form("form-assign", "in-assign", "target", "assign");
  form("form-escalate", "in-escalate", "note", "escalate");

  $("login-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const t = $("login-token").value.trim();
    if (!t) return;
    $("login-token").value = "";
    sessionStorage.setItem(TOKEN_KEY, t);
    st.token = t;
    st.signedOut = false;
    st.attempt = 0;
    resetData();
    show($("login-error"), false);
    connect();
  });
  $("signout").addEventListener("click", () => {
    st.signedOut = true;
    clearRetry();
    closeSocket();
    sessionStorage.removeItem(TOKEN_KEY);
    st.token = "";
    st.me = null;
    show($("who"), false);
    show($("signout"), false);
    setConn("idle", "signed out");
    resetData();
    showLogin("");
  });
  window.addEventListener("online", () => {
    if (st.token && !st.ws && st.retryTimer) connect();
  });
  // Relative times move with the clock; timers every second.
  setInterval(render, 15000);
  setInterval(tick, 1000);
}

function start() {
  wire();
  keepFocusBelowHead();
  loadSettings();
  const frag = new URLSearchParams(location.hash.slice(1));
  const fromURL = frag.get("token");
  // #alert=<id> is a deep link: the alert opens once the queue has arrived.
  st.linkAlert = frag.get("alert") || "";
  window.addEventListener("hashchange", () => {
    const id = new URLSearchParams(location.hash.slice(1)).get("alert");
    if (id) { st.linkAlert = id; openLinked(); }
  });
  if (fromURL) {
    sessionStorage.setItem(TOKEN_KEY, fromURL);
    // Out of the address bar, the history entry and anything copied from it.
    history.replaceState(null, "", location.pathname + location.search);
  }
  st.token = sessionStorage.getItem(TOKEN_KEY) || "";
  setSeq();
  if (!st.token) {
    setConn("idle", "not connected");
    showLogin("");
    return;
  }
  connect();
}

// ---- filters and search ----

// matches says whether a queue entry passes the filters. Search finds any
// id: the alert's, or any entity's (host, account, stream, device, network,
// location), in part and without regard to case.
function matches(e) {
  const f = st.filters;
  const a = e.alert;
  const s = e.state || { status: "open" };
  if (f.severity && a.severity !== f.severity) return false;
  if (f.detector && !(a.reasons || []).some((r) => r.detector === f.detector)) return false;
  if (f.region && !(a.entities || []).some((x) => x.kind === "location" && x.id.startsWith(f.region))) return false;
  const h = holder(s);
  switch (f.status) {
    case "": break;
    case "open": if (s.status !== "open" || h) return false; break;
    case "claimed": if (!h) return false; break;
    case "acked": case "escalated": if (s.status !== f.status) return false; break;
    default: return false; // dismissed, merged, closed: not in the open queue
  }
  if (f.mine) {
    const me = st.me && st.me.name;
    if (!me || (h !== me && s.assigned_to !== me)) return false;
  }
  if (f.q) {
    const q = f.q.toLowerCase();
    const ids = [a.id, a.subject && a.subject.id, ...(a.entities || []).map((x) => x.id)];
    if (!ids.some((id) => id && String(id).toLowerCase().includes(q))) return false;
  }
  return true;
}

function filtersActive() {
  const f = st.filters;
  return !!(f.q || f.severity || f.detector || f.region || f.status || f.mine);
}

function readFilters() {
  st.filters = {
    q: $("f-search").value.trim(),
    severity: $("f-severity").value,
    detector: $("f-detector").value,
    region: $("f-region").value.trim(),
    status: $("f-status").value,
    mine: $("f-mine").checked,
  };
  const closed = ["dismissed", "merged", "closed"].includes(st.filters.status);
  $("filter-note").textContent = closed && st.view === "queue"
    ? "Dismissed and merged alerts are not in the open queue: press h for the history." : "";
  scheduleRender();
  if (st.view === "history") scheduleHistory();
}

function wireFilters() {
  const form = $("filters");
  form.addEventListener("input", readFilters);
  form.addEventListener("change", readFilters);
  form.addEventListener("submit", (ev) => ev.preventDefault());
  $("f-search").addEventListener("keydown", (ev) => {
    if (ev.key !== "Enter") return;
    ev.preventDefault();
    readFilters();
    render();
    const body = st.view === "history" ? $("history-body") : $("queue-body");
    const first = body.querySelector("tr[data-alert-id]");
    if (first) selectIn(st.view, first.dataset.alertId);
  });
  $("f-clear").addEventListener("click", clearFilters);
  $("view-queue").addEventListener("click", () => setView("queue"));
  $("view-history").addEventListener("click", () => setView("history"));
  $("history-more").addEventListener("click", () => loadHistory(false));
  $("shortcuts-open").addEventListener("click", openShortcuts);
  $("shortcuts").addEventListener("close", () => $("shortcuts-open").focus());
}

function clearFilters() {
  $("filters").reset();
  readFilters();
}

function setView(v) {
  st.view = v;
  $("view-queue").setAttribute("aria-pressed", String(v === "queue"));
  $("view-history").setAttribute("aria-pressed", String(v === "history"));
  show($("queue-view"), v === "queue");
  show($("history-view"), v === "history");
  readFilters();
  if (v === "history") loadHistory(true);
  const body = v === "history" ? $("history-body") : $("queue-body");
  const row = [...body.children].find((r) => r.dataset.alertId === st.selected) || body.querySelector("tr[data-alert-id]");
  if (row) row.focus();
  else $(v === "history" ? "view-history" : "view-queue").focus();
}

function openShortcuts() {
  const d = $("shortcuts");
  if (!d.open) d.showModal();
  $("shortcuts-close").focus();
}

// ---- keyboard ----

// focusField puts the keyboard in one of the action forms, when it is there.
function focusField(id) {
  const f = $(id);
  if (f && !f.disabled && f.offsetParent !== null) {
    f.focus();
    return true;
  }
  st.status.set(st.selected, { text: "That action is not open to you on this alert now.", error: true });
  scheduleRender();
  return false;
}

function onKey(ev) {
  if (ev.altKey || ev.ctrlKey || ev.metaKey || $("shortcuts").open) return;
  const inField = ev.target.closest && ev.target.closest("input, textarea, select");
  if (inField) {
    if (ev.key === "Escape") {
      ev.preventDefault();
      ev.target.blur();
      const body = st.view === "history" ? $("history-body") : $("queue-body");
      const row = [...body.children].find((r) => r.dataset.alertId === st.selected) || body.querySelector("tr[data-alert-id]");
      if (row) row.focus();
    }
    return;
  }
  if ($("app").hidden) return;
  const keys = {
    j: () => moveSelection(1),
    k: () => moveSelection(-1),
    c: () => st.selected && !$("act-claim").disabled && !$("act-claim").hidden && $("act-claim").click(),
    a: () => st.selected && !$("act-ack").disabled && !$("act-ack").hidden && $("act-ack").click(),
    n: () => st.selected && focusField("in-note"),
    d: () => st.selected && focusField("in-dismiss"),
    s: () => st.selected && focusField("in-assign"),
    e: () => st.selected && focusField("in-escalate"),
    "/": () => $("f-search").focus(),
    f: () => $("f-severity").focus(),
    m: () => {
      $("f-mine").checked = !$("f-mine").checked;
      readFilters();
    },
    x: clearFilters,
    q: () => setView("queue"),
    h: () => setView("history"),
    "?": openShortcuts,
  };
  const fn = keys[ev.key];
  if (!fn) return;
  if (ev.target.closest && ev.target.closest("button") && (ev.key === " " || ev.key === "Enter")) return;
  ev.preventDefault();
  fn();
}

// ---- SLA and claim timers ----

function loadSettings() {
  fetch(SETTINGS_PATH, { cache: "no-store", credentials: "omit" })
    .then((r) => (r.ok ? r.json() : {}))
    .then((j) => {
      const sla = (j && j.sla_seconds) || {};
      st.sla = {};
      for (const [k, v] of Object.entries(sla)) if (typeof v === "number" && v > 0) st.sla[k] = v;
      scheduleRender();
    })
    .catch(() => {});
}

// slaState is how an unclaimed open alert stands against its severity's
// service level: "" (no timer: claimed, acted on, or no level), ok, soon
// (half the time gone), overdue. It counts from when the hub opened the
// alert (state.opened), else from when this console first saw it.
function slaState(e) {
  const s = e.state || { status: "open" };
  const limit = st.sla[e.alert.severity];
  if (!limit || s.status !== "open" || holder(s)) return { level: "", waited: 0, limit: 0 };
  const since = s.opened ? new Date(s.opened).getTime() : e.seen.getTime();
  const waited = Math.max(0, Math.floor((Date.now() - since) / 1000));
  const level = waited >= limit ? "overdue" : waited >= limit / 2 ? "soon" : "ok";
  return { level, waited, limit };
}

function clock(sec) {
  const m = Math.floor(sec / 60);
  return m >= 60 ? `${Math.floor(m / 60)} h ${pad(m % 60)} min` : `${m}:${pad(sec % 60)}`;
}

function slaText(x) {
  if (!x.level) return "–";
  return x.level === "overdue" ? `late ${clock(x.waited)}` : clock(x.waited);
}

function slaCell(e) {
  const x = slaState(e);
  return el("td", {
    class: "sla", dataset: { col: "sla", sla: x.level || "none" },
    title: x.level ? `unclaimed for ${clock(x.waited)}; service level ${clock(x.limit)}` : "no timer: claimed, acted on, or no service level for this severity",
  }, slaText(x));
}

function tickClaim() {
  const t = $("d-claim-timer");
  const e = st.alerts.get(st.selected);
  const s = e && e.state;
  const h = s && holder(s);
  if (!h || !s.claim_expires) {
    show(t, false);
    return;
  }
  const left = Math.round((new Date(s.claim_expires).getTime() - Date.now()) / 1000);
  t.textContent = left > 0 ? `claim by ${h} expires in ${clock(left)} (${fmtTime(s.claim_expires).slice(11, 16)})` : "claim expired";
  t.dataset.left = left < 60 ? "short" : "long";
  show(t, true);
}

// tick moves the timers without rebuilding the page.
function tick() {
  for (const row of $("queue-body").children) {
    const e = st.alerts.get(row.dataset.alertId);
    const cell = row.querySelector("td.sla");
    if (!e || !cell) continue;
    const x = slaState(e);
    cell.textContent = slaText(x);
    cell.dataset.sla = x.level || "none";
  }
  const e = st.alerts.get(st.selected);
  if (e && e.state && e.state.claimed_by && !holder(e.state)) scheduleRender(); // a claim ran out
  tickClaim();
  tickLevers();
}

// tickLevers shows a lever of the case shown as ended once its time is up:
// the hub tells nothing when a lever runs out (a payout hold's release, when
// delivered, is told and read again).
function tickLevers() {
  const list = $("d-lever-list");
  if (!list || st.levers.caseId !== $("d-case-file").dataset.caseId) return;
  const now = Date.now();
  if (st.levers.list.some((l) => !l.lifted_at && Date.parse(l.until) <= now &&
    (list.querySelector(`li[data-lever-id="${CSS.escape(l.id)}"]`) || {}).dataset?.state === "active")) renderLevers();
}

// ---- the case hook ----

// renderCase shows that an escalated alert is the case team's. The cases
// work links its case file into #d-case-link.
function renderCase(a, s) {
  const on = s.status === "escalated";
  show($("d-case"), on);
  $("d-case").dataset.caseHook = on ? a.id : "";
  $("d-case-text").textContent = on ? `escalated${s.escalated_by ? ` by ${s.escalated_by}` : ""}: the case team has it.` : "";
  if (!on) { st.caseOf = ""; st.caseFile = null; $("d-case-file").replaceChildren(); delete $("d-case-file").dataset.caseId; return; }
  const key = `${a.id}/${(s.notes || []).length}`;
  if (st.caseOf !== key) { st.caseOf = key; loadCase(a.id, key); }
}

// loadCase reads the case file of an escalated alert (read only: id,
// status, entities, notes) from the cases API into #d-case-file.
async function loadCase(alertID, key) {
  const get = async (path) => {
    const resp = await fetch(path, { headers: { Authorization: `Bearer ${st.token}` }, cache: "no-store", credentials: "omit" });
    if (!resp.ok) throw new Error(`${resp.status}`);
    return resp.json();
  };
  let c;
  try {
    const list = await get(CASES_PATH);
    const sum = (list.cases || []).find((x) => x.alert_id === alertID);
    if (!sum) throw new Error("no case yet");
    c = await get(CASES_PATH + encodeURIComponent(sum.id));
  } catch (err) {
    if (st.caseOf === key) $("d-case-file").replaceChildren(el("p", { class: "none" }, `The case file could not be read (${err.message}).`));
    return;
  }
  if (st.caseOf !== key) return;
  renderCaseFile(c);
}

// caseFetch calls the cases API with this console's token; it gives the
// answer's JSON, or throws with the status and the API's error text.
async function caseFetch(path, method, body) {
  const headers = { Authorization: `Bearer ${st.token}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const resp = await fetch(path, { method: method || "GET", headers, cache: "no-store", credentials: "omit",
    body: body === undefined ? undefined : JSON.stringify(body) });
  let j = null;
  try { j = await resp.json(); } catch { j = null; }
  if (!resp.ok) throw new Error(j && j.error ? `${resp.status}: ${j.error}` : `${resp.status}`);
  return j;
}

// renderCaseFile shows a case file: its facts, notes, a form to add a note,
// and the report: its approval and delivery on each route, with a lead's
// approve and submit buttons and anyone's print button. The panel is built
// once per case and updated in place after, so a case message from the hub
// (another moderator's note, a lead's approval) keeps this moderator's focus
// and half-typed note.
function renderCaseFile(c) {
  const box = $("d-case-file");
  const shown = st.caseFile;
  // Answers may cross: an older reading does not replace a newer one.
  if (shown && shown.id === c.id && $("d-case-status") && Date.parse(c.generated_at) < Date.parse(shown.generated_at)) return;
  const built = box.dataset.caseId !== c.id || !$("d-case-status");
  if (built) buildCaseFile(box, c.id);
  st.caseFile = c;
  box.dataset.version = String(c.version);
  $("d-case-id").textContent = c.id;
  $("d-case-status").textContent = c.status;
  $("d-case-status").dataset.status = c.status;
  $("d-case-version").textContent = String(c.version);
  $("d-case-entities").textContent = (c.entities || []).map((e) => `${e.kind} ${e.id}`).join(", ") || "none";
  $("d-case-notes").replaceChildren(...((c.notes || []).length
    ? c.notes.map((n) => el("li", {}, `${n.by}: ${n.text}`))
    : [el("li", { class: "none" }, "No notes.")]));
  const ap = c.approval;
  $("d-case-approval").textContent = ap ? `version ${ap.version} approved by ${ap.by} at ${fmtUTC(ap.at)}` : `version ${c.version} not approved`;
  const key = `${c.id}-v${c.version}`;
  const last = new Map(); // route -> its last attempt at this version
  for (const sub of c.submissions || []) {
    if (sub.key !== key) continue;
    const prev = last.get(sub.route);
    if (!prev || sub.attempt > prev.attempt || (sub.attempt === prev.attempt && sub.at >= prev.at)) last.set(sub.route, sub);
  }
  $("d-case-delivery").replaceChildren(...(last.size
    ? [...last.values()].map((sub) => el("li", { dataset: { route: sub.route, result: sub.result } },
      `${sub.route}: ${sub.result} (attempt ${sub.attempt}, ${fmtUTC(sub.at)})${sub.detail ? ` ${sub.detail}` : ""}`))
    : [el("li", { class: "none" }, c.status === "open" ? "Not sent: a lead approves it first." : "Not sent yet.")]));
  const lead = st.me && RANK[st.me.role] >= RANK.lead;
  show($("act-case-approve"), lead);
  show($("act-case-submit"), lead);
  $("act-case-approve").textContent = ap ? `Version ${ap.version} approved` : `Approve version ${c.version}`;
  $("act-case-approve").disabled = !!ap;
  $("act-case-submit").disabled = c.status !== "approved";
  renderLeverForm();
  if (built) loadLevers(c.id);
}

// showIfOpen shows c if the panel still shows that case (the moderator may
// have moved to another alert while the answer came); it says whether.
function showIfOpen(c) {
  if (!c || $("d-case-file").dataset.caseId !== c.id) return false;
  renderCaseFile(c);
  return true;
}

// fmtUTC writes a time as the case file does: in UTC, said so.
function fmtUTC(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  return `${d.toISOString().slice(0, 19).replace("T", " ")} UTC`;
}

// buildCaseFile makes the case panel's elements for case id.
function buildCaseFile(box, id) {
  box.dataset.caseId = id;
  const input = el("input", { id: "in-case-note", required: true, maxlength: "4096", autocomplete: "off", placeholder: "note for the case file" });
  const noteStatus = el("p", { id: "d-case-note-status", role: "status" });
  const form = el("form", { id: "form-case-note", class: "act-form" },
    el("label", { for: "in-case-note" }, "Add a note to the case file"),
    el("div", { class: "inline" }, input, el("button", { id: "act-case-note", type: "submit" }, "Add note")),
    noteStatus);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    noteStatus.textContent = "sending…";
    try {
      const c = await caseFetch(CASES_PATH + encodeURIComponent(id) + "/notes", "POST", { note: text });
      input.value = "";
      noteStatus.textContent = "Note added.";
      showIfOpen(c);
    } catch (err) {
      noteStatus.textContent = `The note was not added (${err.message}); try again.`;
    }
  });
  const reportStatus = el("p", { id: "d-case-report-status", role: "status" });
  const approve = el("button", { id: "act-case-approve", type: "button", class: "primary" }, "Approve");
  const submit = el("button", { id: "act-case-submit", type: "button" }, "Submit to the report routes");
  const print = el("button", { id: "act-case-print", type: "button" }, "Print case file");
  approve.addEventListener("click", async () => {
    const c = st.caseFile;
    if (!c || c.id !== id) return;
    reportStatus.textContent = `Approving version ${c.version}…`;
    try {
      showIfOpen(await caseFetch(CASES_PATH + encodeURIComponent(id) + "/approve", "POST", { version: c.version }));
      reportStatus.textContent = `Version ${c.version} approved: submit it to send it.`;
      if ($("d-case-file").dataset.caseId === id) $("act-case-submit").focus();
    } catch (err) {
      // A 409: the case moved on (a note, a new alert version) since it was
      // read; show what it is now, to be read before approving.
      reportStatus.textContent = `Not approved (${err.message}).`;
      caseFetch(CASES_PATH + encodeURIComponent(id)).then(showIfOpen).catch(() => {});
    }
  });
  submit.addEventListener("click", async () => {
    reportStatus.textContent = "Sending to the report routes…";
    submit.disabled = true;
    try {
      const out = await caseFetch(CASES_PATH + encodeURIComponent(id) + "/submit", "POST");
      reportStatus.textContent = (out.outcomes || []).map((o) =>
        `${o.route}: ${o.result}${o.attempts ? ` after ${o.attempts} attempt${o.attempts === 1 ? "" : "s"}` : ""}${o.receipt ? `, receipt ${o.receipt}` : ""}${o.error ? ` (${o.error})` : ""}`).join("; ") || "No route.";
      if (showIfOpen(await caseFetch(CASES_PATH + encodeURIComponent(id)))) $("act-case-print").focus();
    } catch (err) {
      reportStatus.textContent = `Not sent (${err.message}).`;
      if (st.caseFile) submit.disabled = st.caseFile.status !== "approved";
    }
  });
  print.addEventListener("click", async () => {
    // The window opens now, on the key press itself: a browser blocks a
    // pop-up opened later, after the link's request. Not with "noopener",
    // under which window.open answers null even when the window opened, so
    // a blocked one could not be told; the new window is cut from this page
    // (opener null) before it is sent to the link instead.
    const win = window.open("about:blank", "_blank");
    if (!win) {
      reportStatus.textContent = "The case file did not open: the browser blocked the new window. Allow pop-ups for this console, then print again.";
      return;
    }
    win.opener = null;
    reportStatus.textContent = "Opening the case file…";
    try {
      const link = await caseFetch(CASES_PATH + encodeURIComponent(id) + "/print", "POST");
      // The link is a path on this origin with a one-time key: the page
      // opens once, with its own strict policy and no script.
      if (typeof link.url !== "string" || !link.url.startsWith(CASES_PATH)) throw new Error("not a case page");
      if (win.closed) throw new Error("its window was closed");
      win.location.replace(link.url);
      reportStatus.textContent = "The case file opened in a new window: print it from there.";
    } catch (err) {
      if (!win.closed) win.close();
      reportStatus.textContent = `The case file could not be opened (${err.message}).`;
    }
  });
  box.replaceChildren(
    el("dl", { class: "case-facts" },
      el("dt", {}, "case"), el("dd", { id: "d-case-id" }),
      el("dt", {}, "status"), el("dd", { id: "d-case-status" }),
      el("dt", {}, "version"), el("dd", { id: "d-case-version" }),
      el("dt", {}, "entities"), el("dd", { id: "d-case-entities" })),
    el("h4", {}, "Case notes"),
    el("ul", { id: "d-case-notes", class: "notes" }),
    form,
    el("section", { id: "d-case-report", class: "case-report", "aria-label": "Report" },
      el("h4", {}, "Report"),
      el("p", { id: "d-case-approval" }),
      el("ul", { id: "d-case-delivery", class: "delivery", "aria-label": "Delivery on each report route" }),
      el("div", { class: "buttons" }, approve, submit, print),
      reportStatus),
    buildLevers(id));
}

// onCase follows a case message from the hub: the case shown here changed
// (another moderator's note, a lead's approval or submission), so it is
// read again; the activity list says who did what.
function onCase(m) {
  const u = m.case;
  if (!u || typeof u.case_id !== "string") return;
  if (typeof u.lever_id === "string" && u.lever_id) {
    onLeverStep(u);
    return;
  }
  const verb = { note: "noted", approve: "approved", submit: "submitted" }[u.change];
  activity("action", u.alert_id, verb
    ? `${u.by || "someone"} ${verb} case ${u.case_id} (now ${u.status}, version ${u.version})`
    : `case ${u.case_id} has a new version of its alert (now ${u.status}, version ${u.version})`);
  if ($("d-case-file").dataset.caseId !== u.case_id) return;
  caseFetch(CASES_PATH + encodeURIComponent(u.case_id))
    .then(showIfOpen)
    .catch(() => {}); // the next message, or selecting the alert again, reads it
}

// ---- enforcement levers on the case ----

// What each kind of lever is called, and which of the case's entities it
// takes (as the service checks them: sidecar/serve leverOnCase).
const LEVER_KINDS = {
  deny_publish: { label: "Deny publish (hosts, devices)", noun: "publish denial", takes: ["host", "device"] },
  payout_hold: { label: "Hold payouts (hosts, accounts)", noun: "payout hold", takes: ["host", "account"] },
};
// The durations offered, those no longer than the service's max_duration.
const LEVER_FOR = [["1h", "1 hour"], ["24h", "1 day"], ["72h", "3 days"], ["168h", "7 days"], ["720h", "30 days"]];

// goDuration reads a Go duration as the levers' API writes it ("72h0m0s")
// into milliseconds; NaN when it cannot.
function goDuration(s) {
  const m = /^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+(?:\.\d+)?)s)?$/.exec(String(s || ""));
  if (!m || !s) return NaN;
  return ((+m[1] || 0) * 3600 + (+m[2] || 0) * 60 + (+m[3] || 0)) * 1000;
}

// buildLevers makes the case panel's levers section: the list, and a
// lead's approval form (shown by renderLeverForm only when the service has
// a kind of lever enabled).
function buildLevers(caseId) {
  const status = el("p", { id: "d-lever-status", role: "status" });
  const kind = el("select", { id: "in-lever-kind" });
  const reason = el("input", { id: "in-lever-reason", required: true, maxlength: "2048", autocomplete: "off",
    placeholder: "why, for the audit and the platform" });
  const dur = el("select", { id: "in-lever-for" });
  const form = el("form", { id: "form-lever", class: "act-form lever-form", hidden: true, "aria-label": "Approve a lever" },
    el("label", { for: "in-lever-kind" }, "Lever"),
    kind,
    el("fieldset", { id: "d-lever-entities", class: "lever-entities" },
      el("legend", {}, "On which of the case's entities"),
      el("div", { id: "d-lever-entity-list", class: "checks" })),
    el("label", { for: "in-lever-reason" }, "Reason"),
    reason,
    el("label", { for: "in-lever-for" }, "For"),
    dur,
    el("div", { class: "buttons" }, el("button", { id: "act-lever-approve", type: "submit", class: "primary" }, "Approve lever")));
  kind.addEventListener("change", () => renderLeverEntities());
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const c = st.caseFile;
    if (!c || c.id !== caseId) return;
    const picked = [...$("d-lever-entity-list").querySelectorAll("input[type=checkbox]")].filter((b) => b.checked)
      .map((b) => ({ kind: b.dataset.kind, id: b.dataset.id }));
    if (!picked.length) {
      status.textContent = "Pick at least one of the case's entities for the lever.";
      const first = $("d-lever-entity-list").querySelector("input");
      if (first) first.focus();
      return;
    }
    const text = reason.value.trim();
    if (!text) {
      status.textContent = "A reason is required.";
      reason.focus();
      return;
    }
    const k = kind.value;
    status.textContent = `Approving a ${LEVER_KINDS[k] ? LEVER_KINDS[k].noun : k}…`;
    try {
      const l = await caseFetch(LEVERS_PATH, "POST", { kind: k, case_id: caseId, alert_id: c.alert_id, entities: picked,
        reason: text, for: dur.value });
      reason.value = "";
      for (const b of $("d-lever-entity-list").querySelectorAll("input[type=checkbox]")) b.checked = false;
      status.textContent = `Lever ${l.id} approved: ${leverSummary(l)}.`;
      // The next thing a lead may do with it is lift it: the focus goes to
      // its lift field once listed (by this reading or a newer one).
      st.levers.focus = `in-lift-${l.id}`;
      loadLevers(caseId);
    } catch (err) {
      status.textContent = `The lever was not approved (${err.message}).`;
    }
  });
  return el("section", { id: "d-case-levers", class: "case-levers", "aria-label": "Enforcement levers" },
    el("h4", {}, "Enforcement levers"),
    el("ul", { id: "d-lever-list", class: "levers", "aria-label": "Levers on this case" }),
    form,
    status);
}

// leverSummary says what a lever does and on what, in words.
function leverSummary(l) {
  const k = LEVER_KINDS[l.kind];
  const on = (l.entities || []).map((e) => `${e.kind} ${e.id}`).join(", ");
  return `${k ? k.noun : l.kind} on ${on || "nothing"}`;
}

// loadLevers reads the levers of the case shown and what the service has
// enabled; an older answer never replaces a newer one.
async function loadLevers(caseId) {
  const gen = ++st.levers.gen;
  let v;
  try {
    v = await caseFetch(`${LEVERS_PATH}?case_id=${encodeURIComponent(caseId)}`);
  } catch (err) {
    if (gen === st.levers.gen && $("d-case-file").dataset.caseId === caseId && $("d-lever-list")) {
      $("d-lever-list").replaceChildren(el("li", { class: "none" }, `The levers could not be read (${err.message}).`));
    }
    return;
  }
  if (gen !== st.levers.gen || $("d-case-file").dataset.caseId !== caseId || !$("d-lever-list")) return;
  st.levers = { caseId, gen, list: Array.isArray(v.levers) ? v.levers : [], enabled: Array.isArray(v.enabled) ? v.enabled : [],
    defaultFor: v.default_duration || "", maxFor: v.max_duration || "", focus: st.levers.focus };
  renderLevers();
  renderLeverForm();
  // A lead's approve or lift asked for the focus on what it made or ended.
  const want = st.levers.focus && $(st.levers.focus);
  if (want && !want.closest("[hidden]")) {
    st.levers.focus = "";
    want.focus();
  }
}

// renderLevers shows the case's levers, newest first, updating items in
// place so that a lead's half-typed lift reason and the focus survive
// another console's step.
function renderLevers() {
  const list = $("d-lever-list");
  const levers = st.levers.list;
  const lead = st.me && RANK[st.me.role] >= RANK.lead;
  const now = Date.now();
  if (!levers.length) {
    list.replaceChildren(el("li", { class: "none" }, "No levers on this case."));
    return;
  }
  const have = new Map([...list.children].filter((li) => li.dataset.leverId).map((li) => [li.dataset.leverId, li]));
  const items = levers.map((l) => {
    const li = have.get(l.id) || leverItem(l);
    const active = !l.lifted_at && Date.parse(l.until) > now;
    li.dataset.state = active ? "active" : "ended";
    li.dataset.kind = l.kind;
    li.querySelector(".lever-head").textContent = `${LEVER_KINDS[l.kind] ? LEVER_KINDS[l.kind].noun : l.kind}: ${active ? "active" : "ended"}`;
    li.querySelector(".lever-on").textContent = `on ${(l.entities || []).map((e) => `${e.kind} ${e.id}`).join(", ")}`;
    const ended = l.lifted_at
      ? `lifted by ${l.lifted_by || "?"} at ${fmtUTC(l.lifted_at)}`
      : `${active ? "until" : "ended at"} ${fmtUTC(l.until)}`;
    li.querySelector(".lever-when").textContent = `approved by ${l.approved_by} at ${fmtUTC(l.approved_at)}; ${ended}`;
    li.querySelector(".lever-reason").textContent = `reason: ${l.reason}`;
    let delivery = "";
    if (l.kind === "payout_hold") {
      delivery = l.hold_delivered ? "hold delivered to the platform" : "hold not yet delivered";
      if (l.lifted_at || !active) delivery += l.release_delivered ? "; release delivered" : "; release not yet delivered";
      if (l.failed) delivery += ` (last attempt failed: ${l.failed})`;
    }
    const d = li.querySelector(".lever-delivery");
    d.textContent = delivery;
    d.dataset.hold = l.hold_delivered ? "delivered" : "pending";
    d.dataset.release = l.release_delivered ? "delivered" : "pending";
    show(d, !!delivery);
    show(li.querySelector("form"), lead && active);
    return li;
  });
  const same = items.length === list.children.length && items.every((li, i) => list.children[i] === li);
  if (!same) list.replaceChildren(...items);
}

// leverItem makes one lever's list item, with a lead's lift form.
function leverItem(l) {
  const id = l.id;
  const input = el("input", { id: `in-lift-${id}`, required: true, maxlength: "2048", autocomplete: "off", placeholder: "why it ends now" });
  const form = el("form", { class: "act-form lift-form", hidden: true },
    el("label", { for: `in-lift-${id}` }, `Reason to lift lever ${id}`),
    el("div", { class: "inline" }, input, el("button", { id: `act-lift-${id}`, type: "submit" }, "Lift lever")));
  const li = el("li", { id: `lever-${id}`, class: "lever", tabindex: "-1", dataset: { leverId: id } },
    el("strong", { class: "lever-head" }), " ", el("span", { class: "lever-id" }, id),
    el("div", { class: "lever-on" }),
    el("div", { class: "lever-when" }),
    el("div", { class: "lever-reason" }),
    el("div", { class: "lever-delivery" }),
    form);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const text = input.value.trim();
    const status = $("d-lever-status");
    if (!text) {
      status.textContent = "A reason is required to lift a lever.";
      return;
    }
    status.textContent = `Lifting lever ${id}…`;
    try {
      const lv = await caseFetch(`${LEVERS_PATH}/${encodeURIComponent(id)}/lift`, "POST", { reason: text });
      input.value = "";
      status.textContent = `Lever ${id} lifted${lv.kind === "payout_hold" ? ": the release goes to the platform" : ""}.`;
      st.levers.focus = `lever-${id}`; // its lift form goes: the focus stays on the lever
      loadLevers(lv.case_id);
    } catch (err) {
      status.textContent = `Lever ${id} was not lifted (${err.message}).`;
    }
  });
  return li;
}

// renderLeverForm offers a lead the approval form, with only the kinds the
// service has enabled and the durations it allows; it keeps the kind,
// reason, duration and ticked entities already chosen.
function renderLeverForm() {
  const form = $("form-lever");
  if (!form) return;
  const lead = st.me && RANK[st.me.role] >= RANK.lead;
  const kinds = st.levers.enabled.filter((k) => LEVER_KINDS[k]);
  const on = !!lead && kinds.length > 0 && st.levers.caseId === $("d-case-file").dataset.caseId;
  show(form, on);
  if (!on) return;
  const kind = $("in-lever-kind");
  const was = kind.value;
  if ([...kind.options].map((o) => o.value).join() !== kinds.join()) {
    kind.replaceChildren(...kinds.map((k) => el("option", { value: k }, LEVER_KINDS[k].label)));
    if (kinds.includes(was)) kind.value = was;
  }
  const dur = $("in-lever-for");
  const max = goDuration(st.levers.maxFor);
  const def = goDuration(st.levers.defaultFor);
  const opts = LEVER_FOR.filter(([v]) => !(goDuration(v) > max));
  if ([...dur.options].map((o) => o.value).join() !== opts.map(([v]) => v).join()) {
    const keep = dur.value;
    dur.replaceChildren(...opts.map(([v, text]) => el("option", { value: v }, text)));
    const pick = opts.find(([v]) => v === keep) || opts.find(([v]) => goDuration(v) === def) || opts[opts.length - 1];
    if (pick) dur.value = pick[0];
  }
  renderLeverEntities();
}

// renderLeverEntities lists, as labelled checkboxes, the case's entities
// that the chosen kind of lever takes.
function renderLeverEntities() {
  const box = $("d-lever-entity-list");
  const c = st.caseFile;
  const k = LEVER_KINDS[$("in-lever-kind").value];
  if (!box || !c || !k) return;
  const ents = (c.entities || []).filter((e) => k.takes.includes(e.kind))
    .sort((a, b) => k.takes.indexOf(a.kind) - k.takes.indexOf(b.kind) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const key = ents.map((e) => `${e.kind}:${e.id}`).join("\n");
  if (box.dataset.key === key) return;
  const checked = new Set([...box.querySelectorAll("input:checked")].map((b) => `${b.dataset.kind}:${b.dataset.id}`));
  box.dataset.key = key;
  box.replaceChildren(...(ents.length
    ? ents.map((e, i) => el("div", { class: "check" },
      el("input", { type: "checkbox", id: `in-lever-ent-${i}`, dataset: { kind: e.kind, id: e.id }, checked: checked.has(`${e.kind}:${e.id}`) }),
      el("label", { for: `in-lever-ent-${i}` }, `${e.kind} ${e.id}`)))
    : [el("p", { class: "none" }, "The case names nothing this lever acts on.")]));
}

// onLeverStep follows a lever's step on a case (approved, lifted, a payout
// callback delivered or failed): the activity list says so, and a console
// showing that case reads its levers again.
function onLeverStep(u) {
  const verb = {
    lever_approve: "approved", lever_lift: "lifted",
    payout_hold_delivered: "delivered the payout hold of", payout_release_delivered: "delivered the payout release of",
    payout_hold_failed: "could not deliver the payout hold of", payout_release_failed: "could not deliver the payout release of",
  }[u.change] || `${u.change}:`;
  activity("action", u.alert_id, `${u.by || "someone"} ${verb} lever ${u.lever_id} on case ${u.case_id}`);
  if ($("d-case-file").dataset.caseId === u.case_id && $("d-lever-list")) loadLevers(u.case_id);
}

// ---- history ----

function historyEntry(item) {
  if (!item) return null;
  const s = { status: item.status };
  const notes = [];
  for (const act of item.actions || []) {
    if (act.action === "escalate") s.escalated_by = act.moderator;
    if (act.action === "ack") s.acked_by = act.moderator;
    if (act.action === "assign") s.assigned_to = act.target;
    if (act.action === "note" && act.note) notes.push({ at: act.at, by: act.moderator, text: act.note });
  }
  if (notes.length) s.notes = notes.slice(-MAX_NOTES);
  return { alert: item.alert, state: s, fresh: "", seen: new Date(item.alert.at), history: item };
}

function scheduleHistory() {
  clearTimeout(st.history.timer);
  st.history.timer = setTimeout(() => loadHistory(true), 250);
}

function historyHref(cursor) {
  const f = st.filters;
  const p = new URLSearchParams();
  p.set("limit", String(HISTORY_PAGE));
  if (f.q) p.set("q", f.q);
  if (f.severity) p.set("severity", f.severity);
  if (f.detector) p.set("detector", f.detector);
  if (f.region) p.set("region", f.region);
  if (["open", "escalated", "dismissed", "merged", "closed"].includes(f.status)) p.set("status", f.status);
  if (f.mine) p.set("mine", "true");
  if (cursor) p.set("cursor", cursor);
  return `${HISTORY_PATH}?${p}`;
}

async function loadHistory(reset) {
  if (!st.token) return;
  const h = st.history;
  const gen = ++h.gen;
  h.loading = true;
  h.error = "";
  if (reset) {
    h.items = [];
    h.next = "";
  }
  renderHistory();
  let resp;
  try {
    resp = await fetch(historyHref(reset ? "" : h.next), {
      headers: { Authorization: `Bearer ${st.token}` }, cache: "no-store", credentials: "omit",
    });
  } catch {
    if (gen === h.gen) Object.assign(h, { loading: false, error: "The hub could not be reached." });
    renderHistory();
    return;
  }
  const body = resp.ok ? await resp.json().catch(() => null) : (await resp.text()).trim();
  if (gen !== h.gen) return;
  h.loading = false;
  if (!resp.ok || !body) {
    h.error = `The history could not be read (${resp.status}${typeof body === "string" && body ? `: ${body}` : ""}).`;
  } else {
    let items = body.alerts || [];
    if (st.filters.status === "acked") items = items.filter((x) => x.status === "acked");
    h.items = reset ? items : [...h.items, ...items];
    h.next = body.next || "";
  }
  renderHistory();
}

function renderHistory() {
  const h = st.history;
  const focusedId = document.activeElement && document.activeElement.closest && document.activeElement.closest("#history-body tr")
    ? document.activeElement.closest("tr").dataset.alertId : "";
  const rows = h.items.map((item) => {
    const a = item.alert;
    const sev = a.severity || "low";
    const last = (item.actions || []).filter((x) => x.action === "dismiss" || x.action === "escalate").pop();
    const word = last ? `${item.status} by ${last.moderator}` : item.status;
    return el("tr", {
      class: `row sev-${sev}${a.id === st.selected ? " selected" : ""}`, tabindex: 0,
      "aria-selected": a.id === st.selected ? "true" : "false", dataset: { alertId: a.id, severity: sev, status: item.status },
    },
    el("td", {}, el("span", { class: `badge sev-${sev}` }, sev)),
    el("td", { class: "subject", title: subjectText(a) }, el("span", { class: "kind" }, a.subject ? a.subject.kind : ""), " ",
      el("span", { class: "subject-id" }, a.subject ? a.subject.id : a.id)),
    el("td", { class: "num" }, hostsOf(a)),
    el("td", { class: "num" }, fmtScore(a.score)),
    el("td", { class: "status", dataset: { col: "status", status: item.status }, title: last && (last.reason || last.note) ? `“${last.reason || last.note}”` : null }, word),
    el("td", { class: "when" }, fmtTime(a.at)));
  });
  $("history-body").replaceChildren(...rows);
  $("history-status").textContent = h.loading ? "Reading the record…" : h.error
    ? h.error : `${h.items.length}${h.next ? "+" : ""} recorded alert${h.items.length === 1 ? "" : "s"} in the last 30 days${filtersActive() ? " matching the filters" : ""}.`;
  $("history-status").classList.toggle("error-text", !!h.error);
  show($("history-more"), !!h.next && !h.loading);
  if (focusedId) {
    const again = [...$("history-body").children].find((r) => r.dataset.alertId === focusedId);
    if (again) again.focus();
  }
}

// ---- the record around an alert: heatmap, flows, cluster ----

function renderContext(a) {
  const c = st.ctx;
  if (c.id !== a.id || c.updates < (a.updates || 0)) loadContext(a.id, a.updates || 0);
  const key = `${c.id}/${c.updates}/${c.state}`;
  $("ctx-status").textContent = c.state === "loading" ? "Reading the record…"
    : c.state === "missing" ? "Not in the record yet (an alert reaches it a second or two after it is raised); trying again…"
      : c.state === "error" ? c.error || "The record could not be read." : "";
  if (c.drawn === key) return;
  c.drawn = key;
  const d = c.state === "ok" ? c.data : null;
  $("d-heatmap").replaceChildren(...(d ? drawHeatmaps(d.context.heatmaps) : []));
  $("d-flows").replaceChildren(...(d ? drawFlows(d.context) : []));
  $("d-graph").replaceChildren(...(d ? drawGraph(a, d.context.links) : []));
  $("d-timeline").replaceChildren(...(d ? drawTimeline(d.actions) : []));
}

async function loadContext(id, updates) {
  const c = st.ctx;
  if (c.id === id && c.updates === updates && c.state === "loading") return;
  clearTimeout(c.timer);
  const tries = c.id === id ? c.tries : 0;
  Object.assign(c, { id, updates, state: "loading", data: null, tries: tries + 1, error: "" });
  let resp;
  try {
    resp = await fetch(ALERT_PATH + encodeURIComponent(id), {
      headers: { Authorization: `Bearer ${st.token}` }, cache: "no-store", credentials: "omit",
    });
  } catch {
    resp = null;
  }
  if (c.id !== id || c.updates !== updates) return;
  if (resp && resp.ok) {
    const data = await resp.json().catch(() => null);
    if (c.id !== id || c.updates !== updates) return;
    Object.assign(c, data ? { state: "ok", data, tries: 0 } : { state: "error", error: "An unreadable answer from the record." });
  } else if (resp && resp.status === 404 && c.tries < 20) {
    c.state = "missing";
    c.timer = setTimeout(() => {
      if (st.ctx.id === id) loadContext(id, updates);
    }, 1500);
  } else {
    const text = resp ? (await resp.text()).trim() : "the hub could not be reached";
    Object.assign(c, { state: "error", error: `The record could not be read: ${text}.` });
  }
  scheduleRender();
}

function svg(tag, attrs, ...kids) {
  const n = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null) continue;
    if (k === "class") n.setAttribute("class", v);
    else if (k === "dataset") Object.assign(n.dataset, v);
    else if (k === "text") n.textContent = v;
    else n.setAttribute(k, String(v));
  }
  for (const kid of kids.flat()) if (kid) n.append(kid);
  return n;
}

const title = (text) => svg("title", { text });
const DAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

// drawHeatmaps draws each host's week: 7 rows (Monday first) of 24 hours,
// shaded by the minutes broadcast, in the host's own time zone.
function drawHeatmaps(maps) {
  const drawn = (maps || []).filter((m) => m.sessions > 0);
  if (!drawn.length) return [el("p", { class: "none" }, "No recorded broadcast of these hosts in the two weeks before the alert.")];
  const cell = 13;
  const left = 30;
  const top = 14;
  return drawn.slice(0, 8).map((m) => {
    const max = Math.max(1, ...m.minutes.flat());
    const night = m.minutes.reduce((n, row) => n + row.slice(0, 6).reduce((x, y) => x + y, 0) + row[22] + row[23], 0);
    const total = m.minutes.flat().reduce((x, y) => x + y, 0);
    const label = `Broadcast minutes of host ${m.host} by weekday and hour, ${m.tz}: ${total} minutes in ${m.sessions} sessions, ${total ? Math.round(night / total * 100) : 0}% between 22:00 and 06:00.`;
    const cells = [];
    m.minutes.forEach((row, d) => row.forEach((min, hr) => {
      const level = min === 0 ? 0 : Math.min(4, 1 + Math.floor((min / max) * 3.999));
      cells.push(svg("rect", {
        x: left + hr * cell, y: top + d * cell, width: cell - 1, height: cell - 1, class: `heat heat-${level}`,
        dataset: { day: d, hour: hr, minutes: min },
      }, title(`${DAYS[d]} ${pad(hr)}:00–${pad((hr + 1) % 24)}:00: ${min} min`)));
    }));
    const axis = [0, 6, 12, 18].map((hr) => svg("text", { x: left + hr * cell, y: top - 4, class: "axis", text: pad(hr) }));
    const days = DAYS.map((d, i) => svg("text", { x: 0, y: top + i * cell + cell - 3, class: "axis", text: d }));
    return el("div", { class: "heatmap", dataset: { host: m.host } },
      el("div", { class: "fig-label" }, `${m.host} · ${m.tz} · ${m.sessions} session${m.sessions === 1 ? "" : "s"}`),
      svg("svg", { viewBox: `0 0 ${left + 24 * cell} ${top + 7 * cell}`, width: left + 24 * cell, height: top + 7 * cell,
        role: "img", "aria-label": label, class: "heatmap-svg", dataset: { host: m.host, cells: cells.length } },
      title(label), ...axis, ...days, ...cells));
  }).concat(drawn.length > 8 ? [el("p", { class: "hint" }, `and ${drawn.length - 8} more hosts`)] : []);
}

// drawFlows draws gifts received and payouts per hour over the alert's
// fortnight: gifts as bars above the line, payouts below, in coins.
function drawFlows(cx) {
  const flows = cx.flows || [];
  if (!flows.length) return [el("p", { class: "none" }, "No gift or payout of these hosts and accounts in the record.")];
  const w = 360;
  const h = 150;
  const mid = h / 2;
  // The axis runs from the first hour with money to the last: a ring's
  // fortnight is often a few busy nights.
  const hours = flows.map((f) => new Date(f.hour).getTime());
  const from = Math.min(...hours);
  const to = Math.max(...hours) + 3600e3;
  const span = Math.max(3600e3, to - from);
  const max = Math.max(1, ...flows.map((f) => f.coins));
  const bw = Math.max(1, (w * 3600e3) / span);
  const sums = { gift: 0, payout: 0 };
  const amount = flows.filter((f) => f.type === "payout").reduce((x, f) => x + f.amount, 0);
  const bars = flows.map((f) => {
    sums[f.type] = (sums[f.type] || 0) + f.coins;
    const x = ((new Date(f.hour).getTime() - from) / span) * w;
    const len = Math.max(1, (f.coins / max) * (mid - 10));
    const gift = f.type === "gift";
    return svg("rect", {
      x: x.toFixed(1), y: gift ? mid - len : mid, width: bw.toFixed(1), height: len.toFixed(1),
      class: gift ? "flow flow-gift" : "flow flow-payout", dataset: { type: f.type, coins: f.coins, hour: f.hour },
    }, title(`${fmtTime(f.hour)}: ${f.count} ${f.type}${f.count === 1 ? "" : "s"}, ${f.coins.toLocaleString("en")} coins${gift ? "" : `, ${f.amount}`}`));
  });
  const label = `Gifts received: ${sums.gift.toLocaleString("en")} coins; payouts: ${sums.payout.toLocaleString("en")} coins (${Math.round(amount * 100) / 100} paid out), from ${fmtTime(new Date(from).toISOString())} to ${fmtTime(new Date(to).toISOString())}.`;
  return [
    svg("svg", { viewBox: `0 0 ${w} ${h + 14}`, width: w, height: h + 14, role: "img", "aria-label": label, class: "flows-svg", dataset: { points: flows.length } },
      title(label),
      svg("line", { x1: 0, x2: w, y1: mid, y2: mid, class: "baseline" }),
      svg("text", { x: 2, y: 10, class: "axis", text: `gifts ↑ (max ${max.toLocaleString("en")} coins/h)` }),
      svg("text", { x: 2, y: h - 2, class: "axis", text: "payouts ↓" }),
      svg("text", { x: 0, y: h + 12, class: "axis", text: fmtTime(new Date(from).toISOString()).slice(5, 16) }),
      svg("text", { x: w, y: h + 12, class: "axis", "text-anchor": "end", text: fmtTime(new Date(to).toISOString()).slice(5, 16) }),
      ...bars),
    el("p", { class: "fig-note" }, label),
  ];
}

// drawGraph draws the alert's entities and the links the record holds
// between them: the devices, networks and places its hosts broadcast from,
// the accounts' links and payouts. An entity with no recorded link is tied
// to the subject by a dashed line: the alert names them together.
function drawGraph(a, links) {
  const nodes = new Map();
  const add = (kind, id) => {
    const k = `${kind}:${id}`;
    if (!nodes.has(k) && nodes.size < 40) nodes.set(k, { key: k, kind, id });
  };
  if (a.subject) add(a.subject.kind, a.subject.id);
  for (const x of a.entities || []) add(x.kind, x.id);
  if (!nodes.size) return [el("p", { class: "none" }, "No entities named.")];
  const resolve = (k) => {
    if (nodes.has(k)) return k;
    const [kind, ...rest] = k.split(":");
    const id = rest.join(":");
    if (kind === "account" && nodes.has(`host:${id}`)) return `host:${id}`;
    if (kind === "location") return [...nodes.keys()].find((n) => n.startsWith("location:") && (n.slice(9).startsWith(id) || id.startsWith(n.slice(9)))) || "";
    return "";
  };
  const edges = new Map();
  for (const l of links || []) {
    const f = resolve(l.from);
    const t = resolve(l.to);
    if (!f || !t || f === t) continue;
    const k = [f, t].sort().join("|");
    if (!edges.has(k)) edges.set(k, { f, t, rel: new Set() });
    edges.get(k).rel.add(l.rel);
  }
  const subject = a.subject ? `${a.subject.kind}:${a.subject.id}` : [...nodes.keys()][0];
  const linked = new Set([...edges.values()].flatMap((e) => [e.f, e.t]));
  for (const k of nodes.keys()) {
    if (k !== subject && !linked.has(k)) edges.set(`${k}|~`, { f: subject, t: k, rel: new Set(["named in the alert"]), implied: true });
  }
  const w = 360;
  const h = 300;
  const others = [...nodes.keys()].filter((k) => k !== subject)
    .sort((x, y) => x.localeCompare(y));
  const pos = new Map([[subject, { x: w / 2, y: h / 2 }]]);
  others.forEach((k, i) => {
    const ang = (2 * Math.PI * i) / others.length - Math.PI / 2;
    const r = others.length > 12 && i % 2 ? 95 : 125;
    pos.set(k, { x: w / 2 + r * Math.cos(ang), y: h / 2 + r * Math.sin(ang) });
  });
  const lines = [...edges.values()].map((e) => svg("line", {
    x1: pos.get(e.f).x.toFixed(1), y1: pos.get(e.f).y.toFixed(1), x2: pos.get(e.t).x.toFixed(1), y2: pos.get(e.t).y.toFixed(1),
    class: e.implied ? "edge edge-implied" : "edge", dataset: { from: e.f, to: e.t, rel: [...e.rel].join(",") },
  }, title(`${e.f} — ${e.t}: ${[...e.rel].join(", ")}`)));
  const circles = [...nodes.values()].map((n) => {
    const p = pos.get(n.key);
    const short = n.id.length > 14 ? `${n.id.slice(0, 13)}…` : n.id;
    return svg("g", { class: `node kind-${n.kind}${n.key === subject ? " node-subject" : ""}`, dataset: { entity: n.key } },
      title(`${n.kind} ${n.id}${n.key === subject ? " (subject)" : ""}`),
      svg("circle", { cx: p.x.toFixed(1), cy: p.y.toFixed(1), r: n.key === subject ? 9 : 6 }),
      svg("text", { x: p.x.toFixed(1), y: (p.y + 17).toFixed(1), "text-anchor": "middle", class: "node-label", text: short }));
  });
  const real = [...edges.values()].filter((e) => !e.implied).length;
  const label = `The cluster: ${nodes.size} entities, ${real} links in the record.`;
  const kinds = [...new Set([...nodes.values()].map((n) => n.kind))];
  return [
    svg("svg", { viewBox: `0 0 ${w} ${h}`, width: w, height: h, role: "img", "aria-label": label, class: "graph-svg",
      dataset: { nodes: nodes.size, links: real } }, title(label), ...lines, ...circles),
    el("ul", { class: "legend" }, kinds.map((k) => el("li", { class: `legend-item kind-${k}` }, el("span", { class: "swatch", "aria-hidden": "true" }), k))),
  ];
}

function drawTimeline(actions) {
  if (!actions || !actions.length) return [el("li", { class: "none" }, "No action recorded yet.")];
  return actions.map((x) => el("li", { dataset: { action: x.action } },
    el("time", { datetime: x.at }, fmtTime(x.at)), " ",
    el("strong", {}, x.moderator), ` ${x.action === "note" ? "noted" : VERB[x.action] || x.action}`,
    x.target ? ` to ${x.target}` : "", x.reason ? `: “${x.reason}”` : "", x.note ? `: “${x.note}”` : ""));
}

start();
