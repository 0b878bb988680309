import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';

/**
 * Stream text-format COPY chunks into a table. Backpressure comes from
 * pipeline(), so memory stays flat whatever the row count.
 */
export async function copyChunksInto(client: pg.ClientBase, target: string, chunks: Iterable<string> | AsyncIterable<string>, onChunk?: (chunk: string) => void): Promise<number> {
  const stream = client.query(copyFrom(`COPY ${target} FROM STDIN`));
  const source = Readable.from(
    (async function* () {
      for await (const chunk of chunks) {
        onChunk?.(chunk);
        yield chunk;
      }
    })(),
    { objectMode: false },
  );
  await pipeline(source, stream);
  return Number(stream.rowCount ?? 0);
}
