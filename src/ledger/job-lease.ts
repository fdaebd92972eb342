// The error a job write gets when its writer no longer holds the job: another worker claimed it
// since (the writer's lease ran out while it was paused, partitioned or too busy to renew), or it
// finished. Nothing of the write was kept; the writer stops working on the job.

export class JobLeaseLost extends Error {
  constructor(
    readonly taskUUID: string,
    readonly claim: number,
  ) {
    super(
      `the claim ${claim} on the job of task ${taskUUID} is no longer held (another worker took the job over, or it finished)`,
    );
    this.name = 'JobLeaseLost';
  }
}
