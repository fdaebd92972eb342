// The README's configuration table and the settings table (src/settings.ts) say the same, both
// ways: every setting is documented, every documented setting exists, and their flags, defaults
// and descriptions agree. The other docs name only settings that exist and leave their defaults
// to the README.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig } from '../src/config.js';
import { SETTINGS, flagName, shownDefault, type Setting } from '../src/settings.js';
import { REPO_ROOT } from './helpers/server.js';

interface Row {
  flag: string;
  default: string;
  description: string;
}

function readmeRows(): Map<string, Row> {
  const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
  const from = readme.indexOf('## Configuration');
  const section = readme.slice(from, readme.indexOf('\n## ', from + 1));
  const rows = new Map<string, Row>();
  for (const line of section.split('\n')) {
    const m = /^\| `([A-Z0-9_]+)` \| (.+?) \| (.+?) \| (.+) \|$/.exec(line);
    if (m) rows.set(m[1]!, { flag: m[2]!, default: m[3]!, description: m[4]! });
  }
  return rows;
}

function expectedRow(setting: Setting): Row {
  return {
    flag: setting.flag !== undefined ? `\`${flagName(setting.flag)}\`` : '—',
    default: shownDefault(setting),
    description: setting.description,
  };
}

test('the README configuration table lists exactly the settings, with their flags, defaults and descriptions', () => {
  const rows = readmeRows();
  assert.ok(rows.size > 30, 'the table was found');
  const settings = Object.entries(SETTINGS) as [string, Setting][];
  assert.deepEqual([...rows.keys()].sort(), settings.map(([name]) => name).sort(), 'the same settings');
  for (const [name, setting] of settings) assert.deepEqual(rows.get(name), expectedRow(setting), name);
});

test('an empty environment gives the table defaults', () => {
  const config = loadConfig({}, {});
  assert.equal(config.port, Number(SETTINGS.PORT.default));
  assert.equal(config.host, SETTINGS.HOST.default);
  assert.equal(config.maxBodyBytes, Number(SETTINGS.RUNTRAIL_MAX_BODY_BYTES.default));
  assert.equal(config.async.syncTimeoutMs, Number(SETTINGS.RUNTRAIL_SYNC_TIMEOUT_MS.default));
  assert.equal(config.wsMaxBufferedBytes, 8 * 1024 * 1024);
  assert.equal(config.retentionSweepSeconds, 600);
  assert.equal(config.retentionDays, undefined);
  assert.equal(loadConfig({ PORT: '9' }, { port: '10' }).port, 10, 'a flag wins over the environment');
  assert.equal(loadConfig({ PORT: '' }).port, 8080, 'an empty variable counts as unset');
});

// Switches of the test suites and benchmarks, not of the server.
const TEST_SWITCHES = [
  'RUNTRAIL_UPDATE_DOCS_SCREENSHOT',
  'RUNTRAIL_CRASH_SEED',
  'RUNTRAIL_TEST_BACKEND',
  'RUNTRAIL_TEST_DATABASE_URL',
  'RUNTRAIL_TEST_SCHEMA_PREFIX',
  'RUNTRAIL_TEST_MEDIA',
  'RUNTRAIL_TEST_S3_ENDPOINT',
  'RUNTRAIL_TEST_S3_ACCESS_KEY',
  'RUNTRAIL_TEST_S3_SECRET_KEY',
];

test('the other docs name only existing settings, and repeat no defaults', () => {
  const names = new Set([...Object.keys(SETTINGS), ...TEST_SWITCHES]);
  const docs = readdirSync(join(REPO_ROOT, 'docs')).filter((f) => f.endsWith('.md'));
  for (const file of docs) {
    const text = readFileSync(join(REPO_ROOT, 'docs', file), 'utf8');
    for (const m of text.matchAll(/\bRUNTRAIL_[A-Z0-9_]*[A-Z0-9]\b/g)) {
      if (m[0].endsWith('_')) continue;
      assert.ok(names.has(m[0]), `docs/${file} names ${m[0]}, which is no setting`);
    }
    // A table row for a setting says what it does here; its default lives in the README.
    for (const line of text.split('\n')) {
      const row = /^\| `(RUNTRAIL_[A-Z_]+)`[^|]*\| `?(\d[\d_ ]*)`? \|/.exec(line);
      assert.equal(row, null, `docs/${file} repeats a default: ${line}`);
    }
  }
});
