// The operations engines can run, by name: each op file in this folder adds its own entry
// (`declare module './op-table.js' { interface OpTable { 'op-name': { input: …; output: … } } }`),
// so adding an operation never edits a shared file. Inputs and outputs cross a worker-thread
// boundary: plain data only (structured clone).
export interface OpTable {}
