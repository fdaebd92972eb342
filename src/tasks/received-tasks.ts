// Read-after-receive for lookups. A task is recorded a little after its request arrives (its
// checks, a DNS lookup of its webhook, the group commit), so a getResponse or getTaskDetails sent
// right behind it (pipelined on one WebSocket, or on another connection) could look before the
// record exists and answer taskNotFound. The dispatcher notes each task here, synchronously, the
// moment it receives it, and settles the note once the task's first write is done (or it ended
// without one); a lookup first waits for the notes of its taskUUID. This covers every connection
// of this process; another replica sees a task once its record is committed.

export interface Receipt {
  /** The task's record is written (or will never be); idempotent. */
  settle(): void;
}

const SETTLED: Receipt = { settle: () => undefined };

interface Pending {
  count: number;
  done: Promise<void>;
  release: () => void;
}

export class ReceivedTasks {
  private readonly pending = new Map<string, Pending>();

  /** Notes a task that is about to be recorded. */
  receive(orgId: string, taskUUID: string): Receipt {
    const key = keyOf(orgId, taskUUID);
    let entry = this.pending.get(key);
    if (!entry) {
      let release!: () => void;
      const done = new Promise<void>((resolve) => (release = resolve));
      entry = { count: 0, done, release };
      this.pending.set(key, entry);
    }
    entry.count++;
    const noted = entry;
    let settled = false;
    return {
      settle: () => {
        if (settled) return;
        settled = true;
        if (--noted.count > 0) return;
        if (this.pending.get(key) === noted) this.pending.delete(key);
        noted.release();
      },
    };
  }

  /** Resolves once every task of this taskUUID received so far has been recorded (at once when none is pending). */
  recorded(orgId: string, taskUUID: string): Promise<void> {
    return this.pending.get(keyOf(orgId, taskUUID))?.done ?? Promise.resolve();
  }

  /** How many taskUUIDs are between receipt and record (tests, metrics). */
  get size(): number {
    return this.pending.size;
  }

  static readonly none: Receipt = SETTLED;
}

function keyOf(orgId: string, taskUUID: string): string {
  return `${orgId}/${taskUUID.toLowerCase()}`;
}
