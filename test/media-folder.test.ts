// The media store contract against the folder backend (RUNTRAIL_MEDIA_DIR), on a temporary folder.

import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FolderMediaStore } from '../src/media/folder-store.js';
import { mediaContract } from './media-contract.js';

let dir = '';
mediaContract({
  name: 'folder',
  presigns: false,
  async open() {
    dir = mkdtempSync(join(tmpdir(), 'runtrail-media-contract-'));
    return new FolderMediaStore(dir);
  },
  async holds(record) {
    return existsSync(join(dir, `${record.mediaUUID}.${record.format}`));
  },
  async dispose() {
    rmSync(dir, { recursive: true, force: true });
  },
});
