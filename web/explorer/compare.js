// Two tasks' requests side by side as a line diff (#/compare/<a>/<b>): both indented the same
// way, so what differs between a task that failed and one that did not stands out.

import { api } from './api.js';
import { diffLines } from './diff.js';
import { indentedText } from './json-view.js';
import { $, badge, el } from './util.js';
import { statusOf } from './list.js';

export async function showCompare(a, b) {
  const err = $('#compare-error');
  err.hidden = true;
  $('#compare-diff').replaceChildren();
  let left;
  let right;
  try {
    [left, right] = await Promise.all([api(`/api/tasks/${a}`), api(`/api/tasks/${b}`)]).then((r) =>
      r.map((x) => x.data[0]),
    );
  } catch (e) {
    err.textContent = e.code === 'taskNotFound' ? 'One of the two tasks is not in your organization.' : e.message;
    err.hidden = false;
    return;
  }
  const side = (t) =>
    el(
      'span',
      {},
      el('a', { href: `#/task/${t.taskUUID}`, className: 'mono' }, t.taskUUID),
      ' ',
      badge(statusOf(t)),
      t.errorCode ? el('code', {}, ` ${t.errorCode}`) : null,
    );
  $('#compare-head').replaceChildren(el('p', {}, '− ', side(left)), el('p', {}, '+ ', side(right)));
  // The taskUUIDs always differ; leave them out so the real differences stand alone.
  const strip = (t) => t.requestText.split(t.taskUUID).join('…');
  const lines = diffLines(indentedText(strip(left)), indentedText(strip(right)));
  const changed = lines.filter((l) => l.op !== ' ').length;
  $('#compare-summary').textContent =
    changed === 0
      ? 'The two requests are the same apart from their taskUUIDs.'
      : `${changed} line${changed === 1 ? '' : 's'} differ.`;
  $('#compare-diff').replaceChildren(
    ...lines.map((l) =>
      el('div', { className: l.op === '-' ? 'del' : l.op === '+' ? 'add' : 'same' }, `${l.op} ${l.line}`),
    ),
  );
}
