import pg from 'pg';

/**
 * A live writer for change-capture tests: inserts, updates (some leave the
 * TOASTed column untouched, some change the key) and deletes rows of one
 * table, one autocommit statement at a time, as fast as the server takes
 * them. Counts exactly what it changed (rowCount), and lets a test wait for
 * "n more writes" or "fenced" by counters, never by time.
 */
export class LiveWriter {
  readonly counts = { inserts: 0, updates: 0, deletes: 0, fenced: 0 };
  private client!: pg.Client;
  private stopping = false;
  private loop?: Promise<void>;
  private waiters: { when: () => boolean; resolve: () => void; reject: (e: Error) => void }[] = [];
  private failed?: Error;
  private seed: number;

  constructor(private readonly url: string, private readonly table: string, private nextId: number, seed = 7, private readonly step?: Step) {
    this.seed = seed;
  }

  get writes(): number {
    return this.counts.inserts + this.counts.updates + this.counts.deletes;
  }

  private random(n: number): number {
    this.seed = (this.seed * 1103515245 + 12345) % 2147483648;
    return this.seed % n;
  }

  async start(): Promise<this> {
    this.client = new pg.Client({ connectionString: this.url });
    this.client.on('error', () => undefined);
    await this.client.connect();
    this.loop = this.run();
    return this;
  }

  private async run(): Promise<void> {
    while (!this.stopping) {
      try {
        const [kind, n] = await (this.step ?? defaultStep)(this.client, this.table, (k) => this.random(k), () => this.nextId++, this.nextId);
        this.counts[kind] += n;
      } catch (error) {
        if ((error as { code?: string }).code === '42501') this.counts.fenced++;
        else {
          this.failed = error as Error;
          for (const w of this.waiters) w.reject(this.failed);
          throw error;
        }
      }
      this.waiters = this.waiters.filter((w) => (w.when() ? (w.resolve(), false) : true));
    }
  }

  /** Resolves once `n` more rows were changed (or writes were refused n times, with fenced). */
  more(n: number, what: 'writes' | 'fenced' = 'writes'): Promise<void> {
    const target = (what === 'writes' ? this.writes : this.counts.fenced) + n;
    if (this.failed) return Promise.reject(this.failed);
    return new Promise((resolve, reject) => this.waiters.push({ when: () => (what === 'writes' ? this.writes : this.counts.fenced) >= target, resolve, reject }));
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await this.loop;
    await this.client.end();
  }
}

/** One write: which counter it moves and by how many rows. */
export type Step = (client: pg.Client, table: string, random: (n: number) => number, newId: () => number, nextId: number) => Promise<['inserts' | 'updates' | 'deletes', number]>;

const defaultStep: Step = async (client, table, random, newId, nextId) => {
  const op = random(10);
  const id = 1 + random(nextId - 1);
  if (op < 3) {
    const r = await client.query(`INSERT INTO ${table} (id, v, note, big, tags, doc) VALUES ($1, $2, $3, repeat(md5($1::bigint::text), 200), ARRAY['a b', 'c"d'], jsonb_build_object('k', $1::bigint))`, [newId(), op, `new 'row' ${op}`]);
    return ['inserts', r.rowCount ?? 0];
  }
  if (op < 6) {
    // Only v changes: the TOASTed column \`big\` arrives as "unchanged".
    const r = await client.query(`UPDATE ${table} SET v = v + 1 WHERE id = $1`, [id]);
    return ['updates', r.rowCount ?? 0];
  }
  if (op < 7) {
    const r = await client.query(`UPDATE ${table} SET note = note || ' x', big = repeat(md5(random()::text), 150), doc = doc || '{"u": true}' WHERE id = $1`, [id]);
    return ['updates', r.rowCount ?? 0];
  }
  if (op < 8) {
    // The key changes: the old key must go.
    const r = await client.query(`UPDATE ${table} SET id = $2 WHERE id = $1`, [id, newId()]);
    return ['updates', r.rowCount ?? 0];
  }
  const r = await client.query(`DELETE FROM ${table} WHERE id = $1`, [id]);
  return ['deletes', r.rowCount ?? 0];
};

/** tick_data (seed 004): new ticks, corrected prices and timestamps, deleted ticks. */
export const tickStep: Step = async (client, table, random, newId, nextId) => {
  const op = random(10);
  const id = 1 + random(nextId - 1);
  if (op < 4) {
    const r = await client.query(`INSERT INTO ${table} (id, symbol, ts, price, volume, side, exchange) SELECT $1, symbol, ts + interval '1 second', price + 0.01, volume, side, exchange FROM ${table} ORDER BY id DESC LIMIT 1`, [newId()]);
    return ['inserts', r.rowCount ?? 0];
  }
  if (op < 7) {
    const r = await client.query(`UPDATE ${table} SET price = price + 0.5 WHERE id = $1`, [id]);
    return ['updates', r.rowCount ?? 0];
  }
  if (op < 8) {
    // The partition column moves: on the hypertable the row changes chunk.
    const r = await client.query(`UPDATE ${table} SET ts = ts - interval '3 days' WHERE id = $1`, [id]);
    return ['updates', r.rowCount ?? 0];
  }
  const r = await client.query(`DELETE FROM ${table} WHERE id = $1`, [id]);
  return ['deletes', r.rowCount ?? 0];
};

/** The table the writer works on, seeded with `rows` rows (some TOASTed). */
export const CDC_TABLE_DDL = (table: string, rows: number) => [
  `CREATE TABLE ${table} (id bigint PRIMARY KEY, v int NOT NULL, note text NOT NULL, big text NOT NULL, tags text[], doc jsonb)`,
  // Stored out of line without compression, so updates that leave it alone send it as "unchanged".
  `ALTER TABLE ${table} ALTER COLUMN big SET STORAGE EXTERNAL`,
  `INSERT INTO ${table} SELECT g, g % 10, 'row ''' || g, repeat(md5(g::text), CASE WHEN g % 5 = 0 THEN 200 ELSE 1 END), ARRAY['x', g::text], jsonb_build_object('g', g) FROM generate_series(1, ${rows}) g`,
];
