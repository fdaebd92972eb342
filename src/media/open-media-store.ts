// Picks the media backend the configuration names. The AWS SDK is loaded only when object storage
// is configured, so a server on the media folder starts as fast as before.

import type { MediaConfig } from '../config.js';
import { FolderMediaStore } from './folder-store.js';
import type { MediaStore } from './media-store.js';

export async function openMediaStore(config: MediaConfig): Promise<MediaStore> {
  if (config.kind === 'folder') return new FolderMediaStore(config.dir);
  const { S3MediaStore } = await import('./s3-store.js');
  return new S3MediaStore(config);
}
