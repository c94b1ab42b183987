const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const COMMA = 0x2c;
const COLON = 0x3a;

// What the top-level object, or the items array, expects next.
const EXPECT_FIRST_KEY = 0; // a key or the end, just after {
const EXPECT_KEY = 1; // after a comma
const EXPECT_COLON = 2;
const EXPECT_VALUE = 3; // after a colon, or a comma in items
const EXPECT_FIRST_VALUE = 4; // a value or the end, just after [
const EXPECT_NEXT = 5; // a comma or the end

// What is being captured.
const CAPTURE_NONE = 0;
/** A key of the top-level object. */
const CAPTURE_KEY = 1;
/** A value of the top-level object other than `items`. */
const CAPTURE_FIELD = 2;
/** One element of `items`. */
const CAPTURE_ITEM = 3;

function isWhitespace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

export class MalformedListError extends Error {}

/**
 * Splits the JSON of a Kubernetes list (`{"kind": ..., "metadata": {...}, "items": [...]}`) into
 * its items while the bytes arrive, and hands each item to `onItem` parsed on its own. A page of
 * 500 pods is a few megabytes of JSON and ten times that once parsed whole; parsed item by item,
 * each pod's objects die young, before a scavenge can promote them, and only what `onItem` keeps
 * stays. The other top-level fields (`metadata`) are parsed and kept in `fields`.
 *
 * Only the structure is scanned here (strings, escapes, nesting): JSON.parse of each piece does
 * the real validation. Structural bytes are ASCII and never occur inside a UTF-8 multi-byte
 * sequence, so the bytes are scanned as they come and each piece is decoded whole.
 */
export class ListSplitter {
  /** Without a prototype: a field named __proto__ is then data like any other. */
  readonly fields: Record<string, unknown> = Object.create(null);
  readonly #onItem: (item: unknown) => void;
  #depth = 0;
  #ended = false;
  #inString = false;
  #escaped = false;
  #inScalar = false;
  #top = EXPECT_FIRST_KEY;
  #itemExpect = EXPECT_FIRST_VALUE;
  #key = '';
  #capture = CAPTURE_NONE;
  /** The depth the captured object or array returns to when it closes; -1 for a string or scalar. */
  #captureCloses = -1;
  #captureStart = 0;
  #parts: Buffer[] = [];

  constructor(onItem: (item: unknown) => void) {
    this.#onItem = onItem;
  }

  write(chunk: Buffer): void {
    this.#captureStart = 0;
    const n = chunk.length;
    for (let i = 0; i < n; i++) {
      if (this.#captureCloses >= 0 && this.#capture !== CAPTURE_NONE) {
        i = this.#skipNested(chunk, i);
        if (i === n) break;
        // The byte that closes the captured object or array.
        this.#depth--;
        this.#complete(chunk, i + 1);
        continue;
      }
      const c = chunk[i] as number;
      if (this.#inString) {
        if (this.#escaped) this.#escaped = false;
        else if (c === BACKSLASH) this.#escaped = true;
        else if (c === QUOTE) {
          this.#inString = false;
          // Only a key or a string value is captured without nesting: this quote ends it.
          if (this.#capture !== CAPTURE_NONE) this.#complete(chunk, i + 1);
        }
        continue;
      }
      if (this.#inScalar) {
        if (c !== COMMA && c !== CLOSE_BRACE && c !== CLOSE_BRACKET && !isWhitespace(c)) continue;
        this.#inScalar = false;
        this.#complete(chunk, i);
      }
      if (isWhitespace(c)) continue;
      // Below, every byte is at depth 0, in the top-level object, or between items: what
      // captured values nest is skipped above.
      if (this.#ended) throw new MalformedListError('data after the end of the list');
      if (this.#depth === 0) {
        if (c !== OPEN_BRACE) throw new MalformedListError('not a JSON object');
        this.#depth = 1;
        this.#top = EXPECT_FIRST_KEY;
        continue;
      }
      const inTop = this.#depth === 1;
      const expect = inTop ? this.#top : this.#itemExpect;
      switch (c) {
        case COLON:
          if (!inTop || expect !== EXPECT_COLON) throw this.#unexpected(c);
          this.#top = EXPECT_VALUE;
          break;
        case COMMA:
          if (expect !== EXPECT_NEXT) throw this.#unexpected(c);
          if (inTop) this.#top = EXPECT_KEY;
          else this.#itemExpect = EXPECT_VALUE;
          break;
        case CLOSE_BRACE:
        case CLOSE_BRACKET:
          if (c !== (inTop ? CLOSE_BRACE : CLOSE_BRACKET)) throw this.#unexpected(c);
          if (expect !== EXPECT_NEXT && expect !== (inTop ? EXPECT_FIRST_KEY : EXPECT_FIRST_VALUE)) {
            throw this.#unexpected(c);
          }
          this.#depth--;
          if (inTop) this.#ended = true;
          break;
        case QUOTE:
          if (inTop && (expect === EXPECT_KEY || expect === EXPECT_FIRST_KEY)) {
            this.#begin(CAPTURE_KEY, i, -1);
            this.#inString = true;
            this.#top = EXPECT_COLON;
            break;
          }
          this.#valueStarts(c, i, inTop, expect);
          this.#inString = true;
          break;
        case OPEN_BRACE:
        case OPEN_BRACKET:
          this.#valueStarts(c, i, inTop, expect);
          break;
        default:
          this.#valueStarts(c, i, inTop, expect);
          this.#inScalar = true;
      }
    }
    if (this.#capture !== CAPTURE_NONE) this.#parts.push(chunk.subarray(this.#captureStart));
  }

  /** The whole response has been written: throws if it was cut short. */
  end(): void {
    if (this.#inScalar) throw new MalformedListError('the list ends inside a value');
    if (!this.#ended) throw new MalformedListError('the list is incomplete');
  }

  /**
   * Inside a captured object or array, where almost all the bytes are: scans with locals until
   * the byte that closes it (returned, not consumed) or the end of the chunk.
   */
  #skipNested(chunk: Buffer, from: number): number {
    const n = chunk.length;
    const closes = this.#captureCloses;
    let depth = this.#depth;
    let inString = this.#inString;
    let escaped = this.#escaped;
    let i = from;
    for (; i < n; i++) {
      const c = chunk[i] as number;
      if (inString) {
        if (escaped) escaped = false;
        else if (c === BACKSLASH) escaped = true;
        else if (c === QUOTE) inString = false;
      } else if (c === QUOTE) inString = true;
      else if (c === OPEN_BRACE || c === OPEN_BRACKET) depth++;
      else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
        if (depth - 1 === closes) break;
        depth--;
      }
    }
    this.#depth = depth;
    this.#inString = inString;
    this.#escaped = escaped;
    return i;
  }

  /** A value starts at `i`, in the top-level object or as an item; it must be expected there. */
  #valueStarts(c: number, i: number, inTop: boolean, expect: number): void {
    if (inTop ? expect !== EXPECT_VALUE : expect !== EXPECT_VALUE && expect !== EXPECT_FIRST_VALUE) {
      throw this.#unexpected(c);
    }
    const nests = c === OPEN_BRACE || c === OPEN_BRACKET;
    if (inTop) {
      this.#top = EXPECT_NEXT;
      if (this.#key === 'items' && c === OPEN_BRACKET) {
        // Not captured: its elements are.
        this.#depth = 2;
        this.#itemExpect = EXPECT_FIRST_VALUE;
        return;
      }
    } else this.#itemExpect = EXPECT_NEXT;
    this.#begin(inTop ? CAPTURE_FIELD : CAPTURE_ITEM, i, nests ? this.#depth : -1);
    if (nests) this.#depth++;
  }

  #unexpected(c: number): MalformedListError {
    return new MalformedListError(`unexpected ${JSON.stringify(String.fromCharCode(c))} in the list`);
  }

  #begin(capture: number, i: number, closes: number): void {
    this.#capture = capture;
    this.#captureCloses = closes;
    this.#captureStart = i;
  }

  #complete(chunk: Buffer, end: number): void {
    const text =
      this.#parts.length === 0
        ? chunk.toString('utf8', this.#captureStart, end)
        : Buffer.concat([...this.#parts, chunk.subarray(this.#captureStart, end)]).toString('utf8');
    const capture = this.#capture;
    this.#parts = [];
    this.#capture = CAPTURE_NONE;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      throw new MalformedListError(`invalid JSON in the list: ${(err as Error).message}`);
    }
    if (capture === CAPTURE_KEY) this.#key = value as string;
    else if (capture === CAPTURE_FIELD) this.fields[this.#key] = value;
    else this.#onItem(value);
  }
}
