/**
 * "Where it acts": a connection setting described for the operator (host,
 * port, database; never the password) with where its value came from.
 */
export type SettingOrigin = 'flag' | 'env' | 'local-stack' | 'unset';

export interface Target {
  setting: string;
  origin: SettingOrigin;
  /** e.g. "postgres 127.0.0.1:5432 db tickvault as tickvault" */
  where: string;
}

const ORIGIN_TEXT: Record<SettingOrigin, string> = {
  flag: 'from a flag',
  env: 'from the environment',
  'local-stack': 'from .tickvault/local/env',
  unset: 'unset',
};

export const originText = (origin: SettingOrigin): string => ORIGIN_TEXT[origin];

/** Settings that name a place the run reads or changes. */
export const isTargetSetting = (name: string): boolean => /(_URL|^BACKUP_REPO|^TICKVAULT_VAULT|url|repo|vault)$/i.test(name);

export function describeTarget(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return value.includes('://') ? '(unparsable URL)' : value;
  }
  const hostPort = `${url.hostname || 'localhost'}${url.port ? `:${url.port}` : ''}`;
  const user = url.username ? ` as ${decodeURIComponent(url.username)}` : '';
  switch (url.protocol) {
    case 'postgres:':
    case 'postgresql:':
      return `postgres ${hostPort} db ${decodeURIComponent(url.pathname.slice(1)) || '(default)'}${user}`;
    case 'redis:':
    case 'rediss:':
      return `redis ${hostPort}${url.pathname.length > 1 ? ` db ${url.pathname.slice(1)}` : ''}${url.protocol === 'rediss:' ? ' (TLS)' : ''}`;
    case 'file:':
      return `files ${decodeURIComponent(url.pathname)}`;
    case 's3:':
      return `s3 bucket ${url.hostname}${url.pathname.length > 1 ? ` prefix ${url.pathname.slice(1)}` : ''}`;
    case 'ssm:':
      return `ssm ${url.pathname || url.hostname}`;
    default:
      return `${url.protocol.replace(':', '')} ${hostPort}${url.pathname.length > 1 ? url.pathname : ''}`;
  }
}
