// The Ed25519 key that signs checkpoints, export proofs and deletion receipts. It comes from
// RUNTRAIL_LEDGER_SIGNING_KEY, or is generated once into the data folder (readable by its owner
// only) so a single server works with nothing configured. Replicas must be given one key: each
// would otherwise sign with its own folder's, and an auditor pins one public key.

import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  sign,
  verify,
  type KeyObject,
} from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const SIGNING_KEY_FILE = 'ledger-signing-key.pem';

export interface LedgerSigner {
  /** The public key, SPKI PEM: what an auditor keeps to check signatures. */
  publicKeyPem: string;
  /** sha256 of the public key's DER, hex, first 16 characters: names the key in signed files. */
  keyId: string;
  /** Signature of the UTF-8 bytes of `text`, base64. */
  sign(text: string): string;
}

/** The signer of the server whose data folder is `dataDir` (the environment's key first). */
export function loadSigner(options: { dataDir: string; ledgerSigningKey: string | undefined }): LedgerSigner {
  return signerOf(privateKeyOf(options));
}

function privateKeyOf(options: { dataDir: string; ledgerSigningKey: string | undefined }): KeyObject {
  const configured = options.ledgerSigningKey?.trim();
  if (configured) return parsePrivateKey(configured, 'RUNTRAIL_LEDGER_SIGNING_KEY');
  const file = join(options.dataDir, SIGNING_KEY_FILE);
  if (existsSync(file)) return parsePrivateKey(readFileSync(file, 'utf8'), file);
  const { privateKey } = generateKeyPairSync('ed25519');
  mkdirSync(options.dataDir, { recursive: true });
  // 'wx': two processes generating at once keep the first key; the second reads it.
  try {
    writeFileSync(file, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600, flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    return parsePrivateKey(readFileSync(file, 'utf8'), file);
  }
  return privateKey;
}

function parsePrivateKey(text: string, where: string): KeyObject {
  let key: KeyObject;
  try {
    key = text.includes('-----BEGIN')
      ? createPrivateKey(text)
      : createPrivateKey({ key: Buffer.from(text, 'base64'), format: 'der', type: 'pkcs8' });
  } catch {
    throw new Error(`${where} is not a PKCS#8 private key (PEM, or DER in base64)`);
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new Error(`${where} is not an Ed25519 key`);
  return key;
}

function signerOf(privateKey: KeyObject): LedgerSigner {
  const publicKey = createPublicKey(privateKey);
  return {
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    keyId: keyIdOf(publicKey),
    sign: (text) => sign(null, Buffer.from(text, 'utf8'), privateKey).toString('base64'),
  };
}

function keyIdOf(publicKey: KeyObject): string {
  return createHash('sha256')
    .update(publicKey.export({ type: 'spki', format: 'der' }))
    .digest('hex')
    .slice(0, 16);
}

/** The key id of a public key in PEM; undefined when it is not an Ed25519 public key. */
export function keyIdOfPem(publicKeyPem: string): string | undefined {
  try {
    const key = createPublicKey(publicKeyPem);
    return key.asymmetricKeyType === 'ed25519' ? keyIdOf(key) : undefined;
  } catch {
    return undefined;
  }
}

/** Whether `signature` (base64) is the key's signature of `text`; false for any malformed input. */
export function signatureHolds(publicKeyPem: string, text: string, signature: string): boolean {
  try {
    const key = createPublicKey(publicKeyPem);
    if (key.asymmetricKeyType !== 'ed25519') return false;
    return verify(null, Buffer.from(text, 'utf8'), key, Buffer.from(signature, 'base64'));
  } catch {
    return false;
  }
}
