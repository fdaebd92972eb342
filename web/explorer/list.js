// The task list: filters that live in the URL (#/tasks?status=error&since=24h), search by
// taskUUID or imageUUID, rows that are real links, paging that says where you are, and an empty
// state that says how to send a first task. Processing tasks refresh the first page live.

import { api, apiKeys, ApiError } from './api.js';
import { $, badge, el, formatCost, formatDuration, formatTime, fromLocalInput, isUuid, toLocalInput } from './util.js';

const LIST_POLL_MS = 3000;
export const FILTERS = ['taskType', 'status', 'model', 'since', 'until', 'text', 'errorCode', 'engine', 'apiKey'];
const PRESETS = ['1h', '24h', '7d', '30d'];

const state = { nextCursor: null, shown: 0, timer: null, ticket: 0 };

export function stopListPolling() {
  clearTimeout(state.timer);
  state.timer = null;
  state.ticket++;
}

function fillFilters(query) {
  const form = $('#filters');
  for (const name of FILTERS) {
    const v = query.get(name) || '';
    if (name === 'since' || name === 'until') form.elements[name].value = PRESETS.includes(v) ? '' : toLocalInput(v);
    else form.elements[name].value = v;
  }
  form.elements.range.value = PRESETS.includes(query.get('since') || '') ? query.get('since') : '';
}

async function fillKeyOptions(selected) {
  const select = $('#filters select[name=apiKey]');
  if (select.options.length <= 1) {
    for (const k of await apiKeys())
      select.append(el('option', { value: k.apiKeyId }, `${k.prefix}…${k.label ? ` (${k.label})` : ''}`));
  }
  select.value = selected || '';
}

export function queryFromForm() {
  const form = $('#filters');
  const query = new URLSearchParams();
  for (const name of FILTERS) {
    let v = form.elements[name].value.trim();
    if (name === 'since' && form.elements.range.value) v = form.elements.range.value;
    else if (v && (name === 'since' || name === 'until')) v = fromLocalInput(v);
    if (v) query.set(name, v);
  }
  return query;
}

export function initList() {
  $('#filters').addEventListener('submit', (e) => {
    e.preventDefault();
    const query = queryFromForm();
    const hash = `#/tasks${query.toString() ? `?${query}` : ''}`;
    if (location.hash === hash) window.dispatchEvent(new HashChangeEvent('hashchange'));
    else location.hash = hash;
  });
  $('#filters select[name=range]').addEventListener('change', () => {
    $('#filters input[name=since]').value = '';
  });
  $('#clear-filters').addEventListener('click', () => {
    location.hash = '#/tasks';
  });
  $('#load-more').addEventListener('click', () => {
    loadList(new URLSearchParams(location.hash.split('?')[1] || ''), true);
  });
  $('#search').addEventListener('submit', async (e) => {
    e.preventDefault();
    await search($('#search-input').value.trim());
  });
}

/** A taskUUID opens its task; an imageUUID opens the task that made the image; other text filters by prompt. */
async function search(value) {
  const out = $('#search-note');
  out.hidden = true;
  if (!value) return;
  if (!isUuid(value)) {
    location.hash = `#/tasks?${new URLSearchParams({ text: value })}`;
    return;
  }
  try {
    await api(`/api/tasks/${value}`);
    location.hash = `#/task/${value}`;
    return;
  } catch (e) {
    if (!(e instanceof ApiError) || e.status !== 404) throw e;
  }
  try {
    const media = (await api(`/api/media/${value}`)).data[0];
    if (media.taskUUID) {
      location.hash = `#/task/${media.taskUUID}`;
      return;
    }
    out.textContent = `Image ${value} was uploaded without a task.`;
  } catch {
    out.textContent = `No task or image ${value} in your organization.`;
  }
  out.hidden = false;
}

export async function showList(query) {
  fillFilters(query);
  await Promise.all([fillKeyOptions(query.get('apiKey')), loadList(query, false)]);
}

async function loadList(query, append) {
  const err = $('#list-error');
  err.hidden = true;
  const params = new URLSearchParams(query);
  if (append && state.nextCursor) params.set('cursor', state.nextCursor);
  const ticket = ++state.ticket;
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
  if (ticket !== state.ticket) return;
  const body = $('#task-table tbody');
  if (!append) {
    body.replaceChildren();
    state.shown = 0;
  }
  for (const t of page.data) body.append(taskRow(t));
  state.shown += page.data.length;
  state.nextCursor = page.nextCursor;
  $('#load-more').hidden = !page.nextCursor;
  const c = page.counts;
  $('#counts').textContent =
    `${c.total} task${c.total === 1 ? '' : 's'} · ${c.success} success · ${c.error} error · ${c.processing} processing`;
  $('#page-info').textContent =
    c.total === 0 ? '' : `Showing 1–${state.shown} of ${c.total}${page.nextCursor ? ' · newest first' : ''}`;
  const filtered = [...query.keys()].some((k) => FILTERS.includes(k));
  $('#list-empty').hidden = c.total > 0;
  $('#empty-filtered').hidden = !filtered;
  $('#empty-first').hidden = filtered;
  $('#task-table').hidden = c.total === 0;
  if (!filtered && c.total === 0) $('#first-curl').textContent = firstTaskCurl();
  // Processing tasks update live: refresh the first page while any is shown.
  if (!append && page.data.some((t) => t.status === 'processing')) {
    state.timer = setTimeout(() => loadList(query, false), LIST_POLL_MS);
  }
}

/** What to paste to send a first task, with the README's variable for the key. */
function firstTaskCurl() {
  const uuid = crypto.getRandomValues(new Uint8Array(4)).reduce((s, b) => s + b.toString(16).padStart(2, '0'), '');
  const body = `[{"taskType":"imageInference","taskUUID":"${uuid}-0000-4000-8000-000000000001","model":"runware:101@1","positivePrompt":"a cat","width":512,"height":512,"includeCost":true}]`;
  return `curl -s ${location.origin}/v1 -H "Authorization: Bearer $KEY" -H 'content-type: application/json' \\\n  -d '${body}'`;
}

export function statusOf(t) {
  return t.partial ? 'partial' : t.status;
}

function taskRow(t) {
  const href = `#/task/${t.taskUUID}`;
  const tr = el('tr', { dataset: { taskUuid: t.taskUUID } });
  const cells = [
    ['Created (UTC)', el('time', { dateTime: t.createdAt }, formatTime(t.createdAt))],
    ['Task UUID', el('a', { href, className: 'row-link mono' }, t.taskUUID)],
    ['Type', t.taskType],
    ['Status', badge(statusOf(t)), t.errorCode ? el('span', { className: 'code-note' }, ` ${t.errorCode}`) : null],
    ['Model', t.model || '—'],
    ['Prompt', t.prompt || ''],
    ['Cost', formatCost(t.cost)],
    ['Time', t.durationMs === null ? '—' : formatDuration(t.durationMs)],
  ];
  cells.forEach(([label, ...content], i) => {
    const td = el('td', { dataset: { label } }, ...content);
    if (i === 5) {
      td.className = 'prompt';
      td.title = t.prompt || '';
    }
    if (i >= 6) td.className = 'num';
    tr.append(td);
  });
  // The whole row opens the task; the UUID is a real link (keyboard, middle-click, copy link).
  tr.addEventListener('click', (e) => {
    if (e.target.closest('a')) return;
    location.hash = href;
  });
  return tr;
}
