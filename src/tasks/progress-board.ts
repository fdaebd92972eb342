// Progress (0–100) of the results still being produced, as engines report it. Kept in memory by
// the process running the task: it changes too often to be worth a durable write, and a result
// that is done is in the ledger anyway.

export class ProgressBoard {
  private readonly byTask = new Map<string, Map<number, number>>();

  set(orgId: string, taskUUID: string, index: number, percent: number): void {
    const key = keyOf(orgId, taskUUID);
    let entry = this.byTask.get(key);
    if (!entry) this.byTask.set(key, (entry = new Map<number, number>()));
    entry.set(index, Math.max(0, Math.min(100, Math.round(percent))));
  }

  of(orgId: string, taskUUID: string): ReadonlyMap<number, number> | undefined {
    return this.byTask.get(keyOf(orgId, taskUUID));
  }

  clear(orgId: string, taskUUID: string): void {
    this.byTask.delete(keyOf(orgId, taskUUID));
  }
}

function keyOf(orgId: string, taskUUID: string): string {
  return `${orgId}/${taskUUID.toLowerCase()}`;
}
