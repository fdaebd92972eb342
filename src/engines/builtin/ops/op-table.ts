// The typed table of engine operations: each operation file adds its own entry by declaration
// merging (`declare module './op-table.js' { interface OpTable { … } }`), so registering an
// operation never means editing a shared file.

export interface OpTable {}
