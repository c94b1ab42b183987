/**
 * kube-scheduler is Go, and Go's encoding/json matches object keys to struct fields
 * case-insensitively, with the last matching key winning, and reads null as "absent". Peers that
 * write `pod` or `nodenames` therefore work against the real scheduler's own extenders, and must
 * work here too. A KeyShape lists, for the fields we read, their canonical spelling; this module
 * rewrites a parsed body to those spellings before schema validation, so that every later layer
 * sees one spelling only.
 */
export interface KeyShape {
  /** Fields by lower-cased name: canonical name and, for objects, the shape of the value. */
  readonly fields?: Readonly<Record<string, { readonly name: string; readonly shape?: KeyShape }>>;
  /** For arrays: the shape of each element. */
  readonly items?: KeyShape;
  /** For maps (Go map[string]T): the shape of each value; the keys are data and stay as they are. */
  readonly values?: KeyShape;
}

export function shapeOf(fields: Record<string, KeyShape | null>): KeyShape {
  // No prototype: a body key such as "constructor" must not find Object.prototype's.
  const out: Record<string, { name: string; shape?: KeyShape }> = Object.create(null);
  for (const [name, shape] of Object.entries(fields)) {
    out[name.toLowerCase()] = shape === null ? { name } : { name, shape };
  }
  return { fields: out };
}

export function arrayOf(items: KeyShape): KeyShape {
  return { items };
}

export function mapOf(values: KeyShape): KeyShape {
  return { values };
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** Returns the value with known keys in canonical spelling and nulls dropped; unknown keys are kept. */
export function canonicalizeKeys(value: unknown, shape: KeyShape): unknown {
  if (shape.items !== undefined) {
    if (!Array.isArray(value)) return value;
    for (let i = 0; i < value.length; i++) value[i] = canonicalizeKeys(value[i], shape.items);
    return value;
  }
  if (shape.values !== undefined) {
    if (!isPlainObject(value)) return value;
    for (const key in value) value[key] = canonicalizeKeys(value[key], shape.values);
    return value;
  }
  const fields = shape.fields;
  if (fields === undefined || !isPlainObject(value)) return value;
  if (needsRewrite(value, fields)) value = rewrite(value, fields);
  const obj = value as Record<string, unknown>;
  for (const field of Object.values(fields)) {
    if (field.shape !== undefined && obj[field.name] !== undefined) {
      obj[field.name] = canonicalizeKeys(obj[field.name], field.shape);
    }
  }
  return obj;
}

function needsRewrite(obj: Record<string, unknown>, fields: NonNullable<KeyShape['fields']>): boolean {
  for (const key in obj) {
    const field = fields[key.toLowerCase()];
    if (field !== undefined && (field.name !== key || obj[key] === null)) return true;
  }
  return false;
}

function rewrite(
  obj: Record<string, unknown>,
  fields: NonNullable<KeyShape['fields']>,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key in obj) {
    const field = fields[key.toLowerCase()];
    const name = field?.name ?? key;
    if (field !== undefined && obj[key] === null) delete out[name];
    else out[name] = obj[key];
  }
  return out;
}
