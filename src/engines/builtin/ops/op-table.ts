// The operations engines can run, by name: each op file in this folder adds its own entry
// (`declare module './op-table.js' { interface OpTable { 'op-name': { input: …; output: … } } }`),
// so adding an operation never edits a shared file. Inputs and outputs cross a worker-thread
// boundary: plain data only (structured clone).
// eslint-disable-next-line @typescript-eslint/no-empty-object-type -- filled by declaration merging
export interface OpTable {}
