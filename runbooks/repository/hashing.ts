import crypto from 'node:crypto';
import fs from 'node:fs';
import { Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';

/** A pass-through stream that counts bytes and computes sha256 on the way. */
export class HashingStream extends Transform {
  private readonly hash = crypto.createHash('sha256');
  size = 0;

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.hash.update(chunk);
    this.size += chunk.length;
    callback(null, chunk);
  }

  digest(): string {
    return this.hash.digest('hex');
  }
}

export async function sha256File(file: string): Promise<{ size: number; sha256: string }> {
  const hasher = new HashingStream();
  await pipeline(fs.createReadStream(file, { highWaterMark: 1 << 20 }), hasher, async function* (source) {
    for await (const _ of source) {
      /* drain */
    }
  });
  return { size: hasher.size, sha256: hasher.digest() };
}
