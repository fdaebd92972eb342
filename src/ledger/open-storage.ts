// Picks the storage backend from the config. SQLite in the data folder is the embedded default.

import type { Config } from '../config.js';
import { openSqliteStorage } from './sqlite/storage.js';
import type { Storage } from './types.js';

export function openStorage(config: Pick<Config, 'dataDir'>): Storage {
  return openSqliteStorage(config.dataDir);
}
