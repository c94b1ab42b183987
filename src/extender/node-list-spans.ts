import { canonicalizeObject, fieldOf, type KeyShape } from './go-json-keys.js';
import { ExtenderArgsKeys, NodeListKeys } from './wire-schemas.js';

/**
 * Where each Node object of an ExtenderArgs body sits in the body, so that a Nodes-mode filter can
 * echo the passing Nodes by copying their bytes instead of serializing them again (the echo of
 * thousands of Node objects is most of what a Nodes-mode answer costs).
 *
 * The body comes as a latin1 string, one character per byte, so that positions are byte offsets
 * whatever it holds. It must already have been accepted by JSON.parse: the scanner does not
 * validate, it only finds boundaries, and it finds the NodeList the parsed and canonicalized value
 * holds: which members of an object count is Go's key rule's to say (go-json-keys.ts), asked
 * with the members as JSON.parse leaves them. Whether a Node's bytes are also its echo (no key of
 * it was respelled) is for the caller to know: see parsed-body.ts.
 */

export interface NodeSpans {
  /** The i-th Node of `Nodes.items` is body[starts[i], ends[i]). Empty when items is absent or null. */
  readonly starts: readonly number[];
  readonly ends: readonly number[];
}

/*
 * Values are skipped by one sticky regular expression each: irregexp runs through the strings of a
 * Node, which are most of its bytes, about twice as fast as a loop over bytes in JavaScript.
 */
const STRING = String.raw`"[^"\\]*(?:\\.[^"\\]*)*"`;
// Anything else outside strings (punctuation, numbers, literals, white space), a whole run at a
// time: the lookahead forbids ending a run early, so a match that fails never tries the ways of
// splitting a run, and fails in linear time.
const PLAIN = String.raw`[^"\[\]{}]+(?![^"\[\]{}])`;
/**
 * How deep an object or array may nest (below itself) for the scanner to see through it; a Node
 * has about 5 levels. A deeper value fails the match, and the caller serializes instead.
 */
const MAX_DEPTH = 20;

function nestedContent(depth: number): string {
  let content = `(?:${STRING}|${PLAIN})*`;
  for (let d = 0; d < depth; d++) content = `(?:${STRING}|${PLAIN}|[\\[{]${content}[\\]}])*`;
  return content;
}

const VALUE = new RegExp(`${STRING}|[\\[{]${nestedContent(MAX_DEPTH)}[\\]}]|[-+.\\dA-Za-z]+`, 'y');
const KEY = new RegExp(STRING, 'y');
const ESCAPED_OR_NOT_ASCII = /[\\\x80-\xff]/;

const TAB = 0x09;
const LF = 0x0a;
const CR = 0x0d;
const SPACE = 0x20;
const COMMA = 0x2c;
const COLON = 0x3a;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const N_LOWER = 0x6e;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;

function skipSpace(s: string, i: number): number {
  for (;;) {
    const c = s.charCodeAt(i);
    if (c !== SPACE && c !== LF && c !== CR && c !== TAB) return i;
    i++;
  }
}

/** Just past the value at s[i], or -1. */
function endOfValue(s: string, i: number): number {
  VALUE.lastIndex = i;
  return VALUE.test(s) ? VALUE.lastIndex : -1;
}

/** The text of the key in s[start, end), quotes included. */
function keyText(s: string, start: number, end: number): string {
  const inner = s.slice(start + 1, end - 1);
  if (!ESCAPED_OR_NOT_ASCII.test(inner)) return inner;
  return JSON.parse(Buffer.from(s.slice(start, end), 'latin1').toString('utf8')) as string;
}

/**
 * The members of the object at s[i] (its opening brace), each handed to `member` with its key and
 * its value's index; `member` returns the index just past the value, or -1 to give up. Returns the
 * index just past the object, or -1.
 */
function eachMember(s: string, i: number, member: (key: string, valueAt: number) => number): number {
  i = skipSpace(s, i + 1);
  if (s.charCodeAt(i) === CLOSE_OBJECT) return i + 1;
  for (;;) {
    KEY.lastIndex = i;
    if (!KEY.test(s)) return -1;
    const key = keyText(s, i, KEY.lastIndex);
    i = skipSpace(s, KEY.lastIndex);
    if (s.charCodeAt(i) !== COLON) return -1;
    i = member(key, skipSpace(s, i + 1));
    if (i < 0) return -1;
    i = skipSpace(s, i);
    const c = s.charCodeAt(i);
    if (c === CLOSE_OBJECT) return i + 1;
    if (c !== COMMA) return -1;
    i = skipSpace(s, i + 1);
  }
}

/** What a member that sets the field holds: spans, null, or undefined for a value of another type. */
type Found = NodeSpans | null | undefined;

/**
 * The value the field of an object of `shape` ends up with, given the members that set it (by
 * fieldOf), in body order, kept as JSON.parse keeps them: one member per spelling, with the last
 * value at the place of the first. Go's rule picks one; 'absent' when none counts.
 */
function winner(found: Record<string, Found>, shape: KeyShape, field: string): Found | 'absent' {
  const canonical = canonicalizeObject(found, shape);
  return Object.hasOwn(canonical, field) ? (canonical[field] as Found) : 'absent';
}

/**
 * Reads the value at s[i] of a member whose key sets the field, into `found` under its key, as
 * JSON.parse would; returns the index past it.
 */
function readMatch(
  s: string,
  i: number,
  key: string,
  found: Record<string, Found>,
  open: number,
  read: (s: string, i: number, end: { at: number }) => NodeSpans | undefined,
): number {
  const first = s.charCodeAt(i);
  if (first === open) {
    const end = { at: -1 };
    const spans = read(s, i, end);
    if (spans === undefined) return -1;
    found[key] = spans;
    return end.at;
  }
  found[key] = first === N_LOWER ? null : undefined;
  return endOfValue(s, i);
}

/** The spans of the elements of the array at s[i] (its opening bracket); `end` gets the index past it. */
function scanItems(s: string, i: number, end: { at: number }): NodeSpans | undefined {
  const starts: number[] = [];
  const ends: number[] = [];
  i = skipSpace(s, i + 1);
  if (s.charCodeAt(i) !== CLOSE_ARRAY) {
    for (;;) {
      const start = i;
      i = endOfValue(s, i);
      if (i < 0) return undefined;
      starts.push(start);
      ends.push(i);
      i = skipSpace(s, i);
      const c = s.charCodeAt(i);
      if (c === CLOSE_ARRAY) break;
      if (c !== COMMA) return undefined;
      i = skipSpace(s, i + 1);
    }
  }
  end.at = i + 1;
  return { starts, ends };
}

const NONE: NodeSpans = { starts: [], ends: [] };

/** The spans of the items of the NodeList object at s[i]; `end` gets the index past it. */
function scanNodeList(s: string, i: number, end: { at: number }): NodeSpans | undefined {
  const found: Record<string, Found> = Object.create(null);
  const past = eachMember(s, i, (key, at) =>
    fieldOf(NodeListKeys, key) === 'items'
      ? readMatch(s, at, key, found, OPEN_ARRAY, scanItems)
      : endOfValue(s, at),
  );
  if (past < 0) return undefined;
  end.at = past;
  const items = winner(found, NodeListKeys, 'items');
  return items === 'absent' || items === null ? NONE : items;
}

/**
 * The span of every Node of the body's `Nodes.items`, in order, or undefined when the body has no
 * NodeList, or one the scanner cannot see through: the caller then serializes the parsed Nodes.
 */
export function nodeListSpans(body: string): NodeSpans | undefined {
  try {
    return scan(body);
  } catch {
    // irregexp's backtracking stack is bounded, and a value with millions of members or escapes
    // overflows it (RangeError): such a body is answered the slow way.
    return undefined;
  }
}

function scan(body: string): NodeSpans | undefined {
  // A UTF-8 byte-order mark, which the body parser skips as Fastify's does.
  let i = body.startsWith('\xef\xbb\xbf') ? 3 : 0;
  i = skipSpace(body, i);
  if (body.charCodeAt(i) !== OPEN_OBJECT) return undefined;
  const found: Record<string, Found> = Object.create(null);
  const past = eachMember(body, i, (key, at) =>
    fieldOf(ExtenderArgsKeys, key) === 'Nodes'
      ? readMatch(body, at, key, found, OPEN_OBJECT, scanNodeList)
      : endOfValue(body, at),
  );
  if (past < 0) return undefined;
  const nodes = winner(found, ExtenderArgsKeys, 'Nodes');
  return nodes === 'absent' || nodes === null ? undefined : nodes;
}
