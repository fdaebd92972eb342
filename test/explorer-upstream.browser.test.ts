// The explorer shows a forwarded task's upstream exchanges (docs/engines.md): the taskUUID the upstream
// saw and its raw reply, in real headless Chromium; hidden for tasks that ran locally. It links the
// archived copy of the task's output, which is served after the upstream (B) deleted its own.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { imageTask, REPO_ROOT, startServer, type TestServer } from './helpers/server.js';
import { runCli } from './helpers/cli.js';
import { guardOpenHandles } from './helpers/open-handles.js';

const CHROMIUM = '/usr/bin/chromium';
const SHOTS = join(REPO_ROOT, 'test-results');

if (!existsSync(CHROMIUM)) {
  test(`explorer upstream browser test (skipped: ${CHROMIUM} is not installed)`, { skip: true }, () => {});
} else {
  let b: TestServer;
  let a: TestServer;
  let browser: Browser;
  let page: Page;
  const forwarded = imageTask({ positivePrompt: 'a harbour at night', width: 128, height: 128 });
  const local = imageTask({ model: 'runtrail:1@1', positivePrompt: 'made here', width: 64, height: 64 });

  before(async () => {
    mkdirSync(SHOTS, { recursive: true });
    b = await startServer();
    a = await startServer({ env: { RUNTRAIL_UPSTREAM_URL: `${b.url}/v1`, RUNTRAIL_UPSTREAM_API_KEY: b.key } });
    for (const t of [forwarded, local]) assert.equal((await a.post([t])).status, 200);
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
    });
    page = await (await browser.newContext({ viewport: { width: 1360, height: 1000 } })).newPage();
    page.setDefaultTimeout(10_000);
  });

  after(async () => {
    await browser?.close();
    await a?.stop();
    await b?.stop();
  });

  test('a forwarded task shows its upstream exchange; a local one shows none', async () => {
    await page.goto(`${a.url}/explorer`);
    await page.fill('#api-key', a.key);
    await page.click('#sign-in-form button[type=submit]');
    await page.locator('#list-view').waitFor({ state: 'visible' });
    await page.evaluate((uuid) => (location.hash = `#/task/${uuid}`), forwarded['taskUUID'] as string);
    await page.locator('#t-upstream-box').waitFor({ state: 'visible' });
    const detail = (await (
      await fetch(`${a.url}/api/tasks/${forwarded['taskUUID']}`, { headers: { authorization: `Bearer ${a.key}` } })
    ).json()) as {
      data: { upstream: { upstreamTaskUUID: string; replyText: string }[] }[];
    };
    const exchange = detail.data[0]!.upstream[0]!;
    const table = await page.locator('#t-upstream').innerText();
    assert.ok(table.includes(exchange.upstreamTaskUUID), table);
    assert.ok(table.includes('200'));
    await page.click('#t-upstream summary');
    assert.equal(await page.locator('#t-upstream pre.upstream-reply').textContent(), exchange.replyText);
    assert.equal(
      await page
        .locator('#t-meta')
        .innerText()
        .then((t) => /upstream/.test(t)),
      true,
      'the engine shows as upstream',
    );
    await page.screenshot({ path: join(SHOTS, 'explorer-upstream.png'), fullPage: true });

    await page.evaluate((uuid) => (location.hash = `#/task/${uuid}`), local['taskUUID'] as string);
    await page.waitForFunction(
      (uuid) => document.querySelector('#t-uuid')?.textContent === uuid,
      local['taskUUID'] as string,
    );
    assert.equal(await page.locator('#t-upstream-box').isHidden(), true);
    assert.equal(await page.locator('#t-archive-box').isHidden(), true, 'a local task has nothing archived');
  });

  test('the explorer links the archived copy of a forwarded output, which outlives the upstream’s file', async () => {
    const uuid = forwarded['taskUUID'] as string;
    type Detail = {
      archivedOutputs: { state: string; archivedURL: string | null; sha256: string | null; field: string }[];
      upstream: { upstreamTaskUUID: string }[];
    };
    const read = async (): Promise<Detail> =>
      (
        (await (
          await fetch(`${a.url}/api/tasks/${uuid}`, { headers: { authorization: `Bearer ${a.key}` } })
        ).json()) as { data: Detail[] }
      ).data[0]!;
    let detail = await read();
    for (const deadline = Date.now() + 15_000; detail.archivedOutputs[0]?.state !== 'archived'; detail = await read()) {
      assert.ok(Date.now() < deadline, JSON.stringify(detail.archivedOutputs));
      await new Promise((r) => setTimeout(r, 100));
    }
    const copy = detail.archivedOutputs[0];
    assert.ok(copy);
    // B forgets the task and its file: only A's copy is left.
    const gone = await runCli(['tasks', 'delete', detail.upstream[0]!.upstreamTaskUUID], { dataDir: b.dataDir });
    assert.equal(gone.code, 0, gone.stderr);

    await page.evaluate((id) => (location.hash = `#/task/${id}`), uuid);
    await page.locator('#t-archive-box').waitFor({ state: 'visible' });
    const row = page.locator('#t-archive tbody tr.archive-archived');
    assert.equal(await row.count(), 1);
    assert.match(await row.innerText(), /imageURL\s+archived/);
    const link = row.locator('a', { hasText: 'archived copy' });
    assert.equal(await link.getAttribute('href'), copy.archivedURL);
    await page.screenshot({ path: join(SHOTS, 'explorer-archive.png'), fullPage: true });
    // The link opens the copy: the browser gets the image runtrail kept.
    const [opened, response] = await Promise.all([
      page.context().waitForEvent('page'),
      page.context().waitForEvent('response', (r) => r.url() === copy.archivedURL),
      link.click(),
    ]);
    assert.equal(response.status(), 200);
    assert.match(response.headers()['content-type'] ?? '', /^image\//);
    const body = await response.body();
    assert.equal(createHash('sha256').update(body).digest('hex'), copy.sha256);
    await opened.close();
  });
}

guardOpenHandles();
