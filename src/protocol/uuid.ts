// taskUUID rules (docs/protocol.md, "UUIDs"): any canonical RFC 9562 UUID, any version, any case.

const CANONICAL_UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

export function isCanonicalUuid(value: unknown): value is string {
  return typeof value === 'string' && looksLikeUuid(value);
}

/** The same rule for a value already known to be a string (no type narrowing). */
export function looksLikeUuid(value: string): boolean {
  return value.length === 36 && CANONICAL_UUID.test(value);
}

/** What an invalidTaskUUID (or another UUID parameter's error) says the value must be. */
export const UUID_SHAPE = 'It must be a UUID (8-4-4-4-12 hexadecimal digits).';
