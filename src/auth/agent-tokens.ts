/** Node name that lets a static token write every node. */
export const ANY_NODE = '*';

/**
 * Parses an agent tokens file: one `TOKEN NODE` pair a line (NODE `*` for any node), blank lines
 * and `#` comments ignored. Throws with the line number on anything else, so that a typo stops
 * the start instead of locking an agent out silently.
 */
export function parseAgentTokens(text: string, source: string): Map<string, Set<string>> {
  const tokens = new Map<string, Set<string>>();
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = (lines[i] ?? '').replace(/#.*$/, '').trim();
    if (line === '') continue;
    const fields = line.split(/\s+/);
    if (fields.length !== 2)
      throw new Error(`${source}:${i + 1}: expected "TOKEN NODE", got ${fields.length} fields`);
    const [token, node] = fields as [string, string];
    if (token.length < 16) throw new Error(`${source}:${i + 1}: token too short (at least 16 characters)`);
    const nodes = tokens.get(token) ?? new Set<string>();
    nodes.add(node);
    tokens.set(token, nodes);
  }
  return tokens;
}
