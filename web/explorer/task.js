// One task: what it was asked and what it made first (prompt, outputs as they arrive, input
// images), then an error callout when it failed, the metadata, and the request and response
// exactly as stored. Copy as curl, download as JSON, compare with another task, and run again
// (asked first, seed kept on request, linked both ways).

import { api, session, ApiError } from './api.js';
import { highlight, toggleFold } from './json-view.js';
import { statusOf } from './list.js';
import {
  $,
  copyText,
  download,
  el,
  formatBytes,
  formatCost,
  formatDuration,
  formatTimeZoned,
  isUuid,
  note,
  randomUUID,
} from './util.js';

const TASK_POLL_MS = 1000;
const state = { task: null, timer: null, ticket: 0 };

export function stopTaskPolling() {
  clearTimeout(state.timer);
  state.timer = null;
  state.ticket++;
}

export function initTask() {
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
  document.addEventListener('click', async (e) => {
    const target = e.target;
    if (!target.closest) return;
    const fold = target.closest('pre.json .fold');
    if (fold) return toggleFold(fold);
    const long = target.closest('.long');
    if (long) return long.classList.toggle('open');
    const key = target.closest('pre.json .k[data-path]');
    if (key) {
      await copyText(key.dataset.path);
      note(`Copied the path ${key.dataset.path}`);
    }
  });
  document.addEventListener('keydown', (e) => {
    if ((e.key === 'Enter' || e.key === ' ') && e.target.matches && e.target.matches('pre.json .fold')) {
      e.preventDefault();
      toggleFold(e.target);
    }
  });
  $('#copy-curl').addEventListener('click', copyCurl);
  $('#download-json').addEventListener('click', downloadTask);
  $('#run-again').addEventListener('click', askRunAgain);
  $('#rerun-cancel').addEventListener('click', () => $('#rerun-dialog').close());
  $('#rerun-form').addEventListener('submit', (e) => {
    e.preventDefault();
    $('#rerun-dialog').close();
    runAgain($('#rerun-keep-seed').checked);
  });
  $('#compare-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const other = $('#compare-input').value.trim();
    if (state.task && isUuid(other)) location.hash = `#/compare/${state.task.taskUUID}/${other}`;
  });
}

export async function openTask(uuid) {
  $('#action-note').hidden = true;
  $('#task-error').hidden = true;
  $('#task-missing').hidden = true;
  $('#task-body').hidden = false;
  await refreshTask(uuid, true);
}

async function refreshTask(uuid, first) {
  const ticket = ++state.ticket;
  let task;
  try {
    task = (await api(`/api/tasks/${uuid}`)).data[0];
  } catch (e) {
    if (ticket !== state.ticket || e.status === 401) return;
    clearTask();
    const missing = e.code === 'taskNotFound' || e.code === 'invalidTaskUUID';
    $('#task-error').textContent =
      e.code === 'taskNotFound'
        ? `No task ${uuid} in your organization (never run, deleted, or expired).`
        : e.code === 'invalidTaskUUID'
          ? `"${uuid}" is not a taskUUID: a taskUUID is a UUID such as 3f1c0b8e-7d2a-4c55-9e3b-0a6f5d2c8b41.`
          : e.message;
    $('#task-error').hidden = false;
    $('#task-missing-title').textContent = missing ? 'Task not found' : 'The task could not be loaded';
    $('#task-missing').hidden = false;
    $('#task-body').hidden = true;
    return;
  }
  if (ticket !== state.ticket) return;
  const changed =
    first ||
    !state.task ||
    state.task.status !== task.status ||
    state.task.responseText !== task.responseText ||
    JSON.stringify(state.task.response) !== JSON.stringify(task.response) ||
    JSON.stringify(state.task.webhookAttempts) !== JSON.stringify(task.webhookAttempts) ||
    JSON.stringify(state.task.upstream) !== JSON.stringify(task.upstream) ||
    JSON.stringify(state.task.archivedOutputs) !== JSON.stringify(task.archivedOutputs) ||
    JSON.stringify(state.task.reruns) !== JSON.stringify(task.reruns);
  state.task = task;
  if (changed) renderTask(task);
  $('#t-live').hidden = task.status !== 'processing';
  if (task.status === 'processing') state.timer = setTimeout(() => refreshTask(uuid, false), TASK_POLL_MS);
}

function clearTask() {
  state.task = null;
  for (const id of ['#t-type', '#t-uuid', '#t-status', '#t-prompt']) $(id).textContent = '';
  for (const id of [
    '#t-meta',
    '#t-images',
    '#t-inputs',
    '#request-code',
    '#response-code',
    '#t-webhooks',
    '#t-upstream',
    '#t-archive',
    '#t-links',
    '#t-error-callout',
  ])
    $(id).replaceChildren();
  $('#t-upstream-box').hidden = true;
  $('#t-archive-box').hidden = true;
  $('#t-error-callout').hidden = true;
  $('#t-inputs-box').hidden = true;
}

/** The first task object of the stored request, parsed (display only: the stored text is what is shown). */
function requestObject(t) {
  try {
    const first = JSON.parse(t.requestText)[0];
    return first && typeof first === 'object' ? first : {};
  } catch {
    return {};
  }
}

function renderTask(t) {
  $('#t-type').textContent = t.taskType;
  $('#t-uuid').textContent = t.taskUUID;
  const status = $('#t-status');
  const shown = statusOf(t);
  status.className = `badge ${shown}`;
  status.textContent = shown;
  const req = requestObject(t);
  $('#t-prompt').textContent = typeof req.positivePrompt === 'string' ? req.positivePrompt : '';
  $('#t-prompt').hidden = typeof req.positivePrompt !== 'string';

  renderErrors(t);
  renderOutputs(t);
  renderInputs(req);
  renderLinks(t);

  const meta = [
    ['Model', t.model || '—'],
    ['Engine', t.engine || '—'],
    ['Transport', t.transport],
    ['Created', formatTimeZoned(t.createdAt)],
    ['Completed', t.completedAt ? formatTimeZoned(t.completedAt) : '—'],
    ['Duration', t.durationMs === null ? '—' : formatDuration(t.durationMs)],
    ['Cost', formatCost(t.cost)],
    ['Error code', t.errorCode || '—'],
    ['API key', t.apiKeyId ? t.apiKeyId.slice(0, 8) : 'not recorded'],
  ];
  $('#t-meta').replaceChildren(...meta.map(([k, v]) => el('div', {}, el('dt', {}, k), el('dd', {}, v))));

  renderCode('request', t.requestText);
  renderCode('response', t.responseText ?? JSON.stringify(t.response));
  renderWebhooks(t.webhookAttempts || []);
  renderUpstream(t.upstream || []);
  renderArchive(t.archivedOutputs || []);
}

/** A failed (or partly failed) task leads with what went wrong and what the caller got. */
function renderErrors(t) {
  const box = $('#t-error-callout');
  const errors = (t.response && Array.isArray(t.response.errors) ? t.response.errors : []).filter((e) => e && e.code);
  box.hidden = errors.length === 0;
  if (errors.length === 0) return box.replaceChildren();
  const heading = statusOf(t) === 'partial' ? `${errors.length} of the results failed` : 'This task failed';
  const http =
    t.transport === 'websocket' ? 'over WebSocket (no HTTP status)' : t.httpStatus ? `HTTP ${t.httpStatus}` : '';
  box.replaceChildren(
    el('h2', {}, heading, http ? el('span', { className: 'muted' }, ` · the caller got ${http}`) : null),
    ...errors
      .slice(0, 5)
      .map((e) =>
        el(
          'div',
          { className: 'callout-error' },
          el('code', { className: 'error-code' }, e.code),
          el('span', {}, ` ${e.message || ''}`),
          e.parameter ? el('span', { className: 'muted' }, ` · parameter `, el('code', {}, e.parameter)) : null,
          e.type ? el('span', { className: 'muted' }, ` (${e.type})`) : null,
        ),
      ),
  );
}

/**
 * Outputs as they arrive: every result of the current response (results so far while the task
 * runs, each with its progress), then any recorded image the response does not show by URL.
 */
function renderOutputs(t) {
  const items = t.response && Array.isArray(t.response.data) ? t.response.data : [];
  const byUuid = new Map((t.media || []).map((m) => [m.imageUUID, m]));
  const figures = [];
  const shownUuids = new Set();
  for (const item of items) {
    if (!item || typeof item !== 'object') continue;
    const url =
      item.imageURL ||
      item.mediaURL ||
      item.imageDataURI ||
      (item.imageBase64Data ? `data:image/png;base64,${item.imageBase64Data}` : null);
    if (item.status === 'processing' && !url) {
      const p = typeof item.progress === 'number' ? item.progress : null;
      figures.push(
        el(
          'figure',
          { className: 'pending' },
          el('div', { className: 'placeholder' }, p === null ? 'processing…' : `processing ${p}%`),
          el('progress', { max: 100, ...(p === null ? {} : { value: p }) }),
        ),
      );
      continue;
    }
    if (item.audioURL)
      figures.push(
        el(
          'figure',
          {},
          el('audio', { controls: true, src: item.audioURL, preload: 'none' }),
          el('figcaption', {}, 'audio'),
        ),
      );
    if (item.videoURL)
      figures.push(
        el(
          'figure',
          {},
          el('video', { controls: true, src: item.videoURL, preload: 'metadata' }),
          el('figcaption', {}, 'video'),
        ),
      );
    if (!url) continue;
    const uuid = item.imageUUID || item.mediaUUID;
    if (uuid) shownUuids.add(uuid);
    figures.push(outputFigure(url, byUuid.get(uuid), uuid));
  }
  for (const m of t.media || [])
    if (!shownUuids.has(m.imageUUID)) figures.push(outputFigure(m.imageURL, m, m.imageUUID));
  $('#t-images').replaceChildren(...figures);
  $('#t-images').hidden = figures.length === 0;
}

function outputFigure(url, m, uuid) {
  const caption = m ? `${m.width}×${m.height} ${m.format} · ${formatBytes(m.bytes)}` : uuid || '';
  const isData = url.startsWith('data:');
  return el(
    'figure',
    {},
    el(
      'a',
      { href: url, target: '_blank', rel: 'noopener' },
      el('img', { src: url, alt: uuid || 'output image', loading: 'lazy' }),
    ),
    el(
      'figcaption',
      {},
      caption,
      ' · ',
      el('a', { href: url, target: '_blank', rel: 'noopener' }, 'open'),
      ' · ',
      el('a', { href: url, download: `${uuid || 'image'}.${m ? m.format : 'png'}` }, 'download'),
      isData ? null : null,
    ),
  );
}

const INPUT_FIELDS = ['seedImage', 'inputImage', 'maskImage', 'referenceImage', 'image', 'guideImage'];

/** Images the task was given (seedImage, inputImage, …), beside its outputs. */
async function renderInputs(req) {
  const found = [];
  for (const field of INPUT_FIELDS) {
    const v = req[field] ?? (req.inputs && req.inputs[field]);
    if (typeof v === 'string') found.push([field, v]);
  }
  const box = $('#t-inputs');
  $('#t-inputs-box').hidden = found.length === 0;
  const figures = await Promise.all(
    found.map(async ([field, v]) => {
      let url = null;
      if (isUuid(v))
        url = await api(`/api/media/${v}`).then(
          (b) => b.data[0].imageURL,
          () => null,
        );
      else if (/^(https?:|data:image\/)/.test(v)) url = v;
      else if (/^[A-Za-z0-9+/=\s]{64,}$/.test(v)) url = `data:image/png;base64,${v}`;
      return el(
        'figure',
        { className: 'input' },
        url ? el('img', { src: url, alt: field }) : el('div', { className: 'placeholder' }, 'not available'),
        el('figcaption', {}, field, isUuid(v) ? el('code', {}, ` ${v.slice(0, 8)}…`) : null),
      );
    }),
  );
  box.replaceChildren(...figures);
}

/** Run again, both ways: the task this one re-ran, and the tasks run again from it. */
function renderLinks(t) {
  const parts = [];
  if (t.rerunOf)
    parts.push(
      el(
        'p',
        {},
        'Run again from ',
        el('a', { href: `#/task/${t.rerunOf}`, className: 'mono', id: 't-rerun-of' }, t.rerunOf),
      ),
    );
  if (t.reruns && t.reruns.length > 0) {
    parts.push(
      el(
        'p',
        {},
        'Run again as ',
        ...t.reruns.flatMap((r, i) => [
          i > 0 ? ', ' : null,
          el('a', { href: `#/task/${r.taskUUID}`, className: 'mono rerun-link' }, r.taskUUID),
        ]),
      ),
    );
  }
  $('#t-links').replaceChildren(...parts);
  $('#t-links').hidden = parts.length === 0;
}

function renderUpstream(exchanges) {
  $('#t-upstream-box').hidden = exchanges.length === 0;
  const rows = exchanges.map((x) =>
    el(
      'tr',
      {},
      el('td', {}, x.kind),
      el('td', { className: 'mono' }, x.upstreamTaskUUID),
      el('td', {}, formatTimeZoned(x.at)),
      el('td', { className: 'num' }, x.httpStatus === null ? '—' : String(x.httpStatus)),
      el('td', { className: 'num' }, `${x.latencyMs} ms`),
      el('td', {}, x.error || ''),
      el(
        'td',
        {},
        x.replyText === null
          ? ''
          : el(
              'details',
              {},
              el('summary', {}, `${x.replyText.length} characters`),
              el('pre', { className: 'mono upstream-reply' }, x.replyText),
            ),
      ),
    ),
  );
  const head = el(
    'tr',
    {},
    ...['Kind', 'Upstream taskUUID', 'At', 'HTTP', 'Latency', 'Error', 'Raw reply'].map((h) => el('th', {}, h)),
  );
  $('#t-upstream').replaceChildren(
    el('table', { className: 'webhooks' }, el('thead', {}, head), el('tbody', {}, ...rows)),
  );
}

/** runtrail's copies of a forwarded task's outputs: a link to each copy, or why there is none. */
function renderArchive(outputs) {
  $('#t-archive-box').hidden = outputs.length === 0;
  const rows = outputs.map((o) =>
    el(
      'tr',
      { className: `archive-${o.state}` },
      el('td', { className: 'num' }, String(o.itemIndex)),
      el('td', { className: 'mono' }, o.field),
      el('td', {}, o.state),
      el(
        'td',
        {},
        o.archivedURL ? el('a', { href: o.archivedURL, target: '_blank', rel: 'noopener' }, 'archived copy') : '',
      ),
      el('td', {}, o.contentType || ''),
      el('td', { className: 'num' }, o.bytes === null ? '' : String(o.bytes)),
      el('td', { className: 'mono' }, o.sha256 ? o.sha256.slice(0, 16) : ''),
      el('td', { className: 'mono' }, o.upstreamURL || `(${o.form})`),
      el('td', {}, o.error || ''),
    ),
  );
  const head = el(
    'tr',
    {},
    ...['Result', 'Member', 'State', 'Copy', 'Type', 'Bytes', 'sha256', 'From', 'Reason'].map((h) => el('th', {}, h)),
  );
  $('#t-archive').replaceChildren(
    el('table', { className: 'webhooks' }, el('thead', {}, head), el('tbody', {}, ...rows)),
  );
}

function renderCode(pane, text) {
  const indent = document.querySelector(`.indent[data-pane="${pane}"]`).checked;
  const pre = $(`#${pane}-code`);
  pre.dataset.raw = text;
  pre.replaceChildren(highlight(text, indent));
}

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
        el(
          'tr',
          {},
          el('td', {}, d.kind || 'webhook'),
          el('td', { className: 'mono' }, d.url || ''),
          el('td', {}, d.state || ''),
          el('td', { className: 'num' }, a ? String(a.attempt) : '—'),
          el('td', {}, a ? formatTimeZoned(a.at) : '—'),
          el('td', { className: 'num' }, a && a.statusCode !== null ? String(a.statusCode) : '—'),
          el('td', { className: 'num' }, a ? `${a.latencyMs} ms` : '—'),
          el('td', {}, a && a.error ? a.error : ''),
        ),
      );
    }
  }
  const head = el(
    'tr',
    {},
    ...['Kind', 'URL', 'State', 'Attempt', 'Started', 'HTTP', 'Latency', 'Error'].map((h) => el('th', {}, h)),
  );
  box.replaceChildren(
    el(
      'div',
      { className: 'scroll' },
      el('table', { className: 'webhooks' }, el('thead', {}, head), el('tbody', {}, ...rows)),
    ),
  );
}

// Copy as curl: the stored request exactly, the key left to the shell so it never lands in a
// clipboard or a screenshot: $KEY as in the README, or else $RUNTRAIL_API_KEY (what the server
// itself reads). The same taskUUID replays the stored response.
async function copyCurl() {
  if (!state.task) return;
  await copyText(curlCommand(state.task.requestText));
  note(
    'Copied a curl command that sends this request as stored. It reads the key from $KEY (as in the README) or $RUNTRAIL_API_KEY; with the same taskUUID the server answers the stored response again.',
  );
}

export function curlCommand(requestText) {
  const quote = (s) => `'${s.replace(/'/g, `'\\''`)}'`;
  return [
    `curl -sS ${quote(`${location.origin}/v1`)}`,
    `-H "Authorization: Bearer \${KEY:-$RUNTRAIL_API_KEY}"`,
    `-H 'content-type: application/json'`,
    `--data-raw ${quote(requestText)}`,
  ].join(' \\\n  ');
}

/** The task as one JSON file: request and response spliced in exactly as stored. */
function downloadTask() {
  const t = state.task;
  if (!t) return;
  const head = JSON.stringify({
    taskUUID: t.taskUUID,
    taskType: t.taskType,
    status: t.status,
    createdAt: t.createdAt,
    completedAt: t.completedAt,
  });
  const text = `${head.slice(0, -1)},"request":${t.requestText},"response":${t.responseText ?? JSON.stringify(t.response)}}\n`;
  download(`task-${t.taskUUID}.json`, text);
  note(`Downloaded task-${t.taskUUID}.json (request and response exactly as stored).`);
}

const SEED = /("seed"\s*:\s*)(-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)/;

/** The seed a run used: the request's own, else the one its first result reports. */
function seedOf(t) {
  const m = SEED.exec(t.requestText);
  if (m) return { value: m[2], inRequest: true };
  const first =
    t.response && Array.isArray(t.response.data)
      ? t.response.data.find((d) => d && typeof d.seed === 'number')
      : undefined;
  return first ? { value: String(first.seed), inRequest: false } : null;
}

function askRunAgain() {
  const t = state.task;
  if (!t) return;
  const seed = seedOf(t);
  $('#rerun-seed-row').hidden = seed === null;
  $('#rerun-keep-seed').checked = seed !== null && seed.inRequest;
  $('#rerun-seed-value').textContent = seed ? seed.value : '';
  $('#rerun-engine').textContent =
    t.engine === 'upstream' ? ' This task ran upstream: running it again is charged there again.' : '';
  $('#rerun-dialog').showModal();
}

/**
 * The stored request with only the taskUUID replaced and, as asked, the seed kept (inserted
 * from the result when the request had none) or drawn anew; every other byte stays as sent.
 */
export function rerunBody(t, newUUID, keepSeed) {
  const escaped = t.taskUUID.replace(/[-]/g, '\\-');
  let body = t.requestText.replace(new RegExp(`("taskUUID"\\s*:\\s*")${escaped}(")`, 'gi'), `$1${newUUID}$2`);
  const seed = seedOf(t);
  if (seed && keepSeed && !seed.inRequest) body = body.replace(/^(\s*\[\s*\{)/, `$1"seed":${seed.value},`);
  if (seed && !keepSeed && seed.inRequest)
    body = body.replace(SEED, (_m, head) => `${head}${crypto.getRandomValues(new Uint32Array(1))[0] % 2147483647}`);
  return body;
}

async function runAgain(keepSeed) {
  const t = state.task;
  if (!t) return;
  const button = $('#run-again');
  button.disabled = true;
  const newUUID = randomUUID();
  const body = rerunBody(t, newUUID, keepSeed);
  note(`Running again as ${newUUID}…`);
  // The link first: the new task then shows where it came from from its first moment.
  try {
    await api(`/api/tasks/${t.taskUUID}/reruns`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ taskUUID: newUUID }),
    });
  } catch (e) {
    button.disabled = false;
    note(`Run again failed: ${e.message}`);
    return;
  }
  let settled = false;
  let failure = null;
  const posting = fetch('/v1', {
    method: 'POST',
    headers: { authorization: `Bearer ${session.key}`, 'content-type': 'application/json' },
    body,
  })
    .then(async (res) => {
      if (res.status === 401 || res.status === 413 || res.status >= 500)
        failure = new ApiError(res.status, await res.json().catch(() => undefined));
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
    const res = await fetch(`/api/tasks/${newUUID}`, {
      headers: { authorization: `Bearer ${session.key}` },
      cache: 'no-store',
    });
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
  note(`Ran again as ${newUUID} (same parameters${keepSeed ? ', same seed' : ''}, new taskUUID).`);
}
