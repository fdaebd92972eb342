// The runtrail task explorer: plain JavaScript, no build step. It signs in with an API key
// (kept in sessionStorage), reads the history API (GET /api/tasks, GET /api/tasks/:taskUUID)
// and runs tasks again through POST /v1 like any other client. Stored texts are shown exactly
// as stored: the highlighter only wraps the original characters in spans.

const KEY_STORAGE = 'runtrail.apiKey';
const LIST_POLL_MS = 3000;
const TASK_POLL_MS = 1000;
const LONG_STRING = 400;

const $ = (sel) => document.querySelector(sel);

const state = {
  key: sessionStorage.getItem(KEY_STORAGE),
  nextCursor: null,
  task: null,
  timer: null,
  rendering: 0,
};

// ---------------------------------------------------------------------------------------------
// API

class ApiError extends Error {
  constructor(status, body) {
    const first = body && Array.isArray(body.errors) ? body.errors[0] : undefined;
    super(first ? first.message : `HTTP ${status}`);
    this.status = status;
    this.code = first ? first.code : undefined;
  }
}

async function api(path) {
  const res = await fetch(path, { headers: { authorization: `Bearer ${state.key}` }, cache: 'no-store' });
  const text = await res.text();
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  if (res.status === 401) {
    signOut('Your API key was not accepted. Sign in again.');
    throw new ApiError(res.status, body);
  }
  if (!res.ok) throw new ApiError(res.status, body);
  return body;
}

// ---------------------------------------------------------------------------------------------
// Routing: #/tasks?filters and #/task/<uuid>

function route() {
  stopPolling();
  if (!state.key) return show('sign-in');
  $('#sign-out').hidden = false;
  const hash = location.hash || '#/tasks';
  const m = /^#\/task\/([0-9a-fA-F-]{36})$/.exec(hash);
  if (m) return openTask(m[1]);
  const query = new URLSearchParams(hash.split('?')[1] || '');
  fillFilters(query);
  return loadList(query, false);
}

function show(id) {
  for (const s of ['sign-in', 'list-view', 'task-view']) $(`#${s}`).hidden = s !== id;
  if (id === 'sign-in') {
    $('#sign-out').hidden = true;
    $('#api-key').focus();
  }
}

function stopPolling() {
  clearTimeout(state.timer);
  state.timer = null;
}

// ---------------------------------------------------------------------------------------------
// Sign in / out

$('#sign-in-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const key = $('#api-key').value.trim();
  const err = $('#sign-in-error');
  err.hidden = true;
  const res = await fetch('/api/tasks?limit=1', { headers: { authorization: `Bearer ${key}` } });
  if (!res.ok) {
    const body = await res.json().catch(() => undefined);
    err.textContent = new ApiError(res.status, body).message;
    err.hidden = false;
    return;
  }
  state.key = key;
  sessionStorage.setItem(KEY_STORAGE, key);
  $('#api-key').value = '';
  route();
});

function signOut(message) {
  state.key = null;
  sessionStorage.removeItem(KEY_STORAGE);
  stopPolling();
  show('sign-in');
  const err = $('#sign-in-error');
  err.textContent = message || '';
  err.hidden = !message;
}

$('#sign-out').addEventListener('click', () => signOut());

// ---------------------------------------------------------------------------------------------
// Task list

const FILTERS = ['taskType', 'status', 'model', 'since', 'until', 'text'];

function fillFilters(query) {
  const form = $('#filters');
  for (const name of FILTERS) {
    const v = query.get(name) || '';
    form.elements[name].value = name === 'since' || name === 'until' ? toLocalInput(v) : v;
  }
}

$('#filters').addEventListener('submit', (e) => {
  e.preventDefault();
  const form = $('#filters');
  const query = new URLSearchParams();
  for (const name of FILTERS) {
    let v = form.elements[name].value.trim();
    if (v && (name === 'since' || name === 'until')) v = new Date(v).toISOString();
    if (v) query.set(name, v);
  }
  const hash = `#/tasks${query.toString() ? `?${query}` : ''}`;
  if (location.hash === hash) route();
  else location.hash = hash;
});

$('#clear-filters').addEventListener('click', () => {
  location.hash = '#/tasks';
});

$('#load-more').addEventListener('click', () => {
  const query = new URLSearchParams((location.hash.split('?')[1]) || '');
  loadList(query, true);
});

async function loadList(query, append) {
  show('list-view');
  const err = $('#list-error');
  err.hidden = true;
  const params = new URLSearchParams(query);
  if (append && state.nextCursor) params.set('cursor', state.nextCursor);
  const ticket = ++state.rendering;
  let page;
  try {
    page = await api(`/api/tasks?${params}`);
  } catch (e) {
    if (e.status !== 401) {
      err.textContent = e.message;
      err.hidden = false;
    }
    return;
  }
  if (ticket !== state.rendering) return;
  const body = $('#task-table tbody');
  if (!append) body.replaceChildren();
  for (const t of page.data) body.append(taskRow(t));
  state.nextCursor = page.nextCursor;
  $('#load-more').hidden = !page.nextCursor;
  const c = page.counts;
  $('#counts').textContent = `${c.total} task${c.total === 1 ? '' : 's'} · ${c.success} success · ${c.error} error · ${c.processing} processing`;
  $('#list-empty').hidden = c.total > 0;
  // Processing tasks update live: refresh the first page while any is shown.
  if (!append && page.data.some((t) => t.status === 'processing')) {
    state.timer = setTimeout(() => loadList(query, false), LIST_POLL_MS);
  }
}

function taskRow(t) {
  const tr = document.createElement('tr');
  tr.dataset.taskUuid = t.taskUUID;
  const cells = [
    formatTime(t.createdAt),
    el('code', {}, t.taskUUID),
    t.taskType,
    badge(t.status),
    t.model || '—',
    t.prompt || '',
    t.cost === null ? '—' : `$${t.cost}`,
    t.durationMs === null ? '—' : formatDuration(t.durationMs),
  ];
  cells.forEach((c, i) => {
    const td = document.createElement('td');
    if (i === 5) {
      td.className = 'prompt';
      td.title = c;
    }
    if (i >= 6) td.className = 'num';
    td.append(c);
    tr.append(td);
  });
  tr.addEventListener('click', () => {
    location.hash = `#/task/${t.taskUUID}`;
  });
  return tr;
}

// ---------------------------------------------------------------------------------------------
// One task

async function openTask(uuid) {
  show('task-view');
  $('#action-note').hidden = true;
  $('#task-error').hidden = true;
  await refreshTask(uuid, true);
}

async function refreshTask(uuid, first) {
  const ticket = ++state.rendering;
  let task;
  try {
    task = (await api(`/api/tasks/${uuid}`)).data[0];
  } catch (e) {
    if (ticket !== state.rendering || e.status === 401) return;
    clearTask();
    $('#task-error').textContent = e.code === 'taskNotFound' ? `No task ${uuid} in your organization (never run, deleted, or expired).` : e.message;
    $('#task-error').hidden = false;
    return;
  }
  if (ticket !== state.rendering) return;
  const changed =
    first ||
    !state.task ||
    state.task.status !== task.status ||
    state.task.responseText !== task.responseText ||
    JSON.stringify(state.task.webhookAttempts) !== JSON.stringify(task.webhookAttempts) ||
    JSON.stringify(state.task.upstream) !== JSON.stringify(task.upstream);
  state.task = task;
  if (changed) renderTask(task);
  $('#t-live').hidden = task.status !== 'processing';
  if (task.status === 'processing') state.timer = setTimeout(() => refreshTask(uuid, false), TASK_POLL_MS);
}

function clearTask() {
  state.task = null;
  for (const id of ['#t-type', '#t-uuid', '#t-status']) $(id).textContent = '';
  for (const id of ['#t-meta', '#t-images', '#request-code', '#response-code', '#t-webhooks', '#t-upstream']) $(id).replaceChildren();
  $('#t-upstream-box').hidden = true;
}

function renderTask(t) {
  $('#t-type').textContent = t.taskType;
  $('#t-uuid').textContent = t.taskUUID;
  const status = $('#t-status');
  status.className = `badge ${t.status}`;
  status.textContent = t.status;

  const meta = [
    ['Model', t.model || '—'],
    ['Engine', t.engine || '—'],
    ['Transport', t.transport],
    ['Created', formatTime(t.createdAt)],
    ['Completed', t.completedAt ? formatTime(t.completedAt) : '—'],
    ['Duration', t.durationMs === null ? '—' : formatDuration(t.durationMs)],
    ['Cost', t.cost === null ? '—' : `$${t.cost}`],
    ['Error code', t.errorCode || '—'],
  ];
  $('#t-meta').replaceChildren(...meta.map(([k, v]) => el('div', {}, el('dt', {}, k), el('dd', {}, v))));

  $('#t-images').replaceChildren(
    ...t.media.map((m) =>
      el('figure', {}, el('a', { href: m.imageURL, target: '_blank', rel: 'noopener' }, el('img', { src: m.imageURL, alt: m.imageUUID, loading: 'lazy' })),
        el('figcaption', {}, `${m.width}×${m.height} ${m.format} · ${formatBytes(m.bytes)}`)),
    ),
  );

  renderCode('request', t.requestText);
  renderCode('response', t.responseText ?? JSON.stringify(t.response));
  renderWebhooks(t.webhookAttempts || []);
  renderUpstream(t.upstream || []);
}

// What the upstream engine sent and got (docs/engines.md): the taskUUID the upstream saw and each
// raw reply, for audit. Hidden for tasks that ran here.
function renderUpstream(exchanges) {
  $('#t-upstream-box').hidden = exchanges.length === 0;
  const rows = exchanges.map((x) =>
    el('tr', {},
      el('td', {}, x.kind),
      el('td', { className: 'mono' }, x.upstreamTaskUUID),
      el('td', {}, formatTime(x.at)),
      el('td', { className: 'num' }, x.httpStatus === null ? '—' : String(x.httpStatus)),
      el('td', { className: 'num' }, `${x.latencyMs} ms`),
      el('td', {}, x.error || ''),
      el('td', {}, x.replyText === null ? '' : el('details', {}, el('summary', {}, `${x.replyText.length} characters`), el('pre', { className: 'mono upstream-reply' }, x.replyText))),
    ),
  );
  const head = el('tr', {}, ...['Kind', 'Upstream taskUUID', 'At', 'HTTP', 'Latency', 'Error', 'Raw reply'].map((h) => el('th', {}, h)));
  $('#t-upstream').replaceChildren(el('table', { className: 'webhooks' }, el('thead', {}, head), el('tbody', {}, ...rows)));
}

function renderCode(pane, text) {
  const indent = document.querySelector(`.indent[data-pane="${pane}"]`).checked;
  const pre = $(`#${pane}-code`);
  pre.dataset.raw = text;
  pre.replaceChildren(highlight(text, indent));
}

for (const box of document.querySelectorAll('.indent')) {
  box.addEventListener('change', () => {
    const pre = $(`#${box.dataset.pane}-code`);
    if (pre.dataset.raw !== undefined) renderCode(box.dataset.pane, pre.dataset.raw);
  });
}

for (const button of document.querySelectorAll('.copy')) {
  button.addEventListener('click', async () => {
    await copyText($(`#${button.dataset.pane}-code`).dataset.raw || '');
    note(`${button.dataset.pane === 'request' ? 'Request' : 'Response'} copied exactly as stored.`);
  });
}

document.addEventListener('click', (e) => {
  const long = e.target.closest && e.target.closest('.long');
  if (long) long.classList.toggle('open');
});

function renderWebhooks(deliveries) {
  const box = $('#t-webhooks');
  if (deliveries.length === 0) {
    box.replaceChildren(el('p', { className: 'muted' }, 'No webhook deliveries for this task.'));
    return;
  }
  const rows = [];
  for (const d of deliveries) {
    const attempts = Array.isArray(d.attempts) && d.attempts.length > 0 ? d.attempts : [null];
    for (const a of attempts) {
      rows.push(
        el('tr', {},
          el('td', {}, d.kind || 'webhook'),
          el('td', { className: 'mono' }, d.url || ''),
          el('td', {}, d.state || ''),
          el('td', { className: 'num' }, a ? String(a.attempt) : '—'),
          el('td', {}, a ? formatTime(a.at) : '—'),
          el('td', { className: 'num' }, a && a.statusCode !== null ? String(a.statusCode) : '—'),
          el('td', { className: 'num' }, a ? `${a.latencyMs} ms` : '—'),
          el('td', {}, a && a.error ? a.error : ''),
        ),
      );
    }
  }
  const head = el('tr', {}, ...['Kind', 'URL', 'State', 'Attempt', 'Started', 'HTTP', 'Latency', 'Error'].map((h) => el('th', {}, h)));
  box.replaceChildren(el('table', { className: 'webhooks' }, el('thead', {}, head), el('tbody', {}, ...rows)));
}

// Copy as curl: the stored request exactly, the key left to the shell ($RUNTRAIL_API_KEY) so it
// never lands in a clipboard or a screenshot. The same taskUUID replays the stored response.
$('#copy-curl').addEventListener('click', async () => {
  if (!state.task) return;
  await copyText(curlCommand(state.task.requestText));
  note('Copied a curl command that sends this request as stored. It reads the key from $RUNTRAIL_API_KEY; with the same taskUUID the server answers the stored response again.');
});

function curlCommand(requestText) {
  const quote = (s) => `'${s.replace(/'/g, `'\\''`)}'`;
  return [
    `curl -sS ${quote(`${location.origin}/v1`)}`,
    `-H "Authorization: Bearer $RUNTRAIL_API_KEY"`,
    `-H 'content-type: application/json'`,
    `--data-raw ${quote(requestText)}`,
  ].join(' \\\n  ');
}

// Run again: the stored request text with only the taskUUID replaced, so every other byte
// (number spellings, key order) is what was sent the first time.
$('#run-again').addEventListener('click', async () => {
  const t = state.task;
  if (!t) return;
  const button = $('#run-again');
  button.disabled = true;
  const newUUID = randomUUID();
  const body = replaceTaskUUID(t.requestText, t.taskUUID, newUUID);
  note(`Running again as ${newUUID}…`);
  let settled = false;
  let failure = null;
  const posting = fetch('/v1', {
    method: 'POST',
    headers: { authorization: `Bearer ${state.key}`, 'content-type': 'application/json' },
    body,
  })
    .then(async (res) => {
      if (res.status === 401 || res.status === 413 || res.status >= 500) failure = new ApiError(res.status, await res.json().catch(() => undefined));
    })
    .catch((e) => {
      failure = e;
    })
    .finally(() => {
      settled = true;
    });
  // Open the new task as soon as the ledger has it (it is recorded before work starts), so a
  // long task is watched live; give up once the request finished without recording it.
  for (;;) {
    const res = await fetch(`/api/tasks/${newUUID}`, { headers: { authorization: `Bearer ${state.key}` }, cache: 'no-store' });
    if (res.ok) break;
    if (settled) {
      await posting;
      button.disabled = false;
      note(`Run again failed: ${failure ? failure.message : 'the task was not recorded'}`);
      return;
    }
    await new Promise((r) => setTimeout(r, 150));
  }
  button.disabled = false;
  location.hash = `#/task/${newUUID}`;
  note(`Ran again as ${newUUID} (same parameters, new taskUUID).`);
});

function replaceTaskUUID(requestText, oldUUID, newUUID) {
  const escaped = oldUUID.replace(/[-]/g, '\\-');
  return requestText.replace(new RegExp(`("taskUUID"\\s*:\\s*")${escaped}(")`, 'gi'), `$1${newUUID}$2`);
}

// ---------------------------------------------------------------------------------------------
// JSON highlighting over the original characters. Indenting inserts whitespace between tokens
// and never changes a token, so 1.0 stays 1.0 and 20-digit integers keep their digits.

const TOKEN = /("(?:[^"\\]|\\.)*")|(-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)|(true|false|null)|([{}[\]:,])|(\s+)|([^\s"{}[\]:,]+)/gy;

function highlight(text, indent) {
  const frag = document.createDocumentFragment();
  const tokens = [];
  TOKEN.lastIndex = 0;
  let m;
  while (TOKEN.lastIndex < text.length && (m = TOKEN.exec(text))) {
    if (m[1] !== undefined) tokens.push({ t: 's', v: m[1] });
    else if (m[2] !== undefined) tokens.push({ t: 'n', v: m[2] });
    else if (m[3] !== undefined) tokens.push({ t: 'l', v: m[3] });
    else if (m[4] !== undefined) tokens.push({ t: 'p', v: m[4] });
    else if (m[5] !== undefined) tokens.push({ t: 'w', v: m[5] });
    else tokens.push({ t: 'x', v: m[6] });
  }
  if (TOKEN.lastIndex < text.length) tokens.push({ t: 'x', v: text.slice(TOKEN.lastIndex) });
  // A string followed by ':' is a key.
  for (let i = 0; i < tokens.length; i++) {
    if (tokens[i].t !== 's') continue;
    let j = i + 1;
    while (j < tokens.length && tokens[j].t === 'w') j++;
    if (tokens[j] && tokens[j].v === ':') tokens[i].t = 'k';
  }
  const list = indent ? reindent(tokens) : tokens;
  for (const tok of list) {
    if (tok.t === 'w') frag.append(tok.v);
    else if (tok.t === 's' && tok.v.length > LONG_STRING) frag.append(longString(tok.v));
    else frag.append(el('span', { className: tok.t }, tok.v));
  }
  return frag;
}

function reindent(tokens) {
  const out = [];
  let depth = 0;
  const real = tokens.filter((t) => t.t !== 'w');
  const nl = () => ({ t: 'w', v: `\n${'  '.repeat(depth)}` });
  for (let i = 0; i < real.length; i++) {
    const tok = real[i];
    const next = real[i + 1];
    if (tok.v === '{' || tok.v === '[') {
      out.push(tok);
      if (next && (next.v === '}' || next.v === ']')) continue;
      depth++;
      out.push(nl());
    } else if (tok.v === '}' || tok.v === ']') {
      const prev = real[i - 1];
      if (!(prev && (prev.v === '{' || prev.v === '['))) {
        depth = Math.max(0, depth - 1);
        out.push(nl());
      }
      out.push(tok);
    } else if (tok.v === ',' && tok.t === 'p') {
      out.push(tok, nl());
    } else if (tok.v === ':' && tok.t === 'p') {
      out.push(tok, { t: 'w', v: ' ' });
    } else out.push(tok);
  }
  return out;
}

/** A long string (base64 data) shows its start; a click shows the rest. textContent stays exact. */
function longString(v) {
  const span = el('span', { className: 's long' }, v.slice(0, 120), el('span', { className: 'rest' }, v.slice(120)));
  span.dataset.more = `${(v.length - 120).toLocaleString()} more characters`;
  return span;
}

// ---------------------------------------------------------------------------------------------
// Small helpers

function el(tag, props, ...children) {
  const node = document.createElement(tag);
  Object.assign(node, props);
  node.append(...children.filter((c) => c !== null && c !== undefined));
  return node;
}

function badge(status) {
  return el('span', { className: `badge ${status}` }, status);
}

function note(text) {
  const p = $('#action-note');
  p.textContent = text;
  p.hidden = false;
}

/** crypto.randomUUID exists only in secure contexts; a server on a LAN address over http is not one. */
function randomUUID() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    const area = el('textarea', { value: text });
    document.body.append(area);
    area.select();
    document.execCommand('copy');
    area.remove();
  }
}

function formatTime(iso) {
  const d = new Date(iso);
  const pad = (n, w = 2) => String(n).padStart(w, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

function toLocalInput(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  return formatTime(d.toISOString()).replace(' ', 'T');
}

function formatDuration(ms) {
  return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(2)} s`;
}

function formatBytes(n) {
  return n < 1024 ? `${n} B` : n < 1048576 ? `${(n / 1024).toFixed(1)} KiB` : `${(n / 1048576).toFixed(1)} MiB`;
}

window.addEventListener('hashchange', route);
route();
