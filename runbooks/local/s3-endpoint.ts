import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { ListBucketsCommand, S3Client } from '@aws-sdk/client-s3';
import { projectRoot } from '../engine/paths';
import { isOurProcess, waitFor } from './process';
import { chownTree, type ServiceUser } from './service-user';

export const S3RVER_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } as const;
const MARKER = 's3rver-main';

export const s3Running = (pid: number | undefined): boolean => isOurProcess(pid, MARKER);

export function localS3Client(endpoint: string): S3Client {
  return new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials: S3RVER_CREDENTIALS });
}

/**
 * Start s3rver as a detached child that outlives `local.ts up`. As root it
 * runs as the unprivileged service user (it serves files over HTTP: no
 * reason for root), owning its data folder.
 */
export async function startS3(dir: string, port: number, bucket: string, user?: ServiceUser): Promise<number> {
  fs.mkdirSync(path.join(dir, 'data'), { recursive: true });
  const log = fs.openSync(path.join(dir, 's3rver.log'), 'a');
  const asUser = user && user.prefix.length ? user : undefined;
  if (asUser) chownTree(dir, asUser);
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(projectRoot, 'runbooks', 'local', `${MARKER}.ts`), String(port), path.join(dir, 'data'), bucket], {
    cwd: projectRoot,
    detached: true,
    stdio: ['ignore', log, log],
    ...(asUser ? { uid: asUser.uid, gid: asUser.gid, env: { ...process.env, HOME: dir } } : {}),
  });
  child.unref();
  fs.closeSync(log);
  const endpoint = `http://127.0.0.1:${port}`;
  const client = localS3Client(endpoint);
  const ready = await waitFor(async () => {
    try {
      const out = await client.send(new ListBucketsCommand({}));
      return Boolean(out.Buckets?.some((b) => b.Name === bucket));
    } catch {
      return false;
    }
  }, 20_000, 200);
  client.destroy();
  if (!ready || !child.pid) throw new Error(`s3rver did not become ready on port ${port}; see ${path.join(dir, 's3rver.log')}`);
  return child.pid;
}
