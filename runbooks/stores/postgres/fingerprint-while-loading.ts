import type pg from 'pg';
import { hashesByName, type RowHashAlgo } from '../../verify/row-hash';
import { fingerprintParts, slicePart, timeSlices, type FingerprintPart } from './fingerprint-parts';
import { fingerprintsFromSums, hashPart, hashParts, tableShape, type PartJob, type PartSums, type TableFingerprint, type TableShape } from './fingerprint';
import { NORMALISE_SESSION, qualify, type TableName } from './sql';
import { tableDataEntry } from './toc-line';

/**
 * A restore's verification that starts while the data still loads. A
 * table, or one time slice of a hypertable, is hashed on one session beside
 * the load as soon as every relation it reads has its data (pg_restore
 * reported its TABLE DATA entry finished, or the split load ended); what is
 * left is hashed on every session beside post-data. The sums are the same
 * as fingerprintParallel's: each row is in exactly one part.
 *
 * Early hashing is only ever a head start. A unit whose relations cannot
 * all be told apart in the dump's listing waits for the end of the load.
 */

const keyOf = (t: TableName) => `${t.schema}\u0000${t.name}`;

interface Unit {
  table: TableName;
  algo: RowHashAlgo;
  shape: TableShape;
  /** A hypertable's time slice; undefined: the whole table. */
  slice?: FingerprintPart;
  /** Relations (keys) whose data must be loaded first. */
  needs: Set<string>;
  /** How many of them are still loading. */
  waiting?: number;
  /** Planned once its data is in (block ranges need the loaded size); hashed ones are removed. */
  parts?: FingerprintPart[];
  hashed: boolean;
}

/** pg_restore -j's log line for a finished entry (PostgreSQL 15 wording). */
export const TABLE_DATA_DONE = /^pg_restore: finished item (\d+) TABLE DATA /;

/**
 * The known relations (keys) that a listing's "schema name owner" can name.
 * Names may hold spaces, so every split at two spaces is tried; an entry
 * counts only when exactly one fits.
 */
function relationsFitting(rest: string, known: Set<string>): string[] {
  const spaces = [...rest.matchAll(/ /g)].map((m) => m.index!);
  const fits = new Set<string>();
  for (const [i, a] of spaces.entries()) {
    for (const b of spaces.slice(i + 1)) {
      const key = keyOf({ schema: rest.slice(0, a), name: rest.slice(a + 1, b) });
      if (known.has(key)) fits.add(key);
    }
  }
  return [...fits];
}

/** A slice is one part; a table is cut as fingerprintParallel cuts it. */
const partsOf = (client: pg.ClientBase, unit: Unit, workers: number): Promise<FingerprintPart[]> =>
  unit.slice ? Promise.resolve([unit.slice]) : fingerprintParts(client, unit.table, workers, hashesByName(unit.algo));

export class FingerprintWhileLoading {
  private readonly units: Unit[] = [];
  private readonly shapes = new Map<string, TableShape>();
  private readonly sums: PartSums = new Map();
  /** Relation keys with TABLE DATA entries still to load, and how many. */
  private readonly pending = new Map<string, number>();
  /** Relation key → the units that need it. */
  private readonly neededBy = new Map<string, Unit[]>();
  /** Dump id of each TABLE DATA entry → its relation key. */
  private readonly entries = new Map<number, string>();
  /** The listing named a TABLE DATA entry whose relation is not known for sure: nothing is hashed early. */
  private unsure = false;
  private stopped = false;
  private closed = false;
  private wake: (() => void) | undefined;
  private idle: (() => void)[] = [];
  private loop: Promise<void> | undefined;
  private planned: Promise<void> | undefined;
  /** Parts this session failed on: hashed again by finish(), which reports the cause. */
  private readonly retry: PartJob[] = [];
  /** Hashed during the load: parts and rows (reported). */
  readonly early = { parts: 0, rows: 0 };

  private constructor(
    private readonly connectTo: () => Promise<pg.Client>,
    private readonly tables: { table: TableName; algo: RowHashAlgo }[],
    private readonly client: pg.Client,
  ) {}

  /** Plan (the tables exist, TimescaleDB's catalog is loaded) and start hashing what is ready. */
  static async start(connectTo: () => Promise<pg.Client>, tables: { table: TableName; algo: RowHashAlgo }[], listing: string): Promise<FingerprintWhileLoading> {
    const client = await connectTo();
    const self = new FingerprintWhileLoading(connectTo, tables, client);
    try {
      await client.query(NORMALISE_SESSION);
      await self.readListing(listing);
    } catch (error) {
      await client.end().catch(() => undefined);
      throw error;
    }
    // Planning queries every table: it runs beside the load, not before it.
    self.planned = self.planUnits();
    self.loop = self.planned.then(() => self.run());
    self.loop.catch(() => undefined); // a planning failure is thrown by finish(), not left unhandled
    return self;
  }

  /** pg_restore finished this entry (or the split load loaded it). */
  entryDone(dumpId: number): void {
    const key = this.entries.get(dumpId);
    if (key === undefined || !this.entries.delete(dumpId)) return;
    const left = (this.pending.get(key) ?? 1) - 1;
    if (left > 0) {
      this.pending.set(key, left);
      return;
    }
    this.pending.delete(key);
    for (const unit of this.neededBy.get(key) ?? []) unit.waiting!--;
    this.wake?.();
  }

  /** Resolves once everything ready so far is hashed (tests). */
  whenIdle(): Promise<void> {
    const idle = new Promise<void>((resolve) => {
      this.idle.push(resolve);
      this.wake?.();
    });
    // Or the loop has ended (planning failed, or stopped).
    return Promise.race([idle, this.loop!.then(() => undefined, () => undefined)]);
  }

  /**
   * Stop hashing beside the load and hash the rest on `workers` sessions of
   * their own, without waiting for the part this session is on: it ends
   * beside them. Returns every table's fingerprint.
   */
  async finish(workers: number): Promise<TableFingerprint[]> {
    this.stopped = true;
    this.wake?.();
    const jobs: PartJob[] = [];
    let planner: pg.Client | undefined;
    try {
      await this.planned;
      planner = await this.connectTo();
      await planner.query(NORMALISE_SESSION);
      for (const unit of this.units.filter((u) => !u.hashed)) {
        for (const part of unit.parts ?? (await partsOf(planner, unit, workers))) jobs.push({ shape: unit.shape, algo: unit.algo, part });
      }
      jobs.push(...this.retry.splice(0));
    } catch (error) {
      await planner?.end().catch(() => undefined);
      await this.abandon();
      throw error;
    }
    try {
      await Promise.all([hashParts(this.connectTo, jobs, workers, this.sums, planner), this.loop]);
      // A part this session failed on at the end: hashed again, so the failure names its column.
      for (const job of this.retry.splice(0)) await hashPart(this.client, job, this.sums);
    } finally {
      await this.abandon();
    }
    return fingerprintsFromSums(this.tables, this.shapes, this.sums);
  }

  /** The restore failed: stop and close. */
  async abandon(): Promise<void> {
    await this.stop().catch(() => undefined);
    if (this.closed) return;
    this.closed = true;
    await this.client.end().catch(() => undefined);
  }

  /** Stop hashing; throws what planning failed with (the verification cannot go on without it). */
  private async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    try {
      await this.loop;
    } finally {
      for (const resolve of this.idle.splice(0)) resolve();
    }
  }

  /**
   * Tie each TABLE DATA entry still to load to its relation. pg_restore's log
   * prints names as they are: a name with a line break could write a forged
   * "finished item" line, so then nothing is hashed early.
   */
  private async readListing(listing: string): Promise<void> {
    const { rows } = await this.client.query<{ schema: string; name: string }>(
      `SELECT n.nspname AS schema, c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'p', 'f')`,
    );
    const { rows: breaks } = await this.client.query<{ any: boolean }>(
      `SELECT EXISTS (SELECT 1 FROM pg_class WHERE relname ~ '[\n\r]') OR EXISTS (SELECT 1 FROM pg_namespace WHERE nspname ~ '[\n\r]') AS any`,
    );
    if (breaks[0]!.any) this.unsure = true;
    const known = new Set(rows.map(keyOf));
    for (const line of listing.split('\n')) {
      const entry = tableDataEntry(line);
      if (!entry) continue;
      const fits = relationsFitting(entry.label, known);
      if (fits.length !== 1) {
        this.unsure = true;
        continue;
      }
      this.entries.set(entry.dumpId, fits[0]!);
      this.pending.set(fits[0]!, (this.pending.get(fits[0]!) ?? 0) + 1);
    }
  }

  /** Each table's units and what they wait for. */
  private async planUnits(): Promise<void> {
    for (const { table, algo } of this.tables) {
      const shape = await tableShape(this.client, table);
      this.shapes.set(qualify(table), shape);
      const slices = await this.sliceUnits(table, algo, shape).catch(() => undefined);
      if (slices) this.units.push(...slices);
      else this.units.push({ table, algo, shape, needs: await this.family(table), hashed: false });
    }
    for (const unit of this.units) {
      unit.waiting = 0;
      for (const key of unit.needs) {
        if (!this.pending.has(key)) continue;
        unit.waiting++;
        this.neededBy.set(key, [...(this.neededBy.get(key) ?? []), unit]);
      }
    }
  }

  /** The table and its descendants (partitions, inheritance children, chunks). */
  private async family(table: TableName): Promise<Set<string>> {
    const { rows } = await this.client.query<{ schema: string; name: string }>(
      `WITH RECURSIVE tree(oid) AS (SELECT to_regclass($1)::oid UNION SELECT i.inhrelid FROM pg_inherits i JOIN tree ON i.inhparent = tree.oid)
       SELECT n.nspname AS schema, c.relname AS name FROM tree JOIN pg_class c ON c.oid = tree.oid JOIN pg_namespace n ON n.oid = c.relnamespace`,
      [qualify(table)],
    );
    return new Set(rows.map(keyOf));
  }

  /**
   * A hypertable's slices, each needing the hypertable, every chunk whose range meets the slice
   * and their compressed tables (chunks may overlap: attach_chunk, or a changed chunk interval).
   */
  private async sliceUnits(table: TableName, algo: RowHashAlgo, shape: TableShape): Promise<Unit[] | undefined> {
    const slices = await timeSlices(this.client, table);
    if (!slices) return undefined;
    const { rows } = await this.client.query<{ first: number; last: number; schema: string; name: string; cschema: string | null; cname: string | null }>(
      `SELECT (SELECT count(*)::int FROM unnest($3::text[]) b WHERE b::${slices.type} <= coalesce(ch.range_start::text, ch.range_start_integer::text)::${slices.type}) AS first,
              (SELECT count(*)::int FROM unnest($3::text[]) b WHERE b::${slices.type} < coalesce(ch.range_end::text, ch.range_end_integer::text)::${slices.type}) AS last,
              ch.chunk_schema::text AS schema, ch.chunk_name::text AS name, cc.schema_name::text AS cschema, cc.table_name::text AS cname
         FROM timescaledb_information.chunks ch
         JOIN _timescaledb_catalog.chunk c ON c.schema_name = ch.chunk_schema AND c.table_name = ch.chunk_name
         LEFT JOIN _timescaledb_catalog.chunk cc ON cc.id = c.compressed_chunk_id
        WHERE ch.hypertable_schema = $1 AND ch.hypertable_name = $2`,
      [table.schema, table.name, slices.bounds],
    );
    const units: Unit[] = Array.from({ length: slices.bounds.length + 1 }, (_, i) => ({ table, algo, shape, slice: slicePart(slices, i), needs: new Set([keyOf(table)]), hashed: false }));
    for (const r of rows) {
      if (!(r.first <= r.last && units[r.first] && units[r.last])) return undefined;
      for (const unit of units.slice(r.first, r.last + 1)) {
        unit.needs.add(keyOf(r));
        if (r.cschema && r.cname) unit.needs.add(keyOf({ schema: r.cschema, name: r.cname }));
      }
    }
    return units;
  }


  private ready(skip: Set<Unit>): Unit | undefined {
    if (this.unsure) return undefined;
    return this.units.find((u) => !u.hashed && !skip.has(u) && u.waiting === 0);
  }

  /** One session hashes ready units until the load ends; a failed unit is left for finish(), which names the cause. */
  private async run(): Promise<void> {
    const failed = new Set<Unit>();
    while (!this.stopped) {
      const unit = this.ready(failed);
      if (!unit) {
        for (const resolve of this.idle.splice(0)) resolve();
        await new Promise<void>((resolve) => (this.wake = resolve));
        this.wake = undefined;
        continue;
      }
      // Part by part, so that when the load ends the rest of a big table goes to every session.
      // A part is taken out before it is hashed: finish() hands out only the parts not started.
      try {
        unit.parts ??= await partsOf(this.client, unit, 2);
      } catch {
        failed.add(unit);
        continue;
      }
      while (unit.parts.length && !this.stopped) {
        const job = { shape: unit.shape, algo: unit.algo, part: unit.parts.shift()! };
        const before = this.sums.get(qualify(unit.table))?.rows ?? 0;
        try {
          await hashPart(this.client, job, this.sums);
        } catch {
          this.retry.push(job);
          failed.add(unit);
          break;
        }
        this.early.parts++;
        this.early.rows += (this.sums.get(qualify(unit.table))?.rows ?? 0) - before;
      }
      unit.hashed = unit.parts.length === 0 && !failed.has(unit);
    }
  }
}
