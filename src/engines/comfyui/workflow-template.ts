// An operator's ComfyUI workflow (API format: node id → {class_type, inputs}) with placeholders
// that runtrail fills from a task's Runware parameters. A string that is exactly `{{name}}` or
// `{{name|default}}` becomes the value itself (a number stays a number); a placeholder inside a
// longer string is replaced as text. docs/engines.md lists the names.

export type WorkflowValues = Record<string, string | number | undefined>;

export const PLACEHOLDERS = [
  'positivePrompt',
  'negativePrompt',
  'width',
  'height',
  'steps',
  'CFGScale',
  'seed',
  'scheduler',
  'seedImage',
  'strength',
] as const;

const WHOLE = /^\{\{\s*([A-Za-z]+)\s*(?:\|([^}]*))?\}\}$/;
const INSIDE = /\{\{\s*([A-Za-z]+)\s*(?:\|([^}]*))?\}\}/g;

export class WorkflowError extends Error {}

/** The names a workflow's placeholders use (to check a file at start). */
export function placeholdersOf(workflow: string): string[] {
  return [...new Set([...workflow.matchAll(INSIDE)].map((m) => m[1]!))];
}

/** The workflow with every placeholder replaced; throws WorkflowError for one without a value or default. */
export function fillWorkflow(workflow: string, values: WorkflowValues): Record<string, unknown> {
  const graph = JSON.parse(workflow) as unknown;
  if (typeof graph !== 'object' || graph === null || Array.isArray(graph))
    throw new WorkflowError('the workflow is not a JSON object of nodes (export it with "Save (API Format)")');
  return fill(graph, values) as Record<string, unknown>;
}

function fill(node: unknown, values: WorkflowValues): unknown {
  if (typeof node === 'string') return fillString(node, values);
  if (Array.isArray(node)) return node.map((n) => fill(n, values));
  if (typeof node === 'object' && node !== null)
    return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, fill(v, values)]));
  return node;
}

function fillString(text: string, values: WorkflowValues): unknown {
  const whole = WHOLE.exec(text);
  if (whole) return valueOf(whole[1]!, whole[2], values);
  return text.replace(INSIDE, (_m, name: string, fallback: string | undefined) =>
    String(valueOf(name, fallback, values)),
  );
}

function valueOf(name: string, fallback: string | undefined, values: WorkflowValues): string | number {
  const v = values[name];
  if (v !== undefined) return v;
  if (fallback !== undefined) return /^-?\d+(\.\d+)?$/.test(fallback.trim()) ? Number(fallback) : fallback;
  if (name === 'negativePrompt') return '';
  throw new WorkflowError(
    `the workflow's placeholder {{${name}}} has no value for this task and no default ({{${name}|default}})`,
  );
}
