import { describe, expect, it } from 'vitest';
import { tableDataEntry } from '../../runbooks/stores/postgres/toc-line';

describe('tableDataEntry (a pg_restore --list line)', () => {
  it('reads the dump id and the unquoted "schema name owner" label', () => {
    expect(tableDataEntry('3412; 0 16390 TABLE DATA Odd Schema Order Items owner')).toEqual({ dumpId: 3412, label: 'Odd Schema Order Items owner' });
  });
  it('ignores comments, other entry types, and "TABLE DATA" inside another entry\'s name', () => {
    expect(tableDataEntry(';3412; 0 16390 TABLE DATA public t owner')).toBeUndefined();
    expect(tableDataEntry('3413; 0 0 SEQUENCE SET public t_id_seq owner')).toBeUndefined();
    expect(tableDataEntry('215; 1259 16390 TABLE public x TABLE DATA y owner')).toBeUndefined();
    expect(tableDataEntry('215; 1255 16391 FUNCTION public f() TABLE DATA owner')).toBeUndefined();
  });
});
