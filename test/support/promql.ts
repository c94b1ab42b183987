/**
 * A tiny PromQL evaluator, for instant queries over one scrape of samples: enough for the forms
 * the dashboard and the alerts use, and it throws on anything else so that a new form cannot be
 * checked wrong. Range functions (`rate`, `increase`) take the counter's value as its rate: the
 * checks compare results across replicas that saw the same traffic, not absolute rates.
 *
 * expr        := unary (('*' | '/') NUMBER)?
 * unary       := aggregation | topk | call | selector
 * aggregation := (sum | max | min | avg | count) ('by' '(' labels ')')? '(' expr ')'
 * topk        := 'topk' '(' NUMBER ',' expr ')'
 * call        := ('rate' | 'increase') '(' selector '[' DURATION ']' ')'
 *              | 'histogram_quantile' '(' NUMBER ',' expr ')'
 * selector    := NAME ('{' LABEL ('=' | '!=' | '=~' | '!~') STRING (',' ...)* '}')?
 */

export interface Series {
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export class PromqlError extends Error {
  override name = 'PromqlError';
}

type Token = { kind: 'name' | 'number' | 'string' | 'duration' | 'punct'; text: string };

function tokenize(query: string): Token[] {
  const tokens: Token[] = [];
  const re =
    /\s*(?:(\d+(?:\.\d+)?(?:ms|s|m|h|d|w|y))(?![\w.])|(\d+(?:\.\d+)?)|([a-zA-Z_:][\w:]*)|"((?:[^"\\]|\\.)*)"|(=~|!~|!=|[(){}[\],=*/]))/y;
  let at = 0;
  while (at < query.length) {
    if (/^\s*$/.test(query.slice(at))) break;
    re.lastIndex = at;
    const m = re.exec(query);
    if (m === null) throw new PromqlError(`cannot read ${JSON.stringify(query.slice(at))} in ${query}`);
    at = re.lastIndex;
    if (m[1] !== undefined) tokens.push({ kind: 'duration', text: m[1] });
    else if (m[2] !== undefined) tokens.push({ kind: 'number', text: m[2] });
    else if (m[3] !== undefined) tokens.push({ kind: 'name', text: m[3] });
    else if (m[4] !== undefined) tokens.push({ kind: 'string', text: m[4].replace(/\\(.)/g, '$1') });
    else tokens.push({ kind: 'punct', text: m[5] as string });
  }
  return tokens;
}

const AGGREGATIONS = new Set(['sum', 'max', 'min', 'avg', 'count']);

/** Evaluates `query` over `samples` (each with its metric name in `__name__`). */
export function evaluate(query: string, samples: readonly Series[]): Series[] {
  const tokens = tokenize(query);
  let i = 0;
  const peek = () => tokens[i];
  const next = () => {
    const t = tokens[i++];
    if (t === undefined) throw new PromqlError(`unexpected end of ${query}`);
    return t;
  };
  const expect = (text: string) => {
    const t = next();
    if (t.text !== text) throw new PromqlError(`expected ${text}, got ${t.text} in ${query}`);
  };
  const number = () => {
    const t = next();
    if (t.kind !== 'number') throw new PromqlError(`expected a number, got ${t.text} in ${query}`);
    return Number(t.text);
  };

  function selector(name: string): Series[] {
    const matchers: ((labels: Record<string, string>) => boolean)[] = [(l) => l.__name__ === name];
    if (peek()?.text === '{') {
      next();
      while (peek()?.text !== '}') {
        const label = next().text;
        const op = next().text;
        const value = next();
        if (value.kind !== 'string')
          throw new PromqlError(`expected a string after ${label}${op} in ${query}`);
        const re = new RegExp(`^(?:${value.text})$`);
        const get = (l: Record<string, string>) => l[label] ?? '';
        if (op === '=') matchers.push((l) => get(l) === value.text);
        else if (op === '!=') matchers.push((l) => get(l) !== value.text);
        else if (op === '=~') matchers.push((l) => re.test(get(l)));
        else if (op === '!~') matchers.push((l) => !re.test(get(l)));
        else throw new PromqlError(`unknown matcher ${op} in ${query}`);
        if (peek()?.text === ',') next();
      }
      next();
    }
    return samples.filter((s) => matchers.every((m) => m(s.labels as Record<string, string>)));
  }

  function dropName(series: Series[]): Series[] {
    return series.map(({ labels: { __name__: _, ...labels }, value }) => ({ labels, value }));
  }

  function aggregate(op: string, by: string[] | undefined, input: Series[]): Series[] {
    const groups = new Map<string, { labels: Record<string, string>; values: number[] }>();
    for (const s of input) {
      const labels = Object.fromEntries((by ?? []).filter((l) => l in s.labels).map((l) => [l, s.labels[l]]));
      const key = JSON.stringify(Object.entries(labels).sort());
      const group = groups.get(key) ?? { labels: labels as Record<string, string>, values: [] };
      group.values.push(s.value);
      groups.set(key, group);
    }
    const reduce: Record<string, (v: number[]) => number> = {
      sum: (v) => v.reduce((a, b) => a + b, 0),
      max: (v) => Math.max(...v),
      min: (v) => Math.min(...v),
      avg: (v) => v.reduce((a, b) => a + b, 0) / v.length,
      count: (v) => v.length,
    };
    return [...groups.values()].map((g) => ({
      labels: g.labels,
      value: (reduce[op] as (v: number[]) => number)(g.values),
    }));
  }

  function histogramQuantile(q: number, input: Series[]): Series[] {
    const groups = new Map<string, { labels: Record<string, string>; buckets: [number, number][] }>();
    for (const s of input) {
      const { le, ...labels } = s.labels;
      if (le === undefined) continue;
      const key = JSON.stringify(Object.entries(labels).sort());
      const group = groups.get(key) ?? { labels, buckets: [] };
      group.buckets.push([le === '+Inf' ? Number.POSITIVE_INFINITY : Number(le), s.value]);
      groups.set(key, group);
    }
    return [...groups.values()].map(({ labels, buckets }) => {
      buckets.sort((a, b) => a[0] - b[0]);
      const total = buckets.at(-1)?.[1] ?? 0;
      const rank = q * total;
      let value = Number.NaN;
      let [lower, below] = [0, 0];
      for (const [le, count] of buckets) {
        if (count >= rank && total > 0) {
          value =
            le === Number.POSITIVE_INFINITY
              ? lower
              : lower + ((le - lower) * (rank - below)) / (count - below || 1);
          break;
        }
        [lower, below] = [le, count];
      }
      return { labels, value };
    });
  }

  function unary(): Series[] {
    const t = next();
    if (t.kind !== 'name') throw new PromqlError(`unexpected ${t.text} in ${query}`);
    if (AGGREGATIONS.has(t.text) && (peek()?.text === '(' || peek()?.text === 'by')) {
      let by: string[] | undefined;
      if (peek()?.text === 'by') {
        next();
        expect('(');
        by = [];
        while (peek()?.text !== ')') {
          by.push(next().text);
          if (peek()?.text === ',') next();
        }
        next();
      }
      expect('(');
      const inner = expr();
      expect(')');
      return aggregate(t.text, by, inner);
    }
    if (t.text === 'topk') {
      expect('(');
      const k = number();
      expect(',');
      const inner = expr();
      expect(')');
      return [...inner].sort((a, b) => b.value - a.value).slice(0, k);
    }
    if (t.text === 'rate' || t.text === 'increase') {
      expect('(');
      const name = next();
      const series = selector(name.text);
      expect('[');
      if (next().kind !== 'duration') throw new PromqlError(`expected a range in ${query}`);
      expect(']');
      expect(')');
      return dropName(series);
    }
    if (t.text === 'histogram_quantile') {
      expect('(');
      const q = number();
      expect(',');
      const inner = expr();
      expect(')');
      return histogramQuantile(q, inner);
    }
    if (peek()?.text === '(') throw new PromqlError(`function ${t.text} is not supported in ${query}`);
    return selector(t.text);
  }

  function expr(): Series[] {
    let result = unary();
    const op = peek()?.text;
    if (op === '*' || op === '/') {
      next();
      const k = number();
      result = dropName(result).map((s) => ({
        labels: s.labels,
        value: op === '*' ? s.value * k : s.value / k,
      }));
    }
    return result;
  }

  const result = expr();
  if (i !== tokens.length) throw new PromqlError(`unexpected ${tokens[i]?.text} in ${query}`);
  return result;
}

/** Series in a stable order, to compare two results. */
export function sorted(series: readonly Series[]): Series[] {
  const key = (s: Series) => JSON.stringify(Object.entries(s.labels).sort());
  return [...series].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
}
