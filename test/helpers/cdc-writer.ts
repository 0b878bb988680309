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

  constructor(private readonly url: string, private readonly table: string, private nextId: number, seed = 7) {
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
      const op = this.random(10);
      const id = 1 + this.random(this.nextId - 1);
      try {
        if (op < 3) {
          const r = await this.client.query(`INSERT INTO ${this.table} (id, v, note, big, tags, doc) VALUES ($1, $2, $3, repeat(md5($1::bigint::text), 200), ARRAY['a b', 'c"d'], jsonb_build_object('k', $1::bigint))`, [this.nextId++, op, `new 'row' ${op}`]);
          this.counts.inserts += r.rowCount ?? 0;
        } else if (op < 6) {
          // Only v changes: the TOASTed column `big` arrives as "unchanged".
          const r = await this.client.query(`UPDATE ${this.table} SET v = v + 1 WHERE id = $1`, [id]);
          this.counts.updates += r.rowCount ?? 0;
        } else if (op < 7) {
          const r = await this.client.query(`UPDATE ${this.table} SET note = note || ' x', big = repeat(md5(random()::text), 150), doc = doc || '{"u": true}' WHERE id = $1`, [id]);
          this.counts.updates += r.rowCount ?? 0;
        } else if (op < 8) {
          // The key changes: the old key must go.
          const r = await this.client.query(`UPDATE ${this.table} SET id = $2 WHERE id = $1`, [id, this.nextId++]);
          this.counts.updates += r.rowCount ?? 0;
        } else {
          const r = await this.client.query(`DELETE FROM ${this.table} WHERE id = $1`, [id]);
          this.counts.deletes += r.rowCount ?? 0;
        }
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

/** The table the writer works on, seeded with `rows` rows (some TOASTed). */
export const CDC_TABLE_DDL = (table: string, rows: number) => [
  `CREATE TABLE ${table} (id bigint PRIMARY KEY, v int NOT NULL, note text NOT NULL, big text NOT NULL, tags text[], doc jsonb)`,
  // Stored out of line without compression, so updates that leave it alone send it as "unchanged".
  `ALTER TABLE ${table} ALTER COLUMN big SET STORAGE EXTERNAL`,
  `INSERT INTO ${table} SELECT g, g % 10, 'row ''' || g, repeat(md5(g::text), CASE WHEN g % 5 = 0 THEN 200 ELSE 1 END), ARRAY['x', g::text], jsonb_build_object('g', g) FROM generate_series(1, ${rows}) g`,
];
