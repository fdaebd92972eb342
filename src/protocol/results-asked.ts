// How many results a task object asks for: each asks with `numberResults`, except promptEnhance,
// which asks with `promptVersions` (one result item each). One rule for the server's own
// getResponse placeholders and for counting what an upstream owes.

/** The count the task asks for (at least 1; a fraction counts its whole part). */
export function resultsAsked(task: Record<string, unknown>): number {
  const n = task['taskType'] === 'promptEnhance' ? task['promptVersions'] : task['numberResults'];
  return typeof n === 'number' && n >= 1 ? Math.floor(n) : 1;
}
