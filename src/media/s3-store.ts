// The object storage backend (RUNTRAIL_MEDIA_URL=s3://bucket/prefix): any S3-compatible store
// (AWS S3, Ceph RADOS Gateway, MinIO, Garage, R2…) through the AWS SDK. An image is uploaded
// with its MD5 (Content-MD5, which the store checks) and the task that names it completes only
// after the store has answered the PUT: the write is confirmed before it is acknowledged. A failed
// upload is the task's serviceUnavailable and leaves no object behind (a best-effort delete runs
// in case the PUT landed but its answer was lost). Buckets are never created here: a missing one
// is a start-up error, so a typo in the URL cannot scatter media into a new bucket (docs/scaling.md).

import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { storageUnavailable } from '../protocol/errors.js';
import type { MediaRecord } from '../ledger/types.js';
import type { S3MediaConfig } from '../config.js';
import {
  checkImportedRecord,
  newMediaRecord,
  CONTENT_TYPES,
  MediaMissingError,
  MediaUrls,
  objectName,
  type ByteRange,
  type MediaFormat,
  type MediaStore,
} from './media-store.js';

export class S3MediaStore extends MediaUrls implements MediaStore {
  readonly description: string;
  private readonly client: S3Client;
  private readonly bucket: string;
  private readonly prefix: string;

  constructor(private readonly config: S3MediaConfig) {
    super();
    this.bucket = config.bucket;
    this.prefix = config.prefix;
    this.description = `s3://${config.bucket}/${config.prefix}${config.endpoint ? ` at ${config.endpoint}` : ''}`;
    const options: S3ClientConfig = {
      region: config.region,
      forcePathStyle: config.forcePathStyle,
      // Checksums only where S3 requires them: self-hosted stores do not all take the newer
      // CRC headers, and every upload carries Content-MD5 anyway.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      maxAttempts: config.maxAttempts,
      requestHandler: { connectionTimeout: Math.min(config.timeoutMs, 3000), requestTimeout: config.timeoutMs },
    };
    if (config.endpoint !== undefined) options.endpoint = config.endpoint;
    if (config.credentials !== undefined) options.credentials = config.credentials;
    this.client = new S3Client(options);
  }

  async check(): Promise<void> {
    try {
      await this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: this.prefix, MaxKeys: 1 }));
    } catch (err) {
      throw new Error(`media storage ${this.description}: ${explain(err, this.bucket)}`, { cause: err });
    }
  }

  async probe(): Promise<void> {
    await this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: this.prefix, MaxKeys: 1 }));
  }

  async save(
    orgId: string,
    taskUUID: string | null,
    image: { data: Buffer; format: MediaFormat; width: number; height: number },
  ): Promise<MediaRecord> {
    const record = newMediaRecord(orgId, taskUUID, image);
    await this.put(this.keyOf(record.mediaUUID, image.format), image.data, image.format);
    return record;
  }

  async restore(record: MediaRecord, data: Buffer): Promise<void> {
    checkImportedRecord(record, data);
    const key = this.keyOf(record.mediaUUID, record.format);
    try {
      await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      return; // already there: left as it is
    } catch (err) {
      if (!isMissing(err)) throw unavailable(err);
    }
    await this.put(key, data, record.format);
  }

  async remove(record: MediaRecord): Promise<void> {
    // S3 deletes are idempotent: an object already gone answers 204 too.
    try {
      await this.client.send(
        new DeleteObjectCommand({ Bucket: this.bucket, Key: this.keyOf(record.mediaUUID, record.format) }),
      );
    } catch (err) {
      throw unavailable(err);
    }
  }

  async read(record: MediaRecord): Promise<Buffer> {
    const body = await this.stream(record);
    const chunks: Buffer[] = [];
    for await (const chunk of body) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  }

  async stream(record: MediaRecord, range?: ByteRange): Promise<Readable> {
    const key = this.keyOf(record.mediaUUID, record.format);
    try {
      const out = await this.client.send(
        new GetObjectCommand({
          Bucket: this.bucket,
          Key: key,
          ...(range ? { Range: `bytes=${range.start}-${range.end}` } : {}),
        }),
      );
      if (!(out.Body instanceof Readable)) throw new Error('the object store answered without a body');
      return out.Body;
    } catch (err) {
      if (isMissing(err)) throw new MediaMissingError(this.locationOf(record), err);
      throw storageUnavailable(
        'The server cannot read this image from its object storage right now. Retry later.',
        err,
      );
    }
  }

  presignedUrl(record: MediaRecord, expiresInSeconds: number): Promise<string> {
    const command = new GetObjectCommand({
      Bucket: this.bucket,
      Key: this.keyOf(record.mediaUUID, record.format),
      ResponseContentType: CONTENT_TYPES[record.format],
    });
    return getSignedUrl(this.client, command, { expiresIn: expiresInSeconds });
  }

  locationOf(record: MediaRecord): string {
    return `s3://${this.bucket}/${this.keyOf(record.mediaUUID, record.format)}`;
  }

  close(): Promise<void> {
    this.client.destroy();
    return Promise.resolve();
  }

  private keyOf(mediaUUID: string, format: MediaFormat): string {
    return this.prefix + objectName(mediaUUID, format);
  }

  /** PUTs the whole object with its MD5; on failure removes whatever may have landed and answers serviceUnavailable. */
  private async put(key: string, data: Buffer, format: MediaFormat): Promise<void> {
    try {
      await this.client.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: key,
          Body: data,
          ContentLength: data.length,
          ContentType: CONTENT_TYPES[format],
          ContentMD5: createHash('md5').update(data).digest('base64'),
        }),
      );
    } catch (err) {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key })).catch(() => undefined);
      throw unavailable(err);
    }
  }
}

interface SdkError {
  name?: string;
  code?: string;
  $metadata?: { httpStatusCode?: number };
}

function isMissing(err: unknown): boolean {
  const e = err as SdkError | null;
  return (
    e?.name === 'NoSuchKey' ||
    e?.name === 'NotFound' ||
    (e?.$metadata?.httpStatusCode === 404 && e.name !== 'NoSuchBucket')
  );
}

function unavailable(err: unknown): unknown {
  return storageUnavailable(
    'The server cannot store images right now (its object storage is unreachable or refused the write), so the image was not stored. Retry later.',
    err,
  );
}

/** A start-up failure in words an operator can act on. */
function explain(err: unknown, bucket: string): string {
  const e = err as SdkError | null;
  const name = e?.name ?? 'Error';
  if (name === 'SignatureDoesNotMatch' || name === 'InvalidAccessKeyId' || name === 'InvalidSignatureException') {
    return `the object store refused the credentials (${name}): check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY`;
  }
  if (name === 'AccessDenied' || e?.$metadata?.httpStatusCode === 403) {
    return `access denied (${name}): the credentials need s3:ListBucket, s3:GetObject, s3:PutObject and s3:DeleteObject on bucket '${bucket}'`;
  }
  if (name === 'NoSuchBucket')
    return `bucket '${bucket}' does not exist; create it first (runtrail never creates buckets)`;
  if (name === 'CredentialsProviderError')
    return `no credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or an AWS profile or role)`;
  const code = e?.code ?? (err as { cause?: { code?: string } } | null)?.cause?.code;
  return `cannot reach the object store (${name}${code !== undefined && code !== name ? ` ${code}` : ''}: ${(err as Error).message})`;
}
