/** What a faithful copy records about the schema it made on the target. */
export interface NotCarried {
  kind: string;
  name: string;
  reason: string;
}

/** Something this copy created on the target; rollback drops exactly these. */
export interface CreatedObject {
  kind: 'schema' | 'extension' | 'type' | 'domain' | 'function' | 'sequence' | 'collation' | 'table';
  /** SQL-ready identity: quoted qualified name, or a function's regprocedure. */
  sql: string;
}

/** Restored after the data, each on its own; a failure is listed, not fatal. */
export interface OptionalItem {
  kind: 'foreign key' | 'trigger' | 'policy';
  name: string;
  sql: string;
  state: 'pending' | 'done' | 'not carried';
  reason?: string;
}

export interface SchemaPlan {
  /** One script, run in one transaction before the data. */
  preData: string;
  /** Indexes, keys, checks added after the data (one transaction). */
  postData: string;
  optional: OptionalItem[];
  notCarried: NotCarried[];
  created: CreatedObject[];
  /** Sequences created here whose value is taken from the source after the data. */
  sequences: string[];
  /** The table and all its partitions. */
  members: string[];
}

