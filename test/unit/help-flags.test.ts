import { describe, expect, it } from 'vitest';
import { describeRunbooks, type RunbookDescription } from '../../runbooks/engine/cli';
import { RUNBOOK_NAMES, RUNBOOKS } from '../../runbooks/cli/runbooks';

// Each runbook's declared flags, collected without running it (the same path `tickvault completion` uses).
const specs: RunbookDescription[] = await describeRunbooks(() => Promise.all(RUNBOOK_NAMES.map((name) => RUNBOOKS[name].load())));
const byName = new Map(specs.map((s) => [s.runbook, s]));

/** Whether the help text names the flag as a word (not as part of a longer flag). */
const mentions = (help: string, flag: string) => new RegExp(`(^|[^\\w-])${flag.replace(/[-]/g, '\\-')}(?![\\w-])`, 'm').test(help);

describe('help texts list every flag the runbook accepts', () => {
  it('collects every runbook', () => {
    expect(specs.map((s) => s.runbook).sort()).toEqual([...RUNBOOK_NAMES].sort());
  });

  it.each(RUNBOOK_NAMES)('%s', (name) => {
    const spec = byName.get(name)!;
    expect(spec.flags.length).toBeGreaterThan(4);
    const missing = spec.flags.filter((flag) => !mentions(spec.help, flag));
    expect(missing, `${name} --help does not mention: ${missing.join(', ')}`).toEqual([]);
  });

  it('the check can fail: a flag the help omits is caught', () => {
    expect(mentions('  --retention 30d   keep', '--retention')).toBe(true);
    expect(mentions('  --retention-days 30', '--retention')).toBe(false);
    expect(mentions('  --database-url URL', '--database')).toBe(false);
  });
});

describe('one vocabulary across runbooks', () => {
  const flagsOf = (name: string) => byName.get(name)!.flags;

  it('one database is --database-url; two are --source-url and --target-url', () => {
    for (const spec of specs) {
      const urls = spec.flags.filter((f) => /-url$/.test(f) && !/redis|qdrant/.test(f));
      for (const url of urls) expect(['--database-url', '--source-url', '--target-url'], `${spec.runbook} ${url}`).toContain(url);
    }
    expect(flagsOf('migrate')).toEqual(expect.arrayContaining(['--database-url', '--source-url', '--target-url']));
    expect(flagsOf('verify')).toEqual(expect.arrayContaining(['--source-url', '--target-url']));
  });

  it('durations are durations: --retention replaces --retention-days (kept as a deprecated alias)', () => {
    expect(flagsOf('backup')).toEqual(expect.arrayContaining(['--retention', '--retention-days']));
    expect(byName.get('backup')!.help).toMatch(/--retention 30d/);
    expect(byName.get('backup')!.help).toMatch(/--retention-days 30: the old spelling, deprecated/);
  });

  it('--scale has one range in seed and drill', async () => {
    for (const name of ['seed', 'drill']) expect(byName.get(name)!.help, name).toMatch(/\(0, 100\]/);
    const { SCALE_MAX } = await import('../../runbooks/engine/cli');
    expect(SCALE_MAX).toBe(100);
  });

  it("seed's help names the generator's real default end", async () => {
    const { DEFAULT_END } = await import('../../runbooks/market-data/seed');
    expect(byName.get('seed')!.help).toContain(DEFAULT_END.toISOString());
  });
});
