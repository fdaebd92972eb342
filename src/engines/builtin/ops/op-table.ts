// The operations engines run in the worker pool, by name: each operation file adds its own entry
// (`declare module './op-table.js' { interface OpTable { … } }`), so adding one edits no shared file.
export interface OpTable {}
