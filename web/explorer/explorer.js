// The runtrail task explorer: plain ES modules, no build step. It signs in with an API key (kept
// in sessionStorage), reads the history and dashboard APIs and runs tasks again through POST /v1
// like any other client. Routes: #/tasks?filters, #/task/<uuid>, #/dashboard?range=24h,
// #/compare/<a>/<b>.

import { checkKey, forgetKeys, session } from './api.js';
import { showCompare } from './compare.js';
import { initDashboard, showDashboard } from './dashboard.js';
import { initList, showList, stopListPolling } from './list.js';
import { initTask, openTask, stopTaskPolling } from './task.js';
import { $ } from './util.js';

const VIEWS = ['sign-in', 'list-view', 'task-view', 'dashboard-view', 'compare-view'];

function show(id) {
  for (const v of VIEWS) $(`#${v}`).hidden = v !== id;
  $('#nav').hidden = id === 'sign-in';
  $('#sign-out').hidden = id === 'sign-in';
  for (const a of document.querySelectorAll('#nav a')) a.classList.toggle('active', a.dataset.view === id);
  if (id === 'sign-in') $('#api-key').focus();
}

function route() {
  stopListPolling();
  stopTaskPolling();
  if (!session.key) return show('sign-in');
  const hash = location.hash || '#/tasks';
  const [path, search] = hash.slice(1).split('?');
  const query = new URLSearchParams(search || '');
  let m;
  if ((m = /^\/task\/([^/]+)$/.exec(path))) {
    show('task-view');
    return openTask(decodeURIComponent(m[1]));
  }
  if ((m = /^\/compare\/([^/]+)\/([^/]+)$/.exec(path))) {
    show('compare-view');
    return showCompare(m[1], m[2]);
  }
  if (path === '/dashboard') {
    show('dashboard-view');
    return showDashboard(query);
  }
  show('list-view');
  return showList(query);
}

$('#sign-in-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const key = $('#api-key').value.trim();
  const err = $('#sign-in-error');
  err.hidden = true;
  const refused = await checkKey(key);
  if (refused) {
    err.textContent = refused.message;
    err.hidden = false;
    return;
  }
  session.signIn(key);
  forgetKeys();
  $('#api-key').value = '';
  route();
});

function signOut(message) {
  session.signOut();
  forgetKeys();
  stopListPolling();
  stopTaskPolling();
  show('sign-in');
  const err = $('#sign-in-error');
  err.textContent = message || '';
  err.hidden = !message;
}

session.onSignedOut = signOut;
$('#sign-out').addEventListener('click', () => signOut());

initList();
initTask();
initDashboard();
window.addEventListener('hashchange', route);
route();
