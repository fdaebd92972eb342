// The task explorer in real headless Chromium (Debian's /usr/bin/chromium, driven by
// playwright-core) against the real server: sign in, filter, open a task, see its image, copy
// as curl and run that command, run again, watch an async task finish and its webhook land,
// and a second organization that sees nothing of the first. Screenshots go to test-results/.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { createServer } from 'node:http';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { imageTask, REPO_ROOT, startServer, type TestServer } from './helpers/server.js';
import { createKey } from './helpers/cli.js';
import { guardOpenHandles } from './helpers/open-handles.js';

const CHROMIUM = '/usr/bin/chromium';
const SHOTS = join(REPO_ROOT, 'test-results');

if (!existsSync(CHROMIUM)) {
  if (process.env.CI === 'true') {
    test('Chromium is required in CI', () => {
      throw new Error(`${CHROMIUM} is missing; .ci/run installs it with apt-get`);
    });
  } else {
    test(
      `explorer browser tests (skipped: ${CHROMIUM} is not installed; apt-get install chromium)`,
      { skip: true },
      () => {},
    );
  }
} else {
  explorerSuite();
}

interface StoredView {
  requestText: string;
  responseText: string | null;
  status: string;
  media: { imageURL: string }[];
}

function explorerSuite(): void {
  let server: TestServer;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let otherKey: string;
  const fox = imageTask({
    positivePrompt: 'a red fox in fresh snow',
    width: 256,
    height: 256,
    outputFormat: 'PNG',
    includeCost: true,
    seed: 42,
  });
  const lighthouse = imageTask({ positivePrompt: 'a lighthouse at dusk', width: 128, height: 128 });
  const failed = imageTask({ positivePrompt: 'a fox, too wide', width: 100 });
  let hook: { url: string; received: string[]; close(): Promise<void> };

  const stored = async (taskUUID: string, key = server.key): Promise<{ status: number; item: StoredView }> => {
    const res = await fetch(`${server.url}/api/tasks/${taskUUID}`, { headers: { authorization: `Bearer ${key}` } });
    return { status: res.status, item: ((await res.json()) as { data: StoredView[] }).data[0]! };
  };
  const shot = async (name: string) => {
    await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
  };
  const rows = () => page.locator('#task-table tbody tr');

  before(async () => {
    mkdirSync(SHOTS, { recursive: true });
    server = await startServer({ env: { RUNTRAIL_OUTBOUND_ALLOW: '127.0.0.1' } });
    otherKey = await createKey(server.dataDir, 'other');
    for (const t of [lighthouse, failed, fox]) await server.post([t]);
    hook = await startHookReceiver();
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
    context = await browser.newContext({ viewport: { width: 1360, height: 900 } });
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: server.url });
    page = await context.newPage();
    page.setDefaultTimeout(10_000);
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
    await hook?.close();
  });

  test('sign in with an API key (a wrong one is refused)', async () => {
    await page.goto(`${server.url}/explorer`);
    await page.fill('#api-key', 'rt_not_a_key');
    await page.click('#sign-in-form button[type=submit]');
    await page.locator('#sign-in-error').waitFor({ state: 'visible' });
    assert.match(await page.locator('#sign-in-error').innerText(), /Invalid API key/);

    await page.fill('#api-key', server.key);
    await page.click('#sign-in-form button[type=submit]');
    await page.locator('#list-view').waitFor({ state: 'visible' });
    await rows().nth(2).waitFor();
    assert.equal(await rows().count(), 3);
    assert.equal(await page.locator('#counts').innerText(), '3 tasks · 2 success · 1 error · 0 processing');
    assert.equal(await page.evaluate(() => sessionStorage.getItem('runtrail.apiKey')), server.key);
    await shot('explorer-list');
  });

  test('filter by prompt text and status', async () => {
    await page.fill('#filters input[name=text]', 'fox');
    await page.click('#filters button[type=submit]');
    await page.waitForFunction(() => document.querySelector('#counts')?.textContent?.startsWith('2 tasks'));
    assert.equal(await rows().count(), 2);
    await page.selectOption('#filters select[name=status]', 'success');
    await page.click('#filters button[type=submit]');
    await page.waitForFunction(() => document.querySelector('#counts')?.textContent?.startsWith('1 task '));
    assert.equal(await rows().count(), 1);
    assert.equal(await rows().first().getAttribute('data-task-uuid'), fox.taskUUID);
    assert.match(page.url(), /#\/tasks\?status=success&text=fox$/, 'the filters live in the URL');
    await shot('explorer-filtered');
  });

  test('open a task: request and response exactly as stored, the image inline, timing and cost', async () => {
    await rows().first().click();
    await page.locator('#task-view').waitFor({ state: 'visible' });
    await page.waitForFunction(() => document.querySelector<HTMLImageElement>('#t-images img')?.naturalWidth === 256);
    const { item } = await stored(fox.taskUUID as string);
    assert.equal(await page.locator('#request-code').textContent(), item.requestText);
    assert.equal(await page.locator('#response-code').textContent(), item.responseText);
    assert.ok((await page.locator('#request-code span.k').count()) > 5, 'keys are highlighted');
    assert.equal(await page.locator('#t-status').innerText(), 'success');
    const meta = await page.locator('#t-meta').innerText();
    assert.match(meta, /COST\s+\$0\.0013/i);
    assert.match(meta, /DURATION\s+\d+(\.\d+)? m?s/i);
    assert.match(meta, /ENGINE\s+builtin/i);
    assert.equal(await page.locator('#t-images img').getAttribute('src'), item.media[0]!.imageURL);
    await shot('explorer-task');

    // Indenting re-spaces tokens only: without whitespace it is the stored text again.
    await page.check('.indent[data-pane=request]');
    const indented = (await page.locator('#request-code').textContent())!;
    assert.ok(indented.includes('\n  '));
    assert.equal(indented.replace(/\s+(?=(?:[^"]*"[^"]*")*[^"]*$)/g, ''), item.requestText);
    await page.uncheck('.indent[data-pane=request]');
  });

  test('copy as curl gives a command that works', async () => {
    await page.click('#copy-curl');
    await page.locator('#action-note').waitFor({ state: 'visible' });
    const command = await page.evaluate(() => navigator.clipboard.readText());
    const { item } = await stored(fox.taskUUID as string);
    assert.ok(command.startsWith('curl '), command);
    assert.ok(!command.includes(server.key), 'the key is not in the clipboard');
    const run = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = spawn('sh', ['-c', command], {
        env: { PATH: process.env.PATH ?? '', RUNTRAIL_API_KEY: server.key },
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('close', (code) => resolve({ code, stdout, stderr }));
    });
    assert.equal(run.code, 0, run.stderr);
    // Same request, same taskUUID: the server answers the stored response again, byte for byte.
    assert.equal(run.stdout, item.responseText);
  });

  test('run again creates a new task with the same parameters', async () => {
    await page.click('#run-again');
    // It asks first (running again may spend money upstream); the seed the request gave is kept.
    await page.locator('#rerun-dialog').waitFor({ state: 'visible' });
    await page.click('#rerun-confirm');
    await page.waitForFunction(
      (old) => /^#\/task\/[0-9a-f-]{36}$/.test(location.hash) && !location.hash.endsWith(old),
      fox.taskUUID as string,
    );
    const newUUID = page.url().split('#/task/')[1]!;
    await page.waitForFunction(() => document.querySelector('#t-status')?.textContent === 'success');
    await page.waitForFunction(() => document.querySelector<HTMLImageElement>('#t-images img')?.naturalWidth === 256);
    const original = await stored(fox.taskUUID as string);
    const again = await stored(newUUID);
    assert.equal(again.status, 200);
    assert.equal(again.item.requestText, original.item.requestText.replace(fox.taskUUID as string, newUUID));
    assert.equal(await page.locator('#t-uuid').innerText(), newUUID);
    await shot('explorer-run-again');
    const list = await fetch(`${server.url}/api/tasks`, { headers: { authorization: `Bearer ${server.key}` } });
    assert.equal(((await list.json()) as { counts: { total: number } }).counts.total, 4);
  });

  test('a running async task updates live, and its webhook attempts show', async () => {
    const task = imageTask({
      deliveryMethod: 'async',
      positivePrompt: 'a snowy owl at night [slow:2500]',
      width: 256,
      height: 256,
      outputFormat: 'PNG',
      includeCost: true,
      webhookURL: `${hook.url}/hook`,
    });
    assert.equal((await server.post([task])).status, 200);
    await page.goto(`${server.url}/explorer#/task/${task.taskUUID}`);
    await page.waitForFunction(() => document.querySelector('#t-status')?.textContent === 'processing');
    assert.equal(await page.locator('#t-live').isVisible(), true);
    assert.match((await page.locator('#response-code').textContent())!, /"status":"processing"/);
    await shot('explorer-processing');

    await page.waitForFunction(() => document.querySelector('#t-status')?.textContent === 'success', undefined, {
      timeout: 20_000,
    });
    const { item } = await stored(task.taskUUID as string);
    assert.equal(await page.locator('#response-code').textContent(), item.responseText);
    assert.equal(await page.locator('#t-live').isVisible(), false);
    await page.waitForFunction(() => document.querySelector<HTMLImageElement>('#t-images img')?.naturalWidth === 256);

    // The webhook POST arrives and its attempt is recorded; the task view lists it.
    const deadline = Date.now() + 15_000;
    for (;;) {
      const attempts = (
        (await stored(task.taskUUID as string)).item as unknown as { webhookAttempts: { attempts: unknown[] }[] }
      ).webhookAttempts;
      if (attempts.length > 0 && attempts[0]!.attempts.length > 0) break;
      assert.ok(Date.now() < deadline, 'the webhook attempt was recorded');
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(hook.received.some((body) => body.includes(task.taskUUID as string)));
    await page.reload();
    await page.locator('#t-webhooks table tbody tr').first().waitFor();
    const row = await page.locator('#t-webhooks table tbody tr').first().innerText();
    assert.match(row, /webhook/);
    assert.ok(row.includes(`${hook.url}/hook`));
    assert.match(row, /delivered/);
    assert.match(row, /\b204\b/);
    await page.waitForFunction(() => document.querySelector<HTMLImageElement>('#t-images img')?.complete === true);
    await shot('explorer-webhooks');
    // The README's picture: RUNTRAIL_UPDATE_DOCS_SCREENSHOT=1 node --test dist/test/explorer.browser.test.js
    if (process.env.RUNTRAIL_UPDATE_DOCS_SCREENSHOT === '1')
      await page.screenshot({ path: join(REPO_ROOT, 'docs/explorer.png') });
  });

  test("a second organization sees none of the first one's tasks", async () => {
    const other = await browser.newContext({ viewport: { width: 1360, height: 700 } });
    try {
      const p = await other.newPage();
      p.setDefaultTimeout(10_000);
      await p.goto(`${server.url}/explorer`);
      await p.fill('#api-key', otherKey);
      await p.click('#sign-in-form button[type=submit]');
      await p.waitForFunction(() => document.querySelector('#counts')?.textContent?.startsWith('0 tasks'));
      assert.equal(await p.locator('#task-table tbody tr').count(), 0);
      assert.equal(await p.locator('#list-empty').isVisible(), true);
      await p.screenshot({ path: join(SHOTS, 'explorer-other-org.png'), fullPage: true });

      await p.goto(`${server.url}/explorer#/task/${fox.taskUUID}`);
      await p.locator('#task-error').waitFor({ state: 'visible' });
      assert.match(await p.locator('#task-error').innerText(), /No task .* in your organization/);
      assert.equal(await p.locator('#request-code').textContent(), '');
      assert.equal((await stored(fox.taskUUID as string, otherKey)).status, 404);
    } finally {
      await other.close();
    }
  });
}

/** A webhook receiver on this machine: records each body and answers 204. */
async function startHookReceiver(): Promise<{ url: string; received: string[]; close(): Promise<void> }> {
  const received: string[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (d: string) => (body += d));
    req.on('end', () => {
      received.push(body);
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${address.port}`,
    received,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

guardOpenHandles();
