// The one wildcard matcher for model AIRs and task types, used by the routes, the model map and
// the price table alike. AIRs are case-insensitive identifiers (`RUNWARE:101@1` names the same
// model as `runware:101@1`), so a pattern matches regardless of case; `*` matches any run of
// characters, including none, and every other character stands for itself.

/** Tests a value against a pattern with `*` wildcards, case-insensitively. */
export type PatternTest = (value: string) => boolean;

export function wildcardMatcher(pattern: string): PatternTest {
  const source = pattern.split('*').map(escapeRegExp).join('.*');
  const re = new RegExp(`^${source}$`, 'is');
  return (value) => re.test(value);
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
