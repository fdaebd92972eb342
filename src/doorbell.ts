// A wake-up signal for background loops: wait until rung or until a timeout, whichever comes
// first. A ring while nobody waits is remembered, so work announced while a loop was busy is
// seen on its next wait instead of after a full poll interval.

export class Doorbell {
  private rung = false;
  private answer: (() => void) | undefined;

  ring(): void {
    this.rung = true;
    this.answer?.();
  }

  wait(ms: number): Promise<void> {
    if (this.rung) {
      this.rung = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.answer = undefined;
        this.rung = false;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.answer = done;
    });
  }
}
