// Names of upstream accounts within an organization, shared by the CLI and the routes.

/** The account an organization's tasks use when no route names one. */
export const DEFAULT_ACCOUNT = 'default';

/** A route's account meaning "the server-wide upstream", whatever accounts the organization holds. */
export const SERVER_ACCOUNT = 'server';

/** Why `name` cannot name an account, or undefined when it can. */
export function accountNameProblem(name: string): string | undefined {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(name))
    return 'must be 1 to 64 letters, digits, dots, dashes or underscores, starting with a letter or digit';
  return undefined;
}
