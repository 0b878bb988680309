import { UsageError } from '../../engine/errors';
import type { AnyPlan } from '../plan';
import { atgeQuantumBtc } from './atge-quantum-btc';
import { copyTable } from './copy-table';
import { dxyDataBars } from './dxy-data-bars';
import { marketSnapshotSsot } from './market-snapshot-ssot';
import { sqlitePriceLog } from './sqlite-price-log';
import { supabaseToTimescale } from './supabase-to-timescale';
import { ticksToTimescale } from './ticks-to-timescale';

/** Every plan, one file each. */
export const PLANS: AnyPlan[] = [copyTable, dxyDataBars, atgeQuantumBtc, marketSnapshotSsot, ticksToTimescale, sqlitePriceLog, supabaseToTimescale];

export function findPlan(id: string | undefined): AnyPlan {
  const plan = PLANS.find((p) => p.id === id);
  if (!plan) throw new UsageError(`${id ? `no plan "${id}"` : '--plan is required'}; plans: ${PLANS.map((p) => p.id).join(', ')}`);
  return plan;
}
