import { describe, expect, it } from 'vitest';
import { bigTableData, listingWithout, NotSplittable, parseHeader, scriptPieces, type CopyHeader } from '../../runbooks/stores/postgres/split-load';

/** pg_restore's script of one TABLE DATA entry, as PostgreSQL 15 prints it. */
const HEAD = [
  '--',
  '-- PostgreSQL database dump',
  '--',
  '',
  '\\restrict abcDEF123',
  '',
  'SET statement_timeout = 0;',
  "SET client_encoding = 'UTF8';",
  "SELECT pg_catalog.set_config('search_path', '', false);",
  '',
  '--',
  '-- Data for Name: t; Type: TABLE DATA; Schema: public; Owner: me',
  '--',
  '',
  'COPY "Odd ""Schema"""."t x" (id, "note; FROM stdin;", v) FROM stdin;',
  '',
].join('\n');
// Rows that look like the end marker or a COPY line, escapes, multi-byte text, a row longer than a piece.
const ROWS = [
  '1\t\\\\.\t\\N',
  '2\t\\.x\tabc',
  '3\tCOPY x FROM stdin;\t\\t\\n\\\\',
  `4\t${'ü€😀'.repeat(40)}\tz`,
  `5\t${'long '.repeat(100)}\t0`,
  ...Array.from({ length: 200 }, (_, i) => `${i + 6}\trow ${i} ☃\t${i * 1.5}`),
].map((r) => `${r}\n`).join('');
const TAIL = '\\.\n\n\\unrestrict abcDEF123\n\n';

/** The script in chunks of the given sizes (cycled), cutting anywhere, even inside a UTF-8 character. */
async function* chunks(script: Buffer, sizes: number[]): AsyncGenerator<Buffer> {
  for (let at = 0, i = 0; at < script.length; i++) {
    const size = sizes[i % sizes.length]!;
    yield script.subarray(at, at + size);
    at += size;
  }
}

async function split(script: string, sizes: number[], pieceBytes: number) {
  let header: CopyHeader | undefined;
  const pieces: Buffer[] = [];
  for await (const piece of scriptPieces(chunks(Buffer.from(script), sizes), pieceBytes, (h) => (header = h))) pieces.push(Buffer.from(piece));
  return { header, pieces };
}

describe('a big table loads in pieces: the rows are cut only at line ends, up to the end-of-data line', () => {
  it.each([
    [[1], 7],
    [[3, 5, 2], 64],
    [[65536], 100],
    [[17, 4096], 1 << 20],
  ])('chunks %j, pieces of %i bytes: every byte of every row, once, in order', async (sizes, pieceBytes) => {
    const { header, pieces } = await split(HEAD + ROWS + TAIL, sizes, pieceBytes);
    expect(header).toEqual({
      settings: ['SET statement_timeout = 0;', "SET client_encoding = 'UTF8';", "SELECT pg_catalog.set_config('search_path', '', false);"],
      copy: 'COPY "Odd ""Schema"""."t x" (id, "note; FROM stdin;", v) FROM stdin',
    });
    expect(Buffer.concat(pieces).toString('utf8')).toBe(ROWS);
    for (const piece of pieces) expect(piece.at(-1)).toBe(0x0a);
    if (pieceBytes < 1000) expect(pieces.length).toBeGreaterThan(3);
  });

  it('an empty table gives no piece', async () => {
    expect((await split(HEAD + TAIL, [5], 10)).pieces).toEqual([]);
  });

  it('a cut-short dump (no end-of-data line) fails instead of loading part of the table', async () => {
    await expect(split(HEAD + ROWS, [13], 50)).rejects.toThrow(/ended without its end-of-data line/);
    await expect(split(HEAD + ROWS.slice(0, -1), [4096], 1 << 20)).rejects.toThrow(/cut short/);
  });

  it('no COPY statement, or a psql meta-command the loader cannot run: not splittable (left to pg_restore)', async () => {
    await expect(split('SET x = 1;\n', [3], 10)).rejects.toThrow(NotSplittable);
    await expect(split('SET x = 1;\n', [3], 10)).rejects.toThrow(/no COPY statement/);
    await expect(split(HEAD.replace('SET statement_timeout = 0;', '\\connect other') + ROWS + TAIL, [64], 100)).rejects.toThrow(/meta-command/);
  });
});

describe("the COPY statement is read whole, whatever the names and the dump's encoding", () => {
  it('a table name with a newline and a column named like the statement end: the statement ends at the real FROM stdin;', async () => {
    const copy = 'COPY public."two\nlines" (id, "x FROM stdin;\ny", "q""") FROM stdin';
    const head = HEAD.replace(/^COPY .*$/m, `${copy};`);
    for (const sizes of [[1], [7, 3], [65536]]) {
      const { header, pieces } = await split(head + ROWS + TAIL, sizes, 100);
      expect(header!.copy).toBe(copy);
      expect(Buffer.concat(pieces).toString('utf8')).toBe(ROWS);
    }
    // Up to the FROM stdin; inside the quoted column name: not a whole statement yet.
    expect(parseHeader(Buffer.from(head.slice(0, head.indexOf('stdin;\ny') + 7)))).toBeUndefined();
  });

  it('a LATIN1 dump: rows start at the right byte after a non-ASCII comment, and arrive byte for byte', async () => {
    const head = HEAD.replace("'UTF8'", "'LATIN1'").replace('Owner: me', 'Owner: jos\u00e9');
    const rows = Buffer.from('1\tcaf\u00e9\n2\t\u00fcber\n', 'latin1');
    const script = Buffer.concat([Buffer.from(head, 'latin1'), rows, Buffer.from(TAIL)]);
    let header: CopyHeader | undefined;
    const pieces: Buffer[] = [];
    for await (const piece of scriptPieces(chunks(script, [5]), 4, (h) => (header = h))) pieces.push(Buffer.from(piece));
    expect(header!.settings).toContain("SET client_encoding = 'LATIN1';");
    expect(Buffer.concat(pieces).equals(rows)).toBe(true);
  });

  it('a LATIN1 dump naming a table with non-ASCII characters: not splittable, before any row is given out', async () => {
    const head = HEAD.replace("'UTF8'", "'LATIN1'").replace('"t x"', '"caf\u00e9"');
    const script = Buffer.concat([Buffer.from(head, 'latin1'), Buffer.from(ROWS), Buffer.from(TAIL)]);
    const given: Buffer[] = [];
    await expect(
      (async () => {
        for await (const piece of scriptPieces(chunks(script, [64]), 10, () => undefined)) given.push(piece);
      })(),
    ).rejects.toThrow(/LATIN1 with non-ASCII/);
    expect(given).toEqual([]);
    // The same name in a UTF8 dump is fine.
    expect(parseHeader(Buffer.from(HEAD.replace('"t x"', '"caf\u00e9"') + ROWS))!.header.copy).toContain('"caf\u00e9"');
  });
});

describe('which entries are split', () => {
  it('TABLE DATA entries whose data file reaches the threshold; the rest stay with pg_restore', async () => {
    const fs = await import('node:fs');
    const os = await import('node:os');
    const path = await import('node:path');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tv-split-'));
    try {
      fs.writeFileSync(path.join(dir, '3340.dat.gz'), Buffer.alloc(2000));
      fs.writeFileSync(path.join(dir, '3341.dat.gz'), Buffer.alloc(10));
      fs.writeFileSync(path.join(dir, '3342.dat'), Buffer.alloc(5000));
      const listing = ['214; 1259 25883 TABLE public big me', '3340; 0 25883 TABLE DATA public big me', '3341; 0 25884 TABLE DATA public small me', '3342; 0 25885 TABLE DATA public "odd; TABLE DATA" me', '3343; 0 0 SEQUENCE SET public s me', ''].join('\n');
      const big = bigTableData(dir, listing, 1000);
      expect(big.map((e) => e.dumpId)).toEqual([3340, 3342]);
      const rest = listingWithout(listing, big.map((e) => e.line)).split('\n');
      expect(rest.filter((l) => l.startsWith(';'))).toEqual([';3340; 0 25883 TABLE DATA public big me', ';3342; 0 25885 TABLE DATA public "odd; TABLE DATA" me']);
      expect(rest).toContain('3341; 0 25884 TABLE DATA public small me');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
