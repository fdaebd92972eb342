// The typed operations engines run in the worker pool. Each operation file adds its own entry by
// declaration merging (`declare module './op-table.js' { interface OpTable { … } }`), so adding an
// operation edits no shared file.
// eslint-disable-next-line @typescript-eslint/no-empty-interface
export interface OpTable {}
