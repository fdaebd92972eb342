// Signed JSON documents (checkpoints, export proofs, deletion receipts): the body's canonical
// text (JSON.stringify of the body as built, keys in the order written) is signed, and the
// document carries the body, the key id, the public key and the signature. A reader re-serializes
// the body it parsed, which gives back the same text: JSON.parse keeps key order and the values
// are strings, integers and plain arrays and objects.

import { keyIdOfPem, signatureHolds, type LedgerSigner } from './signing-key.js';

export interface Signature {
  keyId: string;
  publicKey: string;
  signature: string;
}

export type Signed<T> = T & Signature;

export function signDocument<T extends object>(body: T, signer: LedgerSigner): Signed<T> {
  return { ...body, keyId: signer.keyId, publicKey: signer.publicKeyPem, signature: signer.sign(JSON.stringify(body)) };
}

/** Why the document's signature does not hold, or undefined when it does (with `trusted`, the key must be that one). */
export function signatureProblem(doc: Record<string, unknown>, trustedPublicKeyPem?: string): string | undefined {
  const { keyId, publicKey, signature, ...body } = doc;
  if (typeof publicKey !== 'string' || typeof signature !== 'string' || typeof keyId !== 'string')
    return 'it carries no signature';
  if (keyIdOfPem(publicKey) !== keyId) return 'its key id does not match its public key';
  if (trustedPublicKeyPem !== undefined && keyIdOfPem(trustedPublicKeyPem) !== keyId)
    return `it is signed by key ${keyId}, not by the trusted key ${keyIdOfPem(trustedPublicKeyPem) ?? '(unreadable)'}`;
  if (!signatureHolds(publicKey, JSON.stringify(body), signature)) return 'its signature does not match its contents';
  return undefined;
}
