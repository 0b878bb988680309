import { UsageError } from '../../engine/errors';
import type { Plan } from '../plan';
import { copyTable } from './copy-table';
import { dxyDataBars } from './dxy-data-bars';

/** Every plan, one file each. */
export const PLANS: Plan[] = [copyTable, dxyDataBars];

export function findPlan(id: string | undefined): Plan {
  const plan = PLANS.find((p) => p.id === id);
  if (!plan) throw new UsageError(`${id ? `no plan "${id}"` : '--plan is required'}; plans: ${PLANS.map((p) => p.id).join(', ')}`);
  return plan;
}
