import path from 'node:path';

/** The repository root (infra/ is one level below it): the dev runbook image's build context. */
export const projectRoot = path.resolve(import.meta.dirname, '..');
