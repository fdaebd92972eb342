// The dashboard: tasks over time, error rate by code, latency percentiles and cost by day, model
// and API key for a range (last hour, 24 h, 7 d, 30 d), from GET /api/stats. Charts are plain
// SVG drawn here: no library, no build step. Times are UTC, like everywhere else.

import { api } from './api.js';
import { $, el, formatDuration, svg } from './util.js';

const PRESETS = ['1h', '24h', '7d', '30d'];
const W = 720;
const H = 180;

export function initDashboard() {
  for (const b of document.querySelectorAll('#range-presets button')) {
    b.addEventListener('click', () => {
      location.hash = `#/dashboard?range=${b.dataset.range}`;
    });
  }
}

export async function showDashboard(query) {
  const range = PRESETS.includes(query.get('range')) ? query.get('range') : '24h';
  for (const b of document.querySelectorAll('#range-presets button')) {
    b.classList.toggle('active', b.dataset.range === range);
    b.setAttribute('aria-pressed', b.dataset.range === range ? 'true' : 'false');
  }
  const err = $('#dashboard-error');
  err.hidden = true;
  let stats;
  try {
    stats = (await api(`/api/stats?range=${range}`)).data[0];
  } catch (e) {
    if (e.status !== 401) {
      err.textContent = e.message;
      err.hidden = false;
    }
    return;
  }
  renderTotals(stats);
  $('#chart-tasks').replaceChildren(tasksChart(stats));
  renderErrors(stats);
  renderLatency(stats);
  $('#chart-cost').replaceChildren(costChart(stats));
  renderCostTable(
    '#cost-by-model',
    stats.costByModel,
    (r) => r.model || '(no model)',
    (r) => (r.model ? `#/tasks?model=${encodeURIComponent(r.model)}&since=${range}` : null),
  );
  renderCostTable(
    '#cost-by-key',
    stats.costByApiKey,
    (r) =>
      r.apiKeyId
        ? `${r.prefix || r.apiKeyId.slice(0, 8)}…${r.label ? ` (${r.label})` : ''}`
        : 'not recorded (older tasks)',
    (r) => (r.apiKeyId ? `#/tasks?apiKey=${r.apiKeyId}&since=${range}` : null),
  );
  $('#dashboard-range').textContent =
    `${stats.from.slice(0, 16).replace('T', ' ')} – ${stats.until.slice(0, 16).replace('T', ' ')} UTC`;
}

function renderTotals(s) {
  const t = s.totals;
  const main = s.latency[0];
  const tiles = [
    ['Tasks', String(t.tasks), `${t.success} success · ${t.error} error · ${t.processing} processing`],
    ['Error rate', `${(t.errorRate * 100).toFixed(1)}%`, `${t.error} failed`],
    ['Cost', `$${t.cost}`, `${t.costedTasks} tasks with a cost`],
    [
      'Latency p50 / p99',
      main ? `${formatDuration(main.p50)} / ${formatDuration(main.p99)}` : '—',
      main ? main.taskType : 'no finished task',
    ],
  ];
  $('#totals').replaceChildren(
    ...tiles.map(([k, v, sub]) =>
      el(
        'div',
        { className: 'tile' },
        el('div', { className: 'tile-k' }, k),
        el('div', { className: 'tile-v' }, v),
        el('div', { className: 'tile-s muted' }, sub),
      ),
    ),
  );
}

/** Axis label for a bucket start: the time of day within a day, the date beyond. */
function tickLabel(iso, bucketMs) {
  return bucketMs >= 21_600_000 ? iso.slice(5, 10) : iso.slice(11, 16);
}

function tasksChart(s) {
  const points = s.overTime;
  const max = Math.max(1, ...points.map((p) => p.tasks));
  const bw = W / Math.max(1, points.length);
  const g = svg('svg', {
    viewBox: `0 0 ${W} ${H + 20}`,
    class: 'chart',
    role: 'img',
    'aria-label': `Tasks over time: ${s.totals.tasks} in the range`,
  });
  points.forEach((p, i) => {
    let y = H;
    for (const [key, cls] of [
      ['success', 'bar-ok'],
      ['error', 'bar-err'],
      ['processing', 'bar-run'],
    ]) {
      if (p[key] === 0) continue;
      const h = (p[key] / max) * (H - 10);
      y -= h;
      g.append(
        svg(
          'rect',
          { x: i * bw + 0.5, y, width: Math.max(1, bw - 1), height: h, class: cls },
          svg('title', {}, `${p.at.replace('T', ' ').slice(0, 16)} UTC: ${p[key]} ${key}`),
        ),
      );
    }
  });
  const every = Math.max(1, Math.ceil(points.length / 8));
  points.forEach((p, i) => {
    if (i % every === 0)
      g.append(
        svg('text', { x: i * bw + 2, y: H + 15, class: 'tick' }, document.createTextNode(tickLabel(p.at, s.bucketMs))),
      );
  });
  g.append(
    svg('text', { x: W - 4, y: 12, class: 'tick', 'text-anchor': 'end' }, document.createTextNode(`max ${max}`)),
  );
  return g;
}

function costChart(s) {
  const days = s.costByDay;
  const g = svg('svg', { viewBox: `0 0 ${W} ${H + 20}`, class: 'chart', role: 'img', 'aria-label': 'Cost by day' });
  if (days.length === 0) {
    g.append(
      svg(
        'text',
        { x: W / 2, y: H / 2, class: 'tick', 'text-anchor': 'middle' },
        document.createTextNode('No cost recorded in this range'),
      ),
    );
    return g;
  }
  const max = Math.max(1e-9, ...days.map((d) => d.cost));
  const bw = Math.min(80, W / days.length);
  days.forEach((d, i) => {
    const h = (d.cost / max) * (H - 20);
    g.append(
      svg(
        'rect',
        { x: i * bw + 2, y: H - h, width: bw - 4, height: h, class: 'bar-cost' },
        svg('title', {}, `${d.day}: $${d.cost} over ${d.tasks} tasks`),
      ),
    );
    g.append(svg('text', { x: i * bw + 2, y: H + 15, class: 'tick' }, document.createTextNode(d.day.slice(5))));
    g.append(svg('text', { x: i * bw + 2, y: H - h - 4, class: 'tick' }, document.createTextNode(`$${d.cost}`)));
  });
  return g;
}

function renderErrors(s) {
  const box = $('#errors-by-code');
  if (s.errorsByCode.length === 0)
    return box.replaceChildren(el('p', { className: 'muted' }, 'No failed task in this range.'));
  const max = Math.max(...s.errorsByCode.map((e) => e.tasks));
  box.replaceChildren(
    el(
      'table',
      { className: 'stats' },
      el(
        'thead',
        {},
        el(
          'tr',
          {},
          el('th', {}, 'Error code'),
          el('th', { className: 'num' }, 'Tasks'),
          el('th', { className: 'num' }, 'Rate'),
          el('th', {}, ''),
        ),
      ),
      el(
        'tbody',
        {},
        ...s.errorsByCode.map((e) =>
          el(
            'tr',
            {},
            el(
              'td',
              {},
              el('a', { href: `#/tasks?status=error&errorCode=${encodeURIComponent(e.errorCode)}` }, e.errorCode),
            ),
            el('td', { className: 'num' }, String(e.tasks)),
            el('td', { className: 'num' }, `${(e.rate * 100).toFixed(1)}%`),
            el('td', { className: 'meter' }, meterBar(e.tasks / max)),
          ),
        ),
      ),
    ),
  );
}

/** A bar as wide as `share` of its cell (set through the CSSOM: the page's CSP allows no inline styles). */
function meterBar(share) {
  const bar = el('span', { className: 'meter-bar' });
  bar.style.width = `${Math.round(share * 100)}%`;
  return bar;
}

function renderLatency(s) {
  const box = $('#latency');
  if (s.latency.length === 0)
    return box.replaceChildren(el('p', { className: 'muted' }, 'No finished task in this range.'));
  box.replaceChildren(
    el(
      'table',
      { className: 'stats' },
      el(
        'thead',
        {},
        el(
          'tr',
          {},
          ...['Task type', 'Tasks', 'p50', 'p90', 'p99', 'max'].map((h, i) =>
            el('th', { className: i ? 'num' : '' }, h),
          ),
        ),
      ),
      el(
        'tbody',
        {},
        ...s.latency.map((l) =>
          el(
            'tr',
            {},
            el('td', {}, l.taskType),
            el('td', { className: 'num' }, String(l.tasks)),
            ...[l.p50, l.p90, l.p99, l.max].map((v) => el('td', { className: 'num' }, formatDuration(v))),
          ),
        ),
      ),
    ),
  );
}

function renderCostTable(sel, rows, name, href) {
  const box = $(sel);
  if (rows.length === 0) return box.replaceChildren(el('p', { className: 'muted' }, 'No task in this range.'));
  box.replaceChildren(
    el(
      'table',
      { className: 'stats' },
      el(
        'thead',
        {},
        el(
          'tr',
          {},
          el('th', {}, sel === '#cost-by-model' ? 'Model' : 'API key'),
          el('th', { className: 'num' }, 'Tasks'),
          el('th', { className: 'num' }, 'Cost'),
        ),
      ),
      el(
        'tbody',
        {},
        ...rows.map((r) => {
          const link = href(r);
          return el(
            'tr',
            {},
            el('td', {}, link ? el('a', { href: link }, name(r)) : name(r)),
            el('td', { className: 'num' }, String(r.tasks)),
            el('td', { className: 'num' }, `$${r.cost}`),
          );
        }),
      ),
    ),
  );
}
