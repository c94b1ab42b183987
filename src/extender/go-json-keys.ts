import type { TSchema } from 'typebox';

/**
 * kube-scheduler is Go, and Go's encoding/json matches object keys to struct fields
 * case-insensitively, with the last matching key winning, and reads null as "absent". Peers that
 * write `pod` or `nodenames` therefore work against the real scheduler's own extenders, and must
 * work here too. This module is the one place that rule is written: canonicalizeKeys rewrites a
 * parsed body to the canonical spellings before schema validation, so that every later layer sees
 * one spelling only, and the filter's byte scanner (node-list-spans.ts) asks fieldOf and
 * canonicalizeObject which member of an object counts.
 *
 * The rule applies to the object as JSON.parse left it: one member per exact spelling, with the
 * last value at the place of the first. Of the members whose keys match one field, the last in
 * that order counts.
 *
 * A KeyShape lists, for the fields we read, their canonical spelling; it is derived from the
 * TypeBox schema of the body (keyShapeOf), so that a field is written in one place.
 */
export interface KeyShape {
  /** For objects: the fields we read. */
  readonly fields?: Fields;
  /** For arrays: the shape of each element. */
  readonly items?: KeyShape;
  /** For maps (Go map[string]T): the shape of each value; the keys are data and stay as they are. */
  readonly values?: KeyShape;
}

interface Field {
  /** The canonical spelling. */
  readonly name: string;
  /** For a value whose keys we read too. */
  readonly shape?: KeyShape;
}

/**
 * How a key is folded to match it to a field, as Go does: Unicode simple case folding (Go's
 * foldName, bytes.EqualFold). The field names are ASCII, and the only other characters that fold
 * to ASCII letters are the Kelvin sign, which toLowerCase makes a k, and the long s (ſ), which it
 * leaves alone. A key that matches a field has the field's length: toLowerCase lengthens only İ,
 * into i and a combining dot, which matches no ASCII name (nor does İ in Go).
 */
export function foldKey(key: string): string {
  const lower = key.toLowerCase();
  return lower.includes('ſ') ? lower.replaceAll('ſ', 's') : lower;
}

/** The fields of an object shape, found as Go finds them. */
class Fields {
  readonly list: readonly Field[];
  // No prototype: a body key such as "constructor" must not find Object.prototype's.
  readonly #byName: Record<string, Field> = Object.create(null);
  readonly #byFold: Record<string, Field> = Object.create(null);
  /** Bit n is set when a field name has length n; longer keys than 31 are not checked by length. */
  readonly #lengths: number = 0;

  constructor(list: readonly Field[]) {
    this.list = list;
    for (const field of list) {
      this.#byName[field.name] = field;
      this.#byFold[foldKey(field.name)] = field;
      if (field.name.length < 32) this.#lengths |= 1 << field.name.length;
    }
  }

  /**
   * The field `key` sets, or undefined. A key that sets a field has its length (see foldKey), so
   * most keys cost a comparison; a key spelled as the field needs no folding.
   */
  of(key: string): Field | undefined {
    const n = key.length;
    if (n < 32 && ((this.#lengths >>> n) & 1) === 0) return undefined;
    return this.#byName[key] ?? this.#byFold[foldKey(key)];
  }
}

export function shapeOf(fields: Record<string, KeyShape | null>): KeyShape {
  return {
    fields: new Fields(
      Object.entries(fields).map(([name, shape]) => (shape === null ? { name } : { name, shape })),
    ),
  };
}

export function arrayOf(items: KeyShape): KeyShape {
  return { items };
}

export function mapOf(values: KeyShape): KeyShape {
  return { values };
}

/** The canonical spelling of the field `key` sets in an object of this shape, or undefined. */
export function fieldOf(shape: KeyShape, key: string): string | undefined {
  return shape.fields?.of(key)?.name;
}

/** The parts of a JSON schema that say which keys a value has. */
interface SchemaParts {
  readonly properties?: Record<string, TSchema>;
  readonly items?: TSchema;
  readonly patternProperties?: Record<string, TSchema>;
  readonly allOf?: readonly TSchema[];
}

/**
 * The KeyShape of values a TypeBox schema describes, or null when none of their keys is read:
 * an object's properties are its fields, an array's items and a record's values have shapes of
 * their own, and an intersection has the fields of its parts. A value of schema `asIs` (by
 * identity) is left as it is, for a caller that reads its keys itself.
 */
export function keyShapeOf(schema: TSchema, { asIs }: { asIs?: TSchema | undefined } = {}): KeyShape | null {
  const of = (s: TSchema): KeyShape | null => {
    if (s === asIs) return null;
    const { properties, items, patternProperties, allOf } = s as SchemaParts;
    if (properties !== undefined) {
      const fields = Object.entries(properties);
      return fields.length === 0 ? null : shapeOf(Object.fromEntries(fields.map(([k, v]) => [k, of(v)])));
    }
    if (items !== undefined) {
      const shape = of(items);
      return shape === null ? null : arrayOf(shape);
    }
    if (patternProperties !== undefined) {
      const [values, ...more] = Object.values(patternProperties);
      if (values === undefined || more.length > 0) throw new Error('a record has one value schema');
      const shape = of(values);
      return shape === null ? null : mapOf(shape);
    }
    if (allOf !== undefined) return merged(allOf.map(of));
    return null;
  };
  return of(schema);
}

/** One shape with the fields of all the shapes given, which are object shapes where there are two. */
function merged(shapes: readonly (KeyShape | null)[]): KeyShape | null {
  const some = shapes.filter((shape) => shape !== null);
  if (some.length <= 1) return some[0] ?? null;
  const fields = new Map<string, (KeyShape | null)[]>();
  for (const shape of some) {
    if (shape.fields === undefined) throw new Error('only objects are intersected');
    for (const field of shape.fields.list) {
      fields.set(field.name, [...(fields.get(field.name) ?? []), field.shape ?? null]);
    }
  }
  return shapeOf(Object.fromEntries([...fields].map(([name, parts]) => [name, merged(parts)])));
}

/** What canonicalize found: whether it rewrote any key or dropped any null. */
interface Changes {
  changed: boolean;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/**
 * Returns the value with known keys in canonical spelling and nulls dropped; unknown keys are
 * kept. Arrays, and objects whose keys need no rewrite, are changed in place.
 */
export function canonicalizeKeys(value: unknown, shape: KeyShape): unknown {
  return canonicalize(value, shape, { changed: false });
}

/** canonicalizeKeys, and whether it changed anything: a key respelled or a null dropped. */
export function canonicalizeKeysTelling(
  value: unknown,
  shape: KeyShape,
): { value: unknown; changed: boolean } {
  const changes = { changed: false };
  const out = canonicalize(value, shape, changes);
  return { value: out, changed: changes.changed };
}

function canonicalize(value: unknown, shape: KeyShape, changes: Changes): unknown {
  if (shape.items !== undefined) {
    if (!Array.isArray(value)) return value;
    for (let i = 0; i < value.length; i++) {
      const item = value[i];
      const out = canonicalize(item, shape.items, changes);
      if (out !== item) value[i] = out;
    }
    return value;
  }
  if (shape.values !== undefined) {
    if (!isPlainObject(value)) return value;
    for (const key in value) value[key] = canonicalize(value[key], shape.values, changes);
    return value;
  }
  const fields = shape.fields;
  if (fields === undefined || !isPlainObject(value)) return value;
  const obj = canonicalObject(value, fields, changes);
  for (const field of fields.list) {
    if (field.shape === undefined) continue;
    const inner = obj[field.name];
    if (inner === undefined) continue;
    const out = canonicalize(inner, field.shape, changes);
    if (out !== inner) obj[field.name] = out;
  }
  return obj;
}

/**
 * One object with its known keys in canonical spelling and its known nulls dropped, its values as
 * they are: the object itself when that changes nothing, else a new one.
 */
export function canonicalizeObject(obj: Record<string, unknown>, shape: KeyShape): Record<string, unknown> {
  const fields = shape.fields;
  return fields === undefined ? obj : canonicalObject(obj, fields, { changed: false });
}

function canonicalObject(
  obj: Record<string, unknown>,
  fields: Fields,
  changes: Changes,
): Record<string, unknown> {
  if (!needsRewrite(obj, fields)) return obj;
  changes.changed = true;
  // In the object's order, each member sets its field, a later one replacing an earlier; null
  // leaves the field absent.
  const out: Record<string, unknown> = {};
  for (const key in obj) {
    const field = fields.of(key);
    const name = field?.name ?? key;
    if (field !== undefined && obj[key] === null) delete out[name];
    else out[name] = obj[key];
  }
  return out;
}

function needsRewrite(obj: Record<string, unknown>, fields: Fields): boolean {
  for (const key in obj) {
    const field = fields.of(key);
    if (field !== undefined && (field.name !== key || obj[key] === null)) return true;
  }
  return false;
}
