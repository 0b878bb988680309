/**
 * TEST SUPPORT — Qdrant's own OpenAPI document (v1.19.x, copied unchanged
 * from ../shared/qdrant into this folder) as a contract for the HTTP double:
 * every request the product sends and every JSON response the double returns
 * is validated against it with openapi-backend (ajv underneath).
 */
import fs from 'node:fs';
import path from 'node:path';
import { OpenAPIBackend, type Operation } from 'openapi-backend';

export const QDRANT_SPEC_FILE = path.join(import.meta.dirname, 'qdrant-openapi-v1.19.x.json');

/**
 * OpenAPI 3.0 allows `nullable` beside `anyOf`/`$ref` without a `type`; ajv
 * does not. Rewrite those to `anyOf: [schema, {type: null}]`, which means
 * the same thing in JSON Schema. Nothing else in the document is changed.
 */
function nullableForAjv(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(nullableForAjv);
  if (!node || typeof node !== 'object') return node;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(node)) out[key] = nullableForAjv(value);
  if (out.nullable === true && out.type === undefined) {
    delete out.nullable;
    return { anyOf: [out, { type: 'null' }] };
  }
  return out;
}

// Qdrant's numeric formats (uint64, double, …) describe ranges ajv does not know; the types are still checked.
const FORMATS = ['uint64', 'uint32', 'uint16', 'uint8', 'uint', 'int64', 'int32', 'double', 'float', 'uuid', 'date-time', 'partial-date-time'];

export interface RequestShape {
  method: string;
  path: string;
  query: Record<string, string>;
  headers: Record<string, string>;
  body?: unknown;
}

export interface QdrantSpec {
  version: string;
  /** The matching operation and what in the request breaks the spec (empty: conforms). */
  checkRequest(req: RequestShape): { operation?: Operation; problems: string[] };
  /** What in a JSON response body breaks the spec for this operation and status. */
  checkResponse(operation: Operation, status: number, body: unknown): string[];
}

let loaded: Promise<QdrantSpec> | undefined;

const describeErrors = (errors: { instancePath?: string; message?: string }[] | null | undefined): string[] => (errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? 'invalid'}`);

export function qdrantSpec(): Promise<QdrantSpec> {
  loaded ??= (async () => {
    const document = JSON.parse(fs.readFileSync(QDRANT_SPEC_FILE, 'utf8')) as { info: { version: string } };
    const api = new OpenAPIBackend({
      definition: nullableForAjv(document) as never,
      strict: false,
      quick: true, // compile each operation's validators on first use (the whole document takes ~30 s)
      validate: true,
      ajvOpts: { strict: false, logger: false } as never,
      customizeAjv: (ajv) => {
        for (const format of FORMATS) ajv.addFormat(format, true);
        return ajv;
      },
    });
    await api.init();
    return {
      version: document.info.version,
      checkRequest(req) {
        const operation = api.matchOperation(req);
        if (!operation) return { problems: [`${req.method.toUpperCase()} ${req.path} is not an operation of Qdrant's API`] };
        const result = api.validateRequest(req, operation);
        return { operation, problems: result.valid ? [] : describeErrors(result.errors) };
      },
      checkResponse(operation, status, body) {
        const result = api.validateResponse(body, operation.operationId!, status);
        return result.valid ? [] : describeErrors(result.errors);
      },
    };
  })();
  return loaded;
}
