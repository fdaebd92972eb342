// The explorer shows a forwarded task's upstream exchanges (docs/engines.md): the taskUUID the upstream
// saw and its raw reply, in real headless Chromium; hidden for tasks that ran locally.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { imageTask, REPO_ROOT, startServer, type TestServer } from './helpers/server.js';
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
  });
}

guardOpenHandles();
