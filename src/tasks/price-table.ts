// Prices per produced item, from the config's price table: the first rule whose task type and
// model pattern match wins.

import type { PriceRule } from '../config.js';

export class PriceTable {
  private readonly rules: { taskType: string; model: RegExp; perItem: number }[];

  constructor(rules: readonly PriceRule[]) {
    this.rules = rules.map((r) => ({
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
