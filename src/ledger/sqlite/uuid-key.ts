// The integer the SQLite ledger finds a task by (tasks.uuid_key, migration 6): the first 13 hex
// digits of the lower-cased taskUUID, 52 bits, exact in a JavaScript number and 7 bytes in an
// index entry instead of the 70-odd that (org_id, task_uuid) as text took. Version-4 UUIDs are
// random there, so keys spread evenly; two tasks sharing a key is harmless (the ledger compares
// org_id and task_uuid on every row it finds), only slower.

const UUID_HEAD = /^([0-9a-f]{8})-([0-9a-f]{4})-([0-9a-f])/;

export function uuidLookupKey(taskUUID: string): number {
  const m = UUID_HEAD.exec(taskUUID.toLowerCase());
  // The protocol only accepts UUIDs; anything else (imported by hand, say) shares key 0.
  return m ? parseInt(m[1]! + m[2]! + m[3]!, 16) : 0;
}
