/**
 * Decoder for PostgreSQL's built-in logical replication output plugin
 * (pgoutput, protocol version 1), read through the SQL function
 * pg_logical_slot_peek_binary_changes: one message per row. Values arrive
 * in their text form, so any column type round-trips through its own input
 * function on the target.
 */

export interface RelationInfo {
  id: number;
  schema: string;
  name: string;
  columns: { name: string; typeOid: number; key: boolean }[];
}

/** A column's value: text, null, or 'unchanged' (a TOASTed value the update did not touch). */
export type Value = string | null | { unchanged: true };
export type Tuple = Value[];

export type Message =
  | { tag: 'begin'; finalLsn: string; commitTime: Date; xid: number }
  | { tag: 'commit'; commitLsn: string; endLsn: string; commitTime: Date }
  | { tag: 'relation'; relation: RelationInfo }
  | { tag: 'insert'; relationId: number; row: Tuple }
  | { tag: 'update'; relationId: number; old?: Tuple; row: Tuple }
  | { tag: 'delete'; relationId: number; old: Tuple }
  | { tag: 'truncate'; relationIds: number[] }
  | { tag: 'other'; code: string };

// Microseconds between the Unix epoch and PostgreSQL's (2000-01-01).
const PG_EPOCH_US = 946_684_800_000_000n;

class Reader {
  private at = 0;
  constructor(private readonly buf: Buffer) {}
  byte(): string {
    return String.fromCharCode(this.buf[this.at++]!);
  }
  int8(): number {
    return this.buf.readInt8(this.at++);
  }
  int16(): number {
    const v = this.buf.readInt16BE(this.at);
    this.at += 2;
    return v;
  }
  int32(): number {
    const v = this.buf.readInt32BE(this.at);
    this.at += 4;
    return v;
  }
  uint32(): number {
    const v = this.buf.readUInt32BE(this.at);
    this.at += 4;
    return v;
  }
  int64(): bigint {
    const v = this.buf.readBigUInt64BE(this.at);
    this.at += 8;
    return v;
  }
  lsn(): string {
    const v = this.int64();
    return `${(v >> 32n).toString(16).toUpperCase()}/${(v & 0xffffffffn).toString(16).toUpperCase()}`;
  }
  time(): Date {
    return new Date(Number((this.int64() + PG_EPOCH_US) / 1000n));
  }
  cstring(): string {
    const end = this.buf.indexOf(0, this.at);
    const s = this.buf.toString('utf8', this.at, end);
    this.at = end + 1;
    return s;
  }
  tuple(): Tuple {
    const n = this.int16();
    const values: Tuple = [];
    for (let i = 0; i < n; i++) {
      const kind = this.byte();
      if (kind === 'n') values.push(null);
      else if (kind === 'u') values.push({ unchanged: true });
      else if (kind === 't') {
        const len = this.int32();
        values.push(this.buf.toString('utf8', this.at, this.at + len));
        this.at += len;
      } else throw new Error(`pgoutput: unexpected tuple value kind "${kind}"`);
    }
    return values;
  }
}

export function decode(data: Buffer): Message {
  const r = new Reader(data);
  const tag = r.byte();
  switch (tag) {
    case 'B':
      return { tag: 'begin', finalLsn: r.lsn(), commitTime: r.time(), xid: r.uint32() };
    case 'C': {
      r.int8(); // flags, unused
      return { tag: 'commit', commitLsn: r.lsn(), endLsn: r.lsn(), commitTime: r.time() };
    }
    case 'R': {
      const id = r.uint32();
      const schema = r.cstring();
      const name = r.cstring();
      r.int8(); // replica identity setting
      const n = r.int16();
      const columns = [];
      for (let i = 0; i < n; i++) {
        const flags = r.int8();
        const column = r.cstring();
        const typeOid = r.uint32();
        r.int32(); // typmod
        columns.push({ name: column, typeOid, key: (flags & 1) === 1 });
      }
      return { tag: 'relation', relation: { id, schema, name, columns } };
    }
    case 'I': {
      const relationId = r.uint32();
      r.byte(); // 'N'
      return { tag: 'insert', relationId, row: r.tuple() };
    }
    case 'U': {
      const relationId = r.uint32();
      let kind = r.byte();
      let old: Tuple | undefined;
      if (kind === 'K' || kind === 'O') {
        old = r.tuple();
        kind = r.byte();
      }
      return { tag: 'update', relationId, row: r.tuple(), ...(old ? { old } : {}) };
    }
    case 'D': {
      const relationId = r.uint32();
      r.byte(); // 'K' or 'O'
      return { tag: 'delete', relationId, old: r.tuple() };
    }
    case 'T': {
      const n = r.int32();
      r.int8(); // options (cascade, restart identity)
      const relationIds = [];
      for (let i = 0; i < n; i++) relationIds.push(r.uint32());
      return { tag: 'truncate', relationIds };
    }
    default:
      return { tag: 'other', code: tag };
  }
}
