// Prices per produced item: the operator's rules (RUNTRAIL_PRICES_FILE) first, then each task
// module's default prices; the first rule whose task type and model pattern match wins. Model
// patterns match the way routes do (protocol/model-pattern.ts): a task routed for
// `RUNWARE:101@1` is priced by the rule for `runware:*`.

import type { PriceRule } from '../config.js';
import { wildcardMatcher, type PatternTest } from '../protocol/model-pattern.js';

export class PriceTable {
  private readonly rules: { taskType: string; model: PatternTest; perItem: number }[];

  constructor(operatorRules: readonly PriceRule[], defaults: readonly PriceRule[] = []) {
    this.rules = [...operatorRules, ...defaults].map((r) => ({
      taskType: r.taskType,
      perItem: r.perItem,
      model: wildcardMatcher(r.model),
    }));
  }

  perItem(taskType: string, model: string | null): number {
    const rule = this.rules.find((r) => r.taskType === taskType && r.model(model ?? ''));
    return rule?.perItem ?? 0;
  }
}
