// What every data command of the CLI shares: the storage flags, opening the storage a server
// would use (beside a running server), the organization a command acts for, and the error for
// mistakes in what the user asked.

import { Option, type Command } from 'commander';
import { loadConfig, type Config } from '../config.js';
import { openStorage } from '../ledger/open-storage.js';
import type { Organization, Storage } from '../ledger/types.js';
import type { MediaStore } from '../media/media-store.js';
import { openMediaStore } from '../media/open-media-store.js';
import { ProtocolError } from '../protocol/errors.js';

/** Raised for mistakes in what the user asked; printed without a stack, exit code 1. */
export class UsageError extends Error {}

export interface StorageFlags {
  dataDir?: string;
  mediaDir?: string;
  databaseUrl?: string;
}

interface Opened {
  storage: Storage;
  media: MediaStore;
  /** The configuration the storage was opened with (the data folder, the ledger signing key). */
  config: Config;
}

export function storageOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('--data-dir <dir>', 'the data folder (RUNTRAIL_DATA_DIR, default ./data)'))
    .addOption(new Option('--media-dir <dir>', 'the media folder (RUNTRAIL_MEDIA_DIR, default <data dir>/media)'))
    .addOption(new Option('--database-url <url>', 'postgres:// URL (DATABASE_URL)'));
}

export async function withCliStorage(flags: StorageFlags, run: (opened: Opened) => Promise<void>): Promise<void> {
  const config = loadConfig(process.env, {
    dataDir: flags.dataDir,
    mediaDir: flags.mediaDir,
    databaseUrl: flags.databaseUrl,
  });
  const storage = await openStorage(config);
  const media = await openMediaStore(config.media).catch(async (err: unknown) => {
    await storage.close();
    throw err;
  });
  try {
    await run({ storage, media, config });
  } catch (err) {
    if (err instanceof ProtocolError) throw new UsageError(err.message);
    throw err;
  } finally {
    await media.close();
    await storage.close();
  }
}

export const ORG_HELP = "organization (default: the only one there is, else 'default')";

/**
 * The organization a command acts for: the one named by --org; without it, the only
 * organization when there is exactly one, else `default`.
 */
export async function organization(storage: Storage, name: string | undefined): Promise<Organization> {
  const wanted = name ?? (await defaultOrganizationName(storage));
  const org = await storage.accounts.findOrganizationByName(wanted);
  if (!org) throw new UsageError(`No organization named '${wanted}'.`);
  return org;
}

export async function defaultOrganizationName(storage: Storage): Promise<string> {
  const all = await storage.accounts.listOrganizations();
  if (all.length === 1) return all[0]!.name;
  if (all.length === 0 || all.some((o) => o.name === 'default')) return 'default';
  throw new UsageError(
    `There are ${all.length} organizations and none is named 'default': name one with --org (${all.map((o) => o.name).join(', ')}).`,
  );
}
