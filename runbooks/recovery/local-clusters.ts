import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { localDir } from '../engine/paths';
import { baseSettings, clusterUrl, socketDirFor, startCluster, writeClusterConf } from '../local/postgres-cluster';
import { choosePort } from '../local/process';
import { chownTree, serviceUser } from '../local/service-user';
import { registerExtraCluster } from '../local/state';
import type { ClusterProvisioner } from '../stores/postgres/physical-restore';

/**
 * Physical restores on this machine: a new data directory under the local
 * stack's restores/, started on a free port as the service user and
 * registered so `local.ts down` stops it. Injected into stores/ by recovery/.
 */
export function localClusterProvisioner(): ClusterProvisioner {
  const rootOf = (name: string) => path.join(localDir(), 'restores', name);
  return {
    async newDataDir() {
      const name = `restore-${new Date().toISOString().replace(/[-:.]/g, '').slice(0, 15)}-${crypto.randomBytes(2).toString('hex')}`;
      const root = rootOf(name);
      const dataDir = path.join(root, 'data');
      fs.mkdirSync(root, { recursive: true, mode: 0o755 });
      fs.mkdirSync(dataDir, { mode: 0o700 });
      chownTree(root, await serviceUser());
      return { name, dataDir };
    },
    async start(restored, login) {
      const root = rootOf(restored.name);
      const user = await serviceUser();
      const port = await choosePort(undefined);
      const spec = { name: restored.name, dataDir: restored.dataDir, port, socketDir: socketDirFor(path.join(root, 'run'), crypto.createHash('sha256').update(root).digest('hex').slice(0, 8)), logFile: path.join(root, 'postgres.log') };
      writeClusterConf(restored.dataDir, { ...baseSettings(spec), archive_mode: 'off' });
      chownTree(root, user);
      await startCluster(spec, user);
      await registerExtraCluster(spec);
      // The password stays out of argv and the terminal: a 0600 pgpass file beside the cluster.
      const passwordFile = path.join(root, 'pgpass');
      const escape = (v: string) => v.replace(/[\\:]/g, (c) => `\\${c}`);
      fs.writeFileSync(passwordFile, `127.0.0.1:${port}:*:${escape(login.user)}:${escape(login.password)}\n`, { mode: 0o600 });
      fs.chmodSync(passwordFile, 0o600);
      return { port, url: clusterUrl(port, login.user, login.password, login.database), logFile: spec.logFile, passwordFile };
    },
  };
}
