import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Masker } from '../../runbooks/engine/mask';
import { progressEstimate, progressText } from '../../runbooks/engine/progress';
import { Run } from '../../runbooks/engine/run';

let home: string;
beforeEach(() => {
  home = fs.mkdtempSync(path.join(os.tmpdir(), 'tv-progress-'));
  process.env.TICKVAULT_HOME = home;
});
afterEach(() => fs.rmSync(home, { recursive: true, force: true }));

function jsonRun(): { run: Run; events: () => Record<string, unknown>[] } {
  const stdout = new PassThrough();
  let text = '';
  stdout.on('data', (d: Buffer) => (text += d.toString()));
  const run = new Run({ runbook: 'progress-test', json: true, dryRun: false, yes: true, masker: new Masker(), stdout, stderr: new PassThrough(), audit: false });
  return { run, events: () => text.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>) };
}

describe('progress', () => {
  it('estimates what is left from the rate so far', () => {
    expect(progressEstimate(0, 10, 500)).toEqual({ elapsedMs: 500, etaMs: null });
    expect(progressEstimate(5, 20, 1000)).toEqual({ elapsedMs: 1000, etaMs: 3000 });
    expect(progressEstimate(20, 20, 4000)).toEqual({ elapsedMs: 4000, etaMs: 0 });
    expect(progressText(1234, 5000, 'rows', { elapsedMs: 2000, etaMs: 6100 })).toBe('1,234 of 5,000 rows · 2.0 s · ~6.1 s left');
    expect(progressText(5, 5, 'TOC entries', { elapsedMs: 61_000, etaMs: 0 })).toBe('5 of 5 TOC entries · 1 min 01 s');
  });

  it('progress events never go backwards, carry elapsed and estimate, and completion is sent once', async () => {
    const { run, events } = jsonRun();
    run.expectSteps(2);
    await run.step('copy', async (step) => {
      step.progress(0, 4, 'batches');
      step.progress(4, 4, 'batches');
      step.progress(2, 4, 'batches'); // a late, stale report
      step.progress(4, 4, 'batches');
      step.progress(6, 4, 'batches'); // overshoot: total grows to cover it
    });
    await run.step('second', async () => undefined);
    await run.finish({});
    const progress = events().filter((e) => e.event === 'progress');
    expect(progress.map((e) => `${String(e.done)}/${String(e.total)}`)).toEqual(['0/4', '4/4', '6/6']);
    for (const e of progress) expect(typeof e.elapsedMs).toBe('number');
    expect(progress.at(-1)!.etaMs).toBe(0);
    expect(events().filter((e) => e.event === 'start' && e.step).map((e) => `${String(e.index)}/${String(e.of)}`)).toEqual(['1/2', '2/2']);
  });
});
