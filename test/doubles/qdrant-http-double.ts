/**
 * TEST DOUBLE — an HTTP double of Qdrant's REST API, limited to what the
 * product uses (root version, collections, count, snapshot create / list /
 * download / delete / upload). No Qdrant server can be installed here; the
 * product talks to this through the official @qdrant/js-client-rest and
 * plain REST exactly as it would to Qdrant.
 *
 * Every request is checked against Qdrant's OpenAPI document (v1.19.x,
 * test/doubles/qdrant-openapi-v1.19.x.json), and so is every JSON response
 * the double sends. A request outside the spec is answered 400/404 and
 * recorded in `violations`, as is a response that drifted from the spec:
 * tests assert `violations` is empty.
 */
import crypto from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Operation } from 'openapi-backend';
import { qdrantSpec, type QdrantSpec } from './qdrant-openapi';

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
  /** Operation ids of every request received, in order. */
  operations: string[];
  /** Requests and responses that break Qdrant's OpenAPI document. */
  violations: string[];
  close(): Promise<void>;
}

type Reply = { status: number; json: unknown } | { status: number; binary: Buffer };

const ok = (result: unknown, status = 200): Reply => ({ status, json: { result, status: 'ok', time: 0.001 } });
const fail = (status: number, error: string): Reply => ({ status, json: { status: { error }, time: 0 } });

async function readBody(req: http.IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** The parts of a multipart/form-data body: field name → content. */
function multipartParts(buffer: Buffer, contentType: string): Map<string, Buffer> {
  const parts = new Map<string, Buffer>();
  const boundary = /boundary=(?:"([^"]+)"|([^;]+))/.exec(contentType);
  if (!boundary) return parts;
  const delimiter = `--${boundary[1] ?? boundary[2]}`;
  let at = buffer.indexOf(delimiter);
  while (at !== -1) {
    const headerEnd = buffer.indexOf('\r\n\r\n', at);
    const next = buffer.indexOf(`\r\n${delimiter}`, headerEnd);
    if (headerEnd === -1 || next === -1) break;
    const name = /name="([^"]*)"/.exec(buffer.subarray(at, headerEnd).toString('utf8'))?.[1];
    if (name) parts.set(name, buffer.subarray(headerEnd + 4, next));
    at = buffer.indexOf(delimiter, next + 2);
  }
  return parts;
}

function route(double: Omit<QdrantDouble, 'url' | 'close'>, operation: string, params: Record<string, string>, query: URLSearchParams, body: unknown, files: Map<string, Buffer>): Reply {
  const name = params.collection_name ?? '';
  const collection = double.collections.get(name);
  const stored = double.snapshots.get(name) ?? new Map<string, Buffer>();
  switch (operation) {
    case 'root':
      return { status: 200, json: { title: 'qdrant - vector search engine (HTTP DOUBLE)', version: double.version } };
    case 'get_collections':
      return ok({ collections: [...double.collections.keys()].map((n) => ({ name: n })) });
    case 'count_points':
      if (!collection) return fail(404, `Not found: Collection \`${name}\` doesn't exist!`);
      return ok({ count: collection.points.length });
    case 'create_snapshot': {
      if (!collection) return fail(404, `Not found: Collection \`${name}\` doesn't exist!`);
      const data = Buffer.from(JSON.stringify(collection));
      const snapshotName = `${name}-${Date.now()}-${crypto.randomBytes(2).toString('hex')}.snapshot`;
      stored.set(snapshotName, data);
      double.snapshots.set(name, stored);
      return ok({ name: snapshotName, creation_time: new Date().toISOString().slice(0, 19), size: data.length, checksum: crypto.createHash('sha256').update(data).digest('hex') });
    }
    case 'list_snapshots':
      return ok([...stored.entries()].map(([n, d]) => ({ name: n, creation_time: null, size: d.length, checksum: crypto.createHash('sha256').update(d).digest('hex') })));
    case 'get_snapshot': {
      const snapshot = stored.get(params.snapshot_name ?? '');
      return snapshot ? { status: 200, binary: snapshot } : fail(404, 'Not found: snapshot does not exist');
    }
    case 'delete_snapshot': {
      if (!stored.delete(params.snapshot_name ?? '')) return fail(404, 'Not found: snapshot does not exist');
      return ok(true);
    }
    case 'recover_from_uploaded_snapshot': {
      const file = files.get('snapshot');
      if (!file) return fail(400, 'Bad request: no snapshot part');
      const checksum = query.get('checksum');
      double.uploads.push({ collection: name, priority: query.get('priority'), checksum });
      if (checksum && crypto.createHash('sha256').update(file).digest('hex') !== checksum) return fail(400, 'Bad request: checksum mismatch');
      double.collections.set(name, JSON.parse(file.toString('utf8')) as Collection);
      return ok(true);
    }
    default:
      void body;
      return fail(501, `the HTTP double does not implement ${operation}`);
  }
}

export async function startQdrantDouble(version = '1.19.0'): Promise<QdrantDouble> {
  const spec: QdrantSpec = await qdrantSpec();
  const double: Omit<QdrantDouble, 'url' | 'close'> = { version, collections: new Map(), snapshots: new Map(), uploads: [], operations: [], violations: [] };
  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url!, 'http://x');
    const raw = await readBody(req);
    const contentType = req.headers['content-type'] ?? '';
    const files = contentType.startsWith('multipart/form-data') ? multipartParts(raw, contentType) : new Map<string, Buffer>();
    let body: unknown;
    if (files.size) body = Object.fromEntries([...files.keys()].map((k) => [k, '(binary)']));
    else if (raw.length) {
      try {
        body = JSON.parse(raw.toString('utf8'));
      } catch {
        body = raw.toString('utf8');
      }
    }
    const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)]));
    const shape = { method: req.method!.toLowerCase(), path: url.pathname, query: Object.fromEntries(url.searchParams), headers, body };
    const checked = spec.checkRequest(shape);
    const where = `${req.method} ${url.pathname}${url.search}`;
    let reply: Reply;
    const operation: Operation | undefined = checked.operation;
    if (!operation) {
      double.violations.push(`request ${where}: ${checked.problems.join('; ')}`);
      reply = fail(404, checked.problems.join('; '));
    } else if (checked.problems.length) {
      double.violations.push(`request ${where} (${operation.operationId}): ${checked.problems.join('; ')}`);
      reply = fail(400, `Format error: ${checked.problems.join('; ')}`);
    } else {
      double.operations.push(operation.operationId!);
      const params = Object.fromEntries(Object.entries(pathParams(operation, url.pathname)).map(([k, v]) => [k, decodeURIComponent(v)]));
      reply = route(double, operation.operationId!, params, url.searchParams, body, files);
      if (reply.status === 501) double.violations.push(`request ${where}: ${(reply as { json: { status: { error: string } } }).json.status.error}`);
    }
    if ('binary' in reply) {
      res.writeHead(reply.status, { 'content-type': 'application/octet-stream', 'content-length': reply.binary.length });
      return res.end(reply.binary);
    }
    if (operation && reply.status !== 501) {
      const problems = spec.checkResponse(operation, reply.status, reply.json);
      if (problems.length) double.violations.push(`response ${reply.status} to ${where} (${operation.operationId}): ${problems.join('; ')}`);
    }
    res.writeHead(reply.status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(reply.json));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { ...double, url: `http://127.0.0.1:${port}`, close: () => new Promise((resolve) => server.close(() => resolve())) } as QdrantDouble;
}

/** Path parameters of a matched operation, from its path template. */
function pathParams(operation: Operation, pathname: string): Record<string, string> {
  const template = operation.path.split('/');
  const actual = pathname.split('/');
  const params: Record<string, string> = {};
  template.forEach((part, i) => {
    const m = /^\{(.+)\}$/.exec(part);
    if (m && actual[i] !== undefined) params[m[1]!] = actual[i]!;
  });
  return params;
}

export function addCollection(double: QdrantDouble, name: string, points: number): void {
  double.collections.set(name, { points: Array.from({ length: points }, (_, i) => ({ id: i + 1, vector: [i / points, 1 - i / points], payload: { trade: i } })) });
}
