import { VerificationError } from '../../engine/errors';
import type { Details } from '../plan';

export interface TableComparison {
  equal: boolean;
  sourceRows: number;
  differences: { key: string; kind: string }[];
  truncated: boolean;
}

/**
 * Parity while the source still takes writes: sync (apply captured
 * changes), compare; a difference that is only a change in flight is gone
 * after the next sync, a real one (a lost update) stays. Parity holds when
 * one comparison is equal, or when no key differs in every round. When the
 * differences cannot be listed by key (too many in flight), `quiesced` decides.
 */
export async function convergedParity(sync: () => Promise<Details>, compare: () => Promise<TableComparison>, quiesced: () => Promise<Details>, rounds = 3): Promise<Details> {
  let persistent: Set<string> | undefined;
  let transient = 0;
  let last: TableComparison | undefined;
  for (let round = 1; round <= rounds; round++) {
    const synced = await sync();
    last = await compare();
    if (last.equal) return { rows: last.sourceRows, rounds: round, inFlight: transient, ...synced };
    const keys = new Set(last.differences.map((d) => `${d.key} (${d.kind})`));
    const before = persistent?.size ?? keys.size;
    persistent = persistent ? new Set([...persistent].filter((k) => keys.has(k))) : keys;
    transient += before - persistent.size;
    if (round > 1 && persistent.size === 0 && !last.truncated) return { rows: last.sourceRows, rounds: round, inFlight: transient, converged: true, ...synced };
  }
  // Too many changes in flight to tell them apart by key: decide once with writes held back for the check.
  if (last?.truncated || !persistent?.size) return quiesced();
  const shown = [...(persistent ?? [])].slice(0, 10);
  throw new VerificationError(`source and target differ after ${rounds} catch-ups: ${shown.join(', ')}`, { differences: last?.differences.slice(0, 100) });
}
