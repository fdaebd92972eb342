// The explorer as a dashboard, in real headless Chromium (Debian's /usr/bin/chromium through
// playwright-core) against the real server: the dashboard and its presets; finding tasks (search
// by taskUUID and imageUUID, filters, row links, paging); failed, partial, unknown and empty
// states; outputs and inputs first; foldable JSON, paths, download and compare; run again that
// asks, keeps the seed and links both ways; copy as curl with the README's $KEY; live results;
// one clock with the CLI; dark mode following the system. Every test runs twice, each time
// against its own server: at desktop size (1360 px, light) and at phone size (390 px, touch,
// dark), and no view may scroll sideways at either. Screenshots go to test-results/ (to
// docs/screenshots/ with RUNTRAIL_UPDATE_DOCS_SCREENSHOT=1), phone ones prefixed `phone-`.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type BrowserContextOptions, type Page } from 'playwright-core';
import { imageTask, REPO_ROOT, startServer, type TestServer } from './helpers/server.js';
import { cliOk, createKey } from './helpers/cli.js';

const CHROMIUM = '/usr/bin/chromium';
const DOCS_SHOTS = process.env.RUNTRAIL_UPDATE_DOCS_SCREENSHOT === '1';
const SHOTS = join(REPO_ROOT, DOCS_SHOTS ? 'docs/screenshots' : 'test-results');

interface Device {
  name: 'desktop' | 'phone';
  /** Screenshot name prefix. */
  prefix: string;
  options: BrowserContextOptions & { viewport: { width: number; height: number }; colorScheme: 'light' | 'dark' };
}

const DEVICES: Device[] = [
  { name: 'desktop', prefix: '', options: { viewport: { width: 1360, height: 900 }, colorScheme: 'light' } },
  {
    name: 'phone',
    prefix: 'phone-',
    options: {
      viewport: { width: 390, height: 844 },
      deviceScaleFactor: 2,
      isMobile: true,
      hasTouch: true,
      colorScheme: 'dark',
    },
  },
];

/** The page background in each colour scheme (explorer.css, :root and its dark variant). */
const BACKGROUND = { light: 'rgb(246, 247, 249)', dark: 'rgb(15, 19, 27)' } as const;

/**
 * The README's own shell setup for the key: its `export NAME=rt_...` line, so the copied
 * commands are run exactly as a reader of the README would, with the README's variable name.
 */
const README_EXPORT = (() => {
  const line = /^export ([A-Z_]+)=rt_\.\.\.(?=\s|$)/m.exec(readFileSync(join(REPO_ROOT, 'README.md'), 'utf8'));
  if (!line) throw new Error('the README no longer has its `export KEY=rt_...` line');
  return { name: line[1]!, line: (key: string) => `export ${line[1]}='${key}'` };
})();

if (!existsSync(CHROMIUM)) {
  if (process.env.CI === 'true') {
    test('Chromium is required in CI', () => {
      throw new Error(`${CHROMIUM} is missing; .ci/run installs it with apt-get`);
    });
  } else {
    test(
      `explorer dashboard browser tests (skipped: ${CHROMIUM} is not installed; apt-get install chromium)`,
      { skip: true },
      () => {},
    );
  }
} else {
  for (const device of DEVICES)
    describe(`${device.name} (${device.options.viewport.width} px)`, () => dashboardSuite(device));
}

interface TaskDetail {
  taskUUID: string;
  requestText: string;
  responseText: string | null;
  status: string;
  partial: boolean;
  errorCode: string | null;
  httpStatus: number | null;
  createdAt: string;
  media: { imageUUID: string; imageURL: string }[];
  response: {
    data: { seed?: number; imageUUID?: string; imageURL?: string }[];
    errors?: { code: string; message: string; parameter?: string }[];
  };
  rerunOf: string | null;
  reruns: { taskUUID: string }[];
}

function dashboardSuite(device: Device): void {
  let server: TestServer;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let secondKey: string;
  let newcomerKey: string;
  const fox = imageTask({
    positivePrompt: 'a red fox in fresh snow',
    width: 256,
    height: 256,
    outputFormat: 'PNG',
    includeCost: true,
    seed: 42,
  });
  const lighthouse = imageTask({
    positivePrompt: 'a lighthouse at dusk',
    width: 128,
    height: 128,
    outputFormat: 'PNG',
    includeCost: true,
  });
  const failed = imageTask({ positivePrompt: 'a fox, too wide', width: 100, height: 256 });
  const partial = imageTask({
    positivePrompt: 'two owls [fail:1]',
    width: 128,
    height: 128,
    numberResults: 2,
    includeCost: true,
  });
  let seeded: Record<string, unknown>;

  const detail = async (taskUUID: string, key = server.key): Promise<TaskDetail> => {
    const res = await fetch(`${server.url}/api/tasks/${taskUUID}`, { headers: { authorization: `Bearer ${key}` } });
    assert.equal(res.status, 200, `task ${taskUUID}`);
    return ((await res.json()) as { data: TaskDetail[] }).data[0]!;
  };
  const apiJson = async <T>(path: string, key = server.key): Promise<T> => {
    const res = await fetch(`${server.url}${path}`, { headers: { authorization: `Bearer ${key}` } });
    assert.equal(res.status, 200, path);
    return (await res.json()) as T;
  };
  const shot = async (p: Page, name: string) => {
    await p.screenshot({ path: join(SHOTS, `${device.prefix}${name}.png`), fullPage: true });
  };
  const signIn = async (p: Page, key: string) => {
    await p.goto(`${server.url}/explorer`);
    await p.fill('#api-key', key);
    await p.click('#sign-in-form button[type=submit]');
    await p.locator('#list-view').waitFor({ state: 'visible' });
  };
  const go = async (p: Page, hash: string) => {
    await p.evaluate((h) => (location.hash = h), hash);
  };
  const rows = (p: Page) => p.locator('#task-table tbody tr');
  // The page never scrolls sideways: what is wider than the window (JSON, wide tables) wraps or
  // scrolls inside its own box.
  const noSidewaysScroll = async (p: Page, where: string) => {
    const { scroll, client } = await p.evaluate(() => ({
      scroll: document.documentElement.scrollWidth,
      client: document.documentElement.clientWidth,
    }));
    assert.ok(scroll <= client, `${device.name}, ${where}: the page is ${scroll}px wide in a ${client}px window`);
    assert.ok(client <= device.options.viewport.width, `${device.name}, ${where}: the layout is ${client}px wide`);
  };
  const newContext = async () => {
    const c = await browser.newContext({ ...device.options, acceptDownloads: true });
    await c.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: server.url });
    return c;
  };

  before(async () => {
    mkdirSync(SHOTS, { recursive: true });
    server = await startServer({ env: { RUNTRAIL_OUTBOUND_ALLOW: '127.0.0.1' } });
    secondKey = await createKey(server.dataDir, 'default');
    newcomerKey = await createKey(server.dataDir, 'newcomer');
    assert.equal((await server.post([fox])).status, 200);
    assert.equal((await server.post([lighthouse], { key: secondKey })).status, 200);
    assert.equal((await server.post([failed])).status, 400);
    assert.equal((await server.post([partial])).status, 200);
    const foxImage = (await detail(fox.taskUUID as string)).media[0]!;
    seeded = imageTask({
      positivePrompt: 'the fox again, from its picture',
      width: 128,
      height: 128,
      seedImage: foxImage.imageUUID,
      strength: 0.6,
    });
    assert.equal((await server.post([seeded])).status, 200);
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    context = await newContext();
    page = await context.newPage();
    page.setDefaultTimeout(15_000);
    await signIn(page, server.key);
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  test('dashboard: totals, tasks over time, errors by code, latency, cost by day, model and key, for each preset', async () => {
    await page.click('#nav a[data-view=dashboard-view]');
    await page.locator('#dashboard-view').waitFor({ state: 'visible' });
    const stats = (
      await apiJson<{
        data: {
          totals: { tasks: number; cost: number };
          errorsByCode: { errorCode: string }[];
          costByApiKey: { prefix: string | null }[];
        }[];
      }>('/api/stats?range=24h')
    ).data[0]!;
    assert.equal(stats.totals.tasks, 5);
    await page.waitForFunction(
      (n) => document.querySelector('#totals .tile-v')?.textContent === String(n),
      stats.totals.tasks,
    );
    assert.equal(await page.locator('#range-presets button.active').getAttribute('data-range'), '24h');
    assert.ok((await page.locator('#chart-tasks svg rect.bar-ok').count()) >= 1, 'successes are drawn');
    assert.ok((await page.locator('#chart-tasks svg rect.bar-err').count()) >= 1, 'errors are drawn');
    const errorCode = (await detail(failed.taskUUID as string)).errorCode!;
    assert.equal(stats.errorsByCode[0]!.errorCode, errorCode);
    assert.match(await page.locator('#errors-by-code').innerText(), new RegExp(`${errorCode}\\s+1\\s+20\\.0%`));
    assert.match(await page.locator('#latency').innerText(), /imageInference\s+5\b/);
    assert.match(await page.locator('#cost-by-model').innerText(), /runware:101@1/);
    assert.equal(await page.locator('#chart-cost svg rect.bar-cost').count(), 1, 'one day of cost');
    // Two keys of the organization sent tasks: each has its own line, by prefix.
    const keys = (await apiJson<{ data: { apiKeyId: string; prefix: string }[] }>('/api/keys')).data;
    const byKey = await page.locator('#cost-by-key').innerText();
    for (const k of keys) assert.ok(byKey.includes(k.prefix), `${k.prefix} in ${byKey}`);
    await noSidewaysScroll(page, 'dashboard');
    await shot(page, 'dashboard');
    // The README's picture.
    if (DOCS_SHOTS && device.name === 'desktop')
      await page.screenshot({ path: join(REPO_ROOT, 'docs/explorer-dashboard.png') });

    for (const range of ['1h', '7d', '30d']) {
      await page.click(`#range-presets button[data-range="${range}"]`);
      await page.waitForFunction(
        (r) =>
          location.hash === `#/dashboard?range=${r}` &&
          document.querySelector('#range-presets button.active')?.getAttribute('data-range') === r,
        range,
      );
      await page.waitForFunction(() => document.querySelector('#totals .tile-v')?.textContent === '5');
    }
    // An error code leads to its tasks.
    await page.click(`#errors-by-code a`);
    await page.waitForFunction(() => location.hash.startsWith('#/tasks?status=error&errorCode='));
    await page.waitForFunction(() => document.querySelector('#counts')?.textContent?.startsWith('1 task '));
    assert.equal(await rows(page).first().getAttribute('data-task-uuid'), failed.taskUUID);
    assert.equal(await page.inputValue('#filters input[name=errorCode]'), errorCode);
  });

  test('finding things: search by taskUUID and imageUUID, filters by API key and engine, time presets, links (keyboard, middle-click), paging', async () => {
    await go(page, '#/tasks');
    await page.waitForFunction(() => document.querySelector('#counts')?.textContent?.startsWith('5 tasks'));
    const foxDetail = await detail(fox.taskUUID as string);
    await page.fill('#search-input', fox.taskUUID as string);
    await page.click('#search button[type=submit]');
    await page.waitForFunction((u) => location.hash === `#/task/${u}`, fox.taskUUID as string);
    await go(page, '#/tasks');
    await page.fill('#search-input', foxDetail.media[0]!.imageUUID);
    await page.click('#search button[type=submit]');
    await page.waitForFunction((u) => location.hash === `#/task/${u}`, fox.taskUUID as string);
    await go(page, '#/tasks');
    await page.fill('#search-input', '00000000-0000-4000-8000-000000000000');
    await page.click('#search button[type=submit]');
    await page.locator('#search-note').waitFor({ state: 'visible' });
    assert.match(
      await page.locator('#search-note').innerText(),
      /No task or image 00000000-0000-4000-8000-000000000000/,
    );
    await noSidewaysScroll(page, 'search note');

    // The second key's tasks, by its id (the filter lists the organization's keys).
    const second = (await apiJson<{ data: { apiKeyId: string; prefix: string }[] }>('/api/keys')).data.find((k) =>
      secondKey.startsWith(k.prefix),
    )!;
    await page.selectOption('#filters select[name=apiKey]', second.apiKeyId);
    await page.click('#filters button[type=submit]');
    await page.waitForFunction(() => document.querySelector('#counts')?.textContent?.startsWith('1 task '));
    assert.equal(await rows(page).first().getAttribute('data-task-uuid'), lighthouse.taskUUID);
    assert.match(page.url(), new RegExp(`#/tasks\\?apiKey=${second.apiKeyId}$`));

    // Engine and a time preset; the URL keeps them, and a reload shows the same filters.
    await page.selectOption('#filters select[name=apiKey]', '');
    await page.selectOption('#filters select[name=engine]', 'upstream');
    await page.selectOption('#filters select[name=range]', '24h');
    await page.click('#filters button[type=submit]');
    await page.waitForFunction(() => document.querySelector('#counts')?.textContent?.startsWith('0 tasks'));
    assert.match(page.url(), /#\/tasks\?since=24h&engine=upstream$/);
    await page.selectOption('#filters select[name=engine]', 'builtin');
    await page.click('#filters button[type=submit]');
    await page.waitForFunction(
      () =>
        location.hash === '#/tasks?since=24h&engine=builtin' &&
        document.querySelector('#counts')?.textContent?.startsWith('4 tasks'),
    );
    await page.reload();
    await page.waitForFunction(() => document.querySelector('#counts')?.textContent?.startsWith('4 tasks'));
    assert.equal(await page.inputValue('#filters select[name=range]'), '24h');
    assert.equal(await page.inputValue('#filters select[name=engine]'), 'builtin');

    // Rows are links: a real href, reachable and followed from the keyboard.
    const link = rows(page).first().locator('a.row-link');
    const href = (await link.getAttribute('href'))!;
    assert.match(href, /^#\/task\/[0-9a-f-]{36}$/);
    // Middle-click opens the task in a new tab (a real link, not a click handler).
    const [tab] = await Promise.all([context.waitForEvent('page'), link.click({ button: 'middle' })]);
    await tab.waitForLoadState();
    assert.equal(new URL(tab.url()).hash, href);
    await tab.close();
    await link.focus();
    await page.keyboard.press('Enter');
    await page.waitForFunction((h) => location.hash === h, href);

    // Paging says where it is.
    await go(page, '#/tasks?limit=2');
    await page.waitForFunction(() => document.querySelector('#page-info')?.textContent?.startsWith('Showing 1–2 of 5'));
    assert.equal(await rows(page).count(), 2);
    await page.click('#load-more');
    await page.waitForFunction(() => document.querySelector('#page-info')?.textContent?.startsWith('Showing 1–4 of 5'));
    assert.equal(await rows(page).count(), 4);
    await noSidewaysScroll(page, 'list');
    await shot(page, 'list');
  });

  test('states: a failed task explains itself, a partial one says so, unknown and malformed UUIDs get a way back', async () => {
    const failedDetail = await detail(failed.taskUUID as string);
    await go(page, `#/task/${failed.taskUUID}`);
    await page.locator('#t-error-callout').waitFor({ state: 'visible' });
    const callout = await page.locator('#t-error-callout').innerText();
    const error = failedDetail.response.errors![0]!;
    assert.ok(callout.includes(error.code) && callout.includes(error.message), callout);
    assert.ok(callout.includes(`parameter ${error.parameter}`), callout);
    assert.match(callout, /the caller got HTTP 400/);
    assert.equal(failedDetail.httpStatus, 400);
    await noSidewaysScroll(page, 'failed task');
    await shot(page, 'task-failed');

    const partialDetail = await detail(partial.taskUUID as string);
    assert.equal(partialDetail.partial, true);
    await go(page, `#/task/${partial.taskUUID}`);
    await page.waitForFunction(() => document.querySelector('#t-status')?.textContent === 'partial');
    assert.match(await page.locator('#t-error-callout').innerText(), /1 of the results failed/);
    await page.waitForFunction(() => document.querySelectorAll('#t-images img').length === 1);
    await noSidewaysScroll(page, 'partial task');
    await shot(page, 'task-partial');
    await go(page, '#/tasks');
    await page.waitForFunction(
      (u) => document.querySelector(`tr[data-task-uuid="${u}"] .badge`)?.textContent === 'partial',
      partial.taskUUID as string,
    );

    await go(page, '#/task/00000000-0000-4000-8000-00000000abcd');
    await page.locator('#task-missing').waitFor({ state: 'visible' });
    assert.equal(await page.locator('#task-missing-title').innerText(), 'Task not found');
    assert.match(
      await page.locator('#task-error').innerText(),
      /No task 00000000-0000-4000-8000-00000000abcd in your organization/,
    );
    assert.equal(await page.locator('#task-body').isHidden(), true);
    await noSidewaysScroll(page, 'not found');
    await shot(page, 'task-not-found');
    await page.click('#task-missing a[href="#/tasks"]');
    await page.locator('#list-view').waitFor({ state: 'visible' });

    await go(page, '#/task/not-a-uuid');
    await page.locator('#task-missing').waitFor({ state: 'visible' });
    assert.match(await page.locator('#task-error').innerText(), /"not-a-uuid" is not a taskUUID/);
  });

  test("an empty organization is told how to send a first task, and that command works in the README's shell", async () => {
    const empty = await newContext();
    try {
      const p = await empty.newPage();
      p.setDefaultTimeout(15_000);
      await signIn(p, newcomerKey);
      await p.waitForFunction(() => document.querySelector('#counts')?.textContent?.startsWith('0 tasks'));
      await p.locator('#empty-first').waitFor({ state: 'visible' });
      const command = (await p.locator('#first-curl').textContent())!;
      assert.ok(command.includes(`$${README_EXPORT.name}`), command);
      assert.ok(!command.includes(newcomerKey), 'the key is not on the page');
      await noSidewaysScroll(p, 'empty list');
      await shot(p, 'list-empty');
      const run = await shell(`${README_EXPORT.line(newcomerKey)}\n${command}`);
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stdout, /"imageURL"/);
      await p.reload();
      await p.waitForFunction(() => document.querySelector('#counts')?.textContent?.startsWith('1 task '));
      assert.equal(await p.locator('#list-empty').isHidden(), true);
      // The dashboard is the organization's own: its one task, none of the other organization's.
      await go(p, '#/dashboard?range=24h');
      await p.waitForFunction(() => document.querySelector('#totals .tile-v')?.textContent === '1');
      assert.equal(
        (await apiJson<{ data: { totals: { tasks: number } }[] }>('/api/stats?range=24h', newcomerKey)).data[0]!.totals
          .tasks,
        1,
      );
      assert.ok(
        (await apiJson<{ data: { totals: { tasks: number } }[] }>('/api/stats?range=24h')).data[0]!.totals.tasks >= 5,
      );
      await noSidewaysScroll(p, 'dashboard of one task');
    } finally {
      await empty.close();
    }
  });

  test('media first: the prompt, outputs with open and download, the input image beside them', async () => {
    const foxImage = (await detail(fox.taskUUID as string)).media[0]!;
    const own = await detail(seeded['taskUUID'] as string);
    await go(page, `#/task/${seeded['taskUUID']}`);
    await page.waitForFunction(() => document.querySelector<HTMLImageElement>('#t-images img')?.naturalWidth === 128);
    assert.equal(await page.locator('#t-prompt').innerText(), 'the fox again, from its picture');
    assert.equal(await page.locator('#t-images img').getAttribute('src'), own.media[0]!.imageURL);
    assert.equal(
      await page.locator('#t-images figcaption a', { hasText: 'download' }).getAttribute('href'),
      own.media[0]!.imageURL,
    );
    await page.locator('#t-inputs-box').waitFor({ state: 'visible' });
    await page.waitForFunction(() => document.querySelector<HTMLImageElement>('#t-inputs img')?.naturalWidth === 256);
    assert.equal(await page.locator('#t-inputs img').getAttribute('src'), foxImage.imageURL);
    assert.match(await page.locator('#t-inputs figcaption').innerText(), /seedImage/);
    await noSidewaysScroll(page, 'task with inputs');
    await shot(page, 'task-inputs');
  });

  test('JSON: syntax colour, folding, copy a path, download the task, compare two requests', async () => {
    const foxDetail = await detail(fox.taskUUID as string);
    await go(page, `#/task/${fox.taskUUID}`);
    await page.waitForFunction((u) => document.querySelector('#t-uuid')?.textContent === u, fox.taskUUID as string);
    await page.check('.indent[data-pane=request]');
    // Syntax colour: keys, strings, numbers and punctuation each have their own.
    const colours = await page.evaluate(() =>
      ['k', 's', 'n', 'p'].map((c) => getComputedStyle(document.querySelector(`#request-code span.${c}`)!).color),
    );
    assert.equal(new Set(colours).size, 4, colours.join(' '));
    const folds = page.locator('#request-code .fold');
    assert.ok((await folds.count()) >= 2, 'the array and the object fold');
    const before = (await page.locator('#request-code').textContent())!;
    await folds.nth(1).click();
    assert.equal(await page.locator('#request-code .fold-body').nth(1).isHidden(), true, 'the object is folded');
    assert.equal(await page.locator('#request-code').textContent(), before, 'folding changes no character');
    await folds.nth(1).click();
    assert.equal(await page.locator('#request-code .fold-body').nth(1).isVisible(), true);
    await page.click('#request-code .k[data-path="$[0].positivePrompt"]');
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), '$[0].positivePrompt');
    await noSidewaysScroll(page, 'indented JSON');
    await shot(page, 'task-json');
    await page.uncheck('.indent[data-pane=request]');

    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download-json')]);
    const text = readFileSync(await download.path(), 'utf8');
    assert.ok(
      text.includes(`"request":${foxDetail.requestText},"response":${foxDetail.responseText}}`),
      'request and response as stored',
    );
    const parsed = JSON.parse(text) as { taskUUID: string; request: unknown };
    assert.equal(parsed.taskUUID, fox.taskUUID);
    assert.deepEqual(parsed.request, JSON.parse(foxDetail.requestText));

    await page.fill('#compare-input', failed.taskUUID as string);
    await page.click('#compare-form button[type=submit]');
    await page.locator('#compare-view').waitFor({ state: 'visible' });
    await page.waitForFunction(() => document.querySelectorAll('#compare-diff .del').length > 0);
    const removed = await page.locator('#compare-diff .del').allTextContents();
    const added = await page.locator('#compare-diff .add').allTextContents();
    assert.ok(
      removed.some((l) => l.includes('"width": 256')),
      removed.join('\n'),
    );
    assert.ok(
      added.some((l) => l.includes('"width": 100')),
      added.join('\n'),
    );
    assert.ok(!removed.concat(added).some((l) => l.includes('"taskUUID"')), 'taskUUIDs are not a difference');
    await noSidewaysScroll(page, 'compare');
    await shot(page, 'compare');
  });

  test('run again asks first, keeps the seed when asked, and links the two tasks both ways', async () => {
    const original = await detail(lighthouse.taskUUID as string);
    const seed = original.response.data[0]!.seed!;
    assert.ok(!original.requestText.includes('"seed"'), 'the request let the server pick the seed');
    await go(page, `#/task/${lighthouse.taskUUID}`);
    await page.waitForFunction(
      (u) => document.querySelector('#t-uuid')?.textContent === u,
      lighthouse.taskUUID as string,
    );
    const count = async () => (await apiJson<{ counts: { total: number } }>('/api/tasks')).counts.total;
    const total = await count();

    await page.click('#run-again');
    await page.locator('#rerun-dialog').waitFor({ state: 'visible' });
    assert.equal(await page.locator('#rerun-seed-value').innerText(), String(seed));
    assert.equal(await page.isChecked('#rerun-keep-seed'), false);
    await noSidewaysScroll(page, 'run again dialog');
    await shot(page, 'run-again-dialog');
    await page.click('#rerun-cancel');
    await page.locator('#rerun-dialog').waitFor({ state: 'hidden' });
    assert.equal(await count(), total, 'cancel runs nothing');

    await page.click('#run-again');
    await page.check('#rerun-keep-seed');
    await page.click('#rerun-confirm');
    await page.waitForFunction(
      (old) => /^#\/task\/[0-9a-f-]{36}$/.test(location.hash) && !location.hash.endsWith(old),
      lighthouse.taskUUID as string,
    );
    const newUUID = page.url().split('#/task/')[1]!;
    // The page must show the new task before its status says anything (the original's was success too).
    await page.waitForFunction((u) => document.querySelector('#t-uuid')?.textContent === u, newUUID);
    await page.waitForFunction(() => document.querySelector('#t-status')?.textContent === 'success');
    const again = await detail(newUUID);
    assert.ok(again.requestText.includes(`"seed":${seed},`), again.requestText);
    assert.equal(again.response.data[0]!.seed, seed);
    const bytes = async (url: string) => Buffer.from(await (await fetch(url)).arrayBuffer());
    assert.ok(
      (await bytes(again.media[0]!.imageURL)).equals(await bytes(original.media[0]!.imageURL)),
      'same seed, same image',
    );
    // Both ways: the new task names the original, the original lists the new one.
    assert.equal(again.rerunOf, lighthouse.taskUUID);
    await page.waitForFunction(
      (u) => document.querySelector('#t-rerun-of')?.textContent === u,
      lighthouse.taskUUID as string,
    );
    await page.click('#t-rerun-of');
    await page.waitForFunction(
      (u) => [...document.querySelectorAll('#t-links .rerun-link')].some((a) => a.textContent === u),
      newUUID,
    );
    assert.deepEqual(
      (await detail(lighthouse.taskUUID as string)).reruns.map((r) => r.taskUUID),
      [newUUID],
    );
    await noSidewaysScroll(page, 'task run again');
  });

  test("copy as curl runs in the README's shell, with the key in the README's variable", async () => {
    const foxDetail = await detail(fox.taskUUID as string);
    await go(page, `#/task/${fox.taskUUID}`);
    await page.waitForFunction((u) => document.querySelector('#t-uuid')?.textContent === u, fox.taskUUID as string);
    await page.waitForFunction(() => document.querySelector<HTMLImageElement>('#t-images img')?.complete === true);
    await page.click('#copy-curl');
    await page.locator('#action-note').waitFor({ state: 'visible' });
    assert.match(await page.locator('#action-note').innerText(), new RegExp(`\\$${README_EXPORT.name}\\b`));
    await noSidewaysScroll(page, 'task');
    await shot(page, 'task');
    const command = await page.evaluate(() => navigator.clipboard.readText());
    assert.ok(!command.includes(server.key), 'the key is not in the clipboard');
    assert.ok(command.includes(`\${${README_EXPORT.name}`), command);
    // The README's `export KEY=…` line, then the pasted command; nothing else in the environment.
    const run = await shell(`${README_EXPORT.line(server.key)}\n${command}`);
    assert.equal(run.code, 0, run.stderr);
    // Same request, same taskUUID: the stored response again, byte for byte.
    assert.equal(run.stdout, foxDetail.responseText);
  });

  test('live: a running task shows each result and its progress as it arrives', async () => {
    const task = imageTask({
      deliveryMethod: 'async',
      positivePrompt: 'three herons [slow:2500]',
      width: 128,
      height: 128,
      numberResults: 3,
      outputFormat: 'PNG',
    });
    assert.equal((await server.post([task])).status, 200);
    await go(page, `#/task/${task.taskUUID}`);
    await page.waitForFunction((u) => document.querySelector('#t-uuid')?.textContent === u, task.taskUUID as string);
    // The engine's progress shows on a result still running, as a bar and in words.
    await page.waitForFunction(
      () => {
        const bar = document.querySelector<HTMLProgressElement>('#t-images figure.pending progress[value]');
        return bar !== null && bar.value > 0 && bar.closest('figure')?.textContent === `processing ${bar.value}%`;
      },
      undefined,
      { timeout: 20_000 },
    );
    // One result is in while the others still run: it shows at once, beside their placeholders.
    await page.waitForFunction(
      () =>
        document.querySelector('#t-status')?.textContent === 'processing' &&
        document.querySelectorAll('#t-images figure:not(.pending) img').length >= 1 &&
        document.querySelectorAll('#t-images figure.pending').length >= 1,
      undefined,
      { timeout: 20_000 },
    );
    assert.equal(await page.locator('#t-live').isVisible(), true);
    assert.match(await page.locator('#t-images figure.pending').first().innerText(), /processing/);
    await noSidewaysScroll(page, 'live task');
    await shot(page, 'task-live');
    // A later result's progress moves on while the page stays open (no reload).
    const lastBar = () =>
      page.evaluate(() => {
        const bars = [...document.querySelectorAll('#t-images figure.pending progress')] as HTMLProgressElement[];
        return bars.length === 0 ? null : bars[bars.length - 1]!.value;
      });
    const seen = await lastBar();
    if (seen !== null && seen < 75) {
      await page.waitForFunction(
        (v) => {
          const bars = [...document.querySelectorAll('#t-images figure.pending progress')] as HTMLProgressElement[];
          return bars.length === 0 || bars[bars.length - 1]!.value > v;
        },
        seen,
        { timeout: 20_000 },
      );
    }
    await page.waitForFunction(() => document.querySelector('#t-status')?.textContent === 'success', undefined, {
      timeout: 30_000,
    });
    await page.waitForFunction(
      () =>
        document.querySelectorAll('#t-images img').length === 3 &&
        document.querySelectorAll('#t-images figure.pending').length === 0,
    );
    assert.equal(await page.locator('#t-live').isVisible(), false);
    const done = await detail(task.taskUUID as string);
    assert.equal(await page.locator('#response-code').textContent(), done.responseText);
    // The list, open meanwhile elsewhere, learns of the finished task without a reload.
    await go(page, '#/tasks');
    await page.waitForFunction(
      (u) => document.querySelector(`tr[data-task-uuid="${u}"] .badge`)?.textContent === 'success',
      task.taskUUID as string,
    );
  });

  test('live: the list shows a running task turn into a finished one without a reload', async () => {
    const task = imageTask({
      deliveryMethod: 'async',
      positivePrompt: 'a slow heron [slow:3000]',
      width: 128,
      height: 128,
    });
    assert.equal((await server.post([task])).status, 200);
    // Opened from the dashboard, as a user would while the task runs.
    await go(page, '#/dashboard');
    await page.locator('#dashboard-view').waitFor({ state: 'visible' });
    await page.click('#nav a[data-view=list-view]');
    await page.waitForFunction(
      (u) => document.querySelector(`tr[data-task-uuid="${u}"] .badge`)?.textContent === 'processing',
      task.taskUUID as string,
    );
    assert.match(await page.locator('#counts').innerText(), /· 1 processing$/);
    await noSidewaysScroll(page, 'list with a running task');
    await page.waitForFunction(
      (u) => document.querySelector(`tr[data-task-uuid="${u}"] .badge`)?.textContent === 'success',
      task.taskUUID as string,
      { timeout: 30_000 },
    );
    assert.match(await page.locator('#counts').innerText(), /· 0 processing$/);
  });

  test('one clock: the list, the task page and the CLI show the same time, and say it is UTC', async () => {
    const foxDetail = await detail(fox.taskUUID as string);
    await go(page, '#/tasks');
    await page.waitForFunction(
      (u) => document.querySelector(`tr[data-task-uuid="${u}"]`) !== null,
      fox.taskUUID as string,
    );
    const cell = page.locator(`tr[data-task-uuid="${fox.taskUUID}"] td`).first();
    // The zone is written where the time is read: the column heading at desktop, the card's label on a phone.
    if (device.name === 'desktop') {
      assert.equal(await page.locator('#task-table thead th').first().innerText(), 'Created (UTC)');
    } else {
      assert.equal(
        await page.evaluate(() => getComputedStyle(document.querySelector('#task-table thead')!).display),
        'none',
      );
      assert.equal(await cell.getAttribute('data-label'), 'Created (UTC)');
      assert.equal(await cell.evaluate((td) => getComputedStyle(td, '::before').display), 'inline-block');
    }
    assert.equal(await page.locator('.zone').isVisible(), true);
    assert.equal(await page.locator('.zone').innerText(), 'Times in UTC');
    const shown = await cell.innerText();
    const table = await cliOk(['tasks', 'list'], { dataDir: server.dataDir });
    assert.match(table.split('\n')[0]!, /^CREATED \(UTC\)/);
    const line = table.split('\n').find((l) => l.includes(fox.taskUUID as string))!;
    assert.equal(line.slice(0, 19), shown);
    assert.equal(shown, foxDetail.createdAt.slice(0, 19).replace('T', ' '));
    await go(page, `#/task/${fox.taskUUID}`);
    await page.waitForFunction((u) => document.querySelector('#t-uuid')?.textContent === u, fox.taskUUID as string);
    assert.match(await page.locator('#t-meta').innerText(), new RegExp(`CREATED\\s+${shown} UTC`, 'i'));
    // `tasks show` prints the ISO form, whose Z says UTC: the same second.
    assert.match(
      await cliOk(['tasks', 'show', fox.taskUUID as string], { dataDir: server.dataDir }),
      new RegExp(`${shown.replace(' ', 'T')}\\.\\d{3}Z`),
    );
  });

  test(`the list reflows at ${device.options.viewport.width} px: ${device.name === 'phone' ? 'one card per task' : 'a table'}, no sideways scroll`, async () => {
    await go(page, '#/tasks');
    await page.waitForFunction(() => document.querySelectorAll('#task-table tbody tr').length > 0);
    const display = await page.evaluate(() => ({
      head: getComputedStyle(document.querySelector('#task-table thead')!).display,
      row: getComputedStyle(document.querySelector('#task-table tbody tr')!).display,
    }));
    assert.deepEqual(
      display,
      device.name === 'phone' ? { head: 'none', row: 'block' } : { head: 'table-header-group', row: 'table-row' },
    );
    if (device.name === 'phone') {
      // Every value of a card has its label beside it.
      const labels = await rows(page)
        .first()
        .locator('td')
        .evaluateAll((tds) => tds.map((td) => td.getAttribute('data-label')));
      assert.deepEqual(labels, ['Created (UTC)', 'Task UUID', 'Type', 'Status', 'Model', 'Prompt', 'Cost', 'Time']);
    }
    for (const hash of ['#/tasks', '#/tasks?status=error', '#/tasks?limit=2']) {
      await go(page, hash);
      await page.waitForFunction(() => document.querySelectorAll('#task-table tbody tr').length > 0);
      await noSidewaysScroll(page, hash);
    }
  });

  test(`dark mode follows the system (${device.options.colorScheme} here, then the other)`, async () => {
    const background = () => page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    const cardColour = () =>
      page.evaluate(() => getComputedStyle(document.querySelector('.card, .filters')!).backgroundColor);
    await go(page, `#/task/${fox.taskUUID}`);
    await page.waitForFunction((u) => document.querySelector('#t-uuid')?.textContent === u, fox.taskUUID as string);
    const scheme = device.options.colorScheme;
    const other = scheme === 'dark' ? 'light' : 'dark';
    assert.equal(await background(), BACKGROUND[scheme]);
    const card = await cardColour();
    // The system switches while the page is open: the page follows at once.
    await page.emulateMedia({ colorScheme: other });
    assert.equal(await background(), BACKGROUND[other]);
    assert.notEqual(await cardColour(), card);
    await shot(page, `task-${other}`);
    await page.emulateMedia({ colorScheme: scheme });
    assert.equal(await background(), BACKGROUND[scheme]);
  });
}

function shell(
  command: string,
  env: Record<string, string> = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn('sh', ['-c', command], { env: { PATH: process.env.PATH ?? '', ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}
