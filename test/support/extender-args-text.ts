/**
 * Random ExtenderArgs bodies as text, written the way no well-behaved client writes them: white
 * space anywhere, keys escaped (`\u004e`) or in another case (`nodes`, `ITEMS`, `Metadata`),
 * duplicate keys, null lists, unicode and escapes in names and values, both lists at once. For
 * the tests of the Nodes-mode echo, which must read such a body exactly as JSON.parse and the key
 * rewrite do.
 */
import fc from 'fast-check';

/** A JSON document with its members in order, so that a key may occur twice. */
export type Doc =
  | { readonly object: readonly (readonly [string, Doc])[] }
  | { readonly array: readonly Doc[] }
  | { readonly scalar: string };

/** A JSON value as a Doc (object members in their order). */
export function docOf(value: unknown): Doc {
  if (Array.isArray(value)) return { array: value.map(docOf) };
  if (value !== null && typeof value === 'object') {
    return { object: Object.entries(value).map(([k, v]) => [k, docOf(v)] as const) };
  }
  return { scalar: JSON.stringify(value) };
}

/** How a Doc is written: where white space goes and which key characters are escaped. */
export interface Style {
  /** White space before or after a token, by a running counter. */
  readonly spaces: readonly string[];
  /** Escape every nth key character as \uXXXX (0: never). */
  readonly escapeEvery: number;
}

export const COMPACT: Style = { spaces: [''], escapeEvery: 0 };

function writeKey(key: string, style: Style, counter: { n: number }): string {
  if (style.escapeEvery === 0) return JSON.stringify(key);
  let out = '"';
  for (const ch of key) {
    if (ch.length === 1 && ++counter.n % style.escapeEvery === 0) {
      const hex = ch.charCodeAt(0).toString(16).padStart(4, '0');
      out += `\\u${counter.n % 2 === 0 ? hex.toUpperCase() : hex}`;
    } else {
      out += JSON.stringify(ch).slice(1, -1);
    }
  }
  return `${out}"`;
}

export function render(doc: Doc, style: Style = COMPACT): string {
  const counter = { n: 0 };
  const space = () => style.spaces[counter.n++ % style.spaces.length] as string;
  const write = (d: Doc): string => {
    if ('scalar' in d) return d.scalar;
    if ('array' in d) return `[${space()}${d.array.map((v) => `${write(v)}${space()}`).join(`,${space()}`)}]`;
    const members = d.object.map(
      ([k, v]) => `${writeKey(k, style, counter)}${space()}:${space()}${write(v)}${space()}`,
    );
    return `{${space()}${members.join(`,${space()}`)}}`;
  };
  return `${space()}${write(doc)}${space()}`;
}

const SPACE = fc.constantFrom('', '', '', ' ', '\n', '\t', '\r\n', '  \n  ');
export const style: fc.Arbitrary<Style> = fc.record({
  spaces: fc.array(SPACE, { minLength: 1, maxLength: 7 }),
  escapeEvery: fc.constantFrom(0, 0, 0, 1, 3, 7),
});

/** Keys of JSON objects: anything but __proto__, which the body parser refuses. */
const anyKey = fc.string({ unit: 'binary', maxLength: 8 }).filter((k) => k !== '__proto__');

const jsonLeaf = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.string({ unit: 'binary', maxLength: 12 }),
  fc.constantFrom('a"b', 'back\\slash', '\\"', '"}],{[', 'é日本😀', '\u2028', '\ud800'),
);

const json: fc.Arbitrary<unknown> = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    jsonLeaf,
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(anyKey, tie('value'), { maxKeys: 4 }),
  ),
})).value;

const jsonDoc = json.map(docOf);

/** Members in random order, some of them repeated. */
function members(
  required: fc.Arbitrary<(readonly [string, Doc])[]>,
): fc.Arbitrary<(readonly [string, Doc])[]> {
  return fc
    .tuple(required, fc.array(fc.tuple(anyKey, jsonDoc), { maxLength: 3 }))
    .chain(([req, extra]) =>
      fc.shuffledSubarray([...req, ...extra], { minLength: req.length + extra.length }),
    );
}

/** A spelling of a field Go would match: as is, mostly, else in another case. */
function spelling(name: string): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 6, arbitrary: fc.constant(name) },
    fc.constantFrom(name.toLowerCase(), name.toUpperCase(), name[0]?.toUpperCase() + name.slice(1)),
  );
}

/** Node names: mostly plain, some awkward, from a small set so that names repeat. */
export const nodeName = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom('node-a', 'node-b', 'node-c', 'node-d', 'node-e') },
  fc.constantFrom('__proto__', 'constructor', 'ñode', '節点', 'a"b', 'a\\b', '🚀', 'node-a\u2028'),
);

/** A Node: metadata with a name (or, now and then, a null name) and more; keys sometimes respelled. */
function node(nullNames: boolean): fc.Arbitrary<Doc> {
  const name = nodeName.map((n) => docOf(n));
  return fc
    .tuple(
      spelling('metadata'),
      spelling('name'),
      nullNames ? fc.oneof({ weight: 9, arbitrary: name }, fc.constant(docOf(null))) : name,
      members(fc.constant([])),
      fc.array(fc.tuple(anyKey, jsonDoc), { maxLength: 3 }),
    )
    .chain(([metadataKey, nameKey, nameDoc, nodeExtra, metadataExtra]) =>
      fc
        .shuffledSubarray([[nameKey, nameDoc] as const, ...metadataExtra], {
          minLength: 1 + metadataExtra.length,
        })
        .chain((metadataMembers) =>
          fc.shuffledSubarray([[metadataKey, { object: metadataMembers }] as const, ...nodeExtra], {
            minLength: 1 + nodeExtra.length,
          }),
        ),
    )
    .map((object) => ({ object }));
}

/** A NodeList, with items spelled and repeated in all the ways Go reads. */
function nodeList(nullNames: boolean): fc.Arbitrary<Doc> {
  const items = fc.array(node(nullNames), { maxLength: 6 }).map((array) => ({ array }));
  return fc
    .tuple(
      fc.array(
        fc.tuple(spelling('items'), fc.oneof({ weight: 8, arbitrary: items }, fc.constant(docOf(null)))),
        {
          maxLength: 3,
        },
      ),
      fc.option(
        jsonDoc.filter((d) => 'object' in d),
        { nil: undefined },
      ),
    )
    .chain(([lists, metadata]) =>
      members(fc.constant([...lists, ...(metadata ? [['metadata', metadata] as const] : [])])),
    )
    .map((object) => ({ object }));
}

/**
 * ExtenderArgs with the given Pod, or now and then anything for a Pod. Only `wellFormed` ones
 * pass the schema whenever they name a node: no null name, no Pod or Nodes of another type.
 */
export function extenderArgsDoc(pod: unknown, wellFormed = false): fc.Arbitrary<Doc> {
  const podDoc = docOf(pod);
  const list = nodeList(!wellFormed);
  const nodes = wellFormed
    ? fc.oneof({ weight: 8, arbitrary: list }, fc.constant(docOf(null)))
    : fc.oneof({ weight: 8, arbitrary: list }, fc.constant(docOf(null)), fc.constant(docOf([])));
  return fc
    .tuple(
      fc.array(fc.tuple(spelling('Nodes'), nodes), { minLength: 1, maxLength: 3 }),
      fc.option(fc.array(nodeName, { maxLength: 4 }), { nil: undefined }),
      wellFormed ? fc.constant(podDoc) : fc.oneof(fc.constant(podDoc), jsonDoc),
    )
    .chain(([lists, names, podValue]) =>
      members(
        fc.constant([
          ['Pod', podValue] as const,
          ...lists,
          ...(names === undefined ? [] : [['NodeNames', docOf(names)] as const]),
        ]),
      ),
    )
    .map((object) => ({ object }));
}
