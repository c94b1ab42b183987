/**
 * Mutating parsed JSON for the fuzz test: a key deleted, a value of another type, keys in another
 * case or twice, numbers JSON.stringify cannot write, long and weird strings (in node names first);
 * and writing the result as JSON text, raw parts and duplicate keys included.
 */
import fc from 'fast-check';

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** Text put verbatim where a value goes: numbers JSON.stringify cannot write, deep nesting. */
export class Raw {
  constructor(readonly text: string) {}
}

/** Extra members written into an object's text next to an existing one: keys twice. */
export interface Duplicate {
  readonly key: string;
  readonly text: string;
  readonly first: boolean;
}

export type Tree = Json | Raw | Tree[] | { [key: string]: Tree };

/**
 * JSON.stringify, but Raw stays raw and duplicates are written. Recursive: it only walks the
 * captures' own depth, as deep nesting goes in as Raw text.
 */
export function serialize(value: Tree, duplicates: WeakMap<object, Duplicate[]>): string {
  if (value instanceof Raw) return value.text;
  if (Array.isArray(value)) return `[${value.map((v) => serialize(v, duplicates)).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const members = Object.entries(value).map(([k, v]) => `${JSON.stringify(k)}:${serialize(v, duplicates)}`);
    for (const d of duplicates.get(value) ?? []) {
      const member = `${JSON.stringify(d.key)}:${d.text}`;
      if (d.first) members.unshift(member);
      else members.push(member);
    }
    return `{${members.join(',')}}`;
  }
  return JSON.stringify(value);
}

export interface Slot {
  readonly parent: Tree[] | { [key: string]: Tree };
  readonly key: string | number;
  readonly path: readonly (string | number)[];
}

/** Every place a value sits in the tree, breadth first. */
export function slots(root: Tree): Slot[] {
  const out: Slot[] = [];
  const queue: { value: Tree; path: (string | number)[] }[] = [{ value: root, path: [] }];
  for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
    const { value, path } = next;
    if (value instanceof Raw || value === null || typeof value !== 'object') continue;
    const entries: [string | number, Tree][] = Array.isArray(value)
      ? value.map((v, i) => [i, v])
      : Object.entries(value);
    for (const [key, child] of entries) {
      out.push({ parent: value, key, path: [...path, key] });
      queue.push({ value: child, path: [...path, key] });
    }
  }
  return out;
}

export function valueAt(slot: Slot): Tree {
  return (slot.parent as Record<string | number, Tree>)[slot.key] as Tree;
}

export function put(slot: Slot, value: Tree): void {
  if (Array.isArray(slot.parent)) slot.parent[slot.key as number] = value;
  // defineProperty: a key such as "__proto__" must become a member, not the prototype.
  else
    Object.defineProperty(slot.parent, slot.key, {
      value,
      enumerable: true,
      writable: true,
      configurable: true,
    });
}

/** Renames a member in place, keeping the order of the members. */
function rename(slot: Slot, to: string): void {
  const parent = slot.parent as Record<string, Tree>;
  const entries = Object.entries(parent).map(([k, v]): [string, Tree] => [k === slot.key ? to : k, v]);
  for (const k of Object.keys(parent)) delete parent[k];
  for (const [k, v] of entries)
    Object.defineProperty(parent, k, { value: v, enumerable: true, writable: true, configurable: true });
}

/** Where node names sit: NodeNames, Nodes.items[].metadata.name, bind's Node, explain's nodes, victim maps' keys. */
function isNameSlot(slot: Slot): boolean {
  const [first, ...rest] = slot.path.map((p) => (typeof p === 'string' ? p.toLowerCase() : p));
  const value = valueAt(slot);
  if ((first === 'nodenames' || first === 'nodes') && rest.length === 1 && typeof value === 'string')
    return true;
  if (first === 'nodes' && rest[0] === 'items' && rest.at(-1) === 'name') return true;
  if (first === 'node' && rest.length === 0) return true;
  return typeof first === 'string' && first.startsWith('nodenameto') && rest.length === 1;
}

const NUMBER_TOKENS = [
  '1e400',
  '-1e400',
  '-0',
  '-0.0',
  '1e308',
  '-1e308',
  '1.7976931348623157e308',
  '5e-324',
  '1e-400',
  '123456789012345678901234567890',
  '9007199254740993',
  '0.1e1',
  '1E+2',
  '1e18',
  '1000000000000000001',
];

/** Strings that make trouble in names and keys: NUL, controls, bidi, surrogates, long. */
export const weirdString = fc.oneof(
  fc.constantFrom(
    '',
    '\u0000',
    'node-a\u0000',
    'a\u0000b',
    '\u202enode-a',
    '\ufeffnode-a',
    'node-a\n',
    '\ud800',
    '\udfff\ud800',
    'ñode',
    '節点',
    '🚀',
    'NODE-A',
    'Node-A',
    ' node-a',
    '../../etc/passwd',
    '%00',
    '%',
    '__proto__',
    'constructor',
    'prototype',
    'hasOwnProperty',
    'a'.repeat(253),
    'a'.repeat(254),
  ),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 20 }),
);

const longString = fc
  .tuple(fc.constantFrom('a', 'é', '🚀', '\u0000', '\\'), fc.constantFrom(254, 1000, 65_536, 1 << 20))
  .map(([unit, length]) => unit.repeat(Math.ceil(length / unit.length)));

const json = (maxDepth: number) => fc.jsonValue({ maxDepth }) as fc.Arbitrary<Json>;

/** One value of each JSON type, in the order of `kindOf`. */
const oneOfEachType = fc.tuple(
  fc.constant(null),
  fc.boolean(),
  fc.oneof(fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true })),
  fc.string({ maxLength: 10 }),
  fc.array(json(2), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 8 }), json(2), { maxKeys: 3 }),
);

function kindOf(value: Tree): number {
  if (value === null) return 0;
  if (typeof value === 'boolean') return 1;
  if (typeof value === 'number') return 2;
  if (typeof value === 'string') return 3;
  return Array.isArray(value) ? 4 : 5;
}

/** One edit of a parsed capture; `at` picks the place, modulo the places there are. */
export type Mutation =
  | { readonly op: 'delete'; readonly at: number }
  | { readonly op: 'retype'; readonly at: number; readonly values: readonly Json[]; readonly shift: number }
  | { readonly op: 'replace'; readonly at: number; readonly value: Json }
  | { readonly op: 'recase'; readonly at: number; readonly how: 'lower' | 'upper' | 'swap' }
  | {
      readonly op: 'duplicate';
      readonly at: number;
      readonly value: Json;
      readonly first: boolean;
      readonly recase: boolean;
    }
  | { readonly op: 'number'; readonly at: number; readonly token: string }
  | { readonly op: 'long'; readonly at: number; readonly text: string }
  | { readonly op: 'weird'; readonly at: number; readonly text: string; readonly inKey: boolean };

const at = fc.nat();
export const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant('delete' as const), at }),
  fc.record({
    op: fc.constant('retype' as const),
    at,
    values: oneOfEachType,
    shift: fc.integer({ min: 1, max: 5 }),
  }),
  fc.record({ op: fc.constant('replace' as const), at, value: json(3) }),
  fc.record({ op: fc.constant('recase' as const), at, how: fc.constantFrom('lower', 'upper', 'swap') }),
  fc.record({
    op: fc.constant('duplicate' as const),
    at,
    value: json(2),
    first: fc.boolean(),
    recase: fc.boolean(),
  }),
  fc.record({ op: fc.constant('number' as const), at, token: fc.constantFrom(...NUMBER_TOKENS) }),
  fc.record({ op: fc.constant('long' as const), at, text: longString }),
  fc.record({ op: fc.constant('weird' as const), at, text: weirdString, inKey: fc.boolean() }),
);

function swapCase(text: string): string {
  return [...text].map((c) => (c === c.toLowerCase() ? c.toUpperCase() : c.toLowerCase())).join('');
}

function pick<T>(items: readonly T[], index: number): T | undefined {
  return items.length === 0 ? undefined : items[index % items.length];
}

/** Applies the mutations to a copy of `base` and writes the result as JSON text. */
export function mutate(base: Json, mutations: readonly Mutation[]): string {
  const root = structuredClone(base) as Tree;
  const duplicates = new WeakMap<object, Duplicate[]>();
  for (const m of mutations) {
    const all = slots(root);
    const members = all.filter((s) => !Array.isArray(s.parent));
    switch (m.op) {
      case 'delete': {
        const slot = pick(members, m.at);
        if (slot) delete (slot.parent as Record<string, Tree>)[slot.key as string];
        break;
      }
      case 'retype': {
        const slot = pick(all, m.at);
        // A value of another JSON type than the one there.
        if (slot) put(slot, m.values[(kindOf(valueAt(slot)) + m.shift) % m.values.length] ?? null);
        break;
      }
      case 'replace': {
        const slot = pick(all, m.at);
        if (slot) put(slot, m.value);
        break;
      }
      case 'recase': {
        const slot = pick(members, m.at);
        const key = slot?.key as string;
        if (slot)
          rename(
            slot,
            m.how === 'lower' ? key.toLowerCase() : m.how === 'upper' ? key.toUpperCase() : swapCase(key),
          );
        break;
      }
      case 'duplicate': {
        const slot = pick(members, m.at);
        if (slot) {
          const key = m.recase ? swapCase(slot.key as string) : (slot.key as string);
          const list = duplicates.get(slot.parent) ?? [];
          list.push({ key, text: JSON.stringify(m.value), first: m.first });
          duplicates.set(slot.parent, list);
        }
        break;
      }
      case 'number': {
        const slot = pick(all, m.at);
        if (slot) put(slot, new Raw(m.token));
        break;
      }
      case 'long': {
        const slot = pick(all, m.at);
        if (slot) put(slot, m.text);
        break;
      }
      case 'weird': {
        // Node names first: that is where such strings come from.
        const names = all.filter(isNameSlot);
        const slot = pick(names.length > 0 ? names : all, m.at);
        if (!slot) break;
        if (m.inKey && !Array.isArray(slot.parent)) rename(slot, m.text);
        else put(slot, m.text);
        break;
      }
    }
  }
  return serialize(root, duplicates);
}
