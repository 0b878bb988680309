/**
 * TEST DOUBLE — an HTTP double of Qdrant's REST API, limited to what the
 * snapshot runbooks use (root version, collections, count, snapshot create /
 * list / download / delete / upload). No Qdrant server can be installed
 * here; the product talks to this through the official @qdrant/js-client-rest
 * and plain REST exactly as it would to Qdrant.
 */
import crypto from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

interface Collection {
  points: { id: number; vector: number[]; payload: Record<string, unknown> }[];
}

export interface QdrantDouble {
  url: string;
  version: string;
  collections: Map<string, Collection>;
  /** Snapshots currently stored "on the server" per collection. */
  snapshots: Map<string, Map<string, Buffer>>;
  uploads: { collection: string; priority: string | null; checksum: string | null }[];
  close(): Promise<void>;
}

const ok = (res: http.ServerResponse, result: unknown, status = 200) => {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ result, status: 'ok', time: 0.001 }));
};
const fail = (res: http.ServerResponse, status: number, error: string) => {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ status: { error }, time: 0 }));
};

async function body(req: http.IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Pull the first file part out of a multipart/form-data body. */
function multipartFile(buffer: Buffer, contentType: string): Buffer {
  const boundary = `--${/boundary=(.+)$/.exec(contentType)![1]}`;
  const start = buffer.indexOf('\r\n\r\n', buffer.indexOf(boundary)) + 4;
  const end = buffer.indexOf(`\r\n${boundary}`, start);
  return buffer.subarray(start, end);
}

export async function startQdrantDouble(version = '1.12.4'): Promise<QdrantDouble> {
  const double: Omit<QdrantDouble, 'url' | 'close'> = { version, collections: new Map(), snapshots: new Map(), uploads: [] };
  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url!, 'http://x');
    const parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    if (req.method === 'GET' && parts.length === 0) return res.end(JSON.stringify({ title: 'qdrant - vector search engine (HTTP DOUBLE)', version }));
    if (parts[0] !== 'collections') return fail(res, 404, 'not found');
    if (parts.length === 1) return ok(res, { collections: [...double.collections.keys()].map((name) => ({ name })) });
    const name = parts[1]!;
    const collection = double.collections.get(name);
    if (parts[2] === 'points' && parts[3] === 'count') {
      if (!collection) return fail(res, 404, `Collection ${name} doesn't exist`);
      return ok(res, { count: collection.points.length });
    }
    if (parts[2] !== 'snapshots') return collection ? ok(res, { status: 'green', points_count: collection.points.length }) : fail(res, 404, 'no collection');
    const stored = double.snapshots.get(name) ?? new Map<string, Buffer>();
    double.snapshots.set(name, stored);
    if (parts[3] === 'upload' && req.method === 'POST') {
      const file = multipartFile(await body(req), req.headers['content-type']!);
      const checksum = url.searchParams.get('checksum');
      double.uploads.push({ collection: name, priority: url.searchParams.get('priority'), checksum });
      if (checksum && crypto.createHash('sha256').update(file).digest('hex') !== checksum) return fail(res, 400, 'checksum mismatch');
      double.collections.set(name, JSON.parse(file.toString('utf8')) as Collection);
      return ok(res, true);
    }
    if (parts.length === 3 && req.method === 'POST') {
      if (!collection) return fail(res, 404, 'no collection');
      const data = Buffer.from(JSON.stringify(collection));
      const snapshotName = `${name}-${Date.now()}-${crypto.randomBytes(2).toString('hex')}.snapshot`;
      stored.set(snapshotName, data);
      return ok(res, { name: snapshotName, creation_time: new Date().toISOString(), size: data.length, checksum: crypto.createHash('sha256').update(data).digest('hex') });
    }
    if (parts.length === 3 && req.method === 'GET') return ok(res, [...stored.entries()].map(([n, d]) => ({ name: n, size: d.length })));
    const snapshot = stored.get(parts[3]!);
    if (!snapshot) return fail(res, 404, 'no snapshot');
    if (req.method === 'GET') {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': snapshot.length });
      return res.end(snapshot);
    }
    if (req.method === 'DELETE') {
      stored.delete(parts[3]!);
      return ok(res, true);
    }
    return fail(res, 405, 'method');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { ...double, url: `http://127.0.0.1:${port}`, close: () => new Promise((resolve) => server.close(() => resolve())) } as QdrantDouble;
}

export function addCollection(double: QdrantDouble, name: string, points: number): void {
  double.collections.set(name, { points: Array.from({ length: points }, (_, i) => ({ id: i + 1, vector: [i / points, 1 - i / points], payload: { trade: i } })) });
}
