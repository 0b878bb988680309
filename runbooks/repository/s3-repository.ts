import type { S3Client } from '@aws-sdk/client-s3';
import type { Readable } from 'node:stream';
import { HashingStream } from './hashing';
import { NotFoundError, type Repository, type RepositoryEnv, type StoredObject } from './types';

/** s3://bucket/prefix over AWS SDK v3; S3_ENDPOINT points it at s3rver or MinIO. */
export class S3Repository implements Repository {
  readonly url: string;
  private clientPromise?: Promise<S3Client>;

  constructor(private readonly bucket: string, private readonly prefix: string, private readonly env: RepositoryEnv) {
    this.url = `s3://${bucket}/${prefix}`;
  }

  /** The SDK loads on first use, so runs that never touch S3 do not pay for it. */
  private client(): Promise<S3Client> {
    this.clientPromise ??= import('@aws-sdk/client-s3').then(({ S3Client }) => {
      const endpoint = this.env.S3_ENDPOINT;
      const { AWS_ACCESS_KEY_ID: accessKeyId, AWS_SECRET_ACCESS_KEY: secretAccessKey } = this.env;
      return new S3Client({
        region: this.env.AWS_REGION ?? 'us-east-1',
        ...(endpoint ? { endpoint, forcePathStyle: true } : {}),
        ...(accessKeyId && secretAccessKey ? { credentials: { accessKeyId, secretAccessKey } } : {}),
      });
    });
    return this.clientPromise;
  }

  private key(key: string): string {
    return this.prefix ? `${this.prefix}/${key}` : key;
  }

  /** Streaming multipart upload: parts of 16 MiB, 4 in flight; the stream is never buffered whole. */
  async put(key: string, body: Readable): Promise<StoredObject> {
    const hasher = new HashingStream();
    body.on('error', (error) => hasher.destroy(error));
    const { Upload } = await import('@aws-sdk/lib-storage');
    const upload = new Upload({
      client: await this.client(),
      params: { Bucket: this.bucket, Key: this.key(key), Body: body.pipe(hasher) },
      partSize: 16 * 1024 * 1024,
      queueSize: 4,
      leavePartsOnError: false,
    });
    await upload.done();
    return { size: hasher.size, sha256: hasher.digest() };
  }

  async get(key: string): Promise<Readable> {
    try {
      const { GetObjectCommand } = await import('@aws-sdk/client-s3');
      const out = await (await this.client()).send(new GetObjectCommand({ Bucket: this.bucket, Key: this.key(key) }));
      return out.Body as Readable;
    } catch (error) {
      if ((error as { name?: string }).name === 'NoSuchKey') throw new NotFoundError(`not in the repository: ${key}`);
      throw error;
    }
  }

  async exists(key: string): Promise<boolean> {
    try {
      const { HeadObjectCommand } = await import('@aws-sdk/client-s3');
      await (await this.client()).send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.key(key) }));
      return true;
    } catch (error) {
      const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      if (status === 404 || (error as { name?: string }).name === 'NotFound') return false;
      throw error;
    }
  }

  async list(prefix: string): Promise<string[]> {
    const { ListObjectsV2Command } = await import('@aws-sdk/client-s3');
    const client = await this.client();
    const keys: string[] = [];
    const strip = this.prefix ? this.prefix.length + 1 : 0;
    let token: string | undefined;
    do {
      const page = await client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: this.key(prefix), ContinuationToken: token }));
      for (const object of page.Contents ?? []) if (object.Key) keys.push(object.Key.slice(strip));
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return keys.sort();
  }

  async remove(keys: string[]): Promise<void> {
    const { DeleteObjectsCommand } = await import('@aws-sdk/client-s3');
    const client = await this.client();
    for (let i = 0; i < keys.length; i += 1000) {
      const batch = keys.slice(i, i + 1000).map((k) => ({ Key: this.key(k) }));
      await client.send(new DeleteObjectsCommand({ Bucket: this.bucket, Delete: { Objects: batch, Quiet: true } }));
    }
  }
}
