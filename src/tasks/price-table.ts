// Prices per produced item: the operator's rules (RUNTRAIL_PRICES_FILE) first, then each task
// module's default prices; the first rule whose task type and model pattern match wins.

import type { PriceRule } from '../config.js';

export class PriceTable {
  private readonly rules: { taskType: string; model: RegExp; perItem: number }[];

  constructor(operatorRules: readonly PriceRule[], defaults: readonly PriceRule[] = []) {
    this.rules = [...operatorRules, ...defaults].map((r) => ({
      taskType: r.taskType,
      perItem: r.perItem,
      model: new RegExp(`^${r.model.split('*').map(escapeRegExp).join('.*')}$`),
    }));
  }

  perItem(taskType: string, model: string | null): number {
    const rule = this.rules.find((r) => r.taskType === taskType && r.model.test(model ?? ''));
    return rule?.perItem ?? 0;
  }
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
