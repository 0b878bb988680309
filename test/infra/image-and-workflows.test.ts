import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { TASK_HOME } from '../../infra/components/backup-schedule';
import { TIMESCALEDB_IMAGE } from '../../infra/config';
import { stackConfig } from '../../infra/mocks';
import { nextRun, parseCron } from '../../infra/scheduler/cron';
import { root } from '../helpers/runbook';

const read = (file: string) => fs.readFileSync(path.join(root, file), 'utf8');
const pgMajor = (image: string) => Number(/:pg(\d+)/.exec(image)?.[1]);

describe('runbook image (Dockerfile)', () => {
  const dockerfile = read('Dockerfile');

  it('client tools of the server major: PG_MAJOR equals the major of every configured TimescaleDB image', () => {
    const major = Number(/^ARG PG_MAJOR=(\d+)$/m.exec(dockerfile)?.[1]);
    expect(dockerfile).toContain('"postgresql-client-${PG_MAJOR}"');
    const prod = JSON.parse(stackConfig('prod', root).values['tickvault:aws']!);
    const images = [TIMESCALEDB_IMAGE, prod.database?.image ?? TIMESCALEDB_IMAGE];
    for (const image of images) expect(pgMajor(image), image).toBe(major);
    expect(major).toBe(15);
  });

  it('TICKVAULT_HOME is the task home, created and owned by the image user; /app stays root-owned', () => {
    expect(dockerfile).toMatch(new RegExp(`^ENV TICKVAULT_HOME=${TASK_HOME}$`, 'm'));
    expect(dockerfile).toMatch(new RegExp(`mkdir -p ${TASK_HOME} && chown node:node ${TASK_HOME}`));
    const user = dockerfile.indexOf('USER node');
    expect(user).toBeGreaterThan(dockerfile.indexOf('chown node:node'));
    expect(dockerfile).toMatch(/pgbackrest/);
  });

  it('ships what the jobs run: runbooks, and the dev scheduler with its job list (not excluded by .dockerignore)', () => {
    for (const copy of ['COPY runbooks ./runbooks', 'COPY infra/jobs.ts ./infra/jobs.ts', 'COPY infra/scheduler ./infra/scheduler']) expect(dockerfile).toContain(copy);
    const ignore = read('.dockerignore').split('\n');
    expect(ignore).toEqual(expect.arrayContaining(['infra/*', '!infra/jobs.ts', '!infra/scheduler']));
    expect(ignore).not.toContain('infra');
  });
});

describe('dev scheduler cron', () => {
  it('daily and weekly EventBridge expressions, in UTC, strictly after now', () => {
    const from = new Date('2026-03-04T03:00:00Z'); // a Wednesday
    expect(nextRun('cron(0 3 * * ? *)', from).toISOString()).toBe('2026-03-05T03:00:00.000Z');
    expect(nextRun('cron(30 6 * * ? *)', from).toISOString()).toBe('2026-03-04T06:30:00.000Z');
    expect(nextRun('cron(0 7 ? * SUN *)', from).toISOString()).toBe('2026-03-08T07:00:00.000Z');
    expect(nextRun('cron(0 7 ? * SUN *)', new Date('2026-03-08T06:59:00Z')).toISOString()).toBe('2026-03-08T07:00:00.000Z');
    expect(() => parseCron('cron(0/5 * * * ? *)')).toThrow(/unsupported schedule/);
    expect(() => parseCron('cron(0 25 * * ? *)')).toThrow(/out of range/);
  });
});

describe('workflows', () => {
  const pr = parse(read('.github/workflows/pull-request.yml'));
  const main = parse(read('.github/workflows/main.yml'));
  const steps = (wf: any) => Object.values(wf.jobs).flatMap((j: any) => j.steps ?? []);

  it('concurrency groups and a pinned Pulumi CLI on every Pulumi step', () => {
    for (const wf of [pr, main]) {
      expect(wf.concurrency.group).toBeTruthy();
      expect(wf.env.PULUMI_VERSION).toMatch(/^\d+\.\d+\.\d+$/);
      const pulumi = steps(wf).filter((s: any) => String(s.uses).startsWith('pulumi/actions@'));
      expect(pulumi.length).toBeGreaterThan(0);
      for (const s of pulumi) expect(s.with['pulumi-version']).toBe('${{ env.PULUMI_VERSION }}');
    }
    const lock = JSON.parse(read('package-lock.json'));
    expect(pr.env.PULUMI_VERSION).toBe(lock.packages['node_modules/@pulumi/pulumi'].version);
  });

  it('previews of both stacks on pull requests from this repository, with OIDC and ESC, no stored token', () => {
    const preview = pr.jobs.preview;
    expect(preview.strategy.matrix.stack).toEqual(['dev', 'prod']);
    expect(preview.if).toContain('github.event.pull_request.head.repo.full_name == github.repository');
    expect(pr.permissions['id-token']).toBe('write');
    const uses = preview.steps.map((s: any) => String(s.uses));
    expect(uses.indexOf('pulumi/auth-actions@v1')).toBeLessThan(uses.findIndex((u: string) => u.startsWith('pulumi/actions@')));
    expect(uses).toContain('pulumi/esc-action@v1');
    const step = preview.steps.find((s: any) => String(s.uses).startsWith('pulumi/actions@'));
    expect(step.with).toMatchObject({ command: 'preview', 'comment-on-pr': true, policyPacks: 'infra/policy' });
    expect(JSON.stringify([pr, main])).not.toContain('PULUMI_ACCESS_TOKEN');
  });

  it('no `pulumi up` against a runner, and an image job that builds, scans and (on main) pushes', () => {
    for (const s of [...steps(pr), ...steps(main)] as any[]) expect(s.with?.command, JSON.stringify(s)).not.toBe('up');
    for (const wf of [pr, main]) {
      const image = wf.jobs.image.steps.map((s: any) => `${s.uses ?? ''} ${s.run ?? ''}`).join('\n');
      expect(image).toContain('docker/build-push-action@');
      expect(image).toContain('aquasecurity/trivy-action@');
    }
    const mainImage = main.jobs.image.steps.map((s: any) => `${s.uses ?? ''} ${s.run ?? ''}`).join('\n');
    expect(mainImage).toMatch(/docker push/);
    expect(mainImage).toMatch(/RepoDigests/);
    expect(main.permissions.packages).toBe('write');
  });
});
