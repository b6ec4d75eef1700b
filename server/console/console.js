// The mprtc operator console: reads /console/api/overview every two seconds and renders it;
// kicks, closes rooms, stops tasks and previews streams through the same API.
//
// Everything the server reports (room and user names above all) goes into the page as text
// (textContent), never as markup. The operator token lives in sessionStorage (this tab only)
// and goes out as an Authorization header, never in a URL.

const TOKEN_KEY = 'mprtc.console.token';
const REFRESH_MS = 2000;
const $ = (id) => document.getElementById(id);

let timer = null;
let player = null;

/** An element with attributes and children; strings become text nodes. */
function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === 'onclick') e.addEventListener('click', v);
    else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}

/** A table body's rows replaced by `rows`. */
function fill(table, rows) {
  table.tBodies[0].replaceChildren(...rows);
}

function token() {
  return sessionStorage.getItem(TOKEN_KEY) || '';
}

/** Calls the console API; a 401 or 429 ends the session and shows the login again. */
async function api(method, path) {
  const res = await fetch('/console/api' + path, {
    method,
    headers: { authorization: 'Bearer ' + token() },
    cache: 'no-store',
  });
  const body = await res.json().catch(() => ({ ok: false, msg: res.statusText }));
  if (res.status === 401 || res.status === 429) {
    logout(res.status === 429 ? 'Too many failed logins; try again later.' : 'Wrong or missing token.');
    throw new Error(body.msg || res.statusText);
  }
  if (!res.ok) throw new Error(`${body.reason || res.status}: ${body.msg || ''}`);
  return body;
}

const seg = (s) => encodeURIComponent(s);
const roomPath = (r) => `/apps/${seg(r.app)}/rooms/${seg(r.room)}`;

function kinds(m) {
  const k = [m.audio && 'audio', m.video && 'video'].filter(Boolean);
  return k.length ? k.join('+') : '-';
}

function duration(ms) {
  const s = Math.floor(ms / 1000);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return (h ? `${h}h ` : '') + `${m}m ${String(s % 60).padStart(2, '0')}s`;
}

const TASK_STATUS = { 505: 'pushing', 506: 'failed', 511: 'stopped' };

/** An action button that asks first, then runs `act` and refreshes. */
function action(label, name, question, act) {
  return el('button', {
    type: 'button',
    'data-action': name,
    onclick: async () => {
      if (!window.confirm(question)) return;
      try {
        await act();
        $('status').textContent = `${label}: done`;
      } catch (e) {
        $('status').textContent = `${label} failed: ${e.message}`;
      }
      refresh();
    },
  }, label);
}

function memberRow(r, m) {
  const who = `${m.uid} in ${r.app}/${r.room}`;
  const buttons = el('td', {});
  if (m.live.video || m.live.audio) {
    buttons.append(el('button', { type: 'button', 'data-action': 'preview', onclick: () => preview(r, m) }, 'Preview'));
  }
  buttons.append(action('Kick', 'kick', `Kick member ${who}?`, () => api('POST', `${roomPath(r)}/members/${seg(m.uid)}/kick`)));
  return el('tr', { 'data-member': `${r.app}/${r.room}/${m.uid}` },
    el('td', {}, m.uid), el('td', { class: 'user-id' }, m.userId ?? '-'), el('td', { class: 'user-name' }, m.userName ?? '-'),
    el('td', {}, m.role), el('td', {}, kinds(m.published)), el('td', { class: 'live' }, kinds(m.live)),
    el('td', {}, kinds(m.muted)), el('td', {}, m.stream ?? '-'),
    el('td', {}, m.connected ? 'connected' : 'waiting for resume'), el('td', {}, duration(m.inRoomMs)), buttons);
}

function taskRow(r, t) {
  return el('tr', { 'data-task': `${r.app}/${r.room}/${t.taskId}` },
    el('td', {}, t.taskId), el('td', {}, t.output || '-'), el('td', {}, t.users.join(', ')),
    el('td', {}, t.record ? 'yes' : 'no'),
    el('td', { class: 'task-status' }, t.status == null ? 'starting' : `${TASK_STATUS[t.status] || 'status'} (${t.status})`),
    el('td', {}, action('Stop', 'stop-task', `Stop task ${t.taskId}?`, () => api('DELETE', `${roomPath(r)}/tasks/${seg(t.taskId)}`))));
}

function roomBox(r) {
  const box = el('div', { class: 'room', 'data-room': `${r.app}/${r.room}` },
    el('h3', {}, `${r.app} / ${r.room} — ${r.memberCount} member(s) `,
      action('Close room', 'close-room', `Close room ${r.app}/${r.room}? Every member is sent away.`, () => api('DELETE', roomPath(r)))));
  const head = (...names) => el('thead', {}, el('tr', {}, ...names.map((n) => el('th', {}, n))));
  box.append(el('table', { class: 'members' },
    head('uid', 'user id', 'name', 'role', 'publishes', 'live', 'muted', 'stream', 'connection', 'in room', ''),
    el('tbody', {}, ...r.members.map((m) => memberRow(r, m)))));
  if (r.members.length < r.memberCount) box.append(el('p', { class: 'note' }, `${r.memberCount - r.members.length} more not listed.`));
  if (r.tasks.length) {
    box.append(el('table', { class: 'tasks' }, head('task', 'output', 'users', 'record', 'status', ''),
      el('tbody', {}, ...r.tasks.map((t) => taskRow(r, t)))));
  }
  return box;
}

function render(o) {
  fill($('apps'), o.apps.map((a) => el('tr', {}, el('td', {}, a.key), el('td', {}, a.insecure ? 'debug (no token)' : 'tokens'), el('td', {}, a.webhooks))));
  $('rooms').replaceChildren(...o.rooms.map(roomBox));
  $('rooms-note').textContent = o.rooms.length ? (o.roomsTruncated ? 'More rooms are open than listed here.' : '') : 'No room is open.';
  fill($('recordings'), o.recordings.map((f) => el('tr', {}, el('td', {}, f.app), el('td', {}, f.room), el('td', {}, f.file),
    el('td', {}, `${Math.round(f.bytes / 1024)} KiB`), el('td', {}, new Date(f.modified * 1000).toISOString()))));
  $('recordings-note').textContent = o.recordingsTruncated ? 'More recordings exist than listed here.' : '';
}

async function refresh() {
  clearTimeout(timer);
  if (!token()) return;
  try {
    render(await api('GET', '/overview'));
    $('status').dataset.updated = String(Date.now());
  } catch (e) {
    if (!token()) return;
    $('status').textContent = `Refresh failed: ${e.message}`;
  }
  if (token()) timer = setTimeout(refresh, REFRESH_MS);
}

function stopPreview() {
  if (player) {
    player.destroy();
    player = null;
  }
  $('preview-box').hidden = true;
}

async function preview(r, m) {
  stopPreview();
  $('preview-box').hidden = false;
  $('preview-title').textContent = `${r.app} / ${r.room} / ${m.uid}`;
  $('preview-error').textContent = '';
  const mpegts = window.mpegts;
  if (!mpegts || !mpegts.isSupported()) {
    $('preview-error').textContent = mpegts
      ? 'This browser cannot play HTTP-FLV (no Media Source Extensions).'
      : 'The server was built without the FLV player (run scripts/setup, then build again).';
    return;
  }
  try {
    const { flv } = await api('GET', `${roomPath(r)}/members/${seg(m.uid)}/preview`);
    player = mpegts.createPlayer({ type: 'flv', isLive: true, url: flv }, { enableWorker: false, liveBufferLatencyChasing: true });
    player.on(mpegts.Events.ERROR, (kind, detail) => ($('preview-error').textContent = `Player: ${kind} ${detail}`));
    player.attachMediaElement($('preview'));
    player.load();
    await player.play();
  } catch (e) {
    $('preview-error').textContent = `Preview failed: ${e.message}`;
  }
}

function logout(why) {
  sessionStorage.removeItem(TOKEN_KEY);
  clearTimeout(timer);
  stopPreview();
  $('main').hidden = true;
  $('logout').hidden = true;
  $('login').hidden = false;
  $('login-error').textContent = why || '';
}

function start() {
  $('login').hidden = true;
  $('main').hidden = false;
  $('logout').hidden = false;
  refresh();
}

$('login').addEventListener('submit', (ev) => {
  ev.preventDefault();
  sessionStorage.setItem(TOKEN_KEY, $('token').value.trim());
  $('token').value = '';
  start();
});
$('logout').addEventListener('click', () => logout(''));
$('preview-close').addEventListener('click', stopPreview);

if (token()) start();
else logout('');
